"""status.yml's verdict: healthy, degraded or down, with the reasons."""
import pytest

from ansible_collections.pgha.cluster.plugins.module_utils.status import (
    archive_status, build_status, render_table, report_epoch)

NOW = 1800000000
ADDR = {"pg1": "10.0.0.1", "pg2": "10.0.0.2", "pg3": "10.0.0.3", "pooler1": "10.0.0.9"}
STREAMING = {"status": "streaming", "host": "10.0.0.1"}


def nodes(**changes):
    base = {
        "pg1": {"up": True, "role": "primary", "timeline": 1, "current_lsn": "0/5000000",
                "synchronous_standby_names": 'ANY 1 ("pg2", "pg3")',
                "archiver": {"archive_mode": "on", "last_archived_wal": "000000010000000000000004",
                             "last_archived_time": NOW - 60, "last_failed_time": None},
                "replicas": [{"application_name": "pg2", "sync_state": "quorum", "replay_lag_bytes": 0},
                             {"application_name": "pg3", "sync_state": "quorum", "replay_lag_bytes": 0}]},
        "pg2": {"up": True, "role": "standby", "timeline": 1, "replay_lsn": "0/5000000", "upstream": STREAMING},
        "pg3": {"up": True, "role": "standby", "timeline": 1, "replay_lsn": "0/5000000", "upstream": STREAMING},
    }
    for host, change in changes.items():
        base[host] = dict(base[host], **change) if change is not None else {"unreachable": True}
    return base


BOUNCER = {"pooler1": {"active": True, "target": "10.0.0.1", "serving": "writes", "listen_port": 6432}}
EXPECT = {"sync_mode": "quorum", "sync_count": 1, "now": NOW}


def repo(stop_time, gaps=()):
    return {"item": 1, "backups": [{"label": "F1", "type": "full", "stop_time": stop_time - 86400},
                                   {"label": "D2", "type": "diff", "stop_time": stop_time}],
            "window": {"continuous": not gaps, "oldest_backup": "F1", "gaps": list(gaps)}, "description": "ok"}


def status(node_changes=None, bouncers=None, archives=None, **expect):
    return build_status(nodes(**(node_changes or {})), ADDR, BOUNCER if bouncers is None else bouncers,
                        archive_status(archives or []), dict(EXPECT, **expect))


def test_healthy():
    s = status(archives=[repo(NOW - 3600)])
    assert (s["verdict"], s["reasons"], s["healthy"]) == ("healthy", [], True)


@pytest.mark.parametrize("changes, fragment", [
    ({"pg3": {"upstream": {"status": "waiting"}}}, "standby pg3 does not stream"),
    ({"pg3": {"upstream": None}}, "standby pg3 does not stream"),
    ({"pg2": None}, "database node pg2 cannot be reached"),
    ({"pg2": {"up": False}}, "standby pg2 is not running"),
])
def test_a_standby_that_does_not_stream_degrades(changes, fragment):
    s = status(changes)
    assert s["verdict"] == "degraded" and any(fragment in r for r in s["reasons"]), s["reasons"]


def test_a_fenced_node_degrades_even_when_it_streams():
    s = status({"pg3": {"fenced": True}})
    assert s["verdict"] == "degraded" and [n["fenced"] for n in s["nodes"]] == [False, False, True]
    assert s["reasons"] == ["pg3 is fenced as a former primary (pgha.fenced, timeline 1): site.yml, switchover.yml and "
                            "rolling.yml refuse to re-point it until it is rejoined: run rejoin.yml -e pgha_target=pg3"]


def test_fewer_synchronous_standbys_than_k_degrades():
    replicas = [{"application_name": "pg2", "sync_state": "quorum"}, {"application_name": "pg3", "sync_state": "async"}]
    assert status({"pg1": {"replicas": replicas}})["verdict"] == "healthy"
    s = status({"pg1": {"replicas": replicas}}, sync_count=2)
    assert s["verdict"] == "degraded"
    assert "1 synchronous standby(s) (pg2) where quorum needs 2" in s["reasons"][0]
    assert status({"pg1": {"replicas": replicas}}, sync_count=2, sync_mode="off")["verdict"] == "healthy"


def test_archiving_that_fails_degrades_with_the_figures():
    archiver = {"archive_mode": "on", "last_archived_wal": "000000010000000000000004", "last_archived_time": NOW - 7200,
                "last_failed_wal": "000000010000000000000005", "last_failed_time": NOW - 30}
    s = status({"pg1": {"archiver": archiver}})
    assert s["verdict"] == "degraded"
    assert s["reasons"] == ["archiving fails on pg1: WAL 000000010000000000000005 failed 0.0 h ago (last success: "
                            "000000010000000000000004, 2.0 h ago); WAL piles up in pg_wal until it works again"]
    # A failure followed by a success is over.
    recovered = dict(archiver, last_archived_time=NOW - 10)
    assert status({"pg1": {"archiver": recovered}})["verdict"] == "healthy"
    # No archiving configured: nothing to fail.
    assert status({"pg1": {"archiver": dict(archiver, archive_mode="off")}})["verdict"] == "healthy"


def test_an_old_backup_degrades():
    s = status(archives=[repo(NOW - 40 * 3600)])
    assert s["verdict"] == "degraded"
    assert s["reasons"][0].startswith("repo1: the newest backup (D2, diff) is 40.0 h old, more than 36.0 h")
    assert status(archives=[repo(NOW - 40 * 3600)], backup_max_age_hours=48)["verdict"] == "healthy"


def test_a_failed_or_old_drill_degrades_and_a_missing_one_warns():
    recent = {"started": "2027-01-15 08:00:00.000000+00", "passed": True, "host": "drill1"}
    now = report_epoch(recent) + 3600
    assert status(drill=recent, now=now)["verdict"] == "healthy"
    failed = dict(recent, passed=False)
    assert "the latest restore drill (2027-01-15 08:00:00.000000+00 on drill1) failed" in \
        status(drill=failed, now=now)["reasons"][0]
    old = status(drill=recent, now=now + 9 * 86400)
    assert old["verdict"] == "degraded" and "days old, more than 8" in old["reasons"][0]
    never = status(archives=[repo(NOW - 60)], drill_hosts=True)
    assert never["verdict"] == "healthy" and any("no restore drill on record" in w for w in never["warnings"])


@pytest.mark.parametrize("changes, bouncers, fragment", [
    ({"pg1": {"up": False}}, None, "0 writable primaries (none)"),
    ({"pg2": {"role": "primary", "current_lsn": "0/6000000"}}, None, "2 writable primaries (pg1, pg2)"),
    ({}, {"pooler1": {"active": True, "target": "10.0.0.1", "serving": "stalled"}}, "no PgBouncer routes writes"),
])
def test_down_when_clients_cannot_write(changes, bouncers, fragment):
    s = status(changes, bouncers)
    assert s["verdict"] == "down" and any(fragment in r for r in s["reasons"]), s["reasons"]


def test_one_pooler_of_three_misrouted_is_degraded_not_down():
    bouncers = {"pg1": {"active": True, "target": "10.0.0.1", "serving": "writes"},
                "pg2": {"active": True, "target": "10.0.0.2", "serving": "read-only"},
                "pg3": {"active": True, "target": "10.0.0.1", "serving": "writes"}}
    s = status(bouncers=bouncers)
    assert s["verdict"] == "degraded" and "PgBouncer pg2 sends clients to pg2" in s["reasons"][0]


def test_report_epoch():
    assert report_epoch({"started": "1970-01-02 00:00:00.500000+00"}) == 86400.5
    assert report_epoch({}) is None


def test_unset_expectations_take_their_defaults():
    assert status(archives=[repo(NOW - 40 * 3600)], backup_max_age_hours=None)["verdict"] == "degraded"


def test_failover_mode_is_reported():
    manual = status(archives=[repo(NOW - 3600)])
    assert manual["failover"] == {"mode": "manual", "patroni": [], "paused": [], "synchronous": None, "etcd": None,
                                  "dcs_unseen": {}}
    assert "failover: manual (playbooks/failover.yml)" in render_table(manual)
    changes = dict((h, {"supervisor": "patroni"}) for h in ("pg1", "pg2", "pg3"))
    auto = status(changes, archives=[repo(NOW - 3600)])
    assert auto["failover"] == {"mode": "automatic", "patroni": ["pg1", "pg2", "pg3"], "paused": [],
                                "synchronous": None, "etcd": None, "dcs_unseen": {}}
    assert auto["verdict"] == "healthy", auto["reasons"]
    assert "failover: automatic (Patroni runs on pg1, pg2, pg3)" in render_table(auto)


def test_a_running_node_patroni_does_not_watch_degrades():
    changes = {"pg1": {"supervisor": "patroni"}, "pg2": {"supervisor": "patroni"}}
    s = status(changes, archives=[repo(NOW - 3600)])
    assert s["verdict"] == "degraded"
    assert any("Patroni does not run on pg3" in r for r in s["reasons"]), s["reasons"]


def etcd_seen(pg1=True, pg2=True, pg3=True, seen_ago=1):
    """A Patroni view as pg_node_info reports it: each etcd member's health as asked from that node."""
    members = {"10.0.0.1:2379": pg1, "10.0.0.2:2379": pg2, "10.0.0.3:2379": pg3}
    return {"supervisor": "patroni", "patroni": {"state": "running", "etcd": members, "dcs_seen_ago": seen_ago}}


def test_etcd_members_are_named_and_healthy_when_any_node_sees_them_so():
    # pg3 is cut off: it sees no member, the others see all three.
    cut = etcd_seen("URLError: timed out", "URLError: timed out", "URLError: timed out", seen_ago=3)
    s = status({"pg1": etcd_seen(), "pg2": etcd_seen(), "pg3": cut}, archives=[repo(NOW - 3600)])
    assert s["failover"]["etcd"] == {"members": {"pg1": True, "pg2": True, "pg3": True}, "healthy": 3, "total": 3}
    assert s["verdict"] == "healthy", s["reasons"]
    assert "etcd: 3 of 3 members healthy" in render_table(s)


def test_one_etcd_member_down_degrades_and_says_what_one_more_loss_does():
    down = "URLError: [Errno 111] Connection refused"
    s = status(dict((h, etcd_seen(pg3=down)) for h in ("pg1", "pg2", "pg3")), archives=[repo(NOW - 3600)])
    assert s["verdict"] == "degraded"
    assert any(r.startswith("etcd: 2 of 3 members answer healthy (pg3: %s (from pg1))" % down)
               and "one more loss" in r for r in s["reasons"]), s["reasons"]
    assert "etcd: 2 of 3 members healthy (pg3 DOWN)" in render_table(s)


def test_etcd_without_a_majority_is_reported_as_lost_quorum():
    down = "URLError: timed out"
    s = status(dict((h, etcd_seen(pg2=down, pg3=down)) for h in ("pg1", "pg2", "pg3")), archives=[repo(NOW - 3600)])
    assert any(r.startswith("etcd has lost its quorum: 1 of 3 members answer healthy") for r in s["reasons"]), \
        s["reasons"]


def test_a_patroni_that_has_not_reached_etcd_for_long_is_named():
    s = status({"pg1": etcd_seen(), "pg2": etcd_seen(), "pg3": etcd_seen(seen_ago=25)}, archives=[repo(NOW - 3600)])
    assert s["failover"]["dcs_unseen"] == {"pg3": 25}
    assert any(r.startswith("Patroni on pg3 last reached etcd 25 s ago") for r in s["reasons"]), s["reasons"]


def lagging(pg3_lag):
    primary = nodes()["pg1"]
    replicas = [{"application_name": "pg2", "sync_state": "quorum", "replay_lag_bytes": 0},
                {"application_name": "pg3", "sync_state": "quorum", "replay_lag_bytes": pg3_lag}]
    return {"pg1": dict(primary, replicas=replicas)}


def test_a_standby_lagging_past_the_alert_threshold_degrades_unless_delayed():
    s = status(lagging(100 * 1024 * 1024))
    assert s["verdict"] == "degraded" and any("standby pg3 has 104857600 bytes of WAL not replayed, more than 67108864"
                                              in r for r in s["reasons"]), s["reasons"]
    assert status(lagging(100 * 1024 * 1024), delayed=["pg3"])["verdict"] == "healthy"
    assert status(lagging(1000), lag_bytes=500)["verdict"] == "degraded"


ALERTS = [
    {"state": "firing", "labels": {"alertname": "PghaHostDown", "instance": "pg3", "severity": "critical"},
     "annotations": {"summary": "host pg3 does not answer"}},
    {"state": "pending", "labels": {"alertname": "PghaArchivingFailing", "instance": "pg1", "severity": "critical"}},
    {"state": "firing", "labels": {"alertname": "Watchdog", "severity": "none"}},
    {"state": "firing", "labels": {"alertname": "PghaReplicationLagBytes", "instance": "pg1", "standby": "pg2",
                                   "severity": "warning"}, "annotations": {"summary": "pg2 lags"}},
]


def test_the_firing_pgha_alerts_are_listed_with_what_they_name():
    s = status({"pg3": {"up": False}}, alerts=ALERTS)
    assert s["alerts"] == ["PghaHostDown (critical, instance=pg3): host pg3 does not answer",
                           "PghaReplicationLagBytes (warning, instance=pg1, standby=pg2): pg2 lags"]
    # They agree: degraded, a critical alert fires.
    assert not [w for w in s["warnings"] if "Prometheus" in w]
    assert "  ALERT PghaHostDown (critical, instance=pg3): host pg3 does not answer" in render_table(s)


def test_a_disagreement_between_the_verdict_and_the_alerts_is_a_warning():
    healthy = status(archives=[repo(NOW - 3600)], alerts=ALERTS)
    assert healthy["verdict"] == "healthy"
    assert any("status says healthy but Prometheus fires PghaHostDown" in w for w in healthy["warnings"])
    down = status({"pg1": {"up": False}}, alerts=[])
    assert down["verdict"] == "down" and any("status says down but Prometheus fires no critical" in w
                                             for w in down["warnings"])
    # No monitor host: nothing is said about alerts.
    assert status()["alerts"] is None and "prometheus:" not in "\n".join(render_table(status()))
