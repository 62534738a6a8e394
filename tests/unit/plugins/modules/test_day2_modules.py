import json
from unittest import mock

from ansible_collections.pgha.cluster.plugins.modules import pg_demote, pg_promote, pgbouncer_control


def node(role, up=True, **kw):
    base = {"up": up, "role": role, "timeline": 1, "current_lsn": "0/5000000", "replay_lsn": "0/5000000",
            "primary_conninfo": {}}
    base.update(kw)
    return base


class Recorder(object):
    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or {}

    def method(self):
        def run_command(module, argv, **kw):
            return self(module, argv, **kw)
        return run_command

    def __call__(self, module, argv, **kw):
        self.calls.append(argv)
        for key, answer in self.answers.items():
            if key in " ".join(argv):
                return answer
        if argv[:2] == ["systemctl", "is-active"]:
            # The server runs under its unit (stop_server stops it through systemd).
            return 0, "active\n", ""
        return 0, "", ""


def test_demote_check_mode_acts_on_nothing(run_module):
    rec = Recorder()
    with mock.patch.object(pg_demote, "inspect_node", return_value=node("primary")), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", rec.method()):
        rc, result = run_module(pg_demote, {"version": 15, "poolers": [{"host": "10.0.0.21"}], "admin_user": "a",
                                            "admin_password": "secret", "_ansible_check_mode": True})
    assert rc == 0 and result["changed"] is True and rec.calls == []


def test_demote_refuses_a_standby(run_module):
    with mock.patch.object(pg_demote, "inspect_node", return_value=node("standby")):
        rc, result = run_module(pg_demote, {"version": 15})
    assert rc == 1 and "not a running primary" in result["msg"]


def test_demote_resumes_poolers_when_the_server_does_not_stop(run_module):
    rec = Recorder({})
    with mock.patch.object(pg_demote, "inspect_node", return_value=node("primary")), \
            mock.patch.object(pg_demote, "postmaster_running", return_value=True), \
            mock.patch.object(pg_demote, "STOP_TIMEOUT", 0), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", rec.method()):
        rc, result = run_module(pg_demote, {"version": 15, "poolers": [{"host": "10.0.0.21"}], "admin_user": "a",
                                            "admin_password": "secret"})
    sql = [c[-1] for c in rec.calls if c[0] == "psql"]
    assert rc == 1 and "did not finish" in result["msg"] and "PgBouncer resumed" in result["msg"]
    assert sql == ["PAUSE", "RESUME"]
    # Never a blocking stop job (it can outlive the server by an hour in a container).
    assert ["systemctl", "stop", "--no-block", "postgresql@15-main.service"] in rec.calls
    assert ["systemctl", "stop", "postgresql@15-main.service"] not in rec.calls
    assert "secret" not in json.dumps(result) and all("secret" not in " ".join(c) for c in rec.calls)


def test_demote_reports_shutdown_checkpoint(run_module):
    control = "Database cluster state:               shut down\nLatest checkpoint location:           0/6000028\n" \
              "Latest checkpoint's TimeLineID:       1\n"
    rec = Recorder({"pg_controldata": (0, control, "")})
    with mock.patch.object(pg_demote, "inspect_node", return_value=node("primary")), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", rec.method()):
        rc, result = run_module(pg_demote, {"version": 15, "poolers": [{"host": "10.0.0.21"}], "admin_user": "a",
                                            "admin_password": "secret"})
    assert rc == 0 and result["shutdown_checkpoint_lsn"] == "0/6000028" and result["timeline"] == 1
    order = [" ".join(c) for c in rec.calls]
    assert order.index(next(c for c in order if c.endswith("PAUSE"))) < order.index(
        next(c for c in order if "systemctl stop" in c))


def test_promote_waits_for_the_shutdown_checkpoint(run_module):
    replay = iter(["0/6000000", "0/6000028", "0/60000A0"])

    def psql(module, session, bin_dir, port, sql, **kw):
        if "pg_last_wal_replay_lsn" in sql:
            return 0, next(replay), ""
        return 0, "t", ""
    states = [node("standby"), node("primary", timeline=2)]
    with mock.patch.object(pg_promote, "inspect_node", side_effect=states), \
            mock.patch.object(pg_promote, "local_session", return_value=mock.Mock()), \
            mock.patch.object(pg_promote, "session_query", psql), mock.patch.object(pg_promote, "run_psql"), \
            mock.patch.object(pg_promote.time, "sleep"):
        rc, result = run_module(pg_promote, {"version": 15, "after_lsn": "0/6000028"})
    assert rc == 0 and result["replay_lsn"] == "0/60000A0" and result["timeline"] == 2


def test_promote_refuses_when_the_checkpoint_never_arrives(run_module):
    def psql(module, session, bin_dir, port, sql, **kw):
        assert "pg_promote" not in sql, "must not promote"
        return 0, "0/6000000", ""
    with mock.patch.object(pg_promote, "inspect_node", return_value=node("standby")), \
            mock.patch.object(pg_promote, "local_session", return_value=mock.Mock()), \
            mock.patch.object(pg_promote, "session_query", psql), mock.patch.object(pg_promote, "run_psql"):
        rc, result = run_module(pg_promote, {"version": 15, "after_lsn": "0/6000028", "wait_timeout": 0})
    assert rc == 1 and "replayed only up to 0/6000000" in result["msg"] and "0/6000028" in result["msg"]


def test_promote_of_a_primary_is_unchanged(run_module):
    with mock.patch.object(pg_promote, "inspect_node", return_value=node("primary")):
        rc, result = run_module(pg_promote, {"version": 15})
    assert rc == 0 and result["changed"] is False


def test_pgbouncer_switch_check_mode_shows_diff(run_module, tmp_path):
    ini = tmp_path / "pgbouncer.ini"
    ini.write_text("[databases]\n* = host=10.0.0.11 port=5432\n")
    rc, result = run_module(pgbouncer_control, {
        "action": "switch", "target_host": "10.0.0.12", "check_user": "u", "check_password": "p",
        "admin_user": "a", "admin_password": "b", "config": str(ini), "_ansible_check_mode": True,
        "_ansible_diff": True})
    assert rc == 0 and result["previous_target"] == "10.0.0.11" and result["target"] == "10.0.0.12"
    assert result["diff"]["after"] == "* -> 10.0.0.12\n"
    assert "10.0.0.11" in ini.read_text()


def test_pgbouncer_switch_repoints_reloads_and_resumes(run_module, tmp_path):
    ini = tmp_path / "pgbouncer.ini"
    ini.write_text("[databases]\n* = host=10.0.0.11 port=5432\n")
    rec = Recorder({"pg_is_in_recovery": (0, "f\n", "")})
    with mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", rec.method()):
        rc, result = run_module(pgbouncer_control, {
            "action": "switch", "target_host": "10.0.0.12", "check_user": "u", "check_password": "p",
            "admin_user": "a", "admin_password": "b", "config": str(ini)})
    assert rc == 0, result
    assert "* = host=10.0.0.12 port=5432" in ini.read_text()
    assert [c[-1] for c in rec.calls] == ["SELECT pg_is_in_recovery()", "RELOAD", "RESUME"]


def test_pgbouncer_switch_resumes_early_when_the_old_primary_is_back(run_module, tmp_path):
    ini = tmp_path / "pgbouncer.ini"
    ini.write_text("[databases]\n* = host=10.0.0.11 port=5432\n")
    # target never writable; old primary: up, then down, then up again
    old = iter([(0, "f\n", ""), (2, "", "refused"), (0, "f\n", "")])
    calls = []

    def run(module, argv, **kw):
        calls.append(argv)
        if "10.0.0.12" in argv:
            return 0, "t\n", ""
        if "10.0.0.11" in argv:
            return next(old)
        return 0, "", ""
    with mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", run), \
            mock.patch.object(pgbouncer_control.time, "sleep"):
        rc, result = run_module(pgbouncer_control, {
            "action": "switch", "target_host": "10.0.0.12", "fallback_host": "10.0.0.11", "check_user": "u",
            "check_password": "check-secret", "admin_user": "a", "admin_password": "admin-secret",
            "config": str(ini)})
    assert rc == 1 and "10.0.0.11 accepts writes again" in result["msg"]
    assert calls[-1][-1] == "RESUME" and "host=10.0.0.11" in ini.read_text()


def _archiver(states, backlogs, switch=(0, "0/6000000", "")):
    """A run_command stand-in for pg_archive_now: pg_stat_archiver reads from states,
    backlog polls from backlogs (the last one repeats)."""
    calls = []

    def run_command(module, argv, **kw):
        sql = argv[-1]
        calls.append(sql.strip().split()[1] if sql.strip().startswith("SELECT") else sql)
        if "pg_stat_archiver" in sql:
            return 0, json.dumps(states.pop(0) if len(states) > 1 else states[0]), ""
        if "pg_switch_wal" in sql:
            return switch
        if "archive_status" in sql:
            return 0, str(backlogs.pop(0) if len(backlogs) > 1 else backlogs[0]), ""
        return 1, "", "unexpected"
    return calls, run_command


def _primary_state(**kw):
    base = {"in_recovery": False, "archive_mode": "on", "last_archived_wal": "000000010000000000000005",
            "failed_count": 0, "last_failed_wal": None}
    base.update(kw)
    return base


def test_archive_now_switches_and_waits_for_the_backlog(run_module):
    from ansible_collections.pgha.cluster.plugins.modules import pg_archive_now
    calls, run = _archiver([_primary_state(), _primary_state(last_archived_wal="000000010000000000000006")], [2, 1, 0])
    with mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", run):
        rc, result = run_module(pg_archive_now, {"version": 15, "timeout": 5})
    assert rc == 0 and result["changed"] is False and result["archived"] is True
    assert result["switch_lsn"] == "0/6000000" and result["backlog"] == 0
    assert result["last_archived_wal"] == "000000010000000000000006"
    assert sum(1 for c in calls if c == "CASE") == 3


def test_archive_now_warns_when_the_archiver_fails(run_module):
    from ansible_collections.pgha.cluster.plugins.modules import pg_archive_now
    failing = _primary_state(failed_count=3, last_failed_wal="000000010000000000000006")
    calls, run = _archiver([_primary_state(), failing], [1])
    warned = []
    with mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", run), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.warn", lambda self, msg: warned.append(msg)):
        rc, result = run_module(pg_archive_now, {"version": 15, "timeout": 0})
    assert rc == 0 and result["archived"] is False and result["backlog"] == 1
    assert len(warned) == 1 and "archiving 000000010000000000000006 failed" in warned[0]


def test_archive_now_leaves_a_standby_and_check_mode_alone(run_module):
    from ansible_collections.pgha.cluster.plugins.modules import pg_archive_now
    for state, args in ((_primary_state(in_recovery=True), {}), (_primary_state(), {"_ansible_check_mode": True})):
        calls, run = _archiver([state], [0])
        with mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", run):
            rc, result = run_module(pg_archive_now, dict({"version": 15}, **args))
        assert rc == 0 and result["switch_lsn"] is None and "pg_switch_wal()" not in calls


def test_the_write_check_writes_wal_so_that_it_waits_for_synchronous_replication(run_module):
    """txid_current() alone commits at once even with no synchronous standby; the check must write WAL."""
    rec = Recorder({"psql": (0, "0/7000060", "")})
    with mock.patch.object(pg_promote, "inspect_node", return_value=node("primary", timeline=2)), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", rec.method()):
        rc, result = run_module(pg_promote, {"version": 15, "write_check": True})
    assert rc == 0 and result["write_committed"], result
    sql = [c[-1] for c in rec.calls if "psql" in " ".join(c)]
    assert sql == ["SELECT pg_catalog.pg_logical_emit_message(true, 'pgha-write-check', '')"]


def test_patroni_standbys_are_never_promoted_by_pgha(run_module):
    with mock.patch.object(pg_promote, "inspect_node", return_value=node("standby", supervisor="patroni")), \
            mock.patch.object(pg_promote, "run_psql", side_effect=AssertionError("must not run SQL")):
        rc, result = run_module(pg_promote, {"version": 15})
    assert rc == 1 and "Patroni runs on this node" in result["msg"]


def _recording_query(sql_answers):
    """Run pg_promote on a standby with every statement recorded; sql_answers maps a fragment to its rows."""
    statements = []

    def query(module, session, bin_dir, port, sql, **kw):
        statements.append(sql)
        for key, rows in sql_answers.items():
            if key in sql:
                return 0, rows, ""
        return 0, "", ""
    return statements, query


def test_promote_prepares_slots_and_synchronous_set_with_one_reload_before_promoting(run_module):
    from ansible_collections.pgha.cluster.plugins.module_utils import pg
    statements, query = _recording_query({"current_setting('restore_command')": "t\n",
                                          "current_setting('synchronous_standby_names')": 'ANY 1 ("pg3")\n',
                                          "pg_create_physical_replication_slot": "pg1\n", "pg_promote(": "t\n"})
    with mock.patch.object(pg_promote, "inspect_node", side_effect=[node("standby"), node("primary", timeline=2)]), \
            mock.patch.object(pg_promote, "local_session", return_value=mock.Mock()), \
            mock.patch.object(pg_promote, "session_query", query), mock.patch.object(pg, "session_query", query), \
            mock.patch.object(pg_promote, "run_psql", return_value=(0, "", "")):
        rc, result = run_module(pg_promote, {"version": 15, "slots": ["pg1", "pg3"], "sync_mode": "quorum",
                                             "sync_count": 1, "sync_standbys": ["pg3"]})
    assert rc == 0, result
    assert result["slots_created"] == ["pg1"] and result["synchronous_standby_names"] == 'ANY 1 ("pg3")'
    order = [next(i for i, s in enumerate(statements) if key in s) for key in (
        "pg_create_physical_replication_slot", "SET restore_command = ''", "SET synchronous_standby_names",
        "pg_reload_conf", "current_setting('synchronous_standby_names')", "pg_promote(")]
    assert order == sorted(order), statements
    assert sum("pg_reload_conf" in s for s in statements) == 1


def test_promote_refuses_an_impossible_synchronous_set_and_prepares_nothing_in_check_mode(run_module):
    with mock.patch.object(pg_promote, "inspect_node", return_value=node("standby")), \
            mock.patch.object(pg_promote, "local_session", side_effect=AssertionError("no session")):
        rc, result = run_module(pg_promote, {"version": 15, "sync_mode": "quorum", "sync_count": 2,
                                             "sync_standbys": ["pg3"]})
        assert rc == 1 and "not promoted" in result["msg"] and "larger than the 1 standby" in result["msg"]
        rc, result = run_module(pg_promote, {"version": 15, "slots": ["pg1"], "sync_mode": "quorum",
                                             "sync_standbys": ["pg3"], "_ansible_check_mode": True})
    assert rc == 0 and result["changed"] is True and result["slots_created"] == []


def _switchover_promote(run_module, tmp_path, arrived_ago):
    """pg_promote in a switchover (upstream_shutdown): the upstream has gone and the last record received,
    replayed, is its shutdown checkpoint, written arrived_ago seconds ago into its WAL segment."""
    import os
    import time
    wal = tmp_path / "pg_wal"
    wal.mkdir()
    segment = wal / "000000020000000000000006"
    segment.write_bytes(b"")
    os.utime(str(segment), (time.time() - arrived_ago, time.time() - arrived_ago))
    receiver = json.dumps({"status": None, "tli": None, "receive": "0/60000A0", "replay": "0/60000A0",
                           "segment_size": 16 * 1024 * 1024})
    statements, query = _recording_query({"pg_stat_wal_receiver": receiver, "pg_promote(": "t\n"})
    shutdown = "rmgr: XLOG len (rec/tot): 114/114, tx: 0, lsn: 0/06000028, prev 0/06000000, desc: CHECKPOINT_SHUTDOWN"
    with mock.patch.object(pg_promote, "inspect_node", side_effect=[node("standby", timeline=2),
                                                                    node("primary", timeline=3)]), \
            mock.patch.object(pg_promote, "local_session", return_value=mock.Mock()), \
            mock.patch.object(pg_promote, "session_query", query), mock.patch.object(pg_promote, "run_psql"), \
            mock.patch.object(pg_promote, "newest_timeline", return_value=2), \
            mock.patch.object(pg_promote, "last_record", return_value=shutdown):
        rc, result = run_module(pg_promote, {"version": 15, "data_dir": str(tmp_path), "upstream_shutdown": True,
                                             "upstream_shutdown_max_age": 10, "wait_timeout": 5})
    return rc, result, statements


def test_a_switchover_target_promotes_a_fresh_shutdown_checkpoint(run_module, tmp_path):
    rc, result, statements = _switchover_promote(run_module, tmp_path, 1)
    assert rc == 0 and result["shutdown_checkpoint_lsn"] == "0/6000028" and 0.5 < result["shutdown_age"] < 5, result
    assert any("pg_promote(" in s for s in statements)


def test_a_switchover_target_that_started_late_does_not_promote(run_module, tmp_path):
    """The old primary gives up after its wait and starts again: a target whose task began late must not
    promote then. The age is read on the target's own clock (its WAL segment's last write)."""
    rc, result, statements = _switchover_promote(run_module, tmp_path, 30)
    assert rc == 1 and not any("pg_promote(" in s for s in statements), statements
    assert result["msg"].startswith("not promoted: the upstream's shutdown checkpoint (0/06000028) arrived 30.")
    assert "more than 10 s (upstream_shutdown_max_age)" in result["msg"]
