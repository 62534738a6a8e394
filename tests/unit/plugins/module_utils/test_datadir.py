import os
import time

import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import datadir
from ansible_collections.pgha.cluster.plugins.module_utils.operations import rewind_failure


def test_aside_path_and_parse_round_trip():
    path = datadir.aside_path("/var/lib/postgresql/15/main", "Rejoin fallback", 1764633600)
    assert path == "/var/lib/postgresql/15/main.pgha-aside-20251202T000000Z-rejoin-fallback"
    info = datadir.parse_aside(path)
    assert info == {"base": "main", "created": 1764633600, "reason": "rejoin-fallback"}
    assert datadir.parse_aside("/x/main.pre-restore-1700000000")["created"] == 1700000000
    assert datadir.parse_aside("/x/main") is None


@pytest.mark.parametrize("free, needed, refused", [
    (10 << 30, 1 << 30, False),
    (1 << 30, 1 << 30, True),          # the margin is not there
    ((1 << 30) + (300 << 20), 1 << 30, False),
    (0, None, False),                  # nothing to copy
])
def test_space_problem(free, needed, refused):
    problem = datadir.space_problem(free, needed, "/var/lib/postgresql/15/main")
    assert bool(problem) is refused
    if refused:
        assert "MiB free" in problem and "prune older copies" in problem


def test_prune_keeps_the_newest_of_each_directory():
    entries = [{"base": "/d/main", "created": c, "path": "/d/main.%d" % c} for c in (1, 3, 2)]
    entries.append({"base": "/d/other", "created": 1, "path": "/d/other.1"})
    assert [e["path"] for e in datadir.prune_choice(entries, 1)] == ["/d/main.1", "/d/main.2"]
    assert datadir.prune_choice(entries, 5) == []
    assert len(datadir.prune_choice(entries, 0)) == 4
    with pytest.raises(ValueError):
        datadir.prune_choice(entries, None)


def test_list_and_move_aside_keep_every_byte(tmp_path):
    data = tmp_path / "main"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    (tmp_path / "main.unrelated").mkdir()

    class Module(object):
        def fail_json(self, **kw):
            raise AssertionError(kw)

    moved = datadir.move_aside(Module(), str(data), "reclone")
    assert not data.exists() and (tmp_path / os.path.basename(moved) / "PG_VERSION").read_text() == "15\n"
    listed = datadir.list_aside(str(data))
    assert [e["path"] for e in listed] == [moved] and listed[0]["reason"] == "reclone"
    assert abs(listed[0]["created"] - time.time()) < 120


def test_move_aside_refuses_without_room(tmp_path, monkeypatch):
    data = tmp_path / "main"
    data.mkdir()
    monkeypatch.setattr(datadir, "free_bytes", lambda path: 1024)

    class Refused(Exception):
        pass

    class Module(object):
        def fail_json(self, **kw):
            raise Refused(kw["msg"])

    with pytest.raises(Refused, match="is left in place"):
        datadir.move_aside(Module(), str(data), "reclone", needed_bytes=1 << 30)
    assert data.exists()


@pytest.mark.parametrize("output, kind", [
    ('pg_rewind: error: could not connect to server: connection to server at "10.0.0.12", port 5432 failed: '
     'Connection timed out', "connection"),
    ('FATAL:  password authentication failed for user "replicator"', "connection"),
    ('FATAL:  no pg_hba.conf entry for host "10.0.0.11"', "connection"),
    ("pg_rewind: error: could not find previous WAL record at 0/3000028", "clone"),
    ('pg_rewind: error: could not open file "pg_wal/000000010000000000000003": No such file', "clone"),
    ("pg_rewind: error: target server needs to use either data checksums or \"wal_log_hints = on\"", "clone"),
    ("pg_rewind: error: something nobody has seen", "unknown"),
    ("", "unknown"),
])
def test_rewind_failure_falls_back_to_a_clone_only_when_a_clone_fixes_it(output, kind):
    assert rewind_failure(output) == kind
