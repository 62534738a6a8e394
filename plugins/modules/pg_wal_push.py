#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_wal_push
short_description: Find WAL segments in a node's pg_wal and push them to the repositories (archive repair)
version_added: 0.1.0
description:
  - Runs on a database node. Looks for the named WAL segment files in the cluster's C(pg_wal) (a
    standby keeps the WAL it received until the primary archived it; a former primary keeps its
    unarchived WAL) and reports which it holds.
  - With I(push=true), pushes each one it holds with C(pgbackrest archive-push) (synchronously,
    not through the asynchronous queue). pgBackRest writes it to every repository that lacks it and
    refuses to overwrite a segment stored with other bytes; such a refusal is reported per segment.
  - Used by C(backup.yml -e pgha_archive_repair=true) to fill gaps in the archived WAL. Never
    removes or changes a file in C(pg_wal). In check mode nothing is pushed.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  stanza:
    description: Stanza name.
    type: str
    required: true
  segments:
    description: WAL segment (or timeline history) file names to look for (and push).
    type: list
    elements: str
    required: true
  push:
    description: Push the segments found (otherwise only report them).
    type: bool
    default: false
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Push the missing segments this node holds
  pgha.cluster.pg_wal_push:
    version: 15
    stanza: main
    segments: ["000000010000000000000011", "000000010000000000000012"]
    push: true
'''

RETURN = r'''
found:
  description: The segments this node's pg_wal holds (full 16 MiB files).
  returned: always
  type: list
  elements: str
pushed:
  description: The segments pushed.
  returned: always
  type: list
  elements: str
failed:
  description: Segment name -> why pgBackRest refused it.
  returned: always
  type: dict
'''

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.archive import WAL_SEGMENT_SIZE
from ansible_collections.pgha.cluster.plugins.module_utils.pg import node_argument_spec, pg_paths
from ansible_collections.pgha.cluster.plugins.module_utils.pgbackrest import pgbackrest

_SEGMENT = re.compile(r"^[0-9A-F]{24}$")
_HISTORY = re.compile(r"^[0-9A-F]{8}\.history$")


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            stanza=dict(type='str', required=True),
            segments=dict(type='list', elements='str', required=True),
            push=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    bad = [name for name in p['segments'] if not _SEGMENT.match(name) and not _HISTORY.match(name)]
    if bad:
        module.fail_json(msg="not WAL segment names: %s" % ", ".join(bad))
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    wal_dir = os.path.join(paths["data_dir"], "pg_wal")
    found = []
    for name in sorted(set(p['segments'])):
        path = os.path.join(wal_dir, name)
        if os.path.isfile(path) and (_HISTORY.match(name) or os.path.getsize(path) == WAL_SEGMENT_SIZE):
            found.append(name)
    pushed, failed = [], {}
    if p['push'] and not module.check_mode:
        for name in found:
            rc, out, err, dummy = pgbackrest(module, ["--stanza=%s" % p['stanza'], "--no-archive-async",
                                                      "--pg1-path=%s" % paths["data_dir"], "archive-push",
                                                      os.path.join(wal_dir, name)])
            if rc == 0:
                pushed.append(name)
            else:
                failed[name] = "exit %d: %s" % (rc, (err or out).strip()[:300])
    module.exit_json(changed=bool(pushed), found=found, pushed=pushed, failed=failed)


if __name__ == '__main__':
    main()
