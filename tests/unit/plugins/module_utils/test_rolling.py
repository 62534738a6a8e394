import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import rolling


def replica(name, state="streaming", sync_state="quorum", lag=0):
    return {"application_name": name, "state": state, "sync_state": sync_state, "replay_lag_bytes": lag}


def primary(replicas=None, **kw):
    base = {"up": True, "role": "primary", "current_lsn": "0/5000000",
            "replicas": [replica("pg2"), replica("pg3")] if replicas is None else replicas}
    base.update(kw)
    return base


def standby(**kw):
    base = {"up": True, "role": "standby", "upstream": {"status": "streaming"}}
    base.update(kw)
    return base


def cluster(**over):
    nodes = {"pg1": primary(), "pg2": standby(), "pg3": standby()}
    nodes.update(over)
    return nodes


def test_restart_orders_standbys_then_switchover_then_old_primary():
    plan = rolling.rolling_plan(cluster(), "pg1", "restart")
    assert plan["standbys"] == ["pg2", "pg3"]
    assert plan["switchover"] is True and plan["old_primary"] == "pg1"
    # The switchover stops and starts the old primary: no second restart, only the gate.
    assert plan["old_primary_acts"] is False
    assert plan["steps"][0].startswith("restart pg2 (standby)") and "switch over from pg1" in plan["steps"][2]


def test_reboot_acts_on_the_old_primary_after_the_switchover():
    plan = rolling.rolling_plan(cluster(), "pg1", "reboot")
    assert plan["old_primary_acts"] is True and plan["steps"][-1].startswith("reboot pg1 (now a standby)")


def test_pending_restarts_only_the_nodes_that_wait():
    plan = rolling.rolling_plan(cluster(), "pg1", "pending", pending={"pg3": ["shared_buffers"], "pg2": []})
    assert plan["standbys"] == ["pg3"] and plan["switchover"] is False and plan["old_primary"] is None


def test_pending_on_the_primary_switches_over():
    plan = rolling.rolling_plan(cluster(), "pg1", "pending",
                                pending={"pg1": ["max_connections"], "pg2": ["max_connections"]})
    assert plan["standbys"] == ["pg2"] and plan["switchover"] is True and plan["old_primary_acts"] is False


def test_nothing_pending_is_nothing_to_do_even_with_a_broken_standby():
    plan = rolling.rolling_plan(cluster(pg3=standby(up=False), pg2=standby(fenced=True)), "pg1", "pending", pending={})
    assert plan["standbys"] == [] and plan["switchover"] is False and plan["steps"] == ["nothing to do"]


def test_without_switchover_the_primary_is_left_and_named():
    plan = rolling.rolling_plan(cluster(), "pg1", "pending", pending={"pg1": ["max_connections"]}, switchover=False)
    assert plan["switchover"] is False and plan["standbys"] == []
    assert "max_connections" in plan["left"]["pg1"] and "pgha_rolling=restart" in plan["left"]["pg1"]


@pytest.mark.parametrize("nodes, kwargs, fragment", [
    (cluster(pg1=primary(up=False)), {}, "pg1 is not a running primary"),
    (cluster(pg3=standby(up=False)), {}, "not streaming: pg3 (up: False"),
    (cluster(pg1=primary(replicas=[replica("pg2")])), {}, "pg3 (up: True, role: standby, WAL receiver: streaming, "
                                                          "on the primary: not connected)"),
    (cluster(pg1=primary(replicas=[replica("pg2"), replica("pg3", sync_state="async")])), {},
     "1 standby(s) can be synchronous (pg2) and 1 must be"),
    (cluster(), {"sync_count": 2}, "2 standby(s) can be synchronous (pg2, pg3) and 2 must be"),
    ({"pg1": primary(replicas=[])}, {}, "pg1 is the only node"),
    (cluster(pg2=standby(fenced=True), pg3=standby(fenced=True)), {},
     "pg2, pg3 are fenced as a former primary (pgha.fenced) and cannot be taken through a rolling restart"),
])
def test_refusals_name_the_figures(nodes, kwargs, fragment):
    with pytest.raises(rolling.RollingError) as exc:
        rolling.rolling_plan(nodes, "pg1", "restart", **kwargs)
    assert fragment in str(exc.value)


def test_unknown_action_is_refused():
    with pytest.raises(rolling.RollingError, match="unknown rolling action 'update': use one of restart, reboot, upgrade$"):
        rolling.rolling_plan(cluster(), "pg1", "update")


def test_sync_off_needs_no_spare_standby():
    nodes = {"pg1": primary(replicas=[replica("pg2", sync_state="async")]), "pg2": standby()}
    plan = rolling.rolling_plan(nodes, "pg1", "restart", sync_mode="off")
    assert plan["standbys"] == ["pg2"] and plan["switchover"] is True


def test_spare_check():
    assert rolling.spare_check(primary(), "pg2", "quorum", 1) is None
    assert rolling.spare_check(primary(), "pg2", "quorum", 2) == \
        "without pg2 only 1 standby(s) can be synchronous (pg3), 2 must be"
    # Priority mode: a potential standby steps in.
    prio = primary(replicas=[replica("pg2", sync_state="sync"), replica("pg3", sync_state="potential")])
    assert rolling.spare_check(prio, "pg2", "priority", 1) is None
    assert rolling.spare_check(primary(replicas=[replica("pg2")]), "pg2", "off", 1) is None


def test_gate_check():
    assert rolling.gate_check(primary(), "pg2", 1024, "quorum", 1) is None
    assert rolling.gate_check(primary(replicas=[replica("pg3")]), "pg2", 1024, "quorum", 1) == \
        "pg2 is not connected to the primary"
    assert rolling.gate_check(primary(replicas=[replica("pg2", state="catchup"), replica("pg3")]), "pg2", 1024,
                              "quorum", 1) == "pg2 is catchup, not streaming"
    assert rolling.gate_check(primary(replicas=[replica("pg2", lag=4096), replica("pg3")]), "pg2", 1024,
                              "quorum", 1) == "pg2 replays 4096 bytes behind the primary (bound 1024)"
    assert rolling.gate_check(primary(replicas=[replica("pg2", sync_state="async"), replica("pg3", sync_state="async")]),
                              "pg2", 1024, "quorum", 1) == "0 synchronous standby(s) (none), 1 wanted"
    assert rolling.gate_check(primary(replicas=[replica("pg2", sync_state="async")]), "pg2", 1024, "off", 1) is None


def test_lowered_hot_standby_settings():
    running = {"max_connections": "200", "max_wal_senders": "10", "max_worker_processes": "8"}
    assert rolling.lowered_hot_standby_settings({"max_connections": 150, "max_wal_senders": "12"}, running) == \
        {"max_connections": (200, 150)}
    assert rolling.lowered_hot_standby_settings({"max_connections": 250, "work_mem": "4MB"}, running) == {}
    assert rolling.lowered_hot_standby_settings({"max_connections": 100}, {}) == {}


def test_primary_first_restarts_the_primary_in_place_then_the_standbys():
    plan = rolling.rolling_plan(cluster(), "pg1", "pending", primary_first=True,
                                pending={h: ["max_connections"] for h in ("pg1", "pg2", "pg3")})
    assert plan["in_place"] == "pg1" and plan["standbys"] == ["pg2", "pg3"]
    assert plan["switchover"] is False and plan["old_primary"] is None
    assert plan["steps"][0].startswith("restart pg1 (the primary) in place with every PgBouncer paused")


def test_primary_first_on_a_single_node_and_refusals():
    plan = rolling.rolling_plan({"pg1": primary(replicas=[])}, "pg1", "restart", primary_first=True)
    assert plan["in_place"] == "pg1" and plan["standbys"] == []
    with pytest.raises(rolling.RollingError, match="a reboot never takes the primary down in place"):
        rolling.rolling_plan(cluster(), "pg1", "reboot", primary_first=True)
    with pytest.raises(rolling.RollingError, match="Patroni runs pg1"):
        rolling.rolling_plan(cluster(pg1=primary(supervisor="patroni")), "pg1", "restart", primary_first=True)


def test_gate_check_without_a_standby_waits_for_the_synchronous_set_only():
    assert rolling.gate_check(primary(replicas=[replica("pg3")]), "", 1024, "quorum", 1) is None
    assert rolling.gate_check(primary(replicas=[]), "", 1024, "quorum", 1) == "0 synchronous standby(s) (none), 1 wanted"


def test_under_patroni_any_streaming_standby_can_step_in():
    nodes = cluster(pg1=primary(supervisor="patroni", replicas=[replica("pg2", sync_state="sync"),
                                                                replica("pg3", sync_state="async")]))
    plan = rolling.rolling_plan(nodes, "pg1", "restart")
    assert plan["standbys"] == ["pg2", "pg3"]
    assert rolling.spare_check(nodes["pg1"], "pg2", "quorum", 1) is None
    # Without Patroni the asynchronous one cannot: refused.
    with pytest.raises(rolling.RollingError, match="1 standby.s. can be synchronous .pg2."):
        rolling.rolling_plan(cluster(pg1=primary(replicas=[replica("pg2", sync_state="sync"),
                                                           replica("pg3", sync_state="async")])), "pg1", "restart")


def test_pending_restarts_joins_this_runs_changes_and_what_systemd_run_servers_show():
    nodes = {"pg1": primary(pending_restart=["shared_buffers"]), "pg2": standby(pending_restart=[]),
             "pg3": standby(supervisor="patroni", pending_restart=["max_connections"])}
    assert rolling.pending_restarts(nodes, {"pg2": ["max_connections"], "pg1": ["shared_buffers", "max_connections"]}) == \
        {"pg1": ["max_connections", "shared_buffers"], "pg2": ["max_connections"]}
    # Patroni's own pending restart is left to Patroni; a change made in this run is not.
    assert rolling.pending_restarts(nodes, {"pg3": ["wal_buffers"]}) == {"pg1": ["shared_buffers"], "pg3": ["wal_buffers"]}
    assert rolling.pending_restarts({}, None) == {}
