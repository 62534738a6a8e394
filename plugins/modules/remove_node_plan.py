#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: remove_node_plan
short_description: Check and plan taking a standby out of the cluster
version_added: 0.1.0
description:
  - Runs on the controller and changes nothing. Refuses, with the figures, the primary, a node PgBouncer sends
    clients to, a node that is also a PgBouncer host, or a removal that would leave fewer streaming standbys than
    the synchronous count; otherwise returns the plan (the standbys that remain, the steps).
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  nodes:
    description: Host to pg_node_info C(node) result.
    type: dict
    required: true
  primary:
    description: The current primary (discovered).
    type: str
    required: true
  target:
    description: The standby to remove.
    type: str
    required: true
  addresses:
    description: Host to address.
    type: dict
    required: true
  pooler_targets:
    description: PgBouncer host to the address it points at.
    type: dict
    default: {}
  poolers:
    description: The PgBouncer hosts of the inventory.
    type: list
    elements: str
    default: []
  sync_mode:
    description: C(off), C(quorum) or C(priority).
    type: str
    default: quorum
  sync_count:
    description: Synchronous standby count.
    type: int
    default: 1
  upstreams:
    description: Host to C(pgha_upstream) of the cascading replicas (an upstream is not removed; they do not count as synchronous).
    type: dict
    default: {}
  delayed:
    description: Host to C(pgha_apply_delay) of the delayed replicas (they do not count as synchronous).
    type: dict
    default: {}
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Plan the removal of pg4
  pgha.cluster.remove_node_plan:
    nodes: "{{ topology_nodes }}"
    primary: "{{ topology_primary }}"
    target: pg4
    addresses: "{{ topology_addresses }}"
  register: plan
'''

RETURN = r'''
plan:
  description: The day-2 plan shape (C(operation) remove, C(primary), C(target) the primary, C(repoint) the standbys
    that remain, C(steps)) with C(node) (the node removed), C(address), C(up), C(role), C(streaming).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.operations import OperationError, remove_plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='dict', required=True),
            primary=dict(type='str', required=True),
            target=dict(type='str', required=True),
            addresses=dict(type='dict', required=True),
            pooler_targets=dict(type='dict', default={}),
            poolers=dict(type='list', elements='str', default=[]),
            sync_mode=dict(type='str', default='quorum'),
            sync_count=dict(type='int', default=1),
            upstreams=dict(type='dict', default={}),
            delayed=dict(type='dict', default={}),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        plan = remove_plan(p['nodes'], p['primary'], p['target'], p['addresses'], p['pooler_targets'], p['sync_mode'],
                           p['sync_count'], poolers=p['poolers'], upstreams=p['upstreams'], delayed=p['delayed'])
    except OperationError as exc:
        module.fail_json(msg="removal of %s refused, nothing was changed: %s" % (p['target'], exc))
    module.exit_json(changed=False, plan=plan)


if __name__ == '__main__':
    main()
