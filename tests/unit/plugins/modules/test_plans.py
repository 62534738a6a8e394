import os

from unittest import mock

import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import pg as pgutils

from ansible_collections.pgha.cluster.plugins.modules import (
    failover_plan, pg_fence, pg_rejoin, rejoin_plan, switchover_plan)


def primary(**kw):
    base = {"up": True, "role": "primary", "system_identifier": "42", "timeline": 1, "current_lsn": "0/5000000",
            "replicas": [{"application_name": "pg2", "state": "streaming", "sync_state": "quorum"},
                         {"application_name": "pg3", "state": "streaming", "sync_state": "quorum"}]}
    base.update(kw)
    return base


def standby(**kw):
    base = {"up": True, "role": "standby", "system_identifier": "42", "timeline": 1,
            "replay_lsn": "0/5000000", "receive_lsn": "0/5000000"}
    base.update(kw)
    return base


NODES = {"pg1": primary(), "pg2": standby(), "pg3": standby(replay_lsn="0/4000000")}
ADDR = {"pg1": "10.0.0.11", "pg2": "10.0.0.12", "pg3": "10.0.0.13"}


def test_switchover_plan_chooses_and_lists_steps(run_module):
    rc, result = run_module(switchover_plan, {"nodes": NODES, "primary": "pg1", "_ansible_check_mode": True})
    plan = result["plan"]
    assert rc == 0 and result["changed"] is False and plan["target"] == "pg2"
    assert plan["repoint"] == ["pg3"] and plan["synchronous_standby_names"] == 'ANY 1 ("pg1", "pg3")'
    assert plan["streaming_only"] == ["pg3"]
    assert any("PAUSE PgBouncer" in s for s in plan["steps"])


def test_switchover_plan_through_patroni_cascades_the_asynchronous_standbys(run_module):
    view = {"state": "streaming", "role": "replica", "pause": False, "synchronous": ["pg2"], "quorum": False}
    replicas = [{"application_name": "pg2", "state": "streaming", "sync_state": "sync"},
                {"application_name": "pg3", "state": "streaming", "sync_state": "async"}]
    nodes = {"pg1": primary(supervisor="patroni", patroni=dict(view, role="master"), replicas=replicas),
             "pg2": standby(supervisor="patroni", patroni=view),
             "pg3": standby(supervisor="patroni", patroni=view)}
    rc, result = run_module(switchover_plan, {"nodes": nodes, "primary": "pg1", "sync_mode": "priority",
                                              "_ansible_check_mode": True})
    plan = result["plan"]
    assert rc == 0 and plan["engine"] == "patroni" and plan["target"] == "pg2" and plan["cascade"] == ["pg3"]
    assert plan["steps"][0].startswith("stream pg3 from pg2 until the switch")
    # The target promotes and the cascading standby follows it without asking the repository first.
    assert plan["streaming_only"] == ["pg2", "pg3"]
    assert "restore_command off on pg2, pg3 until the switch is over" in plan["steps"]
    # A synchronous standby never leaves the leader before the switch (count 2: both are).
    both = dict((h, dict(n, patroni=dict(n["patroni"], synchronous=["pg2", "pg3"]))) for h, n in nodes.items())
    rc, result = run_module(switchover_plan, {"nodes": both, "primary": "pg1", "target": "pg2",
                                              "sync_mode": "priority", "_ansible_check_mode": True})
    assert rc == 0 and result["plan"]["cascade"] == []
    # No Patroni view of /sync (or quorum commit): nothing cascades.
    bare = dict((h, dict(n, patroni={"state": "streaming"})) for h, n in nodes.items())
    rc, result = run_module(switchover_plan, {"nodes": bare, "primary": "pg1", "target": "pg2",
                                              "sync_mode": "priority", "_ansible_check_mode": True})
    assert rc == 0 and result["plan"]["cascade"] == []


def test_switchover_plan_refuses_lagging_target_with_figures(run_module):
    rc, result = run_module(switchover_plan, {"nodes": NODES, "primary": "pg1", "target": "pg3",
                                              "max_lag_bytes": 1024})
    assert rc == 1 and "pg3 lags 16777216 bytes behind pg1" in result["msg"]
    assert result["msg"].startswith("switchover refused, nothing was changed")


def test_failover_plan_refuses_while_primary_answers(run_module):
    rc, result = run_module(failover_plan, {"nodes": NODES, "addresses": ADDR, "pooler_targets": ["10.0.0.11"]})
    assert rc == 1 and "pg1 is a running primary" in result["msg"] and "nothing was changed" in result["msg"]


def test_failover_plan_after_a_kill(run_module):
    nodes = dict(NODES, pg1={"unreachable": True})
    rc, result = run_module(failover_plan, {"nodes": nodes, "addresses": ADDR, "pooler_targets": ["10.0.0.11"],
                                            "fence_command": True})
    assert rc == 0 and result["plan"]["target"] == "pg2" and result["plan"]["fence"] == "command"


def test_rejoin_plan_refuses_current_primary(run_module):
    rc, result = run_module(rejoin_plan, {"nodes": NODES, "addresses": ADDR, "target": "pg1"})
    assert rc == 1 and "pg1 is the current primary" in result["msg"]


def test_pg_fence_check_mode(run_module, tmp_path):
    with mock.patch.object(pg_fence, "pg_paths", return_value={"data_dir": str(tmp_path), "service": "x"}):
        rc, result = run_module(pg_fence, {"version": 15, "_ansible_check_mode": True})
    assert rc == 0 and result["changed"] is True and not (tmp_path / "pgha.fenced").exists()


def test_pg_fence_marks_a_stopped_node(run_module, tmp_path):
    with mock.patch.object(pg_fence, "pg_paths", return_value={"data_dir": str(tmp_path), "service": "x"}), \
            mock.patch.object(pg_fence, "touch_signal"):
        rc, result = run_module(pg_fence, {"version": 15})
    assert rc == 0 and result["fenced"] is True and (tmp_path / "pgha.fenced").exists()


def _postmaster(tmp_path, on_quit):
    """A stand-in postmaster: a real process that ignores SIGTERM, stops on SIGINT (a fast
    shutdown) and either exits on SIGQUIT or ignores it too; its PID in postmaster.pid. SIGINT's
    handler is set, not inherited: a shell's background job (make checks &) starts with SIGINT
    ignored, and Python then keeps it ignored."""
    import subprocess
    import sys
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "signal.signal(signal.SIGINT, signal.default_int_handler); "
            "signal.signal(signal.SIGQUIT, %s); print('up', flush=True); time.sleep(60)"
            % ("lambda *a: exit(0)" if on_quit == "exit" else "signal.SIG_IGN"))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    proc.stdout.readline()
    (tmp_path / "postmaster.pid").write_text("%d\n" % proc.pid)
    return proc


def _fence(run_module, tmp_path, proc, states, on_call=None, stop_timeout=1, immediate_wait=1):
    """pg_fence against the stand-in postmaster. A wait that should end early is long (it ends
    when the process does); a wait the test means to run out is short."""
    calls = []

    def run_command(self, argv, **kw):
        calls.append(argv)
        if on_call:
            on_call(argv)
        if argv[:2] == ["systemctl", "is-active"]:
            return 0, states.pop(0) if len(states) > 1 else states[0], ""
        return 0, "", ""

    reaper = __import__("threading").Thread(target=proc.wait)
    reaper.start()
    with mock.patch.object(pg_fence, "pg_paths", return_value={"data_dir": str(tmp_path), "service": "pg.service"}), \
            mock.patch.object(pg_fence, "touch_signal"), \
            mock.patch.object(pg_fence.AnsibleModule, "run_command", run_command), \
            mock.patch.object(pgutils, "IMMEDIATE_WAIT", immediate_wait), mock.patch.object(pgutils, "UNIT_WAIT", 0.5):
        rc, result = run_module(pg_fence, {"version": 15, "stop_timeout": stop_timeout})
    reaper.join(5)
    return rc, result, calls


def test_pg_fence_escalates_to_an_immediate_shutdown(run_module, tmp_path):
    proc = _postmaster(tmp_path, "exit")
    # Patroni inactive, the server under its unit (whose stop does not end it here).
    rc, result, calls = _fence(run_module, tmp_path, proc, ["inactive", "active"], immediate_wait=15)
    assert rc == 0 and result["fenced"] and proc.returncode == 0
    assert result["how"].startswith("immediate shutdown") and result["killed"] is False
    assert calls[0] == ["systemctl", "is-active", "patroni.service"]
    assert calls[1:3] == [["systemctl", "is-active", "pg.service"], ["systemctl", "stop", "--no-block", "pg.service"]]
    assert ["systemctl", "daemon-reload"] not in calls


def test_pg_fence_stops_patroni_first_with_the_marker_already_written(run_module, tmp_path):
    """Patroni would start the server again; the marker, written first, keeps the
    handover from switching over on the way down and Patroni down at boot."""
    proc = _postmaster(tmp_path, "exit")
    seen = {}

    def on_call(argv):
        if "stop" in argv and "patroni.service" in argv:
            seen["marker_at_stop"] = (tmp_path / "pgha.fenced").exists()
    rc, result, calls = _fence(run_module, tmp_path, proc, ["active", "inactive"], on_call, stop_timeout=15)
    assert rc == 0 and result["fenced"] and result["patroni_stopped"] and seen["marker_at_stop"]
    assert ["timeout", "45", "systemctl", "stop", "patroni.service"] in calls  # 3 x stop_timeout
    # Paused, Patroni left the server running: a fast shutdown (SIGINT) ended it before any escalation.
    assert result["how"] == "clean stop" and proc.returncode != 0 and not result["killed"]


def test_pg_fence_kills_and_unsticks_the_unit(run_module, tmp_path):
    proc = _postmaster(tmp_path, "ignore")
    rc, result, calls = _fence(run_module, tmp_path, proc, ["deactivating"])
    assert rc == 0 and result["fenced"] and result["killed"] and result["how"] == "killed"
    assert proc.returncode == -9
    assert ["systemctl", "kill", "--signal=SIGKILL", "pg.service"] in calls
    assert result["unit_reloaded"] and calls[-1] == ["systemctl", "daemon-reload"]


def test_pg_rejoin_refuses_a_writable_primary(run_module):
    node = dict(primary(), data_directory_exists=True)
    with mock.patch.object(pg_rejoin, "inspect_node", return_value=node):
        rc, result = run_module(pg_rejoin, {"version": 15, "primary_host": "10.0.0.12",
                                            "primary_system_identifier": "42", "replication_user": "r",
                                            "application_name": "pg1", "slot_name": "pg1"})
    assert rc == 1 and "runs as a writable primary" in result["msg"] and "fence it" in result["msg"]


def test_pg_rejoin_check_mode_plans_a_rewind(run_module):
    node = dict(primary(up=False), data_directory_exists=True)
    with mock.patch.object(pg_rejoin, "inspect_node", return_value=node):
        rc, result = run_module(pg_rejoin, {"version": 15, "primary_host": "10.0.0.12",
                                            "primary_system_identifier": "42", "replication_user": "r",
                                            "application_name": "pg1", "slot_name": "pg1",
                                            "_ansible_check_mode": True})
    assert rc == 0 and result["action"] == "rewind" and result["commands"] == []


REJOIN_ARGS = {"version": 15, "primary_host": "10.0.0.12", "primary_system_identifier": "42", "replication_user": "r",
               "application_name": "pg1", "slot_name": "pg1"}


def _rejoin(run_module, tmp_path, outputs, node=None):
    """Run pg_rejoin against a fake host: ``outputs`` maps a command's program to (rc, out, err)."""
    (tmp_path / "PG_VERSION").write_text("15\n")
    node = node or dict(primary(up=False), data_directory_exists=True)
    calls = []

    def run_command(self, argv, **kw):
        calls.append(argv)
        program = [a for a in argv if not a.startswith("-") and a not in ("runuser", "postgres")][0]
        return outputs.get(os.path.basename(program), (0, "", ""))

    paths = {"data_dir": str(tmp_path), "bin_dir": "/usr/lib/postgresql/15/bin", "conf_dir": str(tmp_path),
             "service": "pg.service"}
    with mock.patch.object(pg_rejoin, "inspect_node", return_value=node), \
            mock.patch.object(pg_rejoin, "pg_paths", return_value=paths), \
            mock.patch.object(pg_rejoin, "stop_server"), \
            mock.patch.object(pg_rejoin, "postmaster_running", return_value=False), \
            mock.patch.object(pg_rejoin, "clone", return_value=(1.0, str(tmp_path) + ".aside")) as clone, \
            mock.patch.object(pg_rejoin, "configure"), \
            mock.patch.object(pg_rejoin.AnsibleModule, "run_command", run_command):
        rc, result = run_module(pg_rejoin, dict(REJOIN_ARGS))
    return rc, result, calls, clone


def test_pg_rejoin_leaves_the_node_untouched_when_the_primary_does_not_answer(run_module, tmp_path):
    rc, result, calls, clone = _rejoin(run_module, tmp_path, {
        "psql": (2, "", 'psql: error: connection to server at "10.0.0.12", port 5432 failed: timeout expired')})
    assert rc == 1 and "this node was not touched" in result["msg"] and "timeout expired" in result["msg"]
    assert not any("pg_rewind" in " ".join(c) or "systemctl" in c for c in calls)
    assert not clone.called and (tmp_path / "PG_VERSION").exists()


@pytest.mark.parametrize("rewind_err, clones", [
    ('pg_rewind: error: could not connect to server: connection to server at "10.0.0.12" failed', False),
    ("pg_rewind: error: something nobody has seen before", False),
    ("pg_rewind: error: could not find previous WAL record at 0/3000028", True),
])
def test_pg_rejoin_clones_only_when_a_clone_fixes_it(run_module, tmp_path, rewind_err, clones):
    rc, result, calls, clone = _rejoin(run_module, tmp_path, {"psql": (0, "f\n", ""), "pg_rewind": (1, "", rewind_err)})
    assert clone.called is clones
    if clones:
        assert result["action"] == "clone" and clone.call_args.kwargs["reason"] == "rejoin"
    else:
        assert rc == 1 and "is left as it is" in result["msg"] and (tmp_path / "PG_VERSION").exists()


def test_pg_data_aside_lists_and_prunes_only_on_request(run_module, tmp_path):
    from ansible_collections.pgha.cluster.plugins.modules import pg_data_aside
    data = tmp_path / "main"
    for stamp in ("20261201T100000Z", "20261201T110000Z", "20261201T120000Z"):
        copy = tmp_path / ("main.pgha-aside-%s-rejoin" % stamp)
        copy.mkdir()
        (copy / "PG_VERSION").write_text("15\n")
    data.mkdir()
    args = {"version": 15, "data_dir": str(data)}
    rc, result = run_module(pg_data_aside, dict(args))
    assert rc == 0 and not result["changed"] and len(result["copies"]) == 3 and result["removed"] == []
    rc, result = run_module(pg_data_aside, dict(args, action="prune", keep=1, _ansible_check_mode=True))
    assert rc == 0 and result["changed"] and len(result["removed"]) == 2 and len(result["copies"]) == 3
    rc, result = run_module(pg_data_aside, dict(args, action="prune", keep=1))
    assert [os.path.basename(c["path"]) for c in result["copies"]] == ["main.pgha-aside-20261201T120000Z-rejoin"]
    assert sorted(os.path.basename(r["path"]) for r in result["removed"]) == [
        "main.pgha-aside-20261201T100000Z-rejoin", "main.pgha-aside-20261201T110000Z-rejoin"]
    rc, result = run_module(pg_data_aside, dict(args, action="prune"))
    assert rc == 1 and "keep" in result["msg"]


STREAMING_STANDBY = {"up": True, "role": "standby", "system_identifier": "42", "timeline": 3, "data_directory_exists": True,
                     "upstream": {"status": "streaming", "host": "10.0.0.12", "timeline": 3}}


def test_pg_rejoin_leaves_a_streaming_standby_alone(run_module, tmp_path):
    rc, result, calls, clone = _rejoin(run_module, tmp_path, {}, node=dict(STREAMING_STANDBY))
    assert rc == 0 and result["msg"] == "already streaming from 10.0.0.12" and result["changed"] is False
    assert calls == []


def test_pg_rejoin_rewinds_a_fenced_node_even_while_its_wal_receiver_streams(run_module, tmp_path):
    """A diverged former primary the boot guard started read-only connects and streams for a moment, then
    its startup process rejects the new timeline's WAL, again and again (seen on the lab): only pg_rewind
    tells whether it holds WAL the primary lacks. The marker goes once it did."""
    (tmp_path / "pgha.fenced").write_text("fenced at boot by pgha-boot-guard\n")
    rc, result, calls, clone = _rejoin(run_module, tmp_path, {"psql": (0, "f\n", "")},
                                       node=dict(STREAMING_STANDBY, fenced=True))
    assert rc == 0 and result["action"] == "rewind", result
    assert any("pg_rewind" in " ".join(c) for c in calls) and not clone.called
    assert not (tmp_path / "pgha.fenced").exists()
