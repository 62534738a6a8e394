"""The monitoring role's programs on the hosts: pgha's PgBouncer exporter and
pgBackRest's metrics for the textfile collector (stdlib-only; loaded from their files)."""
import io
import json
import os
import subprocess

import pytest

from scripts import load_script

bouncer = load_script("monitoring", "pgha_pgbouncer_exporter.py")
backup = load_script("monitoring", "pgha_backup_metrics.py")

DATABASES = [
    {"name": "pgbouncer", "host": None, "port": 6432, "paused": 0, "disabled": 0, "current_connections": 0},
    {"name": "app", "host": "10.0.0.11", "port": 5432, "paused": 1, "disabled": 0, "current_connections": 3},
]
POOLS = [
    {"database": "pgbouncer", "user": "pgbouncer", "cl_active": 1, "cl_waiting": 0, "sv_active": 0, "sv_idle": 0,
     "maxwait": 0, "maxwait_us": 0},
    {"database": "app", "user": "app", "cl_active": 2, "cl_waiting": 4, "sv_active": 2, "sv_idle": 1,
     "maxwait": 7, "maxwait_us": 250000},
]


def samples(text):
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_pgbouncer_metrics_say_paused_waiting_and_where_clients_go():
    got = samples(bouncer.render(DATABASES, POOLS))
    assert got["pgbouncer_up"] == "1"
    assert got['pgbouncer_database_paused{database="app"}'] == "1"
    assert got['pgbouncer_pool_client_waiting{database="app",user="app"}'] == "4"
    assert got['pgbouncer_pool_maxwait_seconds{database="app",user="app"}'] == "7.25"
    assert got['pgbouncer_database_target{database="app",host="10.0.0.11",port="5432"}'] == "1"
    # The admin console is no database of clients.
    assert not any('"pgbouncer"' in key for key in got)
    # Without SHOW STATE (PgBouncer before 1.21) there is no global paused metric rather than a wrong one.
    assert "pgbouncer_paused" not in got


def test_a_global_pause_shows_where_pgbouncer_says_so():
    got = samples(bouncer.render(DATABASES, POOLS, state={"active": "no", "paused": "yes", "suspended": "no"}))
    assert got["pgbouncer_paused"] == "1" and got["pgbouncer_suspended"] == "0"


def test_a_pgbouncer_that_does_not_answer_is_reported_not_hidden():
    def failing(port, user):
        raise OSError("connection refused")
    app = bouncer.make_app(6432, "prometheus", reader=failing)
    status = []
    body = b"".join(app({"PATH_INFO": "/metrics", "wsgi.errors": io.StringIO()},
                        lambda code, headers: status.append(code)))
    assert status == ["200 OK"]
    assert samples(body.decode())["pgbouncer_up"] == "0"


def test_label_values_are_escaped():
    assert bouncer._sample("m", {"database": 'a"b\\c'}, 1) == 'm{database="a\\"b\\\\c"} 1'


INFO = [{
    "name": "main", "status": {"code": 0, "message": "ok"},
    "archive": [{"id": "15-1", "min": "000000010000000000000001", "max": "000000010000000000000009"}],
    "backup": [
        {"label": "20261201-010000F", "type": "full", "timestamp": {"start": 1000, "stop": 1600},
         "info": {"size": 5000, "repository": {"delta": 900}}},
        {"label": "20261202-010000F", "type": "full", "timestamp": {"start": 2000, "stop": 2500},
         "info": {"size": 6000, "repository": {"delta": 1000}}},
        {"label": "20261202-010000F_20261203-010000D", "type": "diff", "timestamp": {"start": 3000, "stop": 3100},
         "info": {"size": 6000, "repository": {"delta": 100}}},
        {"label": "bad", "type": "incr", "error": True, "timestamp": {"start": 4000, "stop": 4100}, "info": {}},
    ],
}]


def test_backup_metrics_take_the_newest_good_backup_of_each_type():
    got = dict((name + json.dumps(labels, sort_keys=True), value)
               for name, labels, value in backup.repo_samples("main", 2, INFO))
    full = json.dumps({"repo": "2", "stanza": "main", "type": "full"}, sort_keys=True)
    assert got["pgha_backup_last_completion_timestamp_seconds" + full] == 2500
    assert got["pgha_backup_last_duration_seconds" + full] == 500
    assert got["pgha_backup_last_repository_size_bytes" + full] == 1000
    repo = json.dumps({"repo": "2", "stanza": "main"}, sort_keys=True)
    assert got["pgha_backup_repo_ok" + repo] == 1
    assert got["pgha_backup_count" + repo] == 4
    # A failed incremental backup is no backup.
    assert not any("incr" in key for key in got)


def test_an_unreadable_repository_is_a_metric_of_its_own():
    got = backup.repo_samples("main", 1, None, error="timed out")
    assert ("pgha_backup_repo_ok", {"stanza": "main", "repo": "1"}, 0) in got
    assert ("pgha_backup_count", {"stanza": "main", "repo": "1"}, 0) in got


def test_backup_metrics_text_groups_each_metric_under_one_type_line(tmp_path):
    text = backup.render(backup.repo_samples("main", 1, INFO) + backup.repo_samples("main", 2, None, "x"), 1234)
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(names) == len(set(names))
    assert "pgha_backup_metrics_timestamp_seconds 1234" in text
    path = tmp_path / "pgha_backup.prom"
    backup.write_atomically(str(path), text)
    assert path.read_text() == text and oct(os.stat(path).st_mode & 0o777) == "0o644"
    promtool = os.environ.get("PGHA_PROMTOOL")
    if promtool:
        # The node exporter reads it: the exposition format must parse.
        result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
        assert "error" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr


def test_pgbouncer_metrics_parse_as_exposition_format():
    promtool = os.environ.get("PGHA_PROMTOOL")
    if not promtool:
        pytest.skip("PGHA_PROMTOOL is not set (make unit sets it)")
    body = bouncer.render(DATABASES, POOLS)
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, check=False)
    assert "error" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
