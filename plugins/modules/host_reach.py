#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_reach
short_description: Which hosts answer on their SSH port, probed in parallel within a bound
version_added: 0.1.0
description:
  - Runs on the controller. Opens a TCP connection to every host's SSH address and port at the same
    time and reports the hosts that did not answer within I(timeout) seconds, with the reason.
  - A host that is gone makes SSH wait for its connect timeout (or for ARP to give up, about 3 s); the
    discovery (the topology role) reads only the hosts that answer and records the others as
    unreachable. Nothing is decided from it alone; a failover still fences the failed primary first.
  - Changes nothing; the same in check mode.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  hosts:
    description: Host name to its address and SSH port.
    type: dict
    required: true
  timeout:
    description: Seconds to wait for each host's answer (all hosts are probed at once).
    type: float
    default: 1.0
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Probe the database nodes
  pgha.cluster.host_reach:
    hosts:
      pg1: {address: 10.89.0.11, port: 22}
      pg2: {address: 10.89.0.12, port: 22}
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
silent:
  description:
    - Host to why it did not answer; empty when every host answered. (Not C(unreachable), which
      Ansible reads as the controller's own host being unreachable.)
  returned: always
  type: dict
  sample: {pg1: "10.89.0.11:22: No route to host after 0.9 s"}
skip:
  description:
    - The hosts a discovery leaves out - the unreachable ones, or none when no host answered (every
      host silent at once more likely means the controller cannot reach them directly, through an SSH
      jump host say, than a cluster that is all down; SSH decides then).
  returned: always
  type: dict
seconds:
  description: How long the probe took.
  returned: always
  type: float
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.reach import trusted, unreachable


ARGUMENT_SPEC = dict(
    hosts=dict(type='dict', required=True),
    timeout=dict(type='float', default=1.0),
)


def run(p):
    """The module's result for validated parameters (its action plugin runs this on the controller)."""
    targets = {}
    for host, target in p['hosts'].items():
        if not isinstance(target, dict) or not target.get('address'):
            return dict(failed=True, msg="host_reach: %s needs an address (and a port, 22 by default), got %r" % (host, target))
        targets[host] = (str(target['address']), int(target.get('port') or 22))
    if p['timeout'] <= 0:
        return dict(failed=True, msg="host_reach: timeout must be above 0 seconds, got %s" % p['timeout'])
    started = time.monotonic()
    silent = unreachable(targets, p['timeout'])
    return dict(changed=False, silent=silent, skip=trusted(targets, silent), seconds=round(time.monotonic() - started, 3))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result = run(module.params)
    if result.get('failed'):
        module.fail_json(msg=result['msg'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
