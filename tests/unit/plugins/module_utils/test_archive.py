"""Archive continuity seen by status.yml and repaired by backup.yml."""
from ansible_collections.pgha.cluster.plugins.module_utils import archive as arc
from ansible_collections.pgha.cluster.plugins.module_utils import status as st

GAP = {"missing": ["000000010000000000000011", "000000010000000000000012"], "first_missing": "000000010000000000000011",
       "last_missing": "000000010000000000000012", "segments": 2, "from_lsn": "0/11000000", "to_lsn": "0/13000000",
       "after_segment": "000000010000000000000010", "timeline": 1}


def test_repair_plan_pushes_each_segment_once_and_names_what_exists_nowhere():
    plan = arc.repair_plan({1: [GAP], 2: [dict(GAP, missing=GAP["missing"][:1])]},
                           {"pg2": ["000000010000000000000011"], "pg3": ["000000010000000000000011"], "pg1": []})
    assert plan["push"] == {"pg2": ["000000010000000000000011"]}
    assert plan["nowhere"] == {1: ["000000010000000000000012"]}
    assert arc.repair_plan({1: []}, {"pg1": ["x"]}) == {"push": {}, "nowhere": {}, "wanted": []}


def test_segment_names_and_lsns():
    assert arc.segment_name(1, 0x113) == "000000010000000100000013"
    assert arc.wal_segment("0000000100000001/000000010000000100000013-" + "ab" * 20 + ".zst") == (1, 0x113)
    assert arc.segment_of("1/13000028") == 0x113
    assert arc.parse_history("1\t0/14000100\tno recovery target\n\n2\t0/20000000\tx\n") == [
        {"parent": 1, "switch_lsn": 0x14000100}, {"parent": 2, "switch_lsn": 0x20000000}]


def node(role="primary"):
    return {"up": True, "role": role, "timeline": 2, "current_lsn": "0/1"}


def archive_result(repo, gaps, has_window, backups=1):
    window = {"gaps": gaps, "continuous": has_window and not gaps, "oldest_backup": "F" if has_window else None,
              "earliest_time": "a", "latest_time": "b", "latest_lsn": "0/15000000"}
    return {"item": repo, "window": window, "backups": [{}] * backups, "description": "repo %d window" % repo}


def test_status_names_a_gap_that_cuts_off_now_and_warns_of_an_older_one():
    archives = st.archive_status([archive_result(1, [GAP], False), archive_result(2, [GAP], True),
                                  archive_result(3, [], True), {"item": 4, "error": "ssh failed"},
                                  archive_result(5, [], False, backups=0), {"item": 6, "skipped": True}])
    status = st.build_status({"pg1": node()}, {"pg1": "10.0.0.1"}, {}, archives)
    assert not status["healthy"]
    assert any(p.startswith("repo1: no backup reaches the newest archived WAL without a gap (WAL "
                            "000000010000000000000011 to 000000010000000000000012 missing") for p in status["problems"])
    assert "repo4 cannot be read: ssh failed" in status["problems"]
    assert "repo5 holds no backup: nothing can be restored from it" in status["problems"]
    assert len(status["problems"]) == 3
    assert status["warnings"] == ["repo2 cannot restore targets inside a gap before its current window: WAL "
                                  "000000010000000000000011 to 000000010000000000000012 missing (LSN 0/11000000 to "
                                  "0/13000000, 2 segment(s), after 000000010000000000000010)"]
    lines = st.render_table(status)
    assert "backups repo3: repo 3 window" in lines and any(line.startswith("WARNING: repo2") for line in lines)
    healthy = st.build_status({"pg1": node()}, {"pg1": "10.0.0.1"}, {}, st.archive_status([archive_result(1, [], True)]))
    assert healthy["healthy"] and healthy["warnings"] == []


def test_archive_check_runs_only_with_a_reason():
    from ansible_collections.pgha.cluster.plugins.module_utils.archive import archive_check
    healthy = {"archived_count": 27, "failed_count": 0, "last_archived_time": 1796289524,
               "last_archived_wal": "00000002000000000000001A", "last_failed_time": None, "last_failed_wal": None}
    quiet = archive_check(healthy)
    assert quiet["reasons"] == []
    assert quiet["summary"] == ("the primary last archived 00000002000000000000001A at 2026-12-03 09:18:44 UTC "
                                "(0 failures since the statistics were reset)")
    assert archive_check(healthy, forced=True)["reasons"] == ["asked for (pgbackrest_check)"]
    assert archive_check(healthy, stanza_created=True, conf_changed=["pg1", "backup1"], pg_changed=["pg2"])["reasons"] == [
        "the stanza was created", "pgbackrest.conf changed on pg1, backup1", "PostgreSQL configuration changed on pg2"]
    failing = dict(healthy, failed_count=3, last_failed_time=1796289600, last_failed_wal="00000002000000000000001B")
    assert archive_check(failing)["reasons"] == [
        "the primary failed to archive 00000002000000000000001B after it last succeeded"]
    # Failed once, then archived again: nothing to check.
    assert archive_check(dict(failing, last_failed_time=1796289000))["reasons"] == []
    assert archive_check(None)["reasons"] == ["the primary archived nothing yet"]
    assert archive_check({})["summary"] == "the primary last archived - at - (0 failures since the statistics were reset)"
