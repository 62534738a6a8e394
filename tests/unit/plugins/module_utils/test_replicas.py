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
    with pytest.raises(ops.OperationError, match=r"only delayed replicas are left to promote \(pg4, pgha_apply_delay 1h\)"):
        ops.failover_plan(nodes, "pg1", "quorum", 1, delayed=DELAYED, accept_data_loss=True)


GROUPS = {"pgha_postgresql": ["pg1", "pg2", "pg3"]}
SETTINGS = {"pgha_cluster_name": "main", "pgha_postgresql_version": 15, "pgha_sync_count": 1}
SECRETS = {"pgha_replication_password": "x"}


def test_validation_counts_only_standbys_that_can_be_synchronous():
    assert validate_inputs(GROUPS, ["pg1"], SETTINGS, SECRETS, apply_delays={"pg3": "1h", "pg2": None}) == []
    errors = validate_inputs(GROUPS, ["pg1"], dict(SETTINGS, pgha_sync_count=2), SECRETS, apply_delays={"pg3": "1h"})
    assert any("1 standby(s) that can be synchronous (3 database nodes minus the primary and 1 delayed replica(s))"
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
