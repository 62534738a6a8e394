#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_restart
short_description: Restart (or stop) the local PostgreSQL server - a standby, or the primary with PgBouncer paused
version_added: 0.1.0
description:
  - Takes a CHECKPOINT (a restartpoint on a standby) so that the shutdown one is short, stops the server
    (a clean stop, escalated after I(stop_timeout) on a standby only; never waits on systemd's stop job),
    starts it and waits until it answers again (a standby, or a primary that accepts writes).
  - On a primary, only with I(poolers) given - the restart of a primary in place, which a rolling restart
    does only when a setting the standbys need at least as high as the primary's is lowered
    (C(pgha_rolling_primary_first)). Every PgBouncer is PAUSEd before the stop and RESUMEd once the
    server accepts writes again (or whatever happened), so clients wait instead of failing.
  - With I(state=stopped) (a standby only, C(remove_node.yml)) the server is stopped and not started again.
  - In check mode only reports the node's role.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  state:
    description: C(restarted), or C(stopped) (a standby only).
    type: str
    choices: [restarted, stopped]
    default: restarted
  poolers:
    description: PgBouncer addresses to pause around the restart of a primary (required for a primary).
    type: list
    elements: raw
    default: []
  admin_user:
    description: PgBouncer admin console user.
    type: str
  admin_password:
    description: Its password.
    type: str
  stop_timeout:
    description: Seconds a clean stop may take.
    type: int
    default: 60
  start_timeout:
    description: Seconds the server may take to answer again.
    type: int
    default: 120
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Restart this standby
  pgha.cluster.pg_restart:
    version: 15
'''

RETURN = r'''
role:
  description: C(primary) or C(standby), as the node was before the restart.
  returned: always
  type: str
started_at:
  description: The postmaster's start time (epoch) after the restart.
  returned: success and state=restarted
  type: float
paused:
  description: Seconds PgBouncer was paused (a primary only).
  returned: success
  type: float
timings:
  description: Seconds for checkpoint, pause, stop, start.
  returned: always
  type: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import (
    inspect_node, node_argument_spec, pg_paths, postmaster_running, run_psql, stop_server, unit_state, wait_archiver)
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import open_consoles, pause_all, resume_all


def wait_up(module, p, role, deadline):
    """The node answers again in its role (a primary: accepts writes). Returns the node or None."""
    while True:
        node = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
        if node['up'] and node['role'] == role:
            return node
        if time.time() >= deadline:
            return None
        time.sleep(0.1)


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            state=dict(type='str', choices=['restarted', 'stopped'], default='restarted'),
            poolers=dict(type='list', elements='raw', default=[]),
            admin_user=dict(type='str'),
            admin_password=dict(type='str', no_log=True),
            stop_timeout=dict(type='int', default=60),
            start_timeout=dict(type='int', default=120),
        ),
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    node = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    role = node['role']
    result = dict(changed=True, role=role, timings={})
    if not node['up'] or role not in ('primary', 'standby'):
        module.fail_json(msg="the server is not running as a primary or a standby (up: %s, role: %s): "
                             "not restarted; run status.yml" % (node['up'], role), **result)
    if role == 'primary' and p['state'] == 'stopped':
        module.fail_json(msg="this node is the primary: it is never stopped this way", **result)
    if role == 'primary' and not (p['poolers'] and p['admin_user']):
        module.fail_json(msg="this node is the primary: a rolling restart switches it over instead of restarting "
                             "it; in place only with its PgBouncers paused (poolers, admin_user)", **result)
    if module.check_mode:
        module.exit_json(**result)

    consoles = open_consoles(module, p['poolers'], p['admin_user'], p['admin_password']) if role == 'primary' else []
    step = time.time()
    run_psql(module, paths['bin_dir'], p['port'], "CHECKPOINT", timeout=30)
    if role == 'primary':
        wait_archiver(module, paths['bin_dir'], p['port'], deadline=time.time() + 5)
    result['timings']['checkpoint'] = round(time.time() - step, 3)

    paused = []
    if role == 'primary':
        step = time.time()
        paused, refused = pause_all(module, p['poolers'], p['admin_user'], p['admin_password'], consoles=consoles)
        if refused:
            module.fail_json(msg="could not PAUSE PgBouncer %s: %s; every PgBouncer resumed, the primary was not "
                                 "restarted" % refused, **result)
        result['timings']['pause'] = round(time.time() - step, 3)
    paused_at = time.time()
    try:
        step = time.time()
        stopped = {}
        stop_server(module, paths, p['stop_timeout'], result=stopped, escalate=role == 'standby')
        if postmaster_running(paths['data_dir']):
            module.run_command(["systemctl", "start", paths['service']])
            module.fail_json(msg="the clean stop of %s did not finish in %d s; the server was started again, "
                                 "not restarted" % (paths['service'], p['stop_timeout']), **result)
        result['stop'] = stopped.get('how')
        result['timings']['stop'] = round(time.time() - step, 3)
        if p['state'] == 'stopped':
            module.exit_json(**result)
        step = time.time()
        # Not waited for here: the start job ends when pg_ctlcluster returns, about 2 s after the
        # server accepts connections (measured on the lab). The server is waited for, the unit after RESUME.
        rc, out, err = module.run_command(["systemctl", "start", "--no-block", paths['service']])
        if rc != 0:
            module.fail_json(msg="systemctl start %s failed: %s" % (paths['service'], (err or out).strip()), **result)
        after = wait_up(module, p, role, time.time() + p['start_timeout'])
        result['timings']['start'] = round(time.time() - step, 3)
        if after is None:
            module.fail_json(msg="%s did not answer as a %s within %d s of its start: see its log"
                                 % (paths['service'], role, p['start_timeout']), **result)
        result['started_at'] = after.get('started_at')
    finally:
        if paused:
            resume_all(module, paused, p['admin_user'], p['admin_password'])
            result['paused'] = round(time.time() - paused_at, 3)
    deadline = time.time() + p['start_timeout']
    state = unit_state(module, paths['service'])
    while state != 'active' and state != 'failed' and time.time() < deadline:
        time.sleep(0.2)
        state = unit_state(module, paths['service'])
    if state != 'active':
        module.fail_json(msg="the server answers but its unit %s is %s: see systemctl status %s"
                             % (paths['service'], state, paths['service']), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
