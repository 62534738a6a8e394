#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: rolling_plan
short_description: Check the cluster and order a rolling restart or reboot
version_added: 0.1.0
description:
  - Runs on the controller and changes nothing. Takes the state of every
    database node (M(pgha.cluster.pg_node_info)) and the current primary, and
    either refuses with the figures (a standby that does not stream, too few
    standbys to keep the synchronous set while one is out, a single node) or
    returns the order that never stops writes - the standbys one at a
    time, a switchover to one already done, then the old primary as a standby.
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
  action:
    description:
      - C(restart) or C(reboot) every database node; C(pending) restarts only the nodes whose
        changed settings wait for a restart (I(pending)); C(upgrade) upgrades only the nodes that have
        packages to upgrade or wait for a reboot or a restart (I(pending)).
    type: str
    required: true
    choices: [restart, reboot, upgrade, pending]
  pending:
    description:
      - With I(action=pending), host to the names of the settings waiting for a restart there; with
        I(action=upgrade), host to what the upgrade would do there (pgha.cluster.upgrade_pending).
    type: dict
    default: {}
  switchover:
    description: Whether the primary may be switched over to be restarted; when not, it is left and named.
    type: bool
    default: true
  upstreams:
    description:
      - Host to C(pgha_upstream) of the cascading replicas. Such a node must stream from its upstream, and its gate is
        read there (C(sources) in the plan).
    type: dict
    default: {}
  delayed:
    description:
      - Host to C(pgha_apply_delay) of the delayed replicas. One that runs as a standby counts as healthy (its WAL
        receiver starts only once recovery asks for more WAL); its gate after checks the synchronous set only
        (C(late) in the plan).
    type: dict
    default: {}
  primary_first:
    description:
      - Restart the primary in place first, with every PgBouncer paused (writes wait for the restart, they do not
        fail), then the standbys; no switchover. The order a lowered C(max_connections) (or another setting a
        standby needs at least as high as its primary's) needs. Not for a reboot.
    type: bool
    default: false
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
- name: Plan a rolling restart
  pgha.cluster.rolling_plan:
    nodes: "{{ topology_nodes }}"
    primary: "{{ topology_primary }}"
    action: restart
  register: plan
'''

RETURN = r'''
plan:
  description: C(action), C(primary), C(in_place) (the primary, when restarted in place first), C(standbys) (in order),
    C(switchover) (whether the primary moves),
    C(old_primary) (done last, as a standby), C(old_primary_acts) (whether it is acted on after the switchover;
    a restart is done by the switchover itself), C(left) (host to why it is not done), C(steps) (in words).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.rolling import RollingError, rolling_plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='dict', required=True),
            primary=dict(type='str', required=True),
            action=dict(type='str', required=True, choices=['restart', 'reboot', 'upgrade', 'pending']),
            pending=dict(type='dict', default={}),
            switchover=dict(type='bool', default=True),
            primary_first=dict(type='bool', default=False),
            sync_mode=dict(type='str', default='quorum'),
            sync_count=dict(type='int', default=1),
            upstreams=dict(type='dict', default={}),
            delayed=dict(type='dict', default={}),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        plan = rolling_plan(p['nodes'], p['primary'], p['action'], p['sync_mode'], p['sync_count'],
                            pending=p['pending'], switchover=p['switchover'],
                            primary_first=p['primary_first'], upstreams=p['upstreams'],
                            delayed=p['delayed'])
    except RollingError as exc:
        module.fail_json(msg="rolling %s refused, nothing was changed: %s" % (p['action'], exc))
    module.exit_json(changed=False, plan=plan)


if __name__ == '__main__':
    main()
