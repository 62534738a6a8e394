#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: rejoin_plan
short_description: Decide which nodes to bring back as standbys of the running primary
version_added: 0.1.0
description:
  - Runs on the controller and changes nothing. Needs exactly one running primary. Without a
    target, picks every reachable node that does not stream from it. Refuses the current
    primary, a node PgBouncer still sends clients to, and a node that runs as a writable primary.
  - Where Patroni runs on every database node that is up, the plan's C(engine) is C(patroni) - rejoin.yml
    then starts the node's Patroni, which rewinds it and follows the leader. A cluster half-way through a
    change of mode is refused.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  nodes:
    description: Host to pg_node_info C(node) result.
    type: dict
    required: true
  addresses:
    description: Host to address.
    type: dict
    required: true
  pooler_targets:
    description: PgBouncer host to the address it points at.
    type: dict
    default: {}
  target:
    description: The node to rejoin.
    type: str
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Which nodes need a rejoin?
  pgha.cluster.rejoin_plan:
    nodes: "{{ nodes }}"
    addresses: "{{ addresses }}"
  register: plan
'''

RETURN = r'''
plan:
  description:
    - The day-2 plan shape (C(operation) rejoin, C(engine) (C(pgha) or C(patroni)), C(primary) and C(target) (both the
      running primary), C(repoint) (the hosts to rejoin), C(steps)) with C(checks), C(stray) and C(repoint_poolers) (PgBouncer hosts on a
      database node that still point at that node, which is not the primary; they are switched first).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.operations import OperationError, rejoin_plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='dict', required=True),
            addresses=dict(type='dict', required=True),
            pooler_targets=dict(type='dict', default={}),
            target=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        plan = rejoin_plan(p['nodes'], p['addresses'], p['pooler_targets'], p['target'])
    except OperationError as exc:
        module.fail_json(msg="rejoin refused, nothing was changed: %s" % exc)
    module.exit_json(changed=False, plan=plan)


if __name__ == '__main__':
    main()
