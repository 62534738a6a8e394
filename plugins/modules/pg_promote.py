#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_promote
short_description: Promote the local standby, after it replayed a given WAL position
version_added: 0.1.0
description:
  - Runs on the standby to promote. With I(after_lsn) (in a switchover, the old
    primary's shutdown checkpoint) it first waits until it has replayed past
    that position, and refuses to promote if it does not within I(wait_timeout)
    seconds. Then promotes (C(pg_promote(wait => true))) and reports the new
    timeline and the time it took.
  - A node that is already a primary is reported unchanged, after the write check when asked (failover.yml
    checks this way, once the other standbys follow it, that a write commits on the new primary). A standby
    Patroni runs is never promoted here.
  - In check mode reports what it would do.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  after_lsn:
    description: WAL position the standby must have replayed past before promotion.
    type: str
  upstream_shutdown:
    description:
      - Wait until the upstream (the old primary, stopped cleanly at the same time) has gone and
        the last WAL record this standby received is its C(CHECKPOINT_SHUTDOWN), replayed; refuse
        to promote otherwise. Lets the stop and the promotion run in parallel tasks.
    type: bool
    default: false
  upstream_shutdown_max_age:
    description:
      - With I(upstream_shutdown), refuse to promote once the upstream's C(CHECKPOINT_SHUTDOWN) arrived more
        than this many seconds ago (the last write of the WAL segment that holds it, read on this host's
        own clock). The old primary waits a fixed time after its stop for the promotion, then starts again
        as the primary. This bound, shorter than that wait, keeps a target whose task started late from
        promoting after the old primary gave up. It does not depend on the two hosts' clocks agreeing.
    type: int
    default: 10
  wait_timeout:
    description: Seconds to wait for I(after_lsn).
    type: int
    default: 30
  write_check:
    description:
      - After the promotion, commit a write (a transactional logical message, which writes WAL, so
        that its commit waits for synchronous replication as any client's would) and fail unless it
        commits within I(write_timeout) seconds. C(pg_is_in_recovery()) alone says nothing about
        whether commits can complete, nor does a transaction that only took a transaction id. A write
        that timed out is cancelled (it touched no table).
    type: bool
    default: false
  write_timeout:
    description: Seconds the write of I(write_check) may take.
    type: int
    default: 10
  absent_peer:
    description:
      - C(HOST:PORT) of a failed primary that could not be fenced. Refuse to promote while a
        PostgreSQL server answers there (C(pg_isready)), before anything changes.
    type: str
  slots:
    description:
      - Physical replication slots to create where missing (their WAL reserved at once) just before the
        promotion, for the standbys that will follow this node (failover.yml's candidate). Created in one
        statement; not in check mode. Names as pgha.cluster.slot_name makes them.
    type: list
    elements: str
    default: []
  sync_mode:
    description:
      - With I(sync_standbys), preset C(synchronous_standby_names) (C(ALTER SYSTEM), in force before the
        promotion) so that synchronous replication holds from the first commit, leaving no unprotected window.
        C(off), C(quorum) (C(ANY k)) or C(priority) (C(FIRST k)). Unset, the setting is left as it is.
    type: str
    choices: ["off", quorum, priority]
  sync_count:
    description: With I(sync_mode), how many standbys must confirm each commit (at least 1).
    type: int
    default: 1
  sync_standbys:
    description: With I(sync_mode), the standbys' application names (inventory host names), in priority order.
    type: list
    elements: str
    default: []
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Promote pg2 once it has the old primary's shutdown checkpoint
  pgha.cluster.pg_promote:
    version: 15
    after_lsn: "{{ demoted.shutdown_checkpoint_lsn }}"
'''

RETURN = r'''
timeline:
  description: Timeline after promotion.
  returned: always
  type: int
write_committed:
  description: The write of I(write_check) committed (always true without I(write_check) once promoted).
  returned: always
  type: bool
promoted_at:
  description: Epoch time when the node accepted writes.
  returned: when promoted
  type: float
replay_lsn:
  description: Last replayed LSN before promotion.
  returned: always
  type: str
slots_created:
  description: The slots of I(slots) that were missing and were created.
  returned: always
  type: list
  elements: str
synchronous_standby_names:
  description: The value preset with I(sync_mode) (none without it).
  returned: always
  type: str
shutdown_age:
  description: With I(upstream_shutdown), seconds between the arrival of the upstream's shutdown checkpoint and
    the decision to promote.
  returned: with I(upstream_shutdown)
  type: float
timings:
  description: Seconds preparing (slots, settings), waiting for the LSN and promoting.
  returned: always
  type: dict
'''

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.archive import segment_name, segment_of
from ansible_collections.pgha.cluster.plugins.module_utils.pg import (
    as_postgres, create_slots, inspect_node, libpq_env, local_session, node_argument_spec, pg_paths, run_psql,
    session_query)
from ansible_collections.pgha.cluster.plugins.module_utils.topology import (
    format_lsn, parse_lsn, quote_setting, synchronous_standby_names)

RECEIVER_SQL = ("SELECT json_build_object('status', (SELECT status FROM pg_stat_wal_receiver), "
                "'tli', (SELECT received_tli FROM pg_stat_wal_receiver), "
                "'receive', pg_last_wal_receive_lsn()::text, 'replay', pg_last_wal_replay_lsn()::text, "
                "'segment_size', (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'))")


def last_record(module, paths, timeline, end_lsn, segment_size, start_lsn=None):
    """The last WAL record line pg_waldump reads from start_lsn (a record boundary seen while
    streaming), else from the start of the segment holding end_lsn - 1 (slower: up to a segment)."""
    pos = parse_lsn(end_lsn) - 1
    start = pos - (pos % segment_size)
    if start_lsn and start <= parse_lsn(start_lsn) <= pos:
        start = parse_lsn(start_lsn)
    argv = as_postgres([os.path.join(paths['bin_dir'], 'pg_waldump'), '-p', os.path.join(paths['data_dir'], 'pg_wal'),
                        '-t', str(timeline), '-s', format_lsn(start)])
    rc, out, err = module.run_command(argv, cwd="/", environ_update={"LC_ALL": "C"})
    lines = [line for line in out.splitlines() if line.startswith("rmgr:")]
    return lines[-1] if lines else None


def record_lsn(line):
    for part in line.split(","):
        part = part.strip()
        if part.startswith("lsn:"):
            return part.split()[1]
    return None


def newest_timeline(data_dir):
    """Highest timeline among the WAL segment files in pg_wal (the receiver's may be gone already)."""
    names = [n for n in os.listdir(os.path.join(data_dir, "pg_wal")) if len(n) == 24 and
             all(c in "0123456789ABCDEF" for c in n)]
    return max(int(n[:8], 16) for n in names) if names else None


def shutdown_age(paths, timeline, end_lsn, segment_size, now=None):
    """Seconds since the segment holding the last byte before ``end_lsn`` was last written (the WAL receiver
    wrote the upstream's shutdown checkpoint there, and nothing writes it after); None when unreadable."""
    name = segment_name(timeline, segment_of(parse_lsn(end_lsn) - 1, segment_size), segment_size)
    try:
        mtime = os.stat(os.path.join(paths['data_dir'], "pg_wal", name)).st_mtime
    except OSError:
        return None
    return (time.time() if now is None else now) - mtime


def wait_upstream_shutdown(module, paths, port, deadline, marks, session=None, max_age=None):
    """Wait for the upstream's clean shutdown to be received and replayed. Returns its LSN.
    Polled every 20 ms over one open psql session (a psql per poll would cost a process each time).
    ``max_age``: refuse when the shutdown checkpoint arrived longer ago than that (see the option)."""
    timeline, last, boundary = None, None, None
    while time.time() < deadline:
        rc, out, dummy = session_query(module, session, paths['bin_dir'], port, RECEIVER_SQL)
        if rc == 0:
            state = json.loads(out.strip())
            if state['status'] == 'streaming' and state['replay']:
                boundary = state['replay']  # end of a replayed record: where the next one starts
            timeline = state['tli'] or timeline or newest_timeline(paths['data_dir'])
            if state['status'] != 'streaming' and 'upstream_gone' not in marks:
                marks['upstream_gone'] = time.time()
            # The end of what was replayed is the end of the last record received once the
            # upstream is gone (pg_last_wal_receive_lsn() may read NULL while the receiver restarts).
            if state['status'] != 'streaming' and timeline and state['replay']:
                last = last_record(module, paths, timeline, state['replay'], state['segment_size'], boundary)
                if last and "CHECKPOINT_SHUTDOWN" in last:
                    lsn = record_lsn(last)
                    if lsn and state['replay'] and parse_lsn(state['replay']) > parse_lsn(lsn):
                        age = shutdown_age(paths, timeline, state['replay'], int(state['segment_size']))
                        marks['shutdown_age'] = None if age is None else round(age, 3)
                        if max_age is not None and (age is None or age > max_age):
                            module.fail_json(
                                msg="not promoted: the upstream's shutdown checkpoint (%s) arrived %s ago, more than "
                                    "%d s (upstream_shutdown_max_age): the old primary stops waiting for the "
                                    "promotion and may be starting again as the primary. This standby stays one"
                                    % (lsn, "an unknown time" if age is None else "%.1f s" % age, max_age),
                                shutdown_checkpoint_lsn=format_lsn(parse_lsn(lsn)), shutdown_age=marks['shutdown_age'])
                        return format_lsn(parse_lsn(lsn))
        time.sleep(0.02)
    module.fail_json(msg="not promoted: the upstream's shutdown checkpoint was not received and replayed in time "
                         "(last record seen: %s)" % (last or "none"))


def replayed(module, session, bin_dir, port):
    rc, out, err = session_query(module, session, bin_dir, port, "SELECT pg_last_wal_replay_lsn()")
    return out.strip() if rc == 0 else None


def prepare(module, session, paths, port, slots, sync_value):
    """Before the promotion, over the open session: the missing slots, synchronous_standby_names preset
    (when sync_value is not None) and restore_command off, with one reload, waited for. Returns (slots
    created, whether restore_command was cleared)."""
    created = create_slots(module, session, paths['bin_dir'], port, slots)
    changes = []
    rc, out, dummy = session_query(module, session, paths['bin_dir'], port,
                                   "SELECT current_setting('restore_command') <> ''")
    cleared = rc == 0 and out.strip() == "t"
    if cleared:
        changes.append("ALTER SYSTEM SET restore_command = ''")
    if sync_value is not None:
        changes.append("ALTER SYSTEM SET synchronous_standby_names = %s" % quote_setting(sync_value))
    if not changes:
        return created, cleared
    for sql in changes + ["SELECT pg_reload_conf()"]:
        rc, out, err = session_query(module, session, paths['bin_dir'], port, sql)
        if rc != 0:
            module.fail_json(msg="not promoted: %s failed: %s" % (sql, (err or out).strip()), slots_created=created)
    # The reload is asynchronous: the preset must be in force before the first commit after the promotion.
    if sync_value is not None:
        deadline = time.time() + 10
        while True:
            rc, out, dummy = session_query(module, session, paths['bin_dir'], port,
                                           "SELECT current_setting('synchronous_standby_names')")
            if rc == 0 and out.strip() == sync_value:
                break
            if time.time() >= deadline:
                module.fail_json(msg="not promoted: synchronous_standby_names still reads '%s' 10 s after the "
                                     "reload, not '%s'" % (out.strip(), sync_value), slots_created=created)
            time.sleep(0.05)
    return created, cleared


def reset_restore_command(module, paths, port, was_set):
    """Back to the configured restore_command (conf.d) after the promotion."""
    if was_set:
        run_psql(module, paths['bin_dir'], port, "ALTER SYSTEM RESET restore_command")
        run_psql(module, paths['bin_dir'], port, "SELECT pg_reload_conf()")


WRITE_CHECK_APP = "pgha-write-check"


# A transaction that writes WAL before its commit record: only such a commit waits for synchronous
# replication (an xid alone, txid_current(), commits at once even with no synchronous standby).
# A transactional logical message writes WAL at any wal_level and touches no table.
WRITE_CHECK_SQL = "SELECT pg_catalog.pg_logical_emit_message(true, 'pgha-write-check', '')"


def commit_write(module, paths, port, timeout):
    """Commit a transaction that writes WAL; returns (ok, detail).

    Its commit waits for synchronous replication like any client's. The wait is
    bounded by ``timeout`` (statement_timeout does not end a synchronous wait):
    the client is stopped, then the waiting backend is cancelled."""
    argv = ["timeout", str(timeout)] + as_postgres(
        [os.path.join(paths['bin_dir'], 'psql'), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
         "-h", "/var/run/postgresql", "-p", str(port), "-d", "postgres", "-c", WRITE_CHECK_SQL])
    rc, out, err = module.run_command(argv, cwd="/", environ_update=libpq_env(PGAPPNAME=WRITE_CHECK_APP,
                                                                              PGCONNECT_TIMEOUT="5"))
    if rc == 0 and "canceling wait for synchronous replication" not in err:
        return True, "a transaction that wrote WAL (ending at %s) committed" % out.strip()
    run_psql(module, paths['bin_dir'], port,
             "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '%s'" % WRITE_CHECK_APP)
    state = run_psql(module, paths['bin_dir'], port,
                     "SELECT current_setting('synchronous_standby_names') || ' / streaming: ' || "
                     "coalesce((SELECT string_agg(application_name || ' ' || state || ' ' || sync_state, ', ') "
                     "FROM pg_stat_replication), 'none')")[1].strip()
    if rc == 124:
        return False, ("a write did not commit within %d s (synchronous_standby_names = %s): clients would "
                       "wait" % (timeout, state))
    return False, "a write failed: %s" % (err or out).strip()


def peer_answers(module, paths, address):
    """Whether a PostgreSQL server answers at HOST:PORT (pg_isready exit 0 or 1)."""
    host, dummy, port = address.rpartition(":")
    rc = module.run_command([os.path.join(paths['bin_dir'], 'pg_isready'), "-q", "-h", host, "-p", port, "-t", "3"],
                            cwd="/")[0]
    return rc in (0, 1)


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            after_lsn=dict(type='str'),
            upstream_shutdown=dict(type='bool', default=False),
            upstream_shutdown_max_age=dict(type='int', default=10),
            wait_timeout=dict(type='int', default=30),
            write_check=dict(type='bool', default=False),
            write_timeout=dict(type='int', default=10),
            absent_peer=dict(type='str'),
            slots=dict(type='list', elements='str', default=[]),
            sync_mode=dict(type='str', choices=['off', 'quorum', 'priority']),
            sync_count=dict(type='int', default=1),
            sync_standbys=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    node = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    try:
        sync_value = None if p['sync_mode'] is None else synchronous_standby_names(
            p['sync_mode'], max(p['sync_count'], 1), p['sync_standbys'])
    except ValueError as exc:
        module.fail_json(msg="not promoted: %s" % exc)
    result = dict(changed=False, timeline=node['timeline'], replay_lsn=node.get('replay_lsn'), timings={},
                  write_committed=False, slots_created=[], synchronous_standby_names=sync_value)
    if node['up'] and node['role'] == 'primary':
        if p['write_check'] and not module.check_mode:
            step = time.time()
            ok, detail = commit_write(module, paths, p['port'], p['write_timeout'])
            result['timings']['write_check'] = round(time.time() - step, 3)
            result.update(write_committed=ok, write_check=detail)
            if not ok:
                module.fail_json(msg="already a primary, but %s" % detail, **result)
        result['write_committed'] = True
        module.exit_json(msg="already a primary", **result)
    if not (node['up'] and node['role'] == 'standby'):
        module.fail_json(msg="this node is not a running standby (up: %s, role: %s)" % (node['up'], node['role']),
                         **result)
    if node.get('supervisor') == 'patroni':
        # Patroni promotes here (failover.yml asks it through its API): a promotion behind its back could
        # leave two primaries.
        module.fail_json(msg="not promoted: Patroni runs on this node and promotes it itself", **result)
    if p['absent_peer'] and peer_answers(module, paths, p['absent_peer']):
        module.fail_json(msg="not promoted: the unfenced failed primary's PostgreSQL still answers at %s; "
                             "fence it (stop it, power it off) first" % p['absent_peer'], **result)
    result['changed'] = True
    if module.check_mode:
        module.exit_json(**result)

    start = time.time()
    # One psql session for the statements up to the promotion (a fresh psql costs a process and a
    # login each, on a host busy with clients).
    session = local_session(paths['bin_dir'], p['port'])
    # While the standby waits for WAL after its upstream stops, and when it
    # promotes (looking for free timeline ids), it runs restore_command for
    # each missing file: a repository round trip each time. Off during the
    # promotion, back to the configured value afterwards.
    try:
        result['slots_created'], restore_command = prepare(module, session, paths, p['port'], p['slots'], sync_value)
    except SystemExit:
        session.close()
        raise
    result['timings']['prepare'] = round(time.time() - start, 3)

    def fail(msg, **extra):
        session.close()
        reset_restore_command(module, paths, p['port'], restore_command)
        module.fail_json(msg=msg, **extra)

    if p['after_lsn']:
        target = parse_lsn(p['after_lsn'])
        deadline = start + p['wait_timeout']
        lsn = replayed(module, session, paths['bin_dir'], p['port'])
        while lsn is None or parse_lsn(lsn) <= target:
            if time.time() >= deadline:
                fail(msg="not promoted: replayed only up to %s after %d s, the old primary's shutdown "
                         "checkpoint is at %s" % (lsn, p['wait_timeout'], p['after_lsn']), **result)
            time.sleep(0.02)
            lsn = replayed(module, session, paths['bin_dir'], p['port'])
        result['replay_lsn'] = lsn
    if p['upstream_shutdown']:
        marks = {}
        try:
            result['shutdown_checkpoint_lsn'] = wait_upstream_shutdown(module, paths, p['port'],
                                                                       start + p['wait_timeout'], marks, session,
                                                                       max_age=p['upstream_shutdown_max_age'])
        except SystemExit:
            session.close()
            reset_restore_command(module, paths, p['port'], restore_command)
            raise
        result['started_at'] = start
        result['upstream_gone_at'] = marks.get('upstream_gone')
        result['shutdown_age'] = marks.get('shutdown_age')
    result['timings']['wait_lsn'] = round(time.time() - start, 3)

    step = time.time()
    rc, out, err = session_query(module, session, paths['bin_dir'], p['port'],
                                 "SELECT pg_promote(true, %d)" % p['wait_timeout'], timeout=p['wait_timeout'] + 5)
    session.close()
    if rc != 0 or out.strip() != "t":
        fail("promotion failed: %s" % (err or out).strip(), **result)
    result['promoted_at'] = time.time()
    result['timings']['promote'] = round(result['promoted_at'] - step, 3)
    reset_restore_command(module, paths, p['port'], restore_command)
    if p['write_check']:
        step = time.time()
        ok, detail = commit_write(module, paths, p['port'], p['write_timeout'])
        result['timings']['write_check'] = round(time.time() - step, 3)
        result['write_check'] = detail
        if not ok:
            module.fail_json(msg="promoted, but %s. PgBouncer is left where it was" % detail, **result)
        result['promoted_at'] = time.time()
    result['write_committed'] = True
    after = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    result['timeline'] = after['timeline']
    result['current_lsn'] = after.get('current_lsn')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
