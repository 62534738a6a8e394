#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: restore_report
short_description: Write a restore report as JSON and Markdown, and as the latest report
version_added: 0.1.0
description:
  - Writes C(NAME.json) and C(NAME.md) in I(dir) (created with mode 0750 when missing) and, with
    I(latest), C(latest.json) and C(latest.md); each file is replaced atomically, mode 0640.
  - The Markdown is what the C(restore_report_markdown) filter renders.
  - In check mode nothing is written; with diff, the Markdown is the diff.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  report:
    description: The report (pgbackrest_restore's report, with the playbook's additions).
    type: dict
    required: true
  dir:
    description: Directory of the reports.
    type: path
    required: true
  name:
    description: Base name of this report's files.
    type: str
    required: true
  latest:
    description: Also write the report as C(latest.json) and C(latest.md).
    type: bool
    default: true
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Write the drill's report
  pgha.cluster.restore_report:
    report: "{{ report }}"
    dir: /root/.pgha/restore-reports
    name: 20261121101500-drill1
  delegate_to: localhost
'''

RETURN = r'''
files:
  description: The files written (or that would be in check mode).
  returned: always
  type: list
  elements: str
markdown:
  description: The report as Markdown.
  returned: always
  type: str
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.backup import render_report
from ansible_collections.pgha.cluster.plugins.module_utils.files import replace_file


def current(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            report=dict(type='dict', required=True),
            dir=dict(type='path', required=True),
            name=dict(type='str', required=True),
            latest=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if os.sep in p['name'] or p['name'] in ('', '.', '..'):
        module.fail_json(msg="report name %r must be a plain file name" % p['name'])
    markdown = render_report(p['report'])
    content = json.dumps(p['report'], indent=4, sort_keys=True) + "\n"
    names = [p['name']] + (['latest'] if p['latest'] else [])
    files = {}
    for name in names:
        files[os.path.join(p['dir'], name + ".json")] = content
        files[os.path.join(p['dir'], name + ".md")] = markdown
    before = current(os.path.join(p['dir'], names[-1] + ".md")) or ""
    stale = [path for path, text in sorted(files.items()) if current(path) != text]
    result = dict(changed=bool(stale), files=sorted(files), markdown=markdown)
    if module._diff:
        result['diff'] = dict(before=before, after=markdown, before_header=names[-1] + ".md", after_header=names[-1] + ".md")
    if stale and not module.check_mode:
        try:
            if not os.path.isdir(p['dir']):
                os.makedirs(p['dir'], 0o750)
            for path in stale:
                replace_file(path, files[path].encode("utf-8"), os.geteuid(), os.getegid(), 0o640)
        except (IOError, OSError) as exc:
            module.fail_json(msg="could not write the report in %s: %s" % (p['dir'], exc), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
