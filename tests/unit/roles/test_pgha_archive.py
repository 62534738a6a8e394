"""pgha_archive.py, the archive_command of every database node (a script the
postgresql role installs; stdlib only, so it is loaded from its file)."""
import os

import pytest

from scripts import load_script, script_path

PATH = script_path("postgresql", "pgha_archive.py")
arc = load_script("postgresql", "pgha_archive.py")
HISTORY2 = "1\t0/14000100\tno recovery target specified\n"
HISTORY3 = HISTORY2 + "2\t0/20000000\tno recovery target specified\n"


@pytest.mark.parametrize("name, expected", [
    ("000000010000000000000014", 1), ("00000002000000000000001A.partial", 2), ("00000002.history", 2),
    ("000000010000000000000013.00000028.backup", 1), ("archive_status", None), ("0000000100000000000000", None),
])
def test_file_timeline(name, expected):
    assert arc.file_timeline(name) == expected


@pytest.mark.parametrize("name, current, history, expected", [
    # Timeline 1 before the segment holding its switch point: on the path, kept until archived.
    ("000000010000000000000013", 2, HISTORY2, False),
    # The segment holding the switch (timeline 2 carries it) and later ones: a former primary's WAL.
    ("000000010000000000000014", 2, HISTORY2, True),
    ("000000010000000000000015", 2, HISTORY2, True),
    # Current timeline, history files and partial segments are never "past the switch".
    ("000000020000000000000015", 2, HISTORY2, False),
    ("00000002.history", 2, HISTORY2, False),
    ("000000010000000000000014.partial", 2, HISTORY2, False),
    # A switch exactly at a segment boundary: the segment before is on the path, the one at it is not.
    ("00000002000000000000001F", 3, HISTORY3, False),
    ("000000020000000000000020", 3, HISTORY3, True),
    ("000000010000000000000013", 3, HISTORY3, False),
    ("000000010000000000000014", 1, "", False),
])
def test_past_switch(name, current, history, expected):
    assert arc.past_switch(name, current, arc.parse_history(history)) is expected


def test_current_timeline_and_repositories():
    assert arc.current_timeline(["000000010000000000000001", "archive_status"]) == 1
    assert arc.current_timeline(["00000002.history", "00000003.history", "000000030000000000000020"]) == 3
    conf = "[global]\nrepo1-host=10.0.0.5\nrepo2-type=s3\nrepo2-path=/x\n[main]\npg1-path=/var/lib\n"
    assert arc.read_repos(conf) == [1, 2]
    assert arc.archive_dir_name(["15-1", "15-2", "14-3", "x"], "15") == "15-2"
    assert arc.archive_dir_name(["14-3"], "15") is None


def test_missing_from_reads_each_repository():
    calls = []
    stored = {1: ["000000010000000000000013-" + "ab" * 20 + ".zst"], 2: []}

    def ls(dummy, stanza, repo, path):
        calls.append((repo, path))
        if path == "archive/%s" % stanza:
            return ["15-1"]
        return stored[repo]

    assert arc.missing_from("000000010000000000000013", "main", [1, 2], "15", ls=ls) == [2]
    assert (1, "archive/main/15-1/0000000100000000") in calls
    stored[2] = ["000000010000000000000013-" + "cd" * 20 + ".gz"]
    assert arc.missing_from("000000010000000000000013", "main", [1, 2], "15", ls=ls) == []
    assert arc.missing_from("000000010000000000000012", "main", [1, 2], "15", ls=ls) == [1, 2]
    calls[:] = []
    stored[1] = ["00000002.history"]
    assert arc.missing_from("00000002.history", "main", [1], "15", ls=ls) == []
    assert calls[-1] == (1, "archive/main/15-1")


def test_hold_lets_go_of_a_former_primarys_wal_and_keeps_the_rest(tmp_path, monkeypatch):
    (tmp_path / "pg_wal").mkdir()
    (tmp_path / "pg_wal" / "00000002.history").write_text(HISTORY2)
    (tmp_path / "PG_VERSION").write_text("15\n")
    monkeypatch.setattr(arc, "CONFIG", str(tmp_path / "none.conf"))
    argv = ["pgbackrest", "--stanza=main", "archive-push", "pg_wal/x"]
    assert arc.hold("000000010000000000000014", argv, str(tmp_path)) == 0
    # No repository configured: it cannot tell, so it keeps the file.
    assert arc.hold("000000010000000000000013", argv, str(tmp_path)) == 1


def test_usage():
    assert arc.main([]) == 2
    assert arc.main(["cp", "x"]) == 2
    assert arc.main(["--refused", "cp", "x"]) == 2


def test_a_refused_push_counts_only_for_an_older_timeline(tmp_path, monkeypatch):
    (tmp_path / "pg_wal").mkdir()
    (tmp_path / "pg_wal" / "00000002.history").write_text(HISTORY2)
    argv = ["pgbackrest", "--stanza=main", "archive-push", "pg_wal/x"]
    monkeypatch.setattr(arc, "missing_from", lambda *a, **k: [])
    # The current timeline: a refusal stays an error (two writers).
    assert arc.refused("000000020000000000000015", argv, str(tmp_path)) == 1
    assert arc.refused("00000002.history", argv, str(tmp_path)) == 1
    # Timeline 1's segment, already in every repository: archived.
    assert arc.refused("000000010000000000000013", argv, str(tmp_path)) == 0
    monkeypatch.setattr(arc, "missing_from", lambda *a, **k: [2])
    assert arc.refused("000000010000000000000013", argv, str(tmp_path)) == 1


def test_archive_ids_are_cached_for_ten_minutes(tmp_path):
    path = str(tmp_path / "ids.json")
    arc.save_ids({1: "15-1", 2: "15-2"}, path)
    assert arc.cached_ids(path) == {1: "15-1", 2: "15-2"}
    assert arc.cached_ids(path, now=arc.time.time() + 601) == {}
    assert arc.cached_ids(str(tmp_path / "none.json")) == {}


def test_the_shell_command_starts_no_interpreter_on_the_primary(tmp_path):
    import subprocess
    script = os.path.join(os.path.dirname(PATH), "pgha-archive")
    ok = subprocess.run([script, "true", "pgbackrest"], cwd=str(tmp_path), check=False)
    assert ok.returncode == 0
    # A refused push goes to the helper (absent here: the command fails, never succeeds silently).
    refused = subprocess.run([script, "false"], cwd=str(tmp_path), check=False, stderr=subprocess.DEVNULL)
    assert refused.returncode != 0


def test_a_standby_promoted_while_holding_pushes_at_once(tmp_path, monkeypatch):
    """A promotion writes its history file before it removes standby.signal: the
    hold notices the promotion and pushes (the new primary's own file)."""
    (tmp_path / "pg_wal").mkdir()
    (tmp_path / "PG_VERSION").write_text("15\n")
    conf = tmp_path / "pgbackrest.conf"
    conf.write_text("[global]\nrepo1-host=10.0.0.5\n")
    monkeypatch.setattr(arc, "CONFIG", str(conf))
    monkeypatch.setattr(arc, "PROMOTION_SETTLE", 0)
    monkeypatch.setattr(arc, "HOLD_WAITS", ())
    monkeypatch.setattr(arc, "missing_from", lambda *a, **k: pytest.fail("a promoted node reads no repository"))
    assert arc.hold("00000002.history", ["/bin/true", "--stanza=main", "archive-push", "x"], str(tmp_path)) == 0
    assert arc.hold("00000002.history", ["/bin/false", "--stanza=main", "archive-push", "x"], str(tmp_path)) == 1
    assert arc.hold("000000020000000000000005", ["/bin/true", "--stanza=main", "archive-push", "x"],
                    str(tmp_path)) == 0
    # Still a standby: a history file it received is not held, and nothing is pushed.
    (tmp_path / "standby.signal").write_text("")
    assert arc.hold("00000002.history", ["/bin/false", "--stanza=main", "archive-push", "x"], str(tmp_path)) == 0
