#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pgbackrest_restore
short_description: Restore the local cluster from a pgBackRest backup plus archived WAL, and verify it
version_added: 0.1.0
description:
  - Executes a plan from M(pgha.cluster.pgbackrest_info) on the local cluster, in phases that are
    timed one by one - stop the local server, C(pgbackrest restore --delta) with the plan's set and
    target, start the server and wait until recovery reached the target and promoted, then verify.
  - Verification - the server answers and is out of recovery, C(pg_amcheck --all) passes, what
    the server log says recovery reached matches the target (the last replayed commit is not
    later than a time target and the next one is; the LSN target was passed; the transaction or
    restore point named was where it stopped), and optional probe queries return what they expect.
  - In C(drill) mode the restored server never archives (C(--archive-mode=off)) and forgets the
    replication settings of the cluster it came from, so a drill host cannot touch the running
    cluster or its repository. It refuses (before anything changes) a host whose data directory no
    drill made (no C(pgha.drill) marker), or that runs a streaming standby or an unmarked writable
    server, and marks the restored directory for the next drill.
  - In C(inplace) mode the restored server becomes the new primary; this host's own data directory
    is moved aside first (C(DATADIR.pgha-aside-TIME-pre-restore), after a free-space check), never
    overwritten.
  - Returns a report (C(passed) false when a phase or a check failed) and does not fail for a
    failed check, so the caller can write the report first.
  - Check mode returns the C(pgbackrest restore) command it would run and changes nothing.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  stanza:
    description: Stanza name.
    type: str
    required: true
  plan:
    description: The C(plan) returned by M(pgha.cluster.pgbackrest_info) (target, set, timeline).
    type: dict
    required: true
  repo:
    description: Repository number to restore from.
    type: int
    default: 1
  mode:
    description: C(drill) (scratch host, no archiving) or C(inplace) (the cluster's new primary).
    type: str
    choices: [drill, inplace]
    default: drill
  amcheck:
    description: Run C(pg_amcheck --all --install-missing) on the restored server.
    type: bool
    default: true
  probes:
    description:
      - Queries to run on the restored server. Each has C(sql), optional C(name), C(database)
        (default postgres) and C(expect) (the first column of the first row, compared as text).
      - They run as the superuser with C(search_path = pg_catalog, pg_temp), so that no object in the restored
        data can stand in for a built-in. Qualify tables with their schema, for example C(public.orders).
    type: list
    elements: dict
    default: []
  process_max:
    description: Parallel processes for the restore (pgBackRest's C(process-max)).
    type: int
  recovery_timeout:
    description: Seconds to wait for recovery to reach the target and promote.
    type: int
    default: 3600
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Drill restore to a point in time
  pgha.cluster.pgbackrest_restore:
    version: 15
    stanza: main
    plan: "{{ restore_info.plan }}"
    probes:
      - name: orders before the bad delete
        sql: SELECT count(*) FROM public.orders
        expect: 1000
  register: drill
'''

RETURN = r'''
command:
  description: The pgbackrest restore command line.
  returned: always
  type: list
  elements: str
report:
  description: Backup used, target, reached LSN and time, WAL replayed, phases with seconds, checks, passed.
  returned: unless check mode
  type: dict
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.backup import (
    epoch_time, format_time, older_set_hint, parse_recovery_log, past_last_commit, probe_checks, restore_options,
    short_of_target, target_checks, wal_replayed)
from ansible_collections.pgha.cluster.plugins.module_utils.backup import drill_host_problem
from ansible_collections.pgha.cluster.plugins.module_utils.datadir import move_aside
from ansible_collections.pgha.cluster.plugins.module_utils.pg import (
    DRILL_MARKER, FENCED_MARKER, as_postgres, inspect_node, node_argument_spec, parse_auto_conf, pg_paths,
    postmaster_running, read_file, run_psql, stop_server)
from ansible_collections.pgha.cluster.plugins.module_utils.pgbackrest import pgbackrest
from ansible_collections.pgha.cluster.plugins.module_utils.topology import merge_auto_conf

# Settings of the source cluster the restored server must not keep: it would
# wait for synchronous standbys that are not there, or stream from the running
# cluster (a drill). In place, sync_replication sets them again later.
FORGET = ("primary_conninfo", "primary_slot_name", "synchronous_standby_names")
# ... and must not take from the configuration outside the data directory either: on a node Patroni ran,
# its postgresql.conf still says synchronous_standby_names = '*' (no commit would return). Set explicitly
# in postgresql.auto.conf, which overrides it.
PINNED = {"synchronous_standby_names": ""}
RECOVERY_SETTINGS = ("recovery_target", "recovery_target_time", "recovery_target_lsn", "recovery_target_xid",
                     "recovery_target_name", "recovery_target_action", "recovery_target_timeline",
                     "recovery_target_inclusive")


class Phases(object):
    def __init__(self):
        self.items = []
        self.started = None
        self.name = None

    def start(self, name):
        self.stop()
        self.name, self.started = name, time.monotonic()

    def stop(self):
        if self.name:
            self.items.append({"name": self.name, "seconds": round(time.monotonic() - self.started, 3)})
        self.name = None


def systemctl(module, action, service):
    return module.run_command(["systemctl", action, service], cwd="/")


def forget_settings(path, names, pinned=None):
    """Remove settings from postgresql.auto.conf, and set ``pinned`` ones there
    (atomically, same owner). Returns the names removed or replaced."""
    text = read_file(path) or ""
    current = parse_auto_conf(text)
    present = dict((name, None) for name in names if name in current)
    present.update(pinned or {})
    merged = merge_auto_conf(text, present)
    if merged == text:
        return []
    tmp = path + ".pgha"
    with open(tmp, "w") as handle:
        handle.write(merged)
    stat = os.stat(path)
    os.chown(tmp, stat.st_uid, stat.st_gid)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)
    return sorted(name for name in present if name in current)


def write_marker(path, owner_of):
    """The drill marker: this data directory was made by a drill and may be replaced by the next."""
    with open(path, "w") as handle:
        handle.write("restored by a pgha drill at %s\n" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    stat = os.stat(owner_of) if os.path.exists(owner_of) else os.stat(os.path.dirname(path))
    os.chown(path, stat.st_uid, stat.st_gid)


def log_tail(path, offset):
    try:
        with open(path, "r") as handle:
            handle.seek(offset)
            return handle.read()
    except (IOError, OSError):
        return ""


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            stanza=dict(type='str', required=True),
            plan=dict(type='dict', required=True),
            repo=dict(type='int', default=1),
            mode=dict(type='str', default='drill', choices=['drill', 'inplace']),
            amcheck=dict(type='bool', default=True),
            probes=dict(type='list', elements='dict', default=[]),
            process_max=dict(type='int'),
            recovery_timeout=dict(type='int', default=3600),
        ),
        supports_check_mode=True,
    )
    p = module.params
    plan = p['plan']
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    data_dir = paths["data_dir"]
    options = restore_options(p['stanza'], plan, repo=p['repo'],
                              archive_mode="off" if p['mode'] == 'drill' else "preserve",
                              process_max=p['process_max'])
    command = ["pgbackrest"] + options
    if not os.path.isfile(os.path.join(paths["conf_dir"], "postgresql.conf")):
        module.fail_json(msg="no cluster %s/%s configured on this host (%s): create it first"
                         % (p['version'], p['cluster'], paths["conf_dir"]), command=command)
    if p['mode'] == 'drill':
        # Defence in depth (restore.yml checked it first): only a directory a drill made is replaced.
        problem = drill_host_problem("this host", inspect_node(module, p['version'], p['cluster'], p['port'],
                                                               data_dir=p['data_dir'], bin_dir=p['bin_dir']), set())
        if problem:
            module.fail_json(msg="restore refused, nothing was changed: %s" % problem, command=command)
    if module.check_mode:
        module.exit_json(changed=True, command=command)

    log_file = "/var/log/postgresql/postgresql-%s-%s.log" % (p['version'], p['cluster'])
    phases = Phases()
    backup = plan.get("backup") or {}
    report = {
        "mode": p['mode'], "stanza": p['stanza'], "repo": p['repo'], "target": plan.get("target"),
        "window": plan.get("window"), "command": command, "data_directory": data_dir,
        "started": format_time(epoch_time(time.time())),
        "backup": dict(backup, stop_time_text=format_time(epoch_time(backup["stop_time"]))
                       if backup.get("stop_time") else None),
        "restored_bytes": backup.get("size"), "phases": phases.items, "checks": [], "passed": False,
        "error": None, "reached_lsn": None, "reached_time": None, "wal_replayed_bytes": None,
    }
    begin = time.monotonic()

    def finish(error=None):
        phases.stop()
        report["error"] = error
        if error:
            report["checks"].append({"name": "restore completed", "ok": False, "detail": error})
        report["passed"] = error is None and bool(report["checks"]) and all(c["ok"] for c in report["checks"])
        report["duration_s"] = round(time.monotonic() - begin, 3)
        module.exit_json(changed=True, command=command, report=report)

    phases.start("stop local server")
    stop_server(module, paths)
    if postmaster_running(data_dir):
        finish("could not stop %s" % paths["service"])
    if p['mode'] == 'inplace' and os.path.exists(os.path.join(data_dir, "PG_VERSION")):
        # The restore host's own data is kept too (a failed restore leaves it to fall back on).
        phases.start("move the old data directory aside")
        report["kept_aside"] = move_aside(module, data_dir, "pre-restore", needed_bytes=backup.get("size"))
    if not os.path.isdir(data_dir):
        os.makedirs(data_dir, 0o700)
        module.run_command(["chown", "postgres:postgres", data_dir], check_rc=True)

    phases.start("pgbackrest restore")
    rc, out, err, dummy = pgbackrest(module, options)
    if rc != 0:
        finish("pgbackrest restore failed (exit %d): %s" % (rc, (err or out).strip()))
    auto_conf = os.path.join(data_dir, "postgresql.auto.conf")
    report["forgotten_settings"] = forget_settings(auto_conf, FORGET, PINNED)
    for stale in ("standby.signal", FENCED_MARKER, DRILL_MARKER):
        if os.path.exists(os.path.join(data_dir, stale)):
            os.remove(os.path.join(data_dir, stale))
    if p['mode'] == 'drill':
        write_marker(os.path.join(data_dir, DRILL_MARKER), auto_conf)

    def recover():
        """Start the server and wait until it promoted, failed or timed out."""
        offset = os.path.getsize(log_file) if os.path.exists(log_file) else 0
        rc = systemctl(module, "start", paths["service"])[0]
        deadline = time.monotonic() + p['recovery_timeout']
        state = None
        while not parse_recovery_log(log_tail(log_file, offset)).get("error"):
            qrc, qout, dummy = run_psql(module, paths["bin_dir"], p['port'], "SELECT pg_is_in_recovery()")
            state = qout.strip() if qrc == 0 else None
            if state == "f" or time.monotonic() > deadline:
                break
            if rc != 0 and systemctl(module, "is-active", paths["service"])[0] != 0:
                break
            time.sleep(0.5)
        return state, parse_recovery_log(log_tail(log_file, offset)), offset

    phases.start("recovery to the target")
    state, recovery, offset = recover()
    report["target_after_last_commit"] = False
    if state != "f" and past_last_commit(plan["target"], recovery, plan.get("run")):
        # Nothing was committed between the target and the end of the archived
        # WAL: the end of the archive is the state at the target. Replay to it.
        phases.start("recovery to the end of the archive (no commit after the target)")
        forget_settings(auto_conf, RECOVERY_SETTINGS)
        report["target_after_last_commit"] = True
        report["first_recovery_log"] = recovery
        state, recovery, offset = recover()
    report["recovery_log"] = recovery
    report["reached_lsn"] = recovery.get("redo_done")
    report["reached_time"] = recovery.get("last_transaction_time")
    report["new_timeline"] = recovery.get("new_timeline")
    report["wal_replayed_bytes"] = wal_replayed(recovery, backup)
    if state != "f":
        short = short_of_target(recovery, plan.get("run"))
        if short:
            report["checks"].append(short)
        hint = older_set_hint(plan, recovery)
        if hint:
            report["checks"].append({"name": "target after the start of the set", "ok": False, "detail": hint})
        tail = log_tail(log_file, offset).strip().splitlines()[-8:]
        finish("the restored server did not finish recovery and promote (%s)%s%s: %s"
               % (recovery.get("error") or "state %s" % state, "; %s" % short["detail"] if short else "",
                  "; %s" % hint if hint else "", " / ".join(tail)))

    phases.start("drop the recovery target")
    # Recovery settings stay in postgresql.auto.conf after the promotion;
    # drop them so a later restart or demotion does not stop at this target.
    for name in RECOVERY_SETTINGS:
        run_psql(module, paths["bin_dir"], p['port'], "ALTER SYSTEM RESET %s" % name)
    run_psql(module, paths["bin_dir"], p['port'], "SELECT pg_reload_conf()")
    # The server still runs with them (they need a restart): restart it now, before anything uses it, so
    # that no later reload finds settings waiting for a restart (site.yml refuses such a configuration).
    qrc, qout, dummy = run_psql(module, paths["bin_dir"], p['port'],
                                "SELECT count(*) FROM pg_catalog.pg_settings WHERE pending_restart")
    if qrc == 0 and qout.strip() not in ("", "0"):
        report["restarted_after_recovery"] = True
        rc, out, err = systemctl(module, "restart", paths["service"])
        if rc != 0:
            finish("the restored server did not restart without its recovery target: %s" % (err or out).strip())
        deadline = time.monotonic() + p['recovery_timeout']
        while run_psql(module, paths["bin_dir"], p['port'], "SELECT 1")[0] != 0:
            if time.monotonic() >= deadline:
                finish("the restored server did not accept connections after its restart")
            time.sleep(0.5)

    phases.start("verify")
    checks = report["checks"]
    qrc, qout, qerr = run_psql(module, paths["bin_dir"], p['port'],
                               "SELECT count(*) FROM pg_database WHERE datallowconn")
    checks.append({"name": "server started, consistent and writable", "ok": qrc == 0,
                   "detail": "%s databases accept connections" % qout.strip() if qrc == 0 else qerr.strip()})
    checks.extend(target_checks(plan["target"], recovery, report["reached_lsn"],
                                after_last_commit=report["target_after_last_commit"], run=plan.get("run")))
    if p['amcheck']:
        argv = as_postgres([os.path.join(paths["bin_dir"], "pg_amcheck"), "--all", "--install-missing",
                            "-h", "/var/run/postgresql", "-p", str(p['port'])])
        started = time.monotonic()
        arc, aout, aerr = module.run_command(argv, cwd="/")
        checks.append({"name": "pg_amcheck --all", "ok": arc == 0,
                       "detail": ("no corruption found in %.1f s" % (time.monotonic() - started)) if arc == 0
                       else (aout + aerr).strip()[-2000:]})
    results = []
    for probe in p['probes']:
        prc, pout, perr = run_psql(module, paths["bin_dir"], p['port'], probe["sql"],
                                   database=probe.get("database", "postgres"), timeout=30)
        first = pout.strip().splitlines()[0].split("|")[0] if prc == 0 and pout.strip() else None
        results.append({"value": first, "error": perr.strip() if prc != 0 else None})
    checks.extend(probe_checks(p['probes'], results))
    finish()


if __name__ == '__main__':
    main()
