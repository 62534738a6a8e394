import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import operations as ops
from ansible_collections.pgha.cluster.plugins.module_utils import replicas
from ansible_collections.pgha.cluster.plugins.module_utils.validate import validate_inputs


@pytest.mark.parametrize("value, ms", [
    ("1h", 3600000), ("30min", 1800000), ("300s", 300000), ("250ms", 250), (5000, 5000), ("2 d", 172800000),
    (None, 0), ("", 0), (0, 0), ("0", 0), ("1 hour", None), ("-5s", None), ("1.5h", None), (True, None),
])
def test_delay_ms_reads_postgresql_durations(value, ms):
    assert replicas.delay_ms(value) == ms


def test_delay_problem_names_the_host_and_the_fix():
    assert replicas.delay_problem("pg3", "1h") is None
    assert "pg3: pgha_apply_delay='one hour' is not a duration" in replicas.delay_problem("pg3", "one hour")
    assert "longer than PostgreSQL allows" in replicas.delay_problem("pg3", "30d")


def test_apply_delays_and_sync_members_leave_out_delayed_replicas():
    hostvars = {"pg1": {}, "pg2": {"pgha_apply_delay": "0"}, "pg3": {"pgha_apply_delay": " 1h "}}
    delays = replicas.apply_delays(["pg1", "pg2", "pg3"], hostvars)
    assert delays == {"pg3": "1h"}
    assert replicas.sync_members(["pg1", "pg2", "pg3"], "pg1", delays) == ["pg2"]
    assert replicas.sync_members(["pg2", "pg3"], None, delays) == ["pg2"]


def primary(**kw):
    base = {"up": True, "role": "primary", "system_identifier": "42", "timeline": 1, "current_lsn": "0/5000000",
            "replicas": [{"application_name": h, "state": "streaming", "sync_state": s}
                         for h, s in (("pg2", "quorum"), ("pg3", "quorum"), ("pg4", "async"))]}
    base.update(kw)
    return base


def standby(lsn="0/5000000", **kw):
    base = {"up": True, "role": "standby", "system_identifier": "42", "timeline": 1, "replay_lsn": lsn,
            "receive_lsn": lsn}
    base.update(kw)
    return base


def cluster(**over):
    nodes = {"pg1": primary(), "pg2": standby(), "pg3": standby(), "pg4": standby()}
    nodes.update(over)
    return nodes


DELAYED = {"pg4": "1h"}


def test_switchover_never_chooses_a_delayed_replica_nor_names_it_synchronous():
    # pg4 is the least behind but delayed.
    nodes = cluster(pg2=standby("0/4000000"), pg3=standby("0/4000000"), pg4=standby("0/5000000"))
    plan = ops.switchover_plan(nodes, "pg1", None, 1 << 30, "quorum", 1, delayed=DELAYED)
    assert plan["target"] == "pg2"
    assert plan["synchronous_standby_names"] == 'ANY 1 ("pg1", "pg3")'
    assert "pg4" in plan["repoint"] and "pg4" in plan["steps"][0]


def test_switchover_to_a_named_delayed_replica_is_refused_with_the_way_out():
    with pytest.raises(ops.OperationError, match=r"pg4 is a delayed replica \(pgha_apply_delay 1h\).*failover.yml -e pgha_target=pg4"):
        ops.switchover_plan(cluster(), "pg1", "pg4", 1 << 30, "quorum", 1, delayed=DELAYED)


def test_switchover_with_only_a_delayed_standby_left_explains():
    nodes = {"pg1": primary(), "pg4": standby()}
    with pytest.raises(ops.OperationError, match=r"no standby can take over: pg4 is a delayed replica"):
        ops.switchover_plan(nodes, "pg1", None, 1 << 30, "quorum", 1, delayed=DELAYED)


def test_failover_skips_the_delayed_replica_even_when_it_received_the_most():
    nodes = cluster(pg1=primary(up=False), pg2=standby("0/4000000"), pg3=standby("0/4800000"), pg4=standby("0/5000000"))
    plan = ops.failover_plan(nodes, "pg1", "quorum", 1, delayed=DELAYED)
    assert plan["target"] == "pg3" and [r["host"] for r in plan["ranking"]] == ["pg3", "pg2"]
    # Quorum over the synchronous members only (pg2, pg3): both visible, no commit can be missing.
    assert plan["may_miss_commits"] is False
    assert plan["sync_standbys"] == ["pg2"] and "pg4" in plan["repoint"]


def test_failover_to_a_named_delayed_replica():
    nodes = cluster(pg1=primary(up=False), pg2=standby("0/4000000"), pg3=standby("0/4000000"), pg4=standby("0/5000000"))
    plan = ops.failover_plan(nodes, "pg1", "quorum", 1, delayed=DELAYED, target="pg4")
    assert plan["target"] == "pg4" and plan["sync_standbys"] == ["pg2", "pg3"]


def test_failover_with_only_delayed_replicas_left_asks_for_a_name():
    nodes = cluster(pg1=primary(up=False), pg2=standby(up=False), pg3=standby(up=False))
    with pytest.raises(ops.OperationError, match=r"only delayed or cascading replicas are left to promote \(pg4, pgha_apply_delay 1h\)"):
        ops.failover_plan(nodes, "pg1", "quorum", 1, delayed=DELAYED, accept_data_loss=True)


GROUPS = {"pgha_postgresql": ["pg1", "pg2", "pg3"]}
SETTINGS = {"pgha_cluster_name": "main", "pgha_postgresql_version": 15, "pgha_sync_count": 1}
SECRETS = {"pgha_replication_password": "x"}


def test_validation_counts_only_standbys_that_can_be_synchronous():
    assert validate_inputs(GROUPS, ["pg1"], SETTINGS, SECRETS, apply_delays={"pg3": "1h", "pg2": None}) == []
    errors = validate_inputs(GROUPS, ["pg1"], dict(SETTINGS, pgha_sync_count=2), SECRETS, apply_delays={"pg3": "1h"})
    assert any("1 standby(s) that can be synchronous (3 database nodes minus the primary and 1 delayed or cascading replica(s))"
               in e for e in errors), errors


@pytest.mark.parametrize("delays, settings, fragment", [
    ({"pg3": "soon"}, {}, "pg3: pgha_apply_delay='soon' is not a duration"),
    ({"pg1": "1h"}, {}, "pg1 is the initial primary and sets pgha_apply_delay"),
    ({"pg3": "1h"}, {"pgha_failover_mode": "automatic"}, "supported in manual mode only"),
])
def test_validation_refuses_bad_delays(delays, settings, fragment):
    errors = validate_inputs(GROUPS, ["pg1"], dict(SETTINGS, **settings), SECRETS, apply_delays=delays)
    assert any(fragment in e for e in errors), errors


def test_apply_delays_raw_keeps_what_validation_must_see():
    hostvars = {"pg1": {}, "pg2": {"pgha_apply_delay": "soon"}, "pg3": {"pgha_apply_delay": 0}}
    assert replicas.apply_delays(["pg1", "pg2", "pg3"], hostvars) == {}
    assert replicas.apply_delays(["pg1", "pg2", "pg3"], hostvars, raw=True) == {"pg2": "soon", "pg3": 0}


# Cascading replicas: pg4 streams from pg3.
UP = {"pg4": "pg3"}


def test_effective_upstream_falls_back_to_the_primary():
    nodes = cluster()
    assert replicas.effective_upstream("pg4", "pg1", UP, nodes) == "pg3"
    assert replicas.effective_upstream("pg4", "pg1", UP) == "pg3"
    assert replicas.effective_upstream("pg2", "pg1", UP, nodes) == "pg1"
    # Its upstream down, failed, or the primary itself: the primary.
    assert replicas.effective_upstream("pg4", "pg1", UP, cluster(pg3=standby(up=False))) == "pg1"
    assert replicas.effective_upstream("pg4", "pg2", UP, nodes, gone=("pg3",)) == "pg2"
    assert replicas.effective_upstream("pg4", "pg3", UP, nodes) == "pg3"


def test_followers_of_are_the_slots_a_node_keeps():
    hosts = ["pg1", "pg2", "pg3", "pg4"]
    assert replicas.followers_of("pg1", "pg1", hosts, UP) == ["pg2", "pg3"]
    assert replicas.followers_of("pg3", "pg1", hosts, UP) == ["pg4"]
    assert replicas.followers_of("pg1", "pg1", hosts, UP, cluster(pg3=standby(up=False))) == ["pg2", "pg3", "pg4"]
    assert replicas.sync_members(hosts, "pg1", {}, UP) == ["pg2", "pg3"]


@pytest.mark.parametrize("upstream_of, initial, automatic, fragment", [
    ({"pg4": "pg9"}, "pg1", False, "pg4: pgha_upstream='pg9' is not a database node of this cluster"),
    ({"pg4": "pg4"}, "pg1", False, "pg4: pgha_upstream names the node itself"),
    ({"pg4": "pg3", "pg3": "pg2"}, "pg1", False, "cascading is one level deep"),
    ({"pg1": "pg2"}, "pg1", False, "pg1 is the initial primary and sets pgha_upstream"),
    ({"pg4": "pg3"}, "pg1", True, "supported in manual mode only"),
])
def test_upstream_problems(upstream_of, initial, automatic, fragment):
    problems = replicas.upstream_problems(["pg1", "pg2", "pg3", "pg4"], upstream_of, initial, automatic)
    assert any(fragment in p for p in problems), problems


def test_upstream_problems_accept_a_good_one():
    assert replicas.upstream_problems(["pg1", "pg2", "pg3", "pg4"], {"pg4": "pg3"}, "pg1") == []


def cascading_cluster(**over):
    nodes = cluster(**over)
    for node in nodes.values():
        if "replicas" in node:
            node["replicas"] = [r for r in node["replicas"] if r["application_name"] != "pg4"]
    return nodes


def test_switchover_leaves_a_cascading_replica_on_its_upstream():
    plan = ops.switchover_plan(cascading_cluster(), "pg1", "pg2", 1 << 30, "quorum", 1, upstreams=UP)
    assert plan["repoint"] == ["pg3"] and plan["cascading"] == ["pg4"]
    assert plan["slots"] == ["pg1", "pg3"] and "pg4" not in plan["synchronous_standby_names"]
    # To its own upstream: it follows the new primary without a move (its slot is there already).
    plan = ops.switchover_plan(cascading_cluster(), "pg1", "pg3", 1 << 30, "quorum", 1, upstreams=UP)
    assert plan["repoint"] == ["pg2", "pg4"] and plan["slots"] == ["pg1", "pg2", "pg4"]
    with pytest.raises(ops.OperationError, match="pg4 is a cascading replica"):
        ops.choose_switchover_target(cascading_cluster(pg2=standby(up=False), pg3=standby(up=False)), "pg1", 1 << 30,
                                     replicas.not_synchronous(upstreams=UP))


def test_failover_of_the_upstream_repoints_its_cascading_replica():
    # pg3 was the primary (pg4's upstream) and failed.
    nodes = cascading_cluster(pg1=standby(), pg3=primary(up=False), pg2=standby("0/4000000"))
    plan = ops.failover_plan(nodes, "pg3", "quorum", 1, upstreams=UP)
    assert plan["target"] == "pg1" and plan["repoint"] == ["pg2", "pg4"]
    assert plan["slots"] == ["pg2", "pg3", "pg4"] and plan["sync_standbys"] == ["pg2"]


def test_failover_leaves_a_cascading_replica_whose_upstream_runs():
    nodes = cascading_cluster(pg1=primary(up=False))
    plan = ops.failover_plan(nodes, "pg1", "quorum", 1, upstreams=UP)
    assert plan["target"] == "pg2" and plan["repoint"] == ["pg3"] and plan["cascading"] == ["pg4"]
    assert plan["slots"] == ["pg1", "pg3"]


def test_remove_refuses_an_upstream_and_counts_no_cascading_replica():
    nodes = cascading_cluster()
    addresses = dict((h, "10.0.0.%d" % i) for i, h in enumerate(sorted(nodes), 1))
    with pytest.raises(ops.OperationError, match=r"pg3 streams WAL to pg4 \(pgha_upstream: pg3\)"):
        ops.remove_plan(nodes, "pg1", "pg3", addresses, {}, "quorum", 1, upstreams=UP)
    plan = ops.remove_plan(nodes, "pg1", "pg4", addresses, {}, "quorum", 1, upstreams=UP)
    assert "drop its replication slot on pg1, pg2, pg3" in plan["steps"]
    with pytest.raises(ops.OperationError, match="without pg2, 1 standby"):
        ops.remove_plan(nodes, "pg1", "pg2", addresses, {}, "quorum", 2, upstreams={"pg4": "pg3"})


def test_rolling_reads_a_cascading_replica_on_its_upstream():
    from ansible_collections.pgha.cluster.plugins.module_utils import rolling
    nodes = cascading_cluster(pg4=standby(upstream={"status": "streaming"}))
    plan = rolling.rolling_plan(nodes, "pg1", "restart", upstreams=UP)
    assert plan["sources"] == {"pg4": "pg3"} and plan["standbys"] == ["pg2", "pg3", "pg4"]
    with pytest.raises(rolling.RollingError, match="pg4"):
        rolling.rolling_plan(cascading_cluster(pg4=standby(upstream={"status": "stopping"})), "pg1", "restart",
                             upstreams=UP)


def test_rolling_counts_a_delayed_replica_that_runs_as_a_standby():
    from ansible_collections.pgha.cluster.plugins.module_utils import rolling
    # After a switchover a delayed replica does not stream until it applied what it holds.
    nodes = cascading_cluster(pg4=standby(upstream={"status": None}))
    plan = rolling.rolling_plan(nodes, "pg1", "restart", delayed=DELAYED)
    assert plan["late"] == ["pg4"] and "pg4" in plan["standbys"]
    with pytest.raises(rolling.RollingError, match="pg4"):
        rolling.rolling_plan(cascading_cluster(pg4=standby(up=False)), "pg1", "restart", delayed=DELAYED)
