#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: report_file
short_description: Write a report (such as status.yml's JSON) on the controller, atomically
version_added: 0.1.0
description:
  - Replaces I(path) with I(content) when it differs, through a temporary file in the same
    directory renamed over it, so that a reader sees the old report or the new one, never half of one.
  - Its action plugin runs it in ansible-playbook's own process (no module started on localhost,
    which costs about a second per run of C(status.yml)). The directory must exist.
  - In check mode nothing is written.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  path:
    description: The file to write, on the controller.
    type: path
    required: true
  content:
    description: What it holds.
    type: str
    required: true
  mode:
    description: Its mode, in octal.
    type: str
    default: "0644"
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Write the status as JSON
  pgha.cluster.report_file:
    path: /tmp/pgha-status.json
    content: "{{ pgha_status | to_nice_json }}\n"
'''

RETURN = r'''
path:
  description: The file written (or that would be, in check mode).
  returned: always
  type: str
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.files import replace_file

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    content=dict(type='str', required=True),
    mode=dict(type='str', default='0644'),
)


def run(params, check_mode=False):
    path, data = params['path'], params['content'].encode('utf-8')
    try:
        mode = int(params['mode'], 8)
    except ValueError:
        return dict(failed=True, msg="mode %r is not an octal mode such as 0644" % params['mode'])
    if not os.path.isdir(os.path.dirname(path) or '.'):
        return dict(failed=True, msg="cannot write %s: its directory does not exist" % path)
    try:
        with open(path, 'rb') as handle:
            same = handle.read() == data and (os.stat(path).st_mode & 0o7777) == mode
    except (IOError, OSError):
        same = False
    if not same and not check_mode:
        try:
            replace_file(path, data, os.getuid(), os.getgid(), mode)
        except (IOError, OSError) as exc:
            return dict(failed=True, msg="could not write %s: %s" % (path, exc))
    return dict(changed=not same, path=path)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result = run(module.params, module.check_mode)
    if result.get('failed'):
        module.fail_json(**dict((k, v) for k, v in result.items() if k != 'failed'))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
