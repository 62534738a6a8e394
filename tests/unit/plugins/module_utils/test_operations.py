import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import operations as ops


def primary(**kw):
    base = {"up": True, "role": "primary", "system_identifier": "42", "timeline": 1, "current_lsn": "0/5000000",
            "replicas": [{"application_name": "pg2", "state": "streaming", "sync_state": "quorum"},
                         {"application_name": "pg3", "state": "streaming", "sync_state": "quorum"}]}
    base.update(kw)
    return base


def standby(replay="0/5000000", receive=None, **kw):
    base = {"up": True, "role": "standby", "system_identifier": "42", "timeline": 1,
            "replay_lsn": replay, "receive_lsn": receive or replay}
    base.update(kw)
    return base


def cluster(**over):
    nodes = {"pg1": primary(), "pg2": standby(), "pg3": standby()}
    nodes.update(over)
    return nodes


def test_switchover_check_accepts_a_streaming_standby():
    f = ops.switchover_check(cluster(pg2=standby("0/4FFFF00")), "pg1", "pg2", 1 << 20)
    assert f["lag_bytes"] == 0x100 and f["sync_state"] == "quorum" and f["timeline"] == 1


@pytest.mark.parametrize("target, over, fragment", [
    ("pg1", {}, "pg1 is already the primary"),
    ("pg9", {}, "pg9 is not a database node of this cluster (known: pg1, pg2, pg3)"),
    ("pg2", {"pg2": standby(up=False)}, "pg2 is not a running standby"),
    ("pg2", {"pg2": standby(system_identifier="7")}, "another database system"),
    ("pg2", {"pg2": standby("0/1000000")}, "pg2 lags 67108864 bytes behind pg1"),
    ("pg2", {"pg1": primary(replicas=[])}, "pg2 does not stream from pg1 (state on the primary: not connected)"),
    ("pg2", {"pg2": standby(timeline=2)}, "pg2 is on timeline 2, the primary on 1"),
    ("pg2", {"pg1": primary(up=False)}, "pg1 is not a running primary"),
    ("pg2", {"pg2": standby(fenced=True)}, "pg2 is fenced as a former primary (pgha.fenced) and cannot be switched over"),
])
def test_switchover_check_refusals_show_figures(target, over, fragment):
    with pytest.raises(ops.OperationError) as exc:
        ops.switchover_check(cluster(**over), "pg1", target, 1 << 20)
    assert fragment in str(exc.value)


def test_choose_switchover_target_prefers_sync_then_least_lag():
    nodes = cluster(pg2=standby("0/4000000"), pg3=standby("0/4F00000"))
    assert ops.choose_switchover_target(nodes, "pg1", 1 << 30)["target"] == "pg3"
    nodes["pg1"]["replicas"][1]["sync_state"] = "async"
    assert ops.choose_switchover_target(nodes, "pg1", 1 << 30)["target"] == "pg2"


def test_a_fenced_standby_is_neither_the_target_nor_re_pointed():
    """A node that streams with pgha's fenced marker (left by the boot guard) is refused before anything
    changes: site.yml's standby role would refuse to re-point it half-way through the switch."""
    nodes = cluster(pg2=standby(fenced=True))
    with pytest.raises(ops.OperationError) as exc:
        ops.switchover_plan(nodes, "pg1", None, 1 << 30, "quorum", 1)
    assert str(exc.value).startswith("pg2 is fenced as a former primary (pgha.fenced) and cannot be re-pointed to pg3")
    assert "Nothing was changed: run rejoin.yml -e pgha_target=pg2 first" in str(exc.value)
    nodes["pg2"]["fenced"] = False
    plan = ops.switchover_plan(nodes, "pg1", None, 1 << 30, "quorum", 1)
    assert (plan["target"], plan["repoint"]) == ("pg2", ["pg3"])


def test_choose_switchover_target_explains_when_none_fits():
    nodes = cluster(pg2=standby(up=False), pg3=standby("0/1000000"))
    with pytest.raises(ops.OperationError, match="no standby can take over: pg2 is not a running standby.*pg3 lags"):
        ops.choose_switchover_target(nodes, "pg1", 1024)


def test_failover_picks_highest_received_lsn():
    nodes = cluster(pg1={"unreachable": True}, pg2=standby("0/4000000", "0/5000100"), pg3=standby("0/5000000"))
    d = ops.failover_candidate(nodes, "pg1", "quorum", 1, ["pg2", "pg3"])
    assert d["candidate"] == "pg2" and d["lsn"] == "0/5000100" and d["may_miss_commits"] is False


def test_failover_tie_prefers_synchronous_member():
    nodes = cluster(pg1={"up": False}, pg2=standby("0/5000000"), pg3=standby("0/5000000"))
    d = ops.failover_candidate(nodes, "pg1", "priority", 1, ["pg3"])
    assert d["candidate"] == "pg3"


def test_failover_with_a_member_missing_may_lose_commits_under_any_1():
    nodes = cluster(pg1={"up": False}, pg3=standby(up=False))
    d = ops.failover_candidate(nodes, "pg1", "quorum", 1, ["pg2", "pg3"])
    assert d["candidate"] == "pg2" and d["may_miss_commits"] is True
    assert "1 of 2 synchronous members visible (pg2); 2 needed" in d["reason"]


def test_failover_any_1_of_3_needs_three_visible_but_any_2_of_3_needs_two():
    nodes = {"pg1": {"up": False}, "pg2": standby(), "pg3": standby(), "pg4": standby(up=False)}
    members = ["pg2", "pg3", "pg4"]
    assert ops.failover_candidate(nodes, "pg1", "quorum", 1, members)["may_miss_commits"] is True
    assert ops.failover_candidate(nodes, "pg1", "quorum", 2, members)["may_miss_commits"] is False


def test_failover_async_always_may_miss():
    d = ops.failover_candidate(cluster(pg1={"up": False}), "pg1", "off", 1, [])
    assert d["may_miss_commits"] is True and "asynchronous" in d["reason"]


def test_failover_without_standbys_is_refused():
    with pytest.raises(ops.OperationError, match="no running standby to promote"):
        ops.failover_candidate(cluster(pg2=standby(up=False), pg3=standby(up=False)), "pg1", "quorum", 1, ["pg2"])


def test_failover_ignores_foreign_system():
    nodes = cluster(pg2=standby("0/9000000", system_identifier="7"))
    nodes["pg1"]["up"] = False
    assert ops.failover_candidate(nodes, "pg1", "quorum", 1, ["pg2", "pg3"])["candidate"] == "pg3"


@pytest.mark.parametrize("node, targets, fragment", [
    ("pg1", {}, "pg1 is the current primary"),
    ("pg2", {"pg2": ["pooler1"]}, "PgBouncer (pooler1) still sends clients to pg2"),
    ("pg3", {}, "pg3 still runs as a writable primary (timeline 1, LSN 0/6000000)"),
    ("pg9", {}, "pg9 is not a database node"),
])
def test_rejoin_refusals(node, targets, fragment):
    nodes = cluster(pg3=primary(current_lsn="0/6000000", replicas=[]))
    with pytest.raises(ops.OperationError) as exc:
        ops.rejoin_check(nodes, node, "pg1", targets)
    assert fragment in str(exc.value)


def test_rejoin_of_a_stopped_former_primary_is_allowed():
    nodes = cluster(pg3=primary(up=False))
    assert ops.rejoin_check(nodes, "pg3", "pg1", {})["role"] == "primary"


def test_wal_position():
    assert ops.wal_position({"receive_lsn": "0/10", "replay_lsn": "0/8"}) == 0x10
    assert ops.wal_position({"checkpoint_lsn": "1/0"}) == 1 << 32
    assert ops.wal_position({}) is None


ADDR = {"pg1": "10.0.0.11", "pg2": "10.0.0.12", "pg3": "10.0.0.13"}


def test_failed_primary_refuses_a_running_primary_unless_forced():
    with pytest.raises(ops.OperationError, match="pg1 is a running primary .*timeline 1, LSN 0/5000000.*failover refused"):
        ops.failed_primary(cluster(), ADDR, ["10.0.0.11"])
    assert ops.failed_primary(cluster(), ADDR, [], force=True) == "pg1"


def test_failed_primary_is_where_pgbouncer_points():
    nodes = cluster(pg1={"unreachable": True})
    assert ops.failed_primary(nodes, ADDR, ["10.0.0.11"]) == "pg1"


def test_failed_primary_from_standbys_when_no_pooler():
    nodes = cluster(pg1={"up": False, "role": "primary"}, pg2=standby(primary_conninfo={"host": "10.0.0.11"}),
                    pg3=standby(primary_conninfo={"host": "10.0.0.11"}))
    assert ops.failed_primary(nodes, ADDR, []) == "pg1"


def test_failed_primary_unknown():
    nodes = cluster(pg1={"up": False})
    with pytest.raises(ops.OperationError, match="cannot tell which node was the primary"):
        ops.failed_primary(nodes, ADDR, [])


def test_failover_plan_fences_reachable_by_stopping():
    nodes = cluster(pg1={"up": False, "role": "primary", "system_identifier": "42"})
    plan = ops.failover_plan(nodes, "pg1", "quorum", 1)
    assert plan["fence"] == "stop" and plan["target"] in ("pg2", "pg3") and plan["primary"] == "pg1"
    assert plan["followers"] == sorted(set(["pg1", "pg2", "pg3"]) - {plan["target"]})


def test_failover_plan_unreachable_needs_fencing_command_or_consent():
    nodes = cluster(pg1={"unreachable": True})
    with pytest.raises(ops.OperationError, match="pg1 cannot be reached to stop it and no fencing command"):
        ops.failover_plan(nodes, "pg1", "quorum", 1)
    assert ops.failover_plan(nodes, "pg1", "quorum", 1, fence_command=True)["fence"] == "command"
    assert ops.failover_plan(nodes, "pg1", "quorum", 1, accept_unfenced=True)["fence"] == "none"


def test_failover_plan_refuses_possible_loss_unless_accepted():
    nodes = cluster(pg1={"unreachable": True}, pg3=standby(up=False))
    with pytest.raises(ops.OperationError, match="may be missing acknowledged commits: 1 of 2"):
        ops.failover_plan(nodes, "pg1", "quorum", 1, fence_command=True)
    assert ops.failover_plan(nodes, "pg1", "quorum", 1, fence_command=True, accept_data_loss=True)["target"] == "pg2"


def test_rejoin_plan_finds_nodes_not_streaming_from_the_primary():
    nodes = cluster(pg1=primary(up=False), pg2=primary(replicas=[]),
                    pg3=standby(upstream={"status": "streaming", "host": "10.0.0.12"}))
    plan = ops.rejoin_plan(nodes, ADDR, {"pooler1": "10.0.0.12"})
    assert plan["primary"] == "pg2" and plan["repoint"] == ["pg1"]


def test_rejoin_plan_takes_a_streaming_node_the_boot_guard_fenced():
    """Its marker would make the next switchover refuse to restart it as a standby."""
    nodes = cluster(pg1=standby(fenced=True, upstream={"status": "streaming", "host": "10.0.0.12"}),
                    pg2=primary(replicas=[]), pg3=standby(upstream={"status": "streaming", "host": "10.0.0.12"}))
    assert ops.rejoin_plan(nodes, ADDR, {"pooler1": "10.0.0.12"})["repoint"] == ["pg1"]


def test_rejoin_plan_refuses_the_primary_and_split_brain():
    nodes = cluster()
    with pytest.raises(ops.OperationError, match="pg1 is the current primary"):
        ops.rejoin_plan(nodes, ADDR, {}, target="pg1")
    with pytest.raises(ops.OperationError, match="2 writable primaries .pg1, pg2. and PgBouncer uses none of them"):
        ops.rejoin_plan(cluster(pg2=primary()), ADDR, {}, target="pg2")
    with pytest.raises(ops.OperationError, match="pg2 is the current primary"):
        ops.rejoin_plan(cluster(pg2=primary()), ADDR, {"pooler1": "10.0.0.12"}, target="pg2")


def test_rejoin_plan_stops_a_stray_primary_pgbouncer_does_not_use():
    plan = ops.rejoin_plan(cluster(pg2=primary()), ADDR, {"pooler1": "10.0.0.11"}, target="pg2")
    assert plan["primary"] == "pg1" and plan["stray"] == ["pg2"]


# --- No flag ever leads to two writable primaries -------------------------------------------

FLAGS = [dict(force=f, accept_unfenced=u, accept_data_loss=d, fence_command=c)
         for f in (False, True) for u in (False, True) for d in (False, True) for c in (False, True)]


def _plan(nodes, named, flags, pooler_targets=()):
    failed = ops.failed_primary(nodes, ADDR, list(pooler_targets), flags["force"], named=named)
    return ops.failover_plan(nodes, failed, "quorum", 1, flags["fence_command"], flags["accept_unfenced"],
                             flags["accept_data_loss"])


@pytest.mark.parametrize("flags", FLAGS)
def test_naming_a_standby_while_the_primary_runs_is_refused_with_every_flag(flags):
    # The report of the issue: pg2 a healthy writable primary, -e pgha_failed=pg3.
    nodes = cluster(pg1=standby(upstream={"status": "streaming", "host": "10.0.0.12"}),
                    pg2=primary(replicas=[]), pg3=standby(upstream={"status": "streaming", "host": "10.0.0.12"}))
    with pytest.raises(ops.OperationError) as exc:
        _plan(nodes, "pg3", flags, ["10.0.0.12"])
    text = str(exc.value)
    assert "pg2 is a running writable primary, not pg3" in text
    assert "Topology: pg1 standby timeline 1 LSN 0/5000000 (streaming from 10.0.0.12); pg2 primary" in text


@pytest.mark.parametrize("flags", FLAGS)
def test_two_running_primaries_are_refused_with_every_flag(flags):
    nodes = cluster(pg2=primary(replicas=[]))
    for named in (None, "pg1", "pg2", "pg3"):
        with pytest.raises(ops.OperationError, match="writable primar"):
            _plan(nodes, named, flags)


@pytest.mark.parametrize("flags", FLAGS)
def test_failover_plan_itself_refuses_another_running_primary(flags):
    # Even when called with a failed node directly, another writable primary stops it.
    nodes = cluster(pg1={"unreachable": True}, pg2=primary(replicas=[]))
    with pytest.raises(ops.OperationError, match="pg2 answer.s. as a writable primary besides pg1"):
        ops.failover_plan(nodes, "pg1", "quorum", 1, flags["fence_command"], flags["accept_unfenced"],
                          flags["accept_data_loss"])


@pytest.mark.parametrize("named, nodes, fragment", [
    ("pg3", cluster(pg1={"unreachable": True}), "pgha_failed=pg3 names a running standby"),
    ("pg9", cluster(pg1={"unreachable": True}), "pgha_failed=pg9 is not a database node of this cluster"),
    ("pg2", cluster(pg1={"unreachable": True}, pg2={"unreachable": True}),
     "pgha_failed=pg2 is not the primary: PgBouncer and the standbys use pg1"),
    ("pg1", cluster(), "pg1 is a running primary (timeline 1, LSN 0/5000000): failover refused"),
])
def test_a_named_failed_node_must_be_the_primary(named, nodes, fragment):
    with pytest.raises(ops.OperationError) as exc:
        ops.failed_primary(nodes, ADDR, ["10.0.0.11"], named=named)
    assert fragment in str(exc.value)
    assert "Topology:" in str(exc.value) or "not a database node" in str(exc.value)


def test_a_named_unreachable_primary_is_accepted_and_forced_only_for_itself():
    nodes = cluster(pg1={"unreachable": True})
    assert ops.failed_primary(nodes, ADDR, ["10.0.0.11"], named="pg1") == "pg1"
    assert ops.failed_primary(cluster(), ADDR, ["10.0.0.11"], force=True, named="pg1") == "pg1"


@pytest.mark.parametrize("nodes, mode, k, expected", [
    # k equal to the number of standbys: the failed node and the candidate are left out, k capped.
    (cluster(pg1={"unreachable": True}), "quorum", 2, (["pg3"], 1, 1)),
    ({"pg1": {"unreachable": True}, "pg2": standby()}, "quorum", 1, ([], 0, 1)),
    (cluster(pg1={"up": False}, pg3=standby(up=False)), "priority", 1, ([], 0, 1)),
    (cluster(pg1={"up": False}), "quorum", 1, (["pg3"], 1, 0)),
    (cluster(pg1={"up": False}), "off", 1, (["pg3"], 0, 0)),
])
def test_synchronous_set_after_failover_counts_live_members_only(nodes, mode, k, expected):
    standbys, count, warnings = ops.synchronous_set_after_failover(nodes, "pg1", "pg2", mode, k)
    assert (standbys, count, len(warnings)) == expected


def test_failover_plan_caps_k_and_turns_sync_off_when_nobody_is_left():
    nodes = {"pg1": {"unreachable": True}, "pg2": standby()}
    plan = ops.failover_plan(nodes, "pg1", "quorum", 1, fence_command=True, accept_data_loss=True)
    assert plan["sync_mode"] == "off" and plan["sync_count"] == 0 and plan["sync_standbys"] == []
    assert "no synchronous standby" in plan["warnings"][0]
    plan = ops.failover_plan(cluster(pg1={"unreachable": True}), "pg1", "quorum", 2, fence_command=True)
    assert plan["sync_mode"] == "quorum" and plan["sync_count"] == 1 and plan["sync_standbys"] == ["pg3"]


@pytest.mark.parametrize("plan, fenced, rc, ok, fragment", [
    ({"fence": "stop", "primary": "pg1"}, {"fenced": True, "how": "clean stop"}, None, True, "clean stop"),
    ({"fence": "stop", "primary": "pg1"}, {"fenced": False, "msg": "NOT fenced"}, None, False, "NOT fenced"),
    ({"fence": "stop", "primary": "pg1"}, {"unreachable": True}, None, False, "unreachable"),
    ({"fence": "stop", "primary": "pg1"}, {}, None, False, "did not confirm"),
    ({"fence": "command", "primary": "pg1"}, {}, 0, True, "exited 0"),
    ({"fence": "command", "primary": "pg1"}, {}, 1, False, "exited 1"),
    ({"fence": "command", "primary": "pg1"}, {}, None, False, "did not run"),
    ({"fence": "none", "primary": "pg1"}, {}, None, True, "pgha_accept_unfenced"),
    ({"fence": "bogus", "primary": "pg1"}, {}, 0, False, "unknown fencing method"),
])
def test_fence_gate(plan, fenced, rc, ok, fragment):
    result, how = ops.fence_confirmed(plan, fenced, rc)
    assert result is ok and fragment in how


def test_rejoin_plan_three_node_layout_repoints_the_returning_nodes_own_pgbouncer():
    """pg1 failed over to pg2 and came back read-only; its own PgBouncer still
    points at it: that does not block the rejoin, it is switched first."""
    nodes = cluster(pg1=standby(fenced=True, up=True, upstream=None), pg2=primary(replicas=[]),
                    pg3=standby(upstream={"status": "streaming", "host": "10.0.0.12"}))
    targets = {"pg1": "10.0.0.11", "pg2": "10.0.0.12", "pg3": "10.0.0.12"}
    plan = ops.rejoin_plan(nodes, ADDR, targets)
    assert plan["repoint"] == ["pg1"] and plan["repoint_poolers"] == ["pg1"]
    # Another host's PgBouncer sending clients to pg1 still blocks it.
    with pytest.raises(ops.OperationError, match=r"PgBouncer \(pg3\) still sends clients to pg1"):
        ops.rejoin_plan(nodes, ADDR, dict(targets, pg3="10.0.0.11"))
    # A writable pg1 its own PgBouncer uses is a split brain: refused.
    with pytest.raises(ops.OperationError, match="2 writable primaries"):
        ops.rejoin_plan(cluster(pg2=primary(replicas=[])), ADDR, dict(targets, pg3="10.0.0.11"))
    # Unreachable PgBouncers report no target.
    assert ops.rejoin_plan(nodes, ADDR, dict(targets, pg1=""))["repoint_poolers"] == []


PATRONI_OK = {"state": "streaming", "role": "replica", "pause": True, "timeline": 1, "tags": {}}


def test_half_way_through_a_change_of_mode_nothing_is_decided():
    # Patroni on pg2, pg3 up without it: two engines could each pick a primary.
    nodes = cluster(pg2=standby(supervisor="patroni", patroni=PATRONI_OK), pg1={"unreachable": True})
    with pytest.raises(ops.OperationError, match="Patroni runs on pg2 but not on pg3 .*site.yml"):
        ops.failover_plan(nodes, "pg1", "quorum", 1, fence_command=True)
    with pytest.raises(ops.OperationError, match="Patroni runs on pg3 but not on pg1, pg2"):
        ops.rejoin_plan(cluster(pg3=standby(supervisor="patroni")), ADDR, {})
    assert ops.engine_of(cluster()) == "pgha" and ops.patroni_nodes(cluster()) == []
    # The node an operation replaces does not count.
    assert ops.engine_of(cluster(pg2=standby(supervisor="patroni"), pg3=standby(supervisor="patroni")),
                         ignore=("pg1",)) == "patroni"


def patroni_cluster(**over):
    nodes = {"pg1": {"unreachable": True},
             "pg2": standby("0/5000000", supervisor="patroni", patroni=dict(PATRONI_OK)),
             "pg3": standby("0/4000000", supervisor="patroni", patroni=dict(PATRONI_OK))}
    nodes.update(over)
    return nodes


def test_failover_behind_patroni_keeps_pghas_choice_and_fence():
    plan = ops.failover_plan(patroni_cluster(), "pg1", "quorum", 1, fence_command=True)
    assert plan["engine"] == "patroni" and plan["target"] == "pg2" and plan["fence"] == "command"
    # Unreachable and no fencing command: refused as in manual mode.
    with pytest.raises(ops.OperationError, match="pgha_fence_command"):
        ops.failover_plan(patroni_cluster(), "pg1", "quorum", 1)
    # The candidate's Patroni must answer and may not carry nofailover.
    down = patroni_cluster(pg2=standby("0/5000000", supervisor="patroni", patroni={"error": "URLError: refused"}))
    with pytest.raises(ops.OperationError, match="pg2 is the most advanced standby but its Patroni does not answer"):
        ops.failover_plan(down, "pg1", "quorum", 1, fence_command=True)
    tagged = patroni_cluster(pg2=standby("0/5000000", supervisor="patroni",
                                         patroni=dict(PATRONI_OK, tags={"nofailover": True})))
    with pytest.raises(ops.OperationError, match="nofailover"):
        ops.failover_plan(tagged, "pg1", "quorum", 1, fence_command=True)
    starting = patroni_cluster(pg2=standby("0/5000000", supervisor="patroni", patroni=dict(PATRONI_OK, state="starting")))
    with pytest.raises(ops.OperationError, match="Patroni reports it starting"):
        ops.failover_plan(starting, "pg1", "quorum", 1, fence_command=True)
    # Patroni already promoted someone: a running primary besides the failed one is never joined by another.
    promoted = patroni_cluster(pg2=primary(supervisor="patroni", patroni=dict(PATRONI_OK, role="master")))
    with pytest.raises(ops.OperationError, match="pg2 is a running primary"):
        ops.failover_plan(promoted, ops.failed_primary(promoted, ADDR, [], force=False), "quorum", 1,
                          fence_command=True)


def test_failover_behind_patroni_trusts_the_standby_patroni_recorded_as_synchronous():
    view = dict(PATRONI_OK, synchronous=["pg2"], quorum=False)
    nodes = patroni_cluster(pg2=standby("0/5000000", supervisor="patroni", patroni=view),
                            pg3={"unreachable": True})
    # pgha's own quorum rule (ANY 1 of pg2, pg3) needs both visible; Patroni 3 named pg2, which has every commit.
    with pytest.raises(ops.OperationError, match="may be missing acknowledged commits"):
        ops.failover_plan(dict(nodes, pg2=standby("0/5000000", supervisor="patroni", patroni=PATRONI_OK)),
                          "pg1", "quorum", 1, fence_command=True)
    plan = ops.failover_plan(nodes, "pg1", "quorum", 1, fence_command=True)
    assert plan["target"] == "pg2" and not plan["may_miss_commits"]
    assert plan["reason"].startswith("Patroni recorded pg2 as synchronous")
    # The recorded one is not visible (pg3 named, unreachable): refused.
    nodes["pg2"]["patroni"] = dict(view, synchronous=["pg3"])
    with pytest.raises(ops.OperationError, match="may be missing acknowledged commits"):
        ops.failover_plan(nodes, "pg1", "quorum", 1, fence_command=True)
    # Under Patroni 4's quorum commit pgha's own quorum rule applies.
    nodes["pg2"]["patroni"] = dict(view, quorum=True)
    with pytest.raises(ops.OperationError, match="may be missing acknowledged commits"):
        ops.failover_plan(nodes, "pg1", "quorum", 1, fence_command=True)


def test_rejoin_behind_patroni_starts_patroni_on_the_fenced_node():
    nodes = cluster(pg1={"up": False, "role": "primary", "fenced": True, "system_identifier": "42", "timeline": 1},
                    pg2=primary(supervisor="patroni", replicas=[]),
                    pg3=standby(supervisor="patroni", upstream={"status": "streaming", "host": "10.0.0.12"}))
    plan = ops.rejoin_plan(nodes, ADDR, {"pooler1": ""})
    assert plan["engine"] == "patroni" and plan["repoint"] == ["pg1"] and plan["primary"] == "pg2"
    # Paused, Patroni starts no server: refused, naming the fix.
    nodes["pg2"]["patroni"] = dict(PATRONI_OK, pause=True)
    with pytest.raises(ops.OperationError, match="Patroni is paused .* as pg2 report.*resume"):
        ops.rejoin_plan(nodes, ADDR, {"pooler1": ""})


def test_patroni_switches_over_only_to_a_synchronous_standby():
    nodes = cluster(pg1=primary(replicas=[{"application_name": "pg2", "state": "streaming", "sync_state": "async"},
                                          {"application_name": "pg3", "state": "streaming", "sync_state": "sync"}]))
    plan = ops.switchover_check(nodes, "pg1", "pg2", 1 << 20)
    with pytest.raises(ops.OperationError, match="pg2 is not a synchronous standby .* choose pg3"):
        ops.patroni_switchover_check(plan, nodes, "pg1", "priority")
    assert ops.patroni_switchover_check(plan, nodes, "pg1", "off") is plan
    best = ops.choose_switchover_target(nodes, "pg1", 1 << 20)
    assert ops.patroni_switchover_check(best, nodes, "pg1", "quorum")["target"] == "pg3"


PLAN_KEYS = {"operation", "engine", "primary", "target", "repoint", "steps"}


@pytest.mark.parametrize("operation, make, primary_, target, repoint", [
    ("switchover", lambda: ops.switchover_plan(cluster(pg3=standby("0/4000000")), "pg1", None, 1 << 30, "quorum", 1),
     "pg1", "pg2", ["pg3"]),
    ("switchover", lambda: ops.switchover_plan(cluster(), "pg1", "pg3", 1 << 30, "priority", 1), "pg1", "pg3", ["pg2"]),
    ("failover", lambda: ops.failover_plan(cluster(pg1=primary(up=False), pg3=standby("0/4000000")), "pg1", "quorum", 1),
     "pg1", "pg2", ["pg3"]),
    ("rejoin", lambda: ops.rejoin_plan(cluster(pg1=primary(up=False), pg2=primary(replicas=[]),
                                               pg3=standby(upstream={"status": "streaming", "host": "10.0.0.12"})),
                                       ADDR, {"pooler1": "10.0.0.12"}), "pg2", "pg2", ["pg1"]),
])
def test_every_plan_has_one_shape(operation, make, primary_, target, repoint):
    """primary: where the operation starts; target: the primary when it is done; repoint: who follows it."""
    plan = make()
    assert PLAN_KEYS <= set(plan), sorted(PLAN_KEYS - set(plan))
    assert (plan["operation"], plan["engine"], plan["primary"], plan["target"], plan["repoint"]) == (
        operation, "pgha", primary_, target, repoint)
    assert plan["steps"] and all(isinstance(s, str) for s in plan["steps"])
    assert "candidate" not in plan and "failed" not in plan and "rejoin" not in plan


def test_failover_plan_steps_name_the_fence_the_candidate_and_the_synchronous_set():
    plan = ops.failover_plan(cluster(pg1=primary(up=False)), "pg1", "quorum", 1)
    assert plan["steps"][0] == "fence pg1: stop it over SSH (pg_fence)"
    assert plan["steps"][1].startswith("promote pg2 at 0/5000000 (")
    assert plan["steps"][-1] == "synchronous replication on the new primary: quorum 1 of pg3"


def test_switchover_plan_behind_patroni_repoints_nothing_and_cascades_the_asynchronous():
    view = {"synchronous": ["pg2"], "state": "running"}
    nodes = cluster(pg1=primary(supervisor="patroni", patroni=dict(view, role="leader")),
                    pg2=standby(supervisor="patroni", patroni=view), pg3=standby(supervisor="patroni", patroni=view))
    plan = ops.switchover_plan(nodes, "pg1", "pg2", 1 << 30, "priority", 1)
    assert (plan["engine"], plan["repoint"], plan["cascade"], plan["streaming_only"]) == (
        "patroni", [], ["pg3"], ["pg2", "pg3"])
    assert any("POST /switchover" in s for s in plan["steps"])


ADDRESSES = {"pg1": "10.0.0.11", "pg2": "10.0.0.12", "pg3": "10.0.0.13"}


def test_remove_plan_keeps_the_others_and_orders_the_steps():
    plan = ops.remove_plan(cluster(), "pg1", "pg3", ADDRESSES, {"pooler1": "10.0.0.11"}, "quorum", 1, poolers=["pooler1"])
    assert plan["operation"] == "remove" and plan["node"] == "pg3" and plan["repoint"] == ["pg2"]
    assert plan["steps"][0].startswith("take pg3 out of synchronous_standby_names on pg1")
    assert plan["steps"][-1] == "then remove pg3 from the inventory and run site.yml"
    assert plan["streaming"] is True and plan["address"] == "10.0.0.13"


@pytest.mark.parametrize("target, kwargs, fragment", [
    ("pg9", {}, "pg9 is not a database node of this inventory"),
    ("pg1", {}, "pg1 is the primary: switch over first"),
    ("pg2", {"poolers": ["pg2"]}, "pg2 is also a PgBouncer host"),
    ("pg2", {"pooler_targets": {"pooler1": "10.0.0.12"}}, "PgBouncer pooler1 sends clients to pg2"),
    ("pg2", {"sync_count": 2}, "without pg2, 1 standby(s) stream from pg1 (pg3) and pgha_sync_count is 2"),
])
def test_remove_plan_refusals(target, kwargs, fragment):
    args = dict({"pooler_targets": {}, "sync_mode": "quorum", "sync_count": 1, "poolers": []}, **kwargs)
    with pytest.raises(ops.OperationError) as exc:
        ops.remove_plan(cluster(), "pg1", target, ADDRESSES, args["pooler_targets"], args["sync_mode"], args["sync_count"],
                        poolers=args["poolers"])
    assert fragment in str(exc.value)


def test_remove_plan_without_synchronous_replication_may_leave_no_standby():
    nodes = {"pg1": primary(replicas=[{"application_name": "pg2", "state": "streaming"}]), "pg2": standby()}
    plan = ops.remove_plan(nodes, "pg1", "pg2", ADDRESSES, {}, "off", 1)
    assert plan["repoint"] == []


STREAMING = {"status": "streaming", "host": "10.0.0.1"}


def automatic(**over):
    nodes = {"pg1": primary(supervisor="patroni", patroni_config=True),
             "pg2": standby(supervisor="patroni", patroni_config=True, upstream=dict(STREAMING)),
             "pg3": standby(supervisor="patroni", patroni_config=True, upstream=dict(STREAMING))}
    nodes.update(over)
    return nodes


def test_handback_plan_hands_the_standbys_back_first_and_the_primary_last():
    plan = ops.handback_plan(automatic(), "manual")
    assert plan["operation"] == "handback" and plan["primary"] == "pg1"
    assert plan["order"] == ["pg2", "pg3", "pg1"] and plan["pause"] and plan["patroni"] == ["pg1", "pg2", "pg3"]
    assert plan["steps"][0] == "pause Patroni (pg1, pg2, pg3)"
    assert plan["steps"].index("PgBouncer straight to pg1 instead of through HAProxy") \
        < plan["steps"].index("hand pg1 back to systemd (the primary, restarted with PgBouncer paused)")


def test_handback_plan_resumes_a_run_cut_short():
    # pg2 was handed back (no Patroni, pgha's configuration); pg3's Patroni was stopped but its
    # configuration is still Patroni's; the primary still runs Patroni.
    nodes = automatic(pg2=standby(upstream=dict(STREAMING)),
                      pg3=standby(patroni_config=True, upstream=dict(STREAMING)))
    plan = ops.handback_plan(nodes, "manual")
    assert plan["order"] == ["pg3", "pg1"] and plan["patroni"] == ["pg1"] and plan["pause"]
    # Everything handed back: nothing left but site.yml.
    done = {"pg1": primary(), "pg2": standby(upstream=dict(STREAMING)), "pg3": standby(upstream=dict(STREAMING))}
    plan = ops.handback_plan(done, "manual")
    assert plan["order"] == [] and not plan["pause"] and plan["steps"] == ["site.yml in manual mode"]


@pytest.mark.parametrize("mode, over, fragment", [
    ("automatic", {}, "set pgha_failover_mode: manual in the inventory first"),
    ("manual", {"pg3": {"unreachable": True}}, "pg3 (unreachable) is not: start it"),
    ("manual", {"pg2": standby(up=False), "pg3": standby(up=False)}, "pg2 (PostgreSQL down), pg3 (PostgreSQL down) are"),
    ("manual", {"pg2": standby(fenced=True, upstream=dict(STREAMING))}, "pg2 is fenced (pgha.fenced): rejoin it first"),
    ("manual", {"pg2": primary()}, "exactly one running primary, found 2 (pg1, pg2)"),
    ("manual", {"pg3": standby(upstream={"status": "catchup"})}, "pg3 (catchup) does not"),
    ("manual", {"pg3": standby()}, "pg3 (no WAL receiver) does not"),
])
def test_handback_plan_refusals_name_the_nodes(mode, over, fragment):
    with pytest.raises(ops.OperationError) as exc:
        ops.handback_plan(automatic(**over), mode)
    assert fragment in str(exc.value)
