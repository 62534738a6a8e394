import datetime

import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import archive as arc
from ansible_collections.pgha.cluster.plugins.module_utils import backup as bk

# What `pgbackrest info --output=json` prints for one stanza (trimmed): a
# full backup at 10:11:36 and an incremental at 10:15:27 in repo1, a full in repo2.
T0 = 1795263096  # 2026-11-21 10:11:36 UTC
INFO = [{
    "name": "main",
    "status": {"code": 0, "message": "ok"},
    "repo": [{"key": 1, "status": {"code": 0}}, {"key": 2, "status": {"code": 0}}],
    "archive": [{"database": {"id": 1, "repo-key": 1}, "id": "15-1",
                 "min": "000000010000000000000001", "max": "000000020000000000000014"}],
    "backup": [
        {"label": "20261121-101132F", "type": "full", "database": {"id": 1, "repo-key": 1},
         "timestamp": {"start": T0 - 4, "stop": T0}, "lsn": {"start": "0/5000028", "stop": "0/6000088"},
         "archive": {"start": "000000010000000000000005", "stop": "000000010000000000000006"},
         "info": {"size": 23202209, "repository": {"delta": 2800000}}, "error": False},
        {"label": "20261121-101132F_20261121-101524I", "type": "incr", "database": {"id": 1, "repo-key": 1},
         "timestamp": {"start": T0 + 228, "stop": T0 + 231}, "lsn": {"start": "0/13000028", "stop": "0/13000100"},
         "archive": {"start": "000000010000000000000013", "stop": "000000010000000000000013"},
         "info": {"size": 23400000, "repository": {"delta": 800000}}, "error": False},
        {"label": "20261121-101139F", "type": "full", "database": {"id": 1, "repo-key": 2},
         "timestamp": {"start": T0 + 3, "stop": T0 + 11}, "lsn": {"start": "0/7000028", "stop": "0/8000050"},
         "archive": {"start": "000000010000000000000007", "stop": "000000010000000000000008"},
         "info": {"size": 23202209}, "error": False},
    ],
}]


def listing(timeline_segments, history=(2,), partial=True):
    """A repo-ls listing: {timeline: [segment numbers]} archived at T0 + number."""
    result = {".": {"type": "path"}}
    for timeline, numbers in timeline_segments.items():
        result["%08X00000000" % timeline] = {"type": "path"}
        for number in numbers:
            result["%08X00000000/%08X%08X%08X-%s.zst" % (timeline, timeline, 0, number, "ab" * 20)] = \
                {"type": "file", "size": 100, "time": T0 + number * 20}
    for timeline in history:
        result["%08X.history" % timeline] = {"type": "file", "size": 40, "time": T0 + 300}
    result["0000000100000000/000000010000000000000013.00000028.backup"] = {"type": "file", "size": 10}
    if partial:
        result["0000000100000000/000000010000000000000014.partial-aa.zst"] = {"type": "file", "size": 100}
    return result


# Timeline 2 began at 0/14000100 (a promotion): segment 0x14 is read from timeline 2.
HISTORY = "1\t0/14000100\tno recovery target specified\n"
LISTING = listing({1: range(5, 0x14), 2: [0x14]})


def utc(seconds):
    return bk.format_time(datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc))


@pytest.fixture
def repo1():
    entry = bk.stanza_entry(INFO, "main")
    backups = bk.backups_of(entry, 1)
    archive = arc.archive_index(LISTING)
    return backups, archive, bk.restorable_window(backups, archive, HISTORY)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-21 10:15:00+00", "2026-11-21 10:15:00.000000+00"),
    ("2026-11-21T10:15:00Z", "2026-11-21 10:15:00.000000+00"),
    ("2026-11-21 11:15:00.25+01:00", "2026-11-21 10:15:00.250000+00"),
    ("2026-11-21 05:15:00-0500", "2026-11-21 10:15:00.000000+00"),
    ("2026-11-21 10:14:44.654159+00", "2026-11-21 10:14:44.654159+00"),
    ("2026-11-21 10:15 UTC", "2026-11-21 10:15:00.000000+00"),
])
def test_parse_time_normalises_to_utc(text, expected):
    assert bk.format_time(bk.parse_time(text)) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-11-21 10:15:00", "2026-13-01 00:00:00+00",
                                  "2026-11-31 00:00:00+00", "", "10:15:00+00"])
def test_parse_time_refuses_what_it_cannot_place(text):
    with pytest.raises(bk.RestoreError):
        bk.parse_time(text)


@pytest.mark.parametrize("kwargs, expected", [
    ({}, {"kind": "latest", "value": None}),
    ({"target": "immediate"}, {"kind": "immediate", "value": None}),
    ({"target": "latest"}, {"kind": "latest", "value": None}),
    ({"lsn": "0/3000060"}, {"kind": "lsn", "value": "0/3000060"}),
    ({"lsn": "a/b"}, {"kind": "lsn", "value": "A/B"}),
    ({"xid": "745"}, {"kind": "xid", "value": "745"}),
    ({"xid": 746}, {"kind": "xid", "value": "746"}),
    ({"name": "before_bad_delete"}, {"kind": "name", "value": "before_bad_delete"}),
    ({"time": "2026-11-21T10:15:00Z"}, {"kind": "time", "value": "2026-11-21 10:15:00.000000+00"}),
])
def test_parse_target(kwargs, expected):
    assert bk.parse_target(**kwargs) == expected


@pytest.mark.parametrize("kwargs, message", [
    ({"target": "earliest"}, "is not one of immediate, latest"),
    ({"lsn": "12345"}, "is not an LSN"),
    ({"xid": "abc"}, "is not a transaction id"),
    ({"xid": "2"}, "is not a transaction id"),
    ({"name": "x" * 64}, "must be 1 to 63 bytes"),
    ({"xid": "800", "name": "p"}, "give one recovery target per run, not 2"),
    ({"target": "latest", "time": "2026-11-21 10:00:00+00"}, "give one recovery target per run"),
])
def test_parse_target_refusals(kwargs, message):
    with pytest.raises(bk.RestoreError, match=message):
        bk.parse_target(**kwargs)


def test_backups_of_one_repository_oldest_first():
    entry = bk.stanza_entry(INFO, "main")
    assert [b["label"] for b in bk.backups_of(entry, 1)] == ["20261121-101132F", "20261121-101132F_20261121-101524I"]
    assert [b["label"] for b in bk.backups_of(entry, 2)] == ["20261121-101139F"]
    assert bk.backups_of(entry, 1)[0]["timeline"] == 1
    assert bk.stanza_entry(INFO, "other") is None


def test_archive_index_skips_partial_and_backup_files():
    index = arc.archive_index(LISTING)
    assert sorted(index["segments"]) == [1, 2]
    assert sorted(index["segments"][1]) == list(range(5, 0x14))
    assert list(index["segments"][2]) == [0x14]
    assert list(index["history"]) == [2]


def test_window_runs_from_the_oldest_backup_to_the_newest_wal(repo1):
    dummy, dummy2, window = repo1
    assert window["earliest_time"] == utc(T0)
    assert window["earliest_lsn"] == "0/6000088"
    assert window["latest_time"] == utc(T0 + 0x14 * 20)
    assert window["latest_lsn"] == "0/15000000"
    assert window["latest_timeline"] == 2 and window["timelines"] == [1, 2]
    assert window["gaps"] == [] and window["continuous"]
    assert [s["timeline"] for s in window["path"]] == [1, 2] and window["path"][0]["end_lsn"] == "0/14000100"
    assert window["last_segment"] == "000000020000000000000014"
    text = bk.describe_window(window)
    assert "restorable window: %s" % utc(T0) in text and text.endswith("no gap")


def test_time_target_picks_the_newest_backup_that_ended_before_it(repo1):
    backups, archive, window = repo1
    early = bk.choose_backup(backups, bk.parse_target(time=utc(T0 + 100)), archive, window)
    assert early["set"] == "20261121-101132F"
    late = bk.choose_backup(backups, bk.parse_target(time=utc(T0 + 300)), archive, window)
    assert late["set"] == "20261121-101132F_20261121-101524I"


def test_lsn_target_picks_by_stop_lsn(repo1):
    backups, archive, window = repo1
    assert bk.choose_backup(backups, bk.parse_target(lsn="0/12000000"), archive, window)["set"] == "20261121-101132F"
    assert bk.choose_backup(backups, bk.parse_target(lsn="0/13000100"), archive, window)["set"] == \
        "20261121-101132F_20261121-101524I"


NOT_REACHED = {"error": "FATAL:  recovery ended before configured recovery target was reached"}


def test_an_xid_not_reached_from_the_newest_set_names_the_older_ones(repo1):
    """pgBackRest cannot place an xid or a restore point: the plan takes the newest set, which a backup
    taken after the target (a scheduled one) makes too new. The failure names the older set to give."""
    backups, archive, window = repo1
    plan = bk.choose_backup(backups, bk.parse_target(xid="752"), archive, window)
    assert plan["set"] == "20261121-101132F_20261121-101524I" and plan["set_given"] is False
    hint = bk.older_set_hint(plan, NOT_REACHED)
    assert hint == ("the xid 752 was not reached from backup 20261121-101132F_20261121-101524I, the newest set: it "
                    "may be older than that backup (pgBackRest cannot place an xid or a restore point); restore "
                    "from an older set with -e pgha_restore_set=20261121-101132F (older sets, newest first: "
                    "20261121-101132F)")
    named = bk.choose_backup(backups, bk.parse_target(name="before_bad_delete"), archive, window)
    assert "restore point 'before_bad_delete' was not reached" in bk.older_set_hint(named, NOT_REACHED)
    # Not for a set given on purpose, another failure, or targets pgha places itself.
    given = bk.choose_backup(backups, bk.parse_target(xid="752"), archive, window,
                             backup_set="20261121-101132F")
    assert bk.older_set_hint(given, NOT_REACHED) is None
    assert bk.older_set_hint(plan, {"error": None}) is None
    timed = bk.choose_backup(backups, bk.parse_target(time=utc(T0 + 300)), archive, window)
    assert bk.older_set_hint(timed, NOT_REACHED) is None
    # From the oldest set there is nothing older to try.
    assert "the oldest restorable set" in bk.older_set_hint(dict(plan, backup=backups[0]), NOT_REACHED)


@pytest.mark.parametrize("target, message", [
    ({"time": "2001-01-01 00:00:00+00"}, "is earlier than the end of the oldest backup"),
    ({"time": "2099-01-01 00:00:00+00"}, "is later than the newest archived WAL"),
    ({"lsn": "0/1000000"}, "is before the end of the oldest backup"),
    ({"lsn": "FF/0"}, "is after the end of the newest archived WAL"),
])
def test_out_of_window_targets_are_refused_with_the_window(repo1, target, message):
    backups, archive, window = repo1
    with pytest.raises(bk.RestoreError) as exc:
        bk.choose_backup(backups, bk.parse_target(**target), archive, window)
    assert message in str(exc.value)
    assert "restorable window: %s" % utc(T0) in str(exc.value)
    assert "0/15000000" in str(exc.value)


def test_unknown_timeline_and_set_are_refused(repo1):
    backups, archive, window = repo1
    with pytest.raises(bk.RestoreError, match=r"timeline 7 is not in the repository's archive \(timelines \[1, 2\]\)"):
        bk.choose_backup(backups, bk.parse_target(), archive, window, timeline="7")
    with pytest.raises(bk.RestoreError, match="is not a number"):
        bk.choose_backup(backups, bk.parse_target(), archive, window, timeline="newest")
    with pytest.raises(bk.RestoreError, match="backup set nope is not in the repository"):
        bk.choose_backup(backups, bk.parse_target(), archive, window, backup_set="nope")
    with pytest.raises(bk.RestoreError, match="ended after the target time"):
        bk.choose_backup(backups, bk.parse_target(time=utc(T0 + 100)), archive, window,
                         backup_set="20261121-101132F_20261121-101524I")


def test_no_backup_means_nothing_to_restore():
    with pytest.raises(bk.RestoreError, match="holds no backup"):
        bk.choose_backup([], bk.parse_target(), {"timelines": []}, None)
    assert bk.restorable_window([], {}) is None


def test_xid_name_latest_use_the_newest_or_given_set(repo1):
    backups, archive, window = repo1
    assert bk.choose_backup(backups, bk.parse_target(xid="900"), archive, window)["set"] == backups[-1]["label"]
    given = bk.choose_backup(backups, bk.parse_target(name="p"), archive, window, backup_set="20261121-101132F")
    assert given["set"] == "20261121-101132F"


@pytest.mark.parametrize("target, expected", [
    ({"time": "2026-11-21 10:14:44+00"},
     ["--type=time", "--target=2026-11-21 10:14:44.000000+00", "--target-action=promote"]),
    ({"lsn": "0/3000060"}, ["--type=lsn", "--target=0/3000060", "--target-action=promote"]),
    ({"target": "immediate"}, ["--type=immediate", "--target-action=promote"]),
    ({}, ["--type=default"]),
])
def test_restore_options(target, expected):
    plan = {"target": bk.parse_target(**target), "set": "S", "timeline": None}
    argv = bk.restore_options("main", plan, repo=2, archive_mode="off", process_max=4)
    assert argv[:4] == ["--stanza=main", "--set=S", "--repo=2", "--delta"]
    assert argv[4:4 + len(expected)] == expected
    assert argv[-3:] == ["--archive-mode=off", "--process-max=4", "restore"]
    plan["timeline"] = "2"
    assert ("--target-timeline=2" in bk.restore_options("main", plan)) == (plan["target"]["kind"] != "immediate")


LOG_TIME = """
2026-11-21 10:15:10.100 UTC [900] LOG:  starting point-in-time recovery to 2026-11-21 10:14:44.654159+00
2026-11-21 10:15:10.300 UTC [900] LOG:  redo starts at 0/5000028
2026-11-21 10:15:11.000 UTC [900] LOG:  consistent recovery state reached at 0/6000088
2026-11-21 10:15:12.000 UTC [900] LOG:  recovery stopping before commit of transaction 752, time 2026-11-21 10:14:45.900000+00
2026-11-21 10:15:12.001 UTC [900] LOG:  redo done at 0/1104DE30 system usage: CPU: user: 0.01 s
2026-11-21 10:15:12.001 UTC [900] LOG:  last completed transaction was at log time 2026-11-21 10:14:44.360307+00
2026-11-21 10:15:12.200 UTC [900] LOG:  selected new timeline ID: 2
"""


def test_recovery_log_and_time_checks():
    rec = bk.parse_recovery_log(LOG_TIME)
    assert rec["stop"] == {"how": "before", "what": "commit", "xid": "752", "time": "2026-11-21 10:14:45.900000+00"}
    assert rec["redo_start"] == "0/5000028" and rec["redo_done"] == "0/1104DE30"
    assert rec["new_timeline"] == 2 and rec["consistent_at"] == "0/6000088"
    target = bk.parse_target(time="2026-11-21 10:14:44.654159+00")
    assert [c["ok"] for c in bk.target_checks(target, rec, None)] == [True]
    # A target earlier than the last replayed commit did not match.
    early = bk.parse_target(time="2026-11-21 10:14:40+00")
    assert [c["ok"] for c in bk.target_checks(early, rec, None)] == [False]
    assert bk.wal_replayed(rec, {}) == 0x1104DE30 - 0x5000028


def test_recovery_log_lsn_name_xid_and_failure():
    rec = bk.parse_recovery_log('LOG:  recovery stopping after WAL location (LSN) "0/1104DE68"\n'
                                'LOG:  redo done at 0/1104DE68 system usage')
    assert bk.target_checks(bk.parse_target(lsn="0/1104DE68"), rec, None)[0]["ok"]
    assert not bk.target_checks(bk.parse_target(lsn="0/2104DE68"), rec, None)[0]["ok"]
    rec = bk.parse_recovery_log('LOG:  recovery stopping at restore point "before_bad_delete", time 2026-11-21 10:14:44+00')
    assert bk.target_checks(bk.parse_target(name="before_bad_delete"), rec, None)[0]["ok"]
    assert not bk.target_checks(bk.parse_target(name="other"), rec, None)[0]["ok"]
    rec = bk.parse_recovery_log("LOG:  recovery stopping after commit of transaction 751, time 2026-11-21 10:14:44+00")
    assert bk.target_checks(bk.parse_target(xid="751"), rec, None)[0]["ok"]
    rec = bk.parse_recovery_log("FATAL:  recovery ended before configured recovery target was reached")
    check = bk.target_checks(bk.parse_target(xid="99999"), rec, None)[0]
    assert not check["ok"] and "recovery ended before" in check["detail"]


def test_probe_checks():
    probes = [{"name": "rows", "sql": "SELECT 1", "expect": 1000}, {"sql": "SELECT 2"}, {"sql": "bad"}]
    results = [{"value": "1000", "error": None}, {"value": "x", "error": None}, {"value": None, "error": "syntax"}]
    assert [c["ok"] for c in bk.probe_checks(probes, results)] == [True, True, False]
    assert bk.probe_checks(probes[:1], [{"value": "999", "error": None}])[0]["ok"] is False


def test_cluster_changes():
    nodes = {"pg1": {"up": True, "role": "primary", "timeline": 2, "system_identifier": "7"},
             "pg2": {"up": True, "role": "standby", "timeline": 2, "system_identifier": "7",
                     "upstream": {"host": "10.0.0.1"}}}
    before = bk.cluster_fingerprint(nodes)
    assert bk.cluster_changes(before, bk.cluster_fingerprint(nodes)) == []
    nodes["pg2"] = dict(nodes["pg2"], role="primary", upstream=None, timeline=3)
    changes = bk.cluster_changes(before, bk.cluster_fingerprint(nodes))
    assert "pg2: role was 'standby', now 'primary'" in changes and len(changes) == 3


def test_render_report_and_summary():
    report = {"mode": "drill", "passed": False, "stanza": "main", "host": "drill1",
              "target": {"kind": "time", "value": "2026-11-21 10:14:44.000000+00"},
              "backup": {"label": "L", "type": "full", "stop_time_text": "t", "stop_lsn": "0/6000088"},
              "duration_s": 12.5, "phases": [{"name": "pgbackrest restore", "seconds": 1.25}],
              "checks": [{"name": "pg_amcheck --all", "ok": False, "detail": "a|b\nc"}], "untouched": "yes"}
    text = bk.render_report(report)
    assert text.startswith("# pgha restore drill: FAIL")
    assert "| pgbackrest restore | 1.25 |" in text
    assert "| pg_amcheck --all | FAIL | a\\|b c |" in text
    assert "Running cluster untouched: yes" in text
    backup = bk.backups_of(bk.stanza_entry(INFO, "main"), 1)[0]
    assert bk.backup_summary(backup).startswith("repo1 full backup 20261121-101132F: %s" % utc(T0 - 4))
    assert bk.backup_summary(None) == "no backup"


def test_a_target_after_the_last_commit_replays_to_the_end_only_at_the_end_of_the_archive(repo1):
    backups, archive, window = repo1
    run = window["runs"][-1]
    # Replay ended in the newest archived segment (0x14) with the last commit before the target.
    failed = bk.parse_recovery_log(
        "LOG:  redo done at 0/14FF0090 system usage: CPU\n"
        "LOG:  last completed transaction was at log time 2026-11-21 10:34:59.224497+00\n"
        "FATAL:  recovery ended before configured recovery target was reached\n")
    target = bk.parse_target(time="2026-11-21 10:34:59.427755+00")
    assert bk.past_last_commit(target, failed, run)
    # Without the plan's stretch nothing proves replay reached the end.
    assert not bk.past_last_commit(target, failed)
    # A commit later than the target was replayed: that is not this case.
    assert not bk.past_last_commit(bk.parse_target(time="2026-11-21 10:34:59.000000+00"), failed, run)
    assert bk.past_last_commit(bk.parse_target(lsn="0/14FF0100"), failed, run)
    assert not bk.past_last_commit(bk.parse_target(lsn="0/14000000"), failed, run)
    # An xid or a restore point that was never reached stays an error.
    assert not bk.past_last_commit(bk.parse_target(xid="99999"), failed, run)
    assert not bk.past_last_commit(target, bk.parse_recovery_log("LOG:  redo done at 0/14FF0090"), run)
    ended = bk.parse_recovery_log("LOG:  redo done at 0/14FF0090 system usage\n"
                                  "LOG:  last completed transaction was at log time 2026-11-21 10:34:59.224497+00\n")
    check = bk.target_checks(target, ended, None, after_last_commit=True, run=run)[0]
    assert check["ok"] and "no commit after the target" in check["detail"]
    check = bk.target_checks(bk.parse_target(lsn="0/14FF0100"), ended, None, after_last_commit=True, run=run)[0]
    assert check["ok"]


def test_replay_that_stops_before_the_end_of_the_archive_is_never_a_pass(repo1):
    """The drill that reported pass with rows missing: replay stopped 6 segments
    before the newest archived WAL ("recovery ended before the target")."""
    backups, archive, window = repo1
    run = window["runs"][-1]
    short = bk.parse_recovery_log(
        "LOG:  redo done at 0/E000090 system usage: CPU\n"
        "LOG:  last completed transaction was at log time 2026-11-21 10:34:31.000000+00\n"
        "FATAL:  recovery ended before configured recovery target was reached\n")
    target = bk.parse_target(time="2026-11-21 10:34:59.427755+00")
    assert not bk.past_last_commit(target, short, run)
    checks = bk.target_checks(target, short, None, run=run)
    assert [c["ok"] for c in checks] == [False, False]
    assert "first missing WAL segment 00000002000000000000000F" in checks[0]["detail"]
    assert "0/E000090" in checks[0]["detail"] and "10:34:31" in checks[0]["detail"]
    # latest: PostgreSQL ends quietly at the first missing file; the check does not.
    latest = bk.target_checks(bk.parse_target(), bk.parse_recovery_log("LOG:  redo done at 0/E000090"), None, run=run)
    assert [c["ok"] for c in latest] == [False, True]
    assert bk.target_checks(bk.parse_target(), bk.parse_recovery_log("LOG:  redo done at 0/14000090"), None,
                            run=run)[0]["ok"]


# --- Continuity of the archive across promotions ---------------------------------------------

FULL = list(bk.backups_of(bk.stanza_entry(INFO, "main"), 1))


def plan(listing_, target, history=HISTORY, backups=None, **kwargs):
    index = arc.archive_index(listing_)
    window = bk.restorable_window(backups or FULL, index, history)
    return window, bk.choose_backup(backups or FULL, bk.parse_target(**target), index, window, **kwargs)


def test_failover_backlog_lost_is_a_named_gap_and_latest_is_refused():
    """The old primary archived up to 0x10; 0x11-0x13 were in its backlog when it
    died; the promoted node archived timeline 2 from 0x14."""
    lost = listing({1: range(5, 0x11), 2: [0x14, 0x15]})
    window = bk.restorable_window(FULL[:1], arc.archive_index(lost), HISTORY)
    assert [g["first_missing"] for g in window["gaps"]] == ["000000010000000000000011"]
    gap = window["gaps"][0]
    assert gap["last_missing"] == "000000010000000000000013" and gap["segments"] == 3
    assert (gap["from_lsn"], gap["to_lsn"]) == ("0/11000000", "0/14000000")
    assert not window["continuous"] and window["oldest_backup"] is None
    assert window["runs"][0]["latest_lsn"] == "0/11000000" and window["runs"][0]["ends_at"] == "gap"
    text = bk.describe_window(window)
    assert "no continuous restorable window" in text and "gap: WAL 000000010000000000000011 to " \
        "000000010000000000000013 missing" in text
    with pytest.raises(bk.RestoreError, match="latest state is out of reach from backup 20261121-101132F: "
                                              "WAL 000000010000000000000011"):
        plan(lost, {}, backups=FULL[:1])
    # A time inside the backlog (after the last segment before the gap was archived) is refused.
    with pytest.raises(bk.RestoreError, match="falls in or after a gap in the archived WAL") as exc:
        plan(lost, {"time": utc(T0 + 0x10 * 20 + 5)}, backups=FULL[:1])
    assert "continuous only to LSN 0/11000000" in str(exc.value)
    with pytest.raises(bk.RestoreError, match="falls in or after a gap"):
        plan(lost, {"lsn": "0/12000000"}, backups=FULL[:1])
    # Before the gap: accepted, with a warning that a later target fails the checks.
    dummy, ok = plan(lost, {"lsn": "0/10000000"}, backups=FULL[:1])
    assert ok["set"] == "20261121-101132F" and ok["run"]["gap"]["first_missing"] == "000000010000000000000011"
    dummy, ok = plan(lost, {"time": utc(T0 + 100)}, backups=FULL[:1])
    assert ok["warnings"] and "stops at a gap" in ok["warnings"][0]


def test_replay_that_reaches_a_gap_fails_with_the_gap():
    lost = listing({1: range(5, 0x11), 2: [0x14]})
    dummy, ok = plan(lost, {"time": utc(T0 + 100)}, backups=FULL[:1])
    rec = bk.parse_recovery_log("LOG:  redo done at 0/10FFFF00 system usage\n"
                                "FATAL:  recovery ended before configured recovery target was reached\n")
    assert not bk.past_last_commit(ok["target"], rec, ok["run"])
    check = bk.short_of_target(rec, ok["run"])
    assert not check["ok"] and "first missing WAL segment 000000010000000000000011" in check["detail"]


def test_a_backup_after_the_gap_starts_a_new_continuous_window():
    gap = listing({1: [5, 6, 7, 8, 9, 0x13], 2: [0x14]})
    window, chosen = plan(gap, {})
    assert chosen["set"] == "20261121-101132F_20261121-101524I"
    assert window["oldest_backup"] == "20261121-101132F_20261121-101524I"
    assert window["gaps"][0]["first_missing"] == "00000001000000000000000A"
    assert window["runs"][0]["latest_lsn"] == "0/A000000" and window["runs"][1]["gap"] is None
    # The older stretch still serves targets before its gap.
    dummy, early = plan(gap, {"lsn": "0/9000000"})
    assert early["set"] == "20261121-101132F"


def test_the_switch_segment_is_read_from_the_new_timeline():
    # Timeline 1's 0x14 exists only as .partial: timeline 2's 0x14 holds its WAL up to the switch.
    missing_new = listing({1: range(5, 0x14), 2: [0x15]})
    window = bk.restorable_window(FULL, arc.archive_index(missing_new), HISTORY)
    assert [g["first_missing"] for g in window["gaps"]] == ["000000020000000000000014"]
    # Not archived yet is the end of the archive, not a gap.
    pending = listing({1: range(5, 0x14)})
    window = bk.restorable_window(FULL, arc.archive_index(pending), HISTORY, timeline=1)
    assert window["gaps"] == [] and window["latest_lsn"] == "0/14000000"


def test_a_backup_of_an_abandoned_timeline_is_not_on_the_path():
    abandoned = dict(FULL[-1], label="OLD", timeline=3, start_lsn="0/13000028", stop_lsn="0/13000100")
    window = bk.restorable_window(FULL + [abandoned], arc.archive_index(LISTING), HISTORY)
    assert {"label": "OLD", "why": "on timeline 3, not on the path of timeline 2"} in window["unusable"]
    with pytest.raises(bk.RestoreError, match="backup set OLD cannot be restored along timeline 2"):
        plan(LISTING, {}, backups=FULL + [abandoned], backup_set="OLD")


@pytest.mark.parametrize("timeline, number, expected", [(2, 0x13, 1), (2, 0x14, 2), (2, 0x99, 2), (1, 0x14, 1)])
def test_path_timeline(timeline, number, expected):
    from ansible_collections.pgha.cluster.plugins.module_utils import archive
    path = archive.timeline_path(timeline, HISTORY if timeline == 2 else None)
    assert archive.path_timeline(path, number) == expected


# --- Identity before destruction -----------------------------------------------------------

from ansible_collections.pgha.cluster.plugins.module_utils.backup import (  # noqa: E402
    RestoreError, drill_host_problem, inplace_confirmation_problem, parse_target, system_identifier_of)

SCRATCH = {"up": False, "role": "absent", "data_directory_exists": False}


@pytest.mark.parametrize("node, fragment", [
    ({"unreachable": True}, "cannot be reached to check it"),
    (dict(SCRATCH, up=True, role="standby", data_directory_exists=True, drill_marker=True, system_identifier="9",
          upstream={"status": "streaming", "host": "10.0.0.11"}), "runs a standby streaming from 10.0.0.11"),
    (dict(SCRATCH, up=True, role="primary", data_directory_exists=True, system_identifier="9"),
     "runs a writable server (system identifier 9) that no drill made"),
    (dict(SCRATCH, data_directory_exists=True, system_identifier="9", data_directory="/d"),
     "has a data directory (/d, system identifier 9) that no drill made"),
    (dict(SCRATCH, up=True, role="standby", data_directory_exists=True, system_identifier="42"),
     "holds a data directory of this cluster (system identifier 42)"),
])
def test_a_drill_refuses_what_it_did_not_make(node, fragment):
    problem = drill_host_problem("drill1", node, {"42"})
    assert problem and fragment in problem


@pytest.mark.parametrize("node", [
    SCRATCH,
    dict(SCRATCH, data_directory_exists=True, drill_marker=True, system_identifier="9"),
    # A previous drill left its promoted copy running: it is the drill's own.
    dict(SCRATCH, up=True, role="primary", data_directory_exists=True, drill_marker=True, system_identifier="42"),
])
def test_a_drill_replaces_what_a_drill_made(node):
    assert drill_host_problem("drill1", node, {"42"}) is None


def test_inplace_is_confirmed_by_the_system_identifier():
    nodes = {"pg1": {"system_identifier": "42"}, "pg2": {"system_identifier": "42"}, "pg3": {"unreachable": True}}
    problem, known = inplace_confirmation_problem("main", nodes, None)
    assert known == "42" and "Confirm with -e pgha_restore_confirm=42" in problem and "42 on pg1, pg2" in problem
    assert inplace_confirmation_problem("42", nodes, None) == (None, "42")
    # The repository's identifier wins: the backups are what is restored.
    assert inplace_confirmation_problem("42", nodes, "77")[1] == "77"
    assert inplace_confirmation_problem("x", {"pg1": {}}, None)[1] is None


def test_system_identifier_of_the_backups():
    entry = {"db": [{"id": 1, "system-id": 7001}, {"id": 2, "system-id": 7002}]}
    assert system_identifier_of(entry, 1) == "7001" and system_identifier_of(entry) == "7002"
    assert system_identifier_of({}, 1) is None


@pytest.mark.parametrize("name", ["it's", 'say "x"', "back\\slash", "new\nline", "tab\there"])
def test_restore_point_names_with_quotes_or_control_characters_are_refused(name):
    with pytest.raises(RestoreError, match="holds a quote, a backslash or a control character"):
        parse_target(name=name)


def test_wal_due_before_the_newest_switch_point_is_a_gap_before_the_new_timeline_archives():
    """Right after a failover that lost a backlog: the history file says timeline 1
    ran to 0/14000100, its segments 0x11-0x13 are missing, and timeline 2 has
    archived nothing yet."""
    lost = listing({1: range(5, 0x11)})
    window = bk.restorable_window(FULL[:1], arc.archive_index(lost), HISTORY)
    assert [g["first_missing"] for g in window["gaps"]] == ["000000010000000000000011"]
    assert window["oldest_backup"] is None and not window["continuous"]


def test_inplace_restore_is_refused_half_way_through_a_change_of_mode():
    nodes = {"pg1": {"system_identifier": "42", "supervisor": "patroni", "up": True},
             "pg2": {"system_identifier": "42", "up": True}}
    problem, known = inplace_confirmation_problem("42", nodes, "42")
    assert problem.startswith("in-place restore refused: Patroni runs on pg1 but not on pg2") and known is None
    # Patroni on every node that is up: restore.yml goes through it.
    nodes["pg2"]["supervisor"] = "patroni"
    assert inplace_confirmation_problem("42", nodes, "42") == (None, "42")
