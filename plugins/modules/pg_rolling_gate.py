#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_rolling_gate
short_description: The health gate of a rolling restart or reboot, read on the primary
version_added: 0.1.0
description:
  - Read-only, runs on the primary. With I(phase=before), waits until the
    standbys other than I(standby) are enough for the synchronous set (so that
    taking I(standby) out never makes commits wait). With I(phase=after), waits
    until I(standby) streams from this primary, replays within I(max_lag_bytes)
    and the synchronous set is complete.
  - Fails with what it saw last (state, lag, synchronous standbys) when the
    gate does not open within I(timeout) seconds.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  standby:
    description:
      - The standby's application_name (its inventory name). Empty with I(phase=after) after the primary itself was
        restarted, then only the synchronous set is waited for.
    type: str
    default: ""
  phase:
    description: C(before) the standby goes out, or C(after) it is back.
    type: str
    choices: [before, after]
    default: after
  max_lag_bytes:
    description: With I(phase=after), the largest replay lag (bytes) the standby may have.
    type: int
    default: 16777216
  sync_mode:
    description: C(off), C(quorum) or C(priority).
    type: str
    default: quorum
  sync_count:
    description: How many standbys must be synchronous.
    type: int
    default: 1
  timeout:
    description: Seconds to wait for the gate to open.
    type: int
    default: 120
  source_role:
    description:
      - What the node the gate is read on is - C(primary), or C(standby) (the upstream of a cascading replica, whose
        own standbys it lists in pg_stat_replication; use I(sync_mode=off) there).
    type: str
    choices: [primary, standby]
    default: primary
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Wait until pg2 streams again and the synchronous set is complete
  pgha.cluster.pg_rolling_gate:
    version: 15
    standby: pg2
  delegate_to: pg1
'''

RETURN = r'''
waited:
  description: Seconds the gate took to open.
  returned: success
  type: float
replica:
  description: The standby's row in the primary's pg_stat_replication (C(state), C(sync_state), C(replay_lag_bytes)).
  returned: always
  type: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import inspect_node, node_argument_spec
from ansible_collections.pgha.cluster.plugins.module_utils.rolling import gate_check, spare_check


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            standby=dict(type='str', default=''),
            phase=dict(type='str', choices=['before', 'after'], default='after'),
            max_lag_bytes=dict(type='int', default=16 * 1024 * 1024),
            sync_mode=dict(type='str', default='quorum'),
            sync_count=dict(type='int', default=1),
            timeout=dict(type='int', default=120),
            source_role=dict(type='str', choices=['primary', 'standby'], default='primary'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    started = time.time()
    deadline = started + max(p['timeout'], 0)
    while True:
        node = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
        replica = dict((r.get('application_name'), r) for r in node.get('replicas') or []).get(p['standby']) or {}
        if not (node.get('up') and node.get('role') == p['source_role']):
            problem = "this node is no longer a running %s (up: %s, role: %s)" % (
                p['source_role'], node.get('up'), node.get('role'))
        elif p['phase'] == 'before':
            problem = spare_check(node, p['standby'], p['sync_mode'], p['sync_count'])
        else:
            problem = gate_check(node, p['standby'], p['max_lag_bytes'], p['sync_mode'], p['sync_count'])
        if problem is None:
            module.exit_json(changed=False, waited=round(time.time() - started, 3), replica=replica)
        if time.time() >= deadline:
            what = ("not taking %s out:" % p['standby'] if p['phase'] == 'before'
                    else "%s is not back:" % (p['standby'] or "the synchronous set"))
            module.fail_json(msg="%s %s at %s: %s after %d s. The run stopped here; once that is fixed, run the "
                                 "playbook again: it starts from the discovery (a restart or reboot does the nodes "
                                 "again, an upgrade or site.yml only those still waiting)"
                                 % (what, p['source_role'], node.get('current_lsn') or node.get('replay_lsn'), problem,
                                    p['timeout']), replica=replica)
        time.sleep(0.5)


if __name__ == '__main__':
    main()
