#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_demote
short_description: Stop a primary cleanly for a switchover, with PgBouncer paused
version_added: 0.1.0
description:
  - Runs on the current primary. Takes a CHECKPOINT (so the shutdown one is
    short), PAUSEs every PgBouncer given (through their admin consoles), stops
    the server with a fast shutdown (the walsenders send the shutdown
    checkpoint to the standbys before they exit) and reports the shutdown
    checkpoint's LSN read from C(pg_controldata).
  - If pausing or stopping fails, the PgBouncers are resumed and the server is
    left (or started again) as the primary.
  - In check mode only verifies that the node is a running primary.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
  - pgha.cluster.tls
options:
  poolers:
    description:
      - PgBouncer hosts to pause, each an address or a dict with C(host) and
        optional C(port) (6432).
    type: list
    elements: raw
    default: []
  admin_user:
    description: PgBouncer admin console user.
    type: str
  admin_password:
    description: Its password.
    type: str
  await_promotion:
    description:
      - After stopping, wait until this standby (C(host), optional C(port)) reports a newer timeline
        over a replication connection (credentials from the postgres user's C(.pgpass)), for
        I(await_timeout) seconds. If it is still on the old timeline then, this node starts again
        as the primary and the PgBouncers are resumed; if it cannot be reached, this node stays
        down (starting it could make two primaries).
    type: dict
  await_timeout:
    description: Seconds to wait for I(await_promotion); longer than the target's own promotion timeout.
    type: int
    default: 20
  replication_user:
    description: Role for the replication connection of I(await_promotion).
    type: str
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Pause the poolers and stop the old primary
  pgha.cluster.pg_demote:
    version: 15
    poolers: [{host: 10.0.0.21}]
    admin_user: pgha_admin
    admin_password: "{{ pgha_admin_password }}"
  register: demoted
'''

RETURN = r'''
shutdown_checkpoint_lsn:
  description: LSN of the shutdown checkpoint record; the new primary must have replayed past it.
  returned: success
  type: str
timeline:
  description: Timeline of the stopped primary.
  returned: success
  type: int
paused_at:
  description: Epoch time when every PgBouncer was paused.
  returned: success
  type: float
timings:
  description: Seconds for checkpoint, pause and stop.
  returned: always
  type: dict
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import (
    FENCED_MARKER, as_postgres, inspect_node, libpq_env, node_argument_spec, parse_controldata, pg_paths, postmaster_running, run_psql,
    stop_server, wait_archiver)
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import open_consoles, pause_all
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import resume_all as resume_poolers
from ansible_collections.pgha.cluster.plugins.module_utils.tls import client_tls, tls_argument_spec
from ansible_collections.pgha.cluster.plugins.module_utils.topology import build_conninfo

# Seconds a clean shutdown of the old primary may take.
STOP_TIMEOUT = 60


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            poolers=dict(type='list', elements='raw', default=[]),
            admin_user=dict(type='str'),
            admin_password=dict(type='str', no_log=True),
            await_promotion=dict(type='dict'),
            await_timeout=dict(type='int', default=20),
            replication_user=dict(type='str'),
            **tls_argument_spec()
        ),
        required_by={'await_promotion': 'replication_user'},
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    node = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    if not (node['up'] and node['role'] == 'primary'):
        module.fail_json(msg="this node is not a running primary (up: %s, role: %s)" % (node['up'], node['role']))
    result = dict(changed=True, timings={}, timeline=node['timeline'], lsn_before=node['current_lsn'])
    if module.check_mode:
        module.exit_json(**result)

    # The admin consoles connect (TLS, login) while the checkpoint runs, not inside the pause.
    consoles = open_consoles(module, p['poolers'], p['admin_user'], p['admin_password'])
    step = time.time()
    run_psql(module, paths['bin_dir'], p['port'], "CHECKPOINT", check_rc=True, timeout=30)
    result['timings']['checkpoint'] = round(time.time() - step, 3)
    # With WAL archiving the server archives every finished WAL file before
    # it stops: let the archiver catch up now, while clients still run, so
    # the stop (inside the PgBouncer pause) has little left to push.
    step = time.time()
    result['archive_backlog'] = wait_archiver(module, paths['bin_dir'], p['port'], deadline=step + 5)
    result['timings']['archive_catch_up'] = round(time.time() - step, 3)

    def resume_all():
        resume_poolers(module, paused, p['admin_user'], p['admin_password'])

    step = time.time()
    paused, refused = pause_all(module, p['poolers'], p['admin_user'], p['admin_password'], consoles=consoles)
    if refused:
        module.fail_json(msg="could not PAUSE PgBouncer %s: %s; every PgBouncer resumed, %s still primary"
                             % (refused[0], refused[1], "this node"), **result)
    result['paused_at'] = time.time()
    result['timings']['pause'] = round(result['paused_at'] - step, 3)

    step = time.time()
    # Never waits on systemd's stop job: in some containers it outlives the server by
    # the unit's whole stop timeout (an hour). The postmaster gone is what counts.
    stopped = {}
    stop_server(module, paths, STOP_TIMEOUT, result=stopped, escalate=False)
    if postmaster_running(paths['data_dir']):
        resume_all()
        module.fail_json(msg="the clean shutdown of %s did not finish in %d s (still shutting down; not promoted "
                             "anywhere); PgBouncer resumed. Run status.yml, then start it again or fail over"
                             % (paths['service'], STOP_TIMEOUT), **result)
    result['unit_reloaded'] = stopped.get('unit_reloaded', False)
    rc, out, err = module.run_command(as_postgres([paths['bin_dir'] + "/pg_controldata", paths['data_dir']]),
                                      cwd="/", environ_update={"LC_ALL": "C"})
    control = parse_controldata(out)
    result['timings']['stop'] = round(time.time() - step, 3)
    result['stopped_at'] = time.time()
    if control.get("Database cluster state") != "shut down":
        module.fail_json(msg="the server did not shut down cleanly (state: %s)" % control.get("Database cluster state"),
                         **result)
    result['shutdown_checkpoint_lsn'] = control.get("Latest checkpoint location")
    result['timeline'] = int(control.get("Latest checkpoint's TimeLineID", node['timeline']))
    if p['await_promotion']:
        target = p['await_promotion']
        seen = await_promotion(module, paths, target, p['replication_user'], result['timeline'], p['await_timeout'], p)
        result['target_timeline'] = seen
        if seen is None:
            module.fail_json(msg="%s could not be reached for %d s after this primary stopped: it may or may not "
                                 "have been promoted, so this node stays down. Check %s, then run status.yml"
                                 % (target['host'], p['await_timeout'], target['host']), **result)
        if seen <= result['timeline']:
            module.run_command(["systemctl", "start", paths['service']])
            resume_all()
            # The boot guard (ExecStartPre) starts it read-only if a peer runs a newer timeline by then.
            if os.path.exists(os.path.join(paths['data_dir'], FENCED_MARKER)):
                module.fail_json(msg="%s was not seen promoted within %d s, but it was by the time this node "
                                     "started again: the boot guard started this node read-only (fenced). "
                                     "PgBouncer resumed; run status.yml, then rejoin.yml for this node"
                                     % (target['host'], p['await_timeout']), **result)
            module.fail_json(msg="%s was not promoted within %d s (still on timeline %s): this node started again "
                                 "as the primary and PgBouncer resumed" % (target['host'], p['await_timeout'], seen),
                             **result)
        result['promotion_seen_at'] = time.time()
    module.exit_json(**result)


def identify_timeline(module, paths, target, user, tls):
    conninfo = build_conninfo(dict(client_tls(tls), host=target['host'], port=str(target.get('port', 5432)), user=user,
                                   dbname='replication', replication='true', connect_timeout='2'))
    rc, out, err = module.run_command(as_postgres([paths['bin_dir'] + "/psql", "-X", "-A", "-t", "-q", "-F", " ",
                                                   "-d", conninfo, "-c", "IDENTIFY_SYSTEM"]),
                                      cwd="/", environ_update=libpq_env(PGPASSFILE="/var/lib/postgresql/.pgpass"))
    if rc != 0 or not out.strip():
        return None
    fields = out.split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def await_promotion(module, paths, target, user, old_timeline, timeout, tls):
    """The target's timeline once it is newer than old_timeline; the last one seen at the deadline
    (None if the target never answered)."""
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        timeline = identify_timeline(module, paths, target, user, tls)
        if timeline is not None:
            seen = timeline
            if timeline > old_timeline:
                return timeline
        time.sleep(0.05)
    return seen


if __name__ == '__main__':
    main()
