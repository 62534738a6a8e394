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
  description: C(primary), C(target), C(lag_bytes), C(timeline), C(primary_lsn), C(target_replay_lsn),
    C(repoint) (standbys that will follow the target), C(synchronous_standby_names) after the switch, C(steps),
    C(engine) (C(pgha), or C(patroni) where Patroni runs), C(streaming_only) (the nodes that fetch WAL by
    streaming only during the switch, restore_command off), and with Patroni C(cascade) (the asynchronous
    standbys that stream from the target until the switch).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.operations import (
    OperationError, choose_switchover_target, engine_of, patroni_switchover_check, patroni_synchronous,
    switchover_check)
from ansible_collections.pgha.cluster.plugins.module_utils.topology import synchronous_standby_names


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='dict', required=True),
            primary=dict(type='str', required=True),
            target=dict(type='str'),
            max_lag_bytes=dict(type='int', default=16 * 1024 * 1024),
            sync_mode=dict(type='str', default='quorum'),
            sync_count=dict(type='int', default=1),
        ),
        supports_check_mode=True,
    )
    p = module.params
    # Where Patroni runs (pgha_failover_mode: automatic) it switches over: pgha pauses PgBouncer around it.
    try:
        engine = engine_of(p['nodes'])
        if p['target']:
            plan = switchover_check(p['nodes'], p['primary'], p['target'], p['max_lag_bytes'])
        else:
            plan = choose_switchover_target(p['nodes'], p['primary'], p['max_lag_bytes'])
        if engine == "patroni":
            plan = patroni_switchover_check(plan, p['nodes'], p['primary'], p['sync_mode'])
    except OperationError as exc:
        module.fail_json(msg="switchover refused, nothing was changed: %s" % exc)
    plan['engine'] = engine
    if engine == "patroni":
        plan['repoint'] = []
        plan['synchronous_standby_names'] = None
        # Asynchronous standbys stream from the target before the switch (Patroni's replicatefrom tag), so
        # that the new primary finds a synchronous standby at once. Synchronous ones stay on the leader.
        recorded = patroni_synchronous(p['nodes'])
        plan['cascade'] = [] if recorded is None else sorted(
            h for h, n in p['nodes'].items()
            if h not in (p['primary'], plan['target']) and h not in recorded
            and (n or {}).get('up') and (n or {}).get('role') == 'standby')
        # The target promotes, and the cascading standbys follow its new timeline, without a repository
        # round trip for each history file.
        plan['streaming_only'] = [plan['target']] + plan['cascade']
        cascade = "stream %s from %s until the switch (Patroni's replicatefrom tag)" % (
            ", ".join(plan['cascade']), plan['target'])
        plan['steps'] = ([cascade] if plan['cascade'] else []) + [
            "restore_command off on %s until the switch is over" % ", ".join(plan['streaming_only']),
            "CHECKPOINT %s, PAUSE PgBouncer" % p['primary'],
            "ask Patroni (POST /switchover) to switch over from %s to %s: it stops %s, promotes %s and restarts %s "
            "as its standby" % (p['primary'], plan['target'], p['primary'], plan['target'], p['primary']),
            "RESUME each PgBouncer once its HAProxy forwards to %s" % plan['target'],
        ] + (["remove the tag from %s" % ", ".join(plan['cascade'])] if plan['cascade'] else [])
        module.exit_json(changed=False, plan=plan)
    target = plan['target']
    others = [h for h in sorted(p['nodes']) if h not in (p['primary'], target)]
    followers = [h for h in sorted(p['nodes']) if h != target]
    plan['repoint'] = others
    plan['streaming_only'] = others
    plan['synchronous_standby_names'] = synchronous_standby_names(
        p['sync_mode'], min(p['sync_count'], len(followers)) if followers else 1, followers) if followers else ""
    plan['steps'] = [
        "create slots %s on %s and preset synchronous_standby_names = '%s' there"
        % (", ".join(followers), target, plan['synchronous_standby_names']),
        "re-point %s to %s (cascading until the switch)" % (", ".join(others) or "no other standby", target),
        "CHECKPOINT %s, PAUSE PgBouncer, stop %s cleanly" % (p['primary'], p['primary']),
        "promote %s once it replayed %s's shutdown checkpoint" % (target, p['primary']),
        "re-point PgBouncer to %s, RELOAD, RESUME" % target,
        "restart %s as a standby of %s" % (p['primary'], target),
    ]
    module.exit_json(changed=False, plan=plan)


if __name__ == '__main__':
    main()
