import socket
import threading

import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import haproxy
from ansible_collections.pgha.cluster.plugins.module_utils import patroni_api
from ansible_collections.pgha.cluster.plugins.module_utils.status import build_status

STAT = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight
pgha_primary,FRONTEND,,,0,1,2000,3,0,0,0,0,0,,,,,OPEN,
pgha_primary,pg1,0,0,0,1,,3,0,0,,0,,0,0,0,0,DOWN,1
pgha_primary,pg2,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP,1
pgha_primary,pg3,0,0,0,1,,3,0,0,,0,,0,0,0,0,DOWN 1/2,1
pgha_primary,BACKEND,0,0,0,1,200,3,0,0,0,0,,0,0,0,0,UP,1
other,web1,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP,1
"""


def test_parse_stat_keeps_the_primary_proxy_servers():
    assert haproxy.parse_stat(STAT) == {"pg1": "DOWN", "pg2": "UP", "pg3": "DOWN 1/2"}
    assert haproxy.parse_stat("") == {}


def test_routed_to_is_the_one_server_up():
    assert haproxy.routed_to({"pg1": "DOWN", "pg2": "UP"}) == "pg2"
    assert haproxy.routed_to({"pg1": "DOWN", "pg2": "MAINT"}) is None
    # Going down (UP 1/2: one failed check of two) still receives connections.
    assert haproxy.routed_to({"pg1": "UP 1/2", "pg2": "UP"}) == ["pg1", "pg2"]


class AdminSocket(threading.Thread):
    """HAProxy's admin socket as far as force_route uses it: one command per connection, recorded."""

    def __init__(self, path):
        super(AdminSocket, self).__init__(daemon=True)
        self.lines = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(8)

    def run(self):
        while True:
            try:
                conn, dummy = self.server.accept()
            except OSError:
                return
            with conn:
                self.lines.append(conn.recv(4096).decode().strip())
                conn.sendall(b"\n")


def test_force_route_marks_the_others_down_before_the_target_up(tmp_path):
    path = str(tmp_path / "admin.sock")
    server = AdminSocket(path)
    server.start()
    try:
        down = haproxy.force_route(path, "pg2", {"pg1": "UP", "pg2": "DOWN", "pg3": "DOWN", "pg4": "UP 1/2"})
    finally:
        server.server.close()
    assert down == ["pg1", "pg4"]
    # Never two servers up because of it: the others go down first.
    assert server.lines == ["set server pgha_primary/pg1 health down", "set server pgha_primary/pg4 health down",
                            "set server pgha_primary/pg2 health up"]


def test_force_route_raises_when_haproxy_does_not_answer(tmp_path):
    with pytest.raises(OSError):
        haproxy.force_route(str(tmp_path / "none.sock"), "pg2", {"pg1": "UP"})


def test_status_reads_where_haproxy_forwards():
    upstream = {"host": "10.0.0.2", "status": "streaming"}
    nodes = {"pg1": {"up": True, "role": "standby", "replay_lsn": "0/5000000", "upstream": upstream},
             "pg2": {"up": True, "role": "primary", "current_lsn": "0/5000000",
                     "replicas": [{"application_name": "pg1", "state": "streaming", "sync_state": "sync",
                                   "replay_lsn": "0/5000000"}]}}
    addresses = {"pg1": "10.0.0.1", "pg2": "10.0.0.2", "pooler1": "10.0.0.9"}
    bouncer = {"active": True, "target": "main-primary.pgha.internal", "listen_port": 6432,
               "router": {"servers": {"pg1": "DOWN", "pg2": "UP"}, "routed_to": "pg2"}}
    s = build_status(nodes, addresses, {"pooler1": bouncer})
    assert s["poolers"][0]["target"] == "pg2" and s["poolers"][0]["via"] == "haproxy"
    assert not [r for r in s["reasons"] if "PgBouncer" in r], s["reasons"]
    # HAProxy forwarding to a standby is a misrouted PgBouncer.
    bouncer["router"] = {"servers": {"pg1": "UP", "pg2": "DOWN"}, "routed_to": "pg1"}
    s = build_status(nodes, addresses, {"pooler1": bouncer})
    assert any("PgBouncer pooler1 sends clients to pg1, not to the primary pg2" in r for r in s["reasons"]), s["reasons"]


CLUSTER = {"members": [{"name": "pg1", "role": "leader", "state": "running"},
                       {"name": "pg2", "role": "sync_standby", "state": "streaming"},
                       {"name": "pg3", "role": "replica", "state": "starting", "tags": {}}]}


def test_patroni_switchover_problems():
    assert patroni_api.switchover_problems(CLUSTER, "pg1", "pg2") == []
    assert patroni_api.leader_of(CLUSTER) == "pg1"
    found = patroni_api.switchover_problems(dict(CLUSTER, pause=True), "pg2", "pg3")
    assert found[0].startswith("Patroni is paused")
    assert "Patroni's leader is pg1, not pg2" in found
    assert "pg3 is starting in Patroni, not streaming" in found
    assert patroni_api.switchover_problems(CLUSTER, "pg1", "pg9")[0].startswith("pg9 is not a member")


def test_patroni_failover_problems():
    # The failed leader may still hold its lock (it expires after ttl): a failover to pg2 may go ahead.
    assert patroni_api.failover_problems(CLUSTER, "pg1", "pg2") == []
    # Once the leader is gone, no leader at all is fine too.
    gone = {"members": [m for m in CLUSTER["members"] if m["name"] != "pg1"]}
    assert patroni_api.failover_problems(gone, "pg1", "pg2") == []
    # Another member leads: nothing failed.
    found = patroni_api.failover_problems(CLUSTER, "pg3", "pg2")
    assert found == ["Patroni's leader is pg1, which runs: nothing to fail over (switchover.yml for a planned change)"]
    assert patroni_api.failover_problems(gone, "pg1", "pg3") == ["pg3 is starting in Patroni, not running"]
    assert patroni_api.failover_problems(gone, "pg1", "pg9")[0].startswith("pg9 is not a member")


def test_a_paused_patroni_degrades_the_status():
    nodes = {"pg1": {"up": True, "role": "primary", "current_lsn": "0/5000000", "supervisor": "patroni",
                     "patroni": {"state": "running", "role": "master", "pause": True},
                     "replicas": [{"application_name": "pg2", "state": "streaming", "sync_state": "sync",
                                   "replay_lsn": "0/5000000"}]},
             "pg2": {"up": True, "role": "standby", "replay_lsn": "0/5000000", "supervisor": "patroni",
                     "patroni": {"state": "streaming", "role": "replica", "pause": True},
                     "upstream": {"host": "10.0.0.1", "status": "streaming"}}}
    s = build_status(nodes, {"pg1": "10.0.0.1", "pg2": "10.0.0.2"}, {})
    assert s["failover"]["paused"] == ["pg1", "pg2"]
    assert s["verdict"] == "degraded"
    assert any(r.startswith("Patroni is paused (maintenance mode, seen on pg1, pg2)") for r in s["reasons"]), s["reasons"]


def test_a_leader_with_no_recorded_synchronous_standby_degrades_the_status():
    """Strict synchronous mode: Patroni promotes only a member its /sync key names."""
    def nodes(synchronous):
        view = {"state": "running", "role": "master", "pause": False, "leader": "pg1", "synchronous": synchronous}
        return {"pg1": {"up": True, "role": "primary", "current_lsn": "0/5000000", "supervisor": "patroni",
                        "synchronous_standby_names": '"pg2"', "patroni": view,
                        "replicas": [{"application_name": "pg2", "state": "streaming", "sync_state": "sync",
                                      "replay_lsn": "0/5000000"}]},
                "pg2": {"up": True, "role": "standby", "replay_lsn": "0/5000000", "supervisor": "patroni",
                        "patroni": dict(view, role="replica", state="streaming"),
                        "upstream": {"host": "10.0.0.1", "status": "streaming"}}}
    addresses = {"pg1": "10.0.0.1", "pg2": "10.0.0.2"}
    s = build_status(nodes([]), addresses, {})
    assert s["failover"]["synchronous"] == [] and s["verdict"] == "degraded"
    assert any(r.startswith("Patroni records no synchronous standby that streams from pg1") for r in s["reasons"])
    s = build_status(nodes(["pg2"]), addresses, {})
    assert s["verdict"] == "healthy", s["reasons"]
