#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: patroni_switchover
short_description: Switch over, or fail over, through Patroni's REST API
version_added: 0.1.0
description:
  - The one way pgha asks Patroni (pgha_failover_mode automatic) to change its leader.
  - I(action=switchover) runs on the current leader. Asks Patroni (C(GET /cluster)) whether the switchover may go
    ahead and refuses, changing nothing, when it may not (Patroni paused, another leader, the candidate not
    streaming). Then runs C(CHECKPOINT) (so the shutdown checkpoint inside the pause is short), PAUSEs every
    PgBouncer given (through their admin consoles) and asks Patroni for the switchover (C(POST /switchover), with
    the host's certificate). PgBouncer stays paused on success; each PgBouncer resumes once its HAProxy forwards
    to the new leader (M(pgha.cluster.pgbouncer_control) C(action=follow)). On any failure every PgBouncer paused
    here is resumed. Patroni itself stops the old primary, promotes the candidate and restarts the old one as its
    standby.
  - I(action=failover) runs on the candidate, after failover.yml fenced the failed primary. Refuses while
    Patroni has a leader other than I(leader) or the candidate is not running, then asks for the failover
    (C(POST /failover) naming the candidate; Patroni accepts it when paused too). Patroni promotes the candidate
    once the failed leader's lock is gone.
  - Patroni answers a switchover or failover request only after polling its own result in whole seconds, so the
    request runs in the background while the candidate's C(/primary) is polled every 50 ms. C(promoted_at) is
    when the candidate first answered 200 there; the module then waits up to 3 s more for Patroni's own answer.
extends_documentation_fragment:
  - pgha.cluster.node
  - pgha.cluster.attributes
options:
  action:
    description: C(switchover) (planned, from a running leader) or C(failover) (the leader failed and was fenced).
    type: str
    choices: [switchover, failover]
    default: switchover
  leader:
    description:
      - The current leader's Patroni member name (this node) for a switchover; the failed primary for a failover.
      - Required for a switchover.
    type: str
  candidate:
    description: The member to switch or fail over to.
    type: str
    required: true
  address:
    description: The address of the Patroni REST API asked (this node's).
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
    description: Addresses of the PgBouncer admin consoles to PAUSE (switchover only).
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

- name: Fail over to pg2 (pg1 fenced)
  pgha.cluster.patroni_switchover:
    version: 15
    action: failover
    leader: pg1
    candidate: pg2
    address: 10.0.0.12
    candidate_address: 10.0.0.12
    timeout: 40
'''

RETURN = r'''
paused_at:
  description: Epoch time every PgBouncer was paused.
  returned: when a switchover ran
  type: float
requested_at:
  description: Epoch time the request went to Patroni.
  returned: when the request was sent
  type: float
stopped_at:
  description: Epoch time Patroni answered the request (it answers after polling its own result in whole seconds).
  returned: when Patroni answered before the candidate led
  type: float
promoted_at:
  description: Epoch time the candidate's Patroni first answered 200 on C(/primary).
  returned: when it succeeded
  type: float
timeline:
  description: The new leader's timeline.
  returned: when it succeeded
  type: int
patroni_answer:
  description: Patroni's answer to the request (status and text; null while it had not answered).
  returned: when the request was sent
  type: dict
timings:
  description: Seconds spent in each step (checkpoint, pause, promote).
  returned: always
  type: dict
'''

import threading
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.patroni import endpoint
from ansible_collections.pgha.cluster.plugins.module_utils.patroni_api import (
    call, failover_problems, switchover_problems)
from ansible_collections.pgha.cluster.plugins.module_utils.pg import node_argument_spec, pg_paths, run_psql
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import open_consoles, pause_all
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import resume_all as resume_poolers


class Request(object):
    """A Patroni request sent in the background: Patroni answers it only after
    polling its own result in whole seconds."""

    def __init__(self, url, body, timeout):
        self.status, self.answer, self.answered_at = None, None, None
        self.thread = threading.Thread(target=self._run, args=(url, body, timeout))
        self.thread.daemon = True
        self.thread.start()

    def _run(self, url, body, timeout):
        try:
            self.status, self.answer = call(url, method="POST", body=body, timeout=timeout)
        except OSError as exc:
            self.answer = str(exc)
        self.answered_at = time.time()

    def refused(self):
        """Patroni answered and did not do it (a refusal, or its own failure)."""
        return self.answered_at is not None and self.status is not None and self.status != 200


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            action=dict(type='str', choices=['switchover', 'failover'], default='switchover'),
            leader=dict(type='str'),
            candidate=dict(type='str', required=True),
            address=dict(type='str', required=True),
            candidate_address=dict(type='str', required=True),
            api_port=dict(type='int', default=8008),
            poolers=dict(type='list', elements='str', default=[]),
            admin_user=dict(type='str'),
            admin_password=dict(type='str', no_log=True),
            timeout=dict(type='int', default=20),
        ),
        required_if=[('action', 'switchover', ['leader'])],
        supports_check_mode=True,
    )
    p = module.params
    if p['poolers'] and not (p['admin_user'] and p['admin_password']):
        module.fail_json(msg="poolers needs admin_user and admin_password (PgBouncer's admin console)")
    action = p['action']
    result = dict(changed=False, timings={})
    api = "https://" + endpoint(p['address'], p['api_port'])
    candidate_api = "https://" + endpoint(p['candidate_address'], p['api_port'])
    try:
        status, cluster = call(api + "/cluster")
    except OSError as exc:
        module.fail_json(msg="%s refused, nothing was changed: Patroni on %s does not answer (%s)" % (action, api, exc))
    cluster = cluster if status == 200 and isinstance(cluster, dict) else {}
    if action == "switchover":
        problems = switchover_problems(cluster, p['leader'], p['candidate'])
    else:
        problems = failover_problems(cluster, p['leader'], p['candidate'])
    if problems:
        module.fail_json(msg="%s refused, nothing was changed: %s" % (action, "; ".join(problems)), cluster=cluster)
    result['changed'] = True
    if module.check_mode:
        module.exit_json(**result)

    paused = []

    def resume_all():
        resume_poolers(module, paused, p['admin_user'], p['admin_password'])

    if action == "switchover":
        paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
        # The admin consoles connect (TLS, login) while the checkpoint runs, not inside the pause.
        consoles = open_consoles(module, p['poolers'], p['admin_user'], p['admin_password'])
        step = time.time()
        run_psql(module, paths['bin_dir'], p['port'], "CHECKPOINT", check_rc=True, timeout=30)
        result['timings']['checkpoint'] = round(time.time() - step, 3)
        step = time.time()
        paused, refused = pause_all(module, p['poolers'], p['admin_user'], p['admin_password'], consoles=consoles)
        if refused:
            module.fail_json(msg="could not PAUSE PgBouncer %s: %s; every PgBouncer resumed, %s still the leader"
                                 % (refused[0], refused[1], p['leader']), **result)
        result['paused_at'] = time.time()
        result['timings']['pause'] = round(result['paused_at'] - step, 3)
        body = {"leader": p['leader'], "candidate": p['candidate']}
    else:
        body = {"candidate": p['candidate']}

    step = time.time()
    result['requested_at'] = step
    request = Request(api + "/" + action, body, p['timeout'])
    deadline = step + p['timeout']
    code = None
    while True:
        try:
            code, info = call(candidate_api + "/primary", timeout=1.0)
        except OSError:
            code, info = None, None
        if code == 200:
            break
        if time.time() >= deadline or request.refused():
            request.thread.join(0.5)
            result['patroni_answer'] = {"status": request.status, "text": request.answer}
            resume_all()
            module.fail_json(msg="Patroni did not %s to %s (its answer: %s %s; %s still answers %s on /primary after "
                                 "%.1f s)%s" % (action, p['candidate'], request.status, request.answer, p['candidate'],
                                                code, time.time() - step,
                                                "; every PgBouncer resumed" if paused else ""), **result)
        time.sleep(0.05)
    result['promoted_at'] = time.time()
    result['timings']['promote'] = round(result['promoted_at'] - step, 3)
    result['timeline'] = info.get('timeline') if isinstance(info, dict) else None
    # Patroni's own answer comes up to a second later (it polls in whole seconds). PgBouncer does not wait for
    # it (each one follows HAProxy on its own host); waiting here keeps Patroni from writing to a closed socket.
    request.thread.join(max(0.0, min(3.0, deadline - time.time())))
    result['patroni_answer'] = {"status": request.status, "text": request.answer}
    if request.answered_at:
        result['stopped_at'] = request.answered_at
    module.exit_json(**result)


if __name__ == '__main__':
    main()
