from ansible_collections.pgha.cluster.plugins.module_utils import pg
from ansible_collections.pgha.cluster.plugins.module_utils.status import build_status, render_table

CONTROLDATA = """pg_control version number:            1300
Database system identifier:           7440000000000000001
Database cluster state:               shut down in recovery
Latest checkpoint location:           0/5000060
Latest checkpoint's TimeLineID:       2
"""


def test_parse_controldata():
    c = pg.parse_controldata(CONTROLDATA)
    assert c["Database system identifier"] == "7440000000000000001"
    assert c["Latest checkpoint's TimeLineID"] == "2"
    assert c["Database cluster state"] == "shut down in recovery"


def test_parse_auto_conf_last_wins_and_unquotes():
    text = "# Do not edit\nprimary_conninfo = 'host=a'\nprimary_conninfo = 'host=b user=''x'''\nport=5433\n"
    assert pg.parse_auto_conf(text) == {"primary_conninfo": "host=b user='x'", "port": "5433"}


def test_pg_paths_debian_layout():
    p = pg.pg_paths(17, "main")
    assert p == {"data_dir": "/var/lib/postgresql/17/main", "conf_dir": "/etc/postgresql/17/main",
                 "bin_dir": "/usr/lib/postgresql/17/bin", "service": "postgresql@17-main.service"}


NODES = {
    "pg1": {"up": True, "role": "primary", "timeline": 1, "current_lsn": "0/5000000",
            "synchronous_standby_names": 'ANY 1 ("pg2", "pg3")',
            "replicas": [{"application_name": "pg2", "state": "streaming", "sync_state": "quorum",
                          "replay_lag_bytes": 0}]},
    "pg2": {"up": True, "role": "standby", "timeline": 1, "replay_lsn": "0/5000000",
            "upstream": {"status": "streaming", "host": "10.0.0.1"}},
    "pg3": {"up": False, "role": "standby", "timeline": 1, "checkpoint_lsn": "0/4000000",
            "primary_conninfo": {"host": "10.0.0.1"}},
}
ADDR = {"pg1": "10.0.0.1", "pg2": "10.0.0.2", "pg3": "10.0.0.3", "pooler1": "10.0.0.9"}


def test_build_status_rows():
    s = build_status(NODES, ADDR, {"pooler1": {"active": True, "target": "10.0.0.1", "listen_port": 6432}})
    rows = dict((r["host"], r) for r in s["nodes"])
    assert s["primary"] == "pg1"
    assert rows["pg2"]["sync_state"] == "quorum" and rows["pg2"]["lag_bytes"] == 0
    assert rows["pg2"]["upstream"] == "pg1"
    assert rows["pg3"]["role"] == "down (standby)" and rows["pg3"]["lsn"] == "0/4000000"
    assert s["poolers"] == [{"host": "pooler1", "active": True, "port": 6432, "target": "pg1", "via": None, "serving": None,
                             "unreachable": False}]
    # pg3 is down: the cluster serves writes, but it is degraded.
    assert not s["healthy"] and s["verdict"] == "degraded"
    assert s["reasons"] == ["standby pg3 is not running (down (standby))"]


def test_render_table_warns_on_split_brain():
    nodes = dict(NODES, pg2=dict(NODES["pg2"], role="primary", current_lsn="0/6000000"))
    lines = render_table(build_status(nodes, ADDR, {}))
    assert lines[0].split() == ["HOST", "ROLE", "TL", "LSN", "LAG(B)", "SYNC", "UPSTREAM"]
    assert lines[-2] == "verdict: DOWN (1 reason)"
    assert lines[-1] == "DOWN: 2 writable primaries (pg1, pg2)"


def test_unreachable_node_is_shown():
    s = build_status({"pg1": {"unreachable": True}}, ADDR, {})
    assert s["nodes"][0]["role"] == "unreachable" and s["primary"] is None


import pytest  # noqa: E402


@pytest.mark.parametrize("bouncer, fragment", [
    ({"active": True, "target": "10.0.0.1", "serving": "stalled"}, "PgBouncer pooler1 does not answer clients (paused"),
    ({"active": True, "target": "10.0.0.2", "serving": "read-only"}, "sends clients to pg2, not to the primary pg1"),
    ({"active": True, "target": "10.0.0.1", "serving": "read-only"}, "does not route writes"),
    ({"active": False, "target": "10.0.0.1"}, "PgBouncer pooler1 is not running"),
    ({"unreachable": True}, "PgBouncer pooler1 cannot be reached"),
])
def test_a_paused_or_misrouted_pooler_is_unhealthy(bouncer, fragment):
    s = build_status(HEALTHY, ADDR, {"pooler1": dict(bouncer, listen_port=6432)})
    assert not s["healthy"] and any(fragment in p for p in s["problems"]), s["problems"]
    # The only pooler does not route writes: clients cannot write.
    assert s["verdict"] == "down"
    assert any(line.startswith("DOWN: ") and fragment in line for line in render_table(s))


def test_a_pooler_serving_writes_is_healthy():
    s = build_status(HEALTHY, ADDR, {"pooler1": {"active": True, "target": "10.0.0.1", "serving": "writes"}})
    assert s["healthy"] and s["verdict"] == "healthy" and s["reasons"] == []
    assert render_table(s)[-1] == "verdict: healthy"


HEALTHY = dict(NODES, pg3=dict(NODES["pg2"]))


def test_etcd_health_asks_each_member_and_says_why_not(monkeypatch):
    from ansible_collections.pgha.cluster.plugins.module_utils import pg, patroni_api

    def fake_call(url, timeout=2.0, **kwargs):
        if "10.0.0.3" in url:
            raise OSError("[Errno 111] Connection refused")
        if "10.0.0.2" in url:
            return 503, {"health": "false"}
        return 200, {"health": "true"}

    monkeypatch.setattr(patroni_api, "call", fake_call)
    found = pg.etcd_health(["10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"])
    assert found["10.0.0.1:2379"] is True
    assert found["10.0.0.2:2379"] == "HTTP 503: {'health': 'false'}"
    assert found["10.0.0.3:2379"] == "OSError: [Errno 111] Connection refused"


class _Systemd(object):
    """run_command as systemctl answers for one unit state; records the commands."""

    def __init__(self, state):
        self.state, self.commands = state, []

    def run_command(self, argv):
        self.commands.append(list(argv))
        return (0 if self.state == "active" else 3), self.state + "\n", ""


@pytest.mark.parametrize("state, stopped_by", [("active", "systemctl"), ("inactive", "SIGINT")])
def test_stop_server_stops_a_server_outside_its_unit_itself(monkeypatch, state, stopped_by):
    """A server Patroni started runs outside postgresql@'s unit, where systemctl stop does nothing:
    stop_server shuts it down fast itself (what handback.yml's restart and a fence rely on)."""
    import signal
    sent, gone = [], []
    monkeypatch.setattr(pg, "signal_postmaster", lambda data_dir, signum: sent.append(signum))
    monkeypatch.setattr(pg, "wait_gone", lambda data_dir, timeout: gone.append(timeout) or True)
    module = _Systemd(state)
    result = {}
    pg.stop_server(module, pg.pg_paths(15, "main"), 5, result=result, escalate=False)
    stops = [c for c in module.commands if c[:2] == ["systemctl", "stop"]]
    assert result["how"] == "clean stop" and gone == [5]
    if stopped_by == "systemctl":
        assert stops and sent == []
    else:
        assert stops == [] and sent == [signal.SIGINT]
