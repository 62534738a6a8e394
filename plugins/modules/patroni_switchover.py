#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: patroni_switchover
short_description: Switch over through Patroni's REST API with every PgBouncer paused
version_added: 0.1.0
description:
  - Runs on the current leader (pgha_failover_mode automatic). Asks Patroni (C(GET /cluster)) whether the
    switchover may go ahead and refuses, changing nothing, when it may not (Patroni paused, another leader, the
    candidate not streaming).
  - Then runs C(CHECKPOINT) (so the shutdown checkpoint inside the pause is short), PAUSEs every PgBouncer
    given (through their admin consoles), asks Patroni for the switchover (C(POST /switchover), with the host's
    certificate) and waits until the candidate's Patroni answers 200 on C(/primary).
  - PgBouncer stays paused on success; each PgBouncer resumes once its HAProxy forwards to the new leader
    (M(pgha.cluster.pgbouncer_control) C(action=follow)). On any failure every PgBouncer paused here is resumed.
  - Patroni itself stops the old primary, promotes the candidate and restarts the old one as its standby.
extends_documentation_fragment:
  - pgha.cluster.node
  - pgha.cluster.attributes
options:
  leader:
    description: This node's Patroni member name (the current leader).
    type: str
    required: true
  candidate:
    description: The member to switch over to.
    type: str
    required: true
  address:
    description: This node's address (its Patroni REST API listens there).
    type: str
    required: true
  candidate_address:
    description: The candidate's address.
    type: str
    required: true
  api_port:
    description: Port of Patroni's REST API.
    type: int
    default: 8008
  poolers:
    description: Addresses of the PgBouncer admin consoles to PAUSE.
    type: list
    elements: str
    default: []
  admin_user:
    description: PgBouncer admin console user.
    type: str
  admin_password:
    description: Its password.
    type: str
  timeout:
    description: Seconds to wait for the candidate to become the leader.
    type: int
    default: 20
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Switch over to pg2 through Patroni
  pgha.cluster.patroni_switchover:
    version: 15
    leader: pg1
    candidate: pg2
    address: 10.0.0.11
    candidate_address: 10.0.0.12
    poolers: [10.0.0.21]
    admin_user: pgha_admin
    admin_password: "{{ pgha_admin_password }}"
'''

RETURN = r'''
paused_at:
  description: Epoch time every PgBouncer was paused.
  returned: when the switchover ran
  type: float
stopped_at:
  description: Epoch time Patroni answered the switchover request.
  returned: when the switchover ran
  type: float
promoted_at:
  description: Epoch time the candidate's Patroni first answered 200 on C(/primary).
  returned: when the switchover succeeded
  type: float
timeline:
  description: The new leader's timeline.
  returned: when the switchover succeeded
  type: int
patroni_answer:
  description: Patroni's answer to the switchover request (status and text).
  returned: when the switchover ran
  type: dict
timings:
  description: Seconds spent in each step (checkpoint, pause, switchover, promote).
  returned: always
  type: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.patroni import endpoint
from ansible_collections.pgha.cluster.plugins.module_utils.patroni_api import call, switchover_problems
from ansible_collections.pgha.cluster.plugins.module_utils.pg import node_argument_spec, pg_paths, run_psql
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import pause_all
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import resume_all as resume_poolers


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            leader=dict(type='str', required=True),
            candidate=dict(type='str', required=True),
            address=dict(type='str', required=True),
            candidate_address=dict(type='str', required=True),
            api_port=dict(type='int', default=8008),
            poolers=dict(type='list', elements='str', default=[]),
            admin_user=dict(type='str'),
            admin_password=dict(type='str', no_log=True),
            timeout=dict(type='int', default=20),
        ),
        required_if=[('poolers', [], ['admin_user', 'admin_password'], True)],
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, timings={})
    api = "https://" + endpoint(p['address'], p['api_port'])
    candidate_api = "https://" + endpoint(p['candidate_address'], p['api_port'])
    try:
        status, cluster = call(api + "/cluster")
    except OSError as exc:
        module.fail_json(msg="switchover refused, nothing was changed: Patroni on %s does not answer (%s)" % (api, exc))
    problems = switchover_problems(cluster if status == 200 else {}, p['leader'], p['candidate'])
    if problems:
        module.fail_json(msg="switchover refused, nothing was changed: " + "; ".join(problems), cluster=cluster)
    result['changed'] = True
    if module.check_mode:
        module.exit_json(**result)

    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    step = time.time()
    run_psql(module, paths['bin_dir'], p['port'], "CHECKPOINT", check_rc=True, timeout=30)
    result['timings']['checkpoint'] = round(time.time() - step, 3)

    def resume_all():
        resume_poolers(module, paused, p['admin_user'], p['admin_password'])

    step = time.time()
    paused, refused = pause_all(module, p['poolers'], p['admin_user'], p['admin_password'])
    if refused:
        module.fail_json(msg="could not PAUSE PgBouncer %s: %s; every PgBouncer resumed, %s still the leader"
                             % (refused[0], refused[1], p['leader']), **result)
    result['paused_at'] = time.time()
    result['timings']['pause'] = round(result['paused_at'] - step, 3)

    step = time.time()
    try:
        status, answer = call(api + "/switchover", method="POST",
                              body={"leader": p['leader'], "candidate": p['candidate']}, timeout=p['timeout'])
    except OSError as exc:
        status, answer = None, str(exc)
    result['stopped_at'] = time.time()
    result['timings']['switchover'] = round(result['stopped_at'] - step, 3)
    result['patroni_answer'] = {"status": status, "text": answer}
    deadline = step + p['timeout']
    while True:
        try:
            code, info = call(candidate_api + "/primary", timeout=1.0)
        except OSError:
            code, info = None, None
        if code == 200:
            break
        if time.time() >= deadline or status in (400, 401, 403, 412):
            resume_all()
            module.fail_json(msg="Patroni did not switch over to %s (its answer: %s %s; %s still answers %s on "
                                 "/primary after %.1f s); every PgBouncer resumed"
                                 % (p['candidate'], status, answer, p['candidate'], code, time.time() - step),
                             **result)
        time.sleep(0.05)
    result['promoted_at'] = time.time()
    result['timings']['promote'] = round(result['promoted_at'] - step, 3)
    result['timeline'] = (info or {}).get('timeline') if isinstance(info, dict) else None
    module.exit_json(**result)


if __name__ == '__main__':
    main()
