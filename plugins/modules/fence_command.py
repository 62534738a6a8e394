#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: fence_command
short_description: Run the fencing command of a failover on the controller and report its exit status
version_added: 0.1.0
description:
  - Runs on the controller, in ansible-playbook's own process (its action plugin), the command that powers
    a failed primary off (C(pgha_fence_command), with C({host}) already replaced), without a shell.
  - Reports the exit status and never fails on it; failover.yml promotes only when the command exited 0
    (pgha.cluster.fence_confirmed), and stops with the figures otherwise.
  - On the critical path of a failover; a command module started on localhost costs a Python start
    and a module transfer, about a second on a busy host.
  - In check mode the command is not run.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  argv:
    description: The command and its arguments.
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds the command may run; it is killed after that and reported as not confirmed.
    type: float
    default: 120
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Power the failed primary off
  pgha.cluster.fence_command:
    argv: [/usr/local/bin/ipmi-off, pg1]
  register: fenced
'''

RETURN = r'''
rc:
  description: The command's exit status; none when it could not be started or ran past I(timeout).
  returned: when run
  type: int
stdout:
  description: Its standard output (the last 4000 characters).
  returned: when run
  type: str
stderr:
  description: Its standard error (the last 4000 characters), or why it did not run.
  returned: when run
  type: str
seconds:
  description: How long it ran.
  returned: when run
  type: float
'''

import subprocess
import time

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    argv=dict(type='list', elements='str', required=True),
    timeout=dict(type='float', default=120),
)


def run(p):
    """The module's result for validated parameters (its action plugin runs this on the controller)."""
    if not p['argv']:
        return dict(failed=True, msg="fence_command: argv is empty; set pgha_fence_command")
    started = time.monotonic()
    # failed is set: Ansible marks a result with a non-zero rc and no failed key as failed; the gate judges it.
    result = dict(changed=True, failed=False, rc=None, stdout="", stderr="")
    try:
        proc = subprocess.run(p['argv'], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=p['timeout'], check=False)
        result.update(rc=proc.returncode, stdout=proc.stdout.decode('utf-8', 'replace')[-4000:],
                      stderr=proc.stderr.decode('utf-8', 'replace')[-4000:])
    except subprocess.TimeoutExpired:
        result['stderr'] = "killed after %s s" % p['timeout']
    except OSError as exc:
        result['stderr'] = "could not run %s: %s" % (p['argv'][0], exc)
    result['seconds'] = round(time.monotonic() - started, 3)
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.check_mode:
        module.exit_json(changed=True, msg="the fencing command would run")
    result = run(module.params)
    if result.get('failed'):
        module.fail_json(msg=result['msg'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
