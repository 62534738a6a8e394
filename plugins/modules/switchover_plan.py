#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: switchover_plan
short_description: Check and plan a switchover from what every node reported
version_added: 0.1.0
description:
  - Runs on the controller and changes nothing. Takes the state of every
    database node (M(pgha.cluster.pg_node_info)), the current primary and an
    optional target, and either refuses with the figures (target not a
    healthy streaming standby of the primary, lag over the bound, unknown
    host) or returns the plan, that is the target (the best candidate when none is
    given), the standbys to re-point, the value of synchronous_standby_names
    after the switch, and the steps.
  - Where Patroni runs (pgha_failover_mode automatic) the plan's C(engine) is C(patroni) and Patroni switches over
    (only to a synchronous standby when synchronous replication is on) and nothing is re-pointed by pgha.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  nodes:
    description: Host to pg_node_info C(node) result.
    type: dict
    required: true
  primary:
    description: The current primary (discovered, not from the inventory).
    type: str
    required: true
  target:
    description: The standby to promote; empty to choose the best candidate.
    type: str
  max_lag_bytes:
    description: Refuse a target whose replay lags more than this.
    type: int
    default: 16777216
  sync_mode:
    description: C(off), C(quorum) or C(priority).
    type: str
    default: quorum
  sync_count:
    description: Synchronous standby count.
    type: int
    default: 1
  delayed:
    description:
      - Host to C(pgha_apply_delay) of the delayed replicas (pgha.cluster.apply_delays). They are never chosen,
        never synchronous; one named as the target is refused.
    type: dict
    default: {}
  upstreams:
    description:
      - Host to C(pgha_upstream) of the cascading replicas (pgha.cluster.upstreams). They are never chosen nor
        synchronous; they keep streaming from their upstream through the switch.
    type: dict
    default: {}
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Plan a switchover to pg2
  pgha.cluster.switchover_plan:
    nodes: "{{ topology_nodes }}"
    primary: "{{ topology_primary }}"
    target: pg2
  register: plan
'''

RETURN = r'''
plan:
  description: The day-2 plan shape (C(operation) switchover, C(engine), C(primary), C(target), C(repoint), C(steps))
    with C(lag_bytes), C(timeline), C(primary_lsn), C(target_replay_lsn),
    C(synchronous_standby_names) after the switch, C(streaming_only) (the nodes that fetch WAL by
    streaming only during the switch, restore_command off), and with Patroni C(cascade) (the asynchronous
    standbys that stream from the target until the switch).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.operations import OperationError, switchover_plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='dict', required=True),
            primary=dict(type='str', required=True),
            target=dict(type='str'),
            max_lag_bytes=dict(type='int', default=16 * 1024 * 1024),
            sync_mode=dict(type='str', default='quorum'),
            sync_count=dict(type='int', default=1),
            delayed=dict(type='dict', default={}),
            upstreams=dict(type='dict', default={}),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        plan = switchover_plan(p['nodes'], p['primary'], p['target'], p['max_lag_bytes'], p['sync_mode'], p['sync_count'],
                               delayed=p['delayed'], upstreams=p['upstreams'])
    except OperationError as exc:
        module.fail_json(msg="switchover refused, nothing was changed: %s" % exc)
    module.exit_json(changed=False, plan=plan)


if __name__ == '__main__':
    main()
