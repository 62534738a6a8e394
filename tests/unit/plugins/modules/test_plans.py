from unittest import mock

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
    assert any("PAUSE PgBouncer" in s for s in plan["steps"])


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
    assert rc == 0 and result["plan"]["candidate"] == "pg2" and result["plan"]["fence"] == "command"


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
    """A stand-in postmaster: a real process that ignores SIGTERM and either exits on
    SIGQUIT or ignores it too; its PID in postmaster.pid."""
    import subprocess
    import sys
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "signal.signal(signal.SIGQUIT, %s); print('up', flush=True); time.sleep(60)"
            % ("lambda *a: exit(0)" if on_quit == "exit" else "signal.SIG_IGN"))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    proc.stdout.readline()
    (tmp_path / "postmaster.pid").write_text("%d\n" % proc.pid)
    return proc


def _fence(run_module, tmp_path, proc, states):
    calls = []

    def run_command(self, argv, **kw):
        calls.append(argv)
        if argv[:2] == ["systemctl", "is-active"]:
            return 0, states.pop(0) if len(states) > 1 else states[0], ""
        return 0, "", ""

    reaper = __import__("threading").Thread(target=proc.wait)
    reaper.start()
    with mock.patch.object(pg_fence, "pg_paths", return_value={"data_dir": str(tmp_path), "service": "pg.service"}), \
            mock.patch.object(pg_fence, "touch_signal"), \
            mock.patch.object(pg_fence.AnsibleModule, "run_command", run_command), \
            mock.patch.object(pgutils, "IMMEDIATE_WAIT", 1), mock.patch.object(pgutils, "UNIT_WAIT", 0.5):
        rc, result = run_module(pg_fence, {"version": 15, "stop_timeout": 1})
    reaper.join(5)
    return rc, result, calls


def test_pg_fence_escalates_to_an_immediate_shutdown(run_module, tmp_path):
    proc = _postmaster(tmp_path, "exit")
    rc, result, calls = _fence(run_module, tmp_path, proc, ["inactive"])
    assert rc == 0 and result["fenced"] and proc.returncode == 0
    assert result["how"].startswith("immediate shutdown") and result["killed"] is False
    assert calls[0] == ["systemctl", "stop", "--no-block", "pg.service"]
    assert ["systemctl", "daemon-reload"] not in calls


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
