"""pg_rolling_gate and pg_restart with the node's state and the host's commands faked."""
from unittest import mock

from ansible_collections.pgha.cluster.plugins.modules import pg_restart, pg_rolling_gate


def primary(replicas):
    return {"up": True, "role": "primary", "current_lsn": "0/5000000", "replicas": replicas}


def replica(name, state="streaming", sync_state="quorum", lag=0):
    return {"application_name": name, "state": state, "sync_state": sync_state, "replay_lag_bytes": lag}


def test_gate_opens_once_the_standby_streams_again(run_module):
    states = iter([primary([replica("pg3")]), primary([replica("pg2", state="catchup"), replica("pg3")]),
                   primary([replica("pg2"), replica("pg3")])])
    with mock.patch.object(pg_rolling_gate, "inspect_node", side_effect=lambda *a, **k: next(states)), \
            mock.patch.object(pg_rolling_gate.time, "sleep"):
        rc, result = run_module(pg_rolling_gate, {"version": 15, "standby": "pg2", "timeout": 60})
    assert rc == 0 and result["replica"]["state"] == "streaming" and result["changed"] is False


def test_gate_fails_with_the_figures_after_its_timeout(run_module):
    with mock.patch.object(pg_rolling_gate, "inspect_node", return_value=primary([replica("pg3")])), \
            mock.patch.object(pg_rolling_gate.time, "sleep"):
        rc, result = run_module(pg_rolling_gate, {"version": 15, "standby": "pg2", "timeout": 0})
    assert rc == 1
    assert result["msg"].startswith("pg2 is not back: primary at 0/5000000: pg2 is not connected to the primary after 0 s. "
                                    "The run stopped here; once that is fixed, run the playbook again")


def test_gate_before_refuses_when_the_others_cannot_carry_the_synchronous_set(run_module):
    with mock.patch.object(pg_rolling_gate, "inspect_node", return_value=primary([replica("pg2")])), \
            mock.patch.object(pg_rolling_gate.time, "sleep"):
        rc, result = run_module(pg_rolling_gate, {"version": 15, "standby": "pg2", "phase": "before", "timeout": 0})
    assert rc == 1 and "not taking pg2 out" in result["msg"]
    assert "without pg2 only 0 standby(s) can be synchronous (none), 1 must be" in result["msg"]


def test_gate_fails_when_the_node_is_no_longer_the_primary(run_module):
    with mock.patch.object(pg_rolling_gate, "inspect_node", return_value={"up": True, "role": "standby"}), \
            mock.patch.object(pg_rolling_gate.time, "sleep"):
        rc, result = run_module(pg_rolling_gate, {"version": 15, "standby": "pg2", "timeout": 0})
    assert rc == 1 and "no longer a running primary" in result["msg"]


def test_gate_on_the_upstream_of_a_cascading_replica(run_module):
    """Read on a standby (source_role standby): its own pg_stat_replication, the synchronous set not asked."""
    upstream = {"up": True, "role": "standby", "replay_lsn": "0/5000000",
                "replicas": [{"application_name": "pg4", "state": "streaming", "sync_state": "async",
                              "replay_lag_bytes": 0}]}
    with mock.patch.object(pg_rolling_gate, "inspect_node", return_value=upstream), \
            mock.patch.object(pg_rolling_gate.time, "sleep"):
        rc, result = run_module(pg_rolling_gate, {"version": 15, "standby": "pg4", "timeout": 0, "sync_mode": "off",
                                                  "source_role": "standby"})
    assert rc == 0 and result["replica"]["state"] == "streaming"
    with mock.patch.object(pg_rolling_gate, "inspect_node", return_value=upstream), \
            mock.patch.object(pg_rolling_gate.time, "sleep"):
        rc, result = run_module(pg_rolling_gate, {"version": 15, "standby": "pg4", "timeout": 0, "sync_mode": "off"})
    assert rc == 1 and "no longer a running primary" in result["msg"]


class Host(object):
    """The commands pg_restart runs, recorded; the node answers as ``role``."""

    def __init__(self, role, start_rc=0, unit="active"):
        self.role, self.start_rc, self.unit, self.commands = role, start_rc, unit, []

    def run_command(self, argv, **kwargs):
        self.commands.append(" ".join(str(a) for a in argv))
        if argv[:2] == ["systemctl", "start"]:
            return self.start_rc, "", "start failed" if self.start_rc else ""
        if argv[:2] == ["systemctl", "is-active"]:
            return (0 if self.unit == "active" else 3), self.unit + "\n", ""
        return 0, "", ""

    def node(self, *args, **kwargs):
        return {"up": True, "role": self.role, "started_at": 1700000000.5}


def run_restart(run_module, host, args, stopped=True):
    def fake_stop(module, paths, timeout, result=None, escalate=True):
        host.commands.append("stop escalate=%s" % escalate)
    with mock.patch.object(pg_restart, "inspect_node", side_effect=host.node), \
            mock.patch.object(pg_restart, "stop_server", side_effect=fake_stop), \
            mock.patch.object(pg_restart, "postmaster_running", return_value=not stopped), \
            mock.patch.object(pg_restart, "wait_archiver", return_value=0), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", side_effect=host.run_command):
        return run_module(pg_restart, dict({"version": 15}, **args))


def test_restart_of_a_standby_checkpoints_stops_and_starts(run_module):
    host = Host("standby")
    rc, result = run_restart(run_module, host, {})
    assert rc == 0 and result["role"] == "standby" and result["started_at"] == 1700000000.5
    assert "-c CHECKPOINT" in host.commands[0]
    # The server is waited for, not the start job (pg_ctlcluster returns ~2 s after the server is ready);
    # the unit is checked afterwards.
    assert host.commands[1:] == ["stop escalate=True", "systemctl start --no-block postgresql@15-main.service",
                                 "systemctl is-active postgresql@15-main.service"]
    assert not any("PAUSE" in c or "RESUME" in c for c in host.commands)


def test_the_primary_is_never_restarted_without_its_poolers_paused(run_module):
    host = Host("primary")
    rc, result = run_restart(run_module, host, {})
    assert rc == 1 and "switches it over instead" in result["msg"]
    assert host.commands == []


def test_restart_of_the_primary_pauses_then_resumes_every_pgbouncer(run_module):
    host = Host("primary")
    rc, result = run_restart(run_module, host, {"poolers": ["10.0.0.21", "10.0.0.22"], "admin_user": "admin",
                                                "admin_password": "secret"})
    assert rc == 0 and "paused" in result
    pauses = [i for i, c in enumerate(host.commands) if c.endswith("-c PAUSE")]
    resumes = [i for i, c in enumerate(host.commands) if c.endswith("-c RESUME")]
    stop = host.commands.index("stop escalate=False")
    start = host.commands.index("systemctl start --no-block postgresql@15-main.service")
    unit = host.commands.index("systemctl is-active postgresql@15-main.service")
    assert len(pauses) == 2 and len(resumes) == 2
    assert max(pauses) < stop < start < min(resumes) < max(resumes) < unit


def test_a_unit_that_fails_after_the_server_answered_is_reported_after_resume(run_module):
    host = Host("primary", unit="failed")
    rc, result = run_restart(run_module, host, {"poolers": ["10.0.0.21"], "admin_user": "admin",
                                                "admin_password": "secret"})
    assert rc == 1 and "the server answers but its unit postgresql@15-main.service is failed" in result["msg"]
    assert any(c.endswith("-c RESUME") for c in host.commands) and result["paused"] >= 0


def test_a_failed_start_of_the_primary_still_resumes_pgbouncer(run_module):
    host = Host("primary", start_rc=1)
    rc, result = run_restart(run_module, host, {"poolers": ["10.0.0.21"], "admin_user": "admin",
                                                "admin_password": "secret"})
    assert rc == 1 and "systemctl start postgresql@15-main.service failed: start failed" in result["msg"]
    assert host.commands[-1].endswith("-c RESUME")


def test_a_stop_that_does_not_finish_starts_nothing_new_and_resumes(run_module):
    host = Host("primary")
    rc, result = run_restart(run_module, host, {"poolers": ["10.0.0.21"], "admin_user": "admin",
                                                "admin_password": "secret"}, stopped=False)
    assert rc == 1 and "did not finish in 60 s" in result["msg"]
    assert host.commands[-1].endswith("-c RESUME")


def test_stopped_stops_a_standby_without_starting_it(run_module):
    host = Host("standby")
    rc, result = run_restart(run_module, host, {"state": "stopped"})
    assert rc == 0 and host.commands[1:] == ["stop escalate=True"] and "started_at" not in result


def test_stopped_never_stops_the_primary(run_module):
    host = Host("primary")
    rc, result = run_restart(run_module, host, {"state": "stopped", "poolers": ["10.0.0.21"], "admin_user": "a",
                                                "admin_password": "b"})
    assert rc == 1 and "never stopped this way" in result["msg"] and host.commands == []
