#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_data_aside
short_description: List, make or prune the copies of a data directory that pgha kept aside
version_added: 0.2.0
description:
  - pgha never deletes a data directory it replaces (rejoin fallback clone, re-clone, in-place
    restore) - it renames it to C(DATADIR.pgha-aside-TIME-REASON) on the same file system.
  - C(action=list) reports the copies (path, age, size). C(action=move) moves the data directory
    aside now (the server must be stopped; the file system must hold a new copy of about the same
    size, or I(needed_bytes)). C(action=prune) removes all but the I(keep) newest copies, and
    reports each one it removed - the only way pgha deletes a data directory.
  - In check mode reports what it would move or remove.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  action:
    description: C(list), C(move) or C(prune).
    type: str
    choices: [list, move, prune]
    default: list
  reason:
    description: Word put in the name of a copy made by C(action=move).
    type: str
    default: replaced
  needed_bytes:
    description: Free space the new copy needs (C(action=move)); defaults to the size of the data directory.
    type: int
  keep:
    description: How many of the newest copies to keep (C(action=prune); required there).
    type: int
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Remove all but the newest copy kept aside
  pgha.cluster.pg_data_aside:
    version: 15
    action: prune
    keep: 1
'''

RETURN = r'''
copies:
  description: The copies kept aside after the action (path, created epoch, reason, bytes).
  returned: always
  type: list
  elements: dict
moved_to:
  description: Where C(action=move) put the data directory.
  returned: when moved
  type: str
removed:
  description: The copies removed (or that would be) by C(action=prune).
  returned: always
  type: list
  elements: dict
'''

import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.datadir import (
    list_aside, move_aside, prune_choice, room_problem, tree_bytes)
from ansible_collections.pgha.cluster.plugins.module_utils.pg import node_argument_spec, pg_paths, postmaster_running


def described(entries):
    return [dict(e, bytes=tree_bytes(e["path"])) for e in entries]


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            action=dict(type='str', default='list', choices=['list', 'move', 'prune']),
            reason=dict(type='str', default='replaced'),
            needed_bytes=dict(type='int'),
            keep=dict(type='int', no_log=False),
        ),
        required_if=[('action', 'prune', ['keep'])],
        supports_check_mode=True,
    )
    p = module.params
    data_dir = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'])['data_dir']
    result = dict(changed=False, removed=[], data_directory=data_dir)
    if p['action'] == 'move' and os.path.isdir(data_dir):
        if postmaster_running(data_dir):
            module.fail_json(msg="%s is in use by a running server: stop it before moving it aside" % data_dir,
                             **result)
        result['changed'] = True
        if module.check_mode:
            problem = room_problem(data_dir, p['needed_bytes'])
            if problem:
                module.fail_json(msg="%s would be left in place: %s" % (data_dir, problem), **result)
        else:
            result['moved_to'] = move_aside(module, data_dir, p['reason'], needed_bytes=p['needed_bytes'])
    elif p['action'] == 'prune':
        if p['keep'] < 0:
            module.fail_json(msg="keep must be 0 or more, not %d" % p['keep'], **result)
        result['removed'] = described(prune_choice(list_aside(data_dir), p['keep']))
        result['changed'] = bool(result['removed'])
        if not module.check_mode:
            for entry in result['removed']:
                shutil.rmtree(entry['path'])
    result['copies'] = described(list_aside(data_dir))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
