import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import pgbouncer as pgb
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import repoint_ini, wildcard_target

INI = """;; managed
[databases]
;; comment
* = host=10.0.0.11 port=5432 auth_user=pgbouncer_auth

[pgbouncer]
listen_port = 6432
"""


def test_wildcard_target():
    assert wildcard_target(INI) == {"host": "10.0.0.11", "port": "5432", "auth_user": "pgbouncer_auth"}
    assert wildcard_target("[pgbouncer]\nlisten_port = 1\n") is None


def test_repoint_changes_only_host_and_port():
    out = repoint_ini(INI, "10.0.0.12", 5433)
    assert "* = host=10.0.0.12 port=5433 auth_user=pgbouncer_auth" in out
    assert out.replace("10.0.0.12 port=5433", "10.0.0.11 port=5432") == INI
    assert repoint_ini(INI, "10.0.0.11", 5432) == INI


def test_repoint_without_wildcard_entry_is_refused():
    with pytest.raises(ValueError, match=r"no '\*' entry"):
        repoint_ini("[databases]\nfoo = host=x\n", "h", 1)


def test_pause_all_resumes_what_it_paused_when_one_refuses(monkeypatch):
    calls = []

    def fake_admin(module, sql, user, password, port=6432, host="127.0.0.1", check_rc=True, timeout=5):
        calls.append((sql, host))
        return (1, "", "connection refused") if (sql, host) == ("PAUSE", "10.0.0.22") else (0, "", "")
    monkeypatch.setattr(pgb, "admin", fake_admin)
    paused, refused = pgb.pause_all(None, ["10.0.0.21", {"host": "10.0.0.22"}, "10.0.0.23"], "u", "p")
    assert (paused, refused) == ([], ("10.0.0.22", "connection refused"))
    assert calls == [("PAUSE", "10.0.0.21"), ("PAUSE", "10.0.0.22"), ("RESUME", "10.0.0.21")]
    calls[:] = []
    paused, refused = pgb.pause_all(None, ["10.0.0.21"], "u", "p")
    assert refused is None and paused == [{"host": "10.0.0.21"}]


class FakeModule(object):
    """get_bin_path for OpenConsole: a stand-in psql that records its arguments and what it reads."""

    def __init__(self, path):
        self.path = path

    def get_bin_path(self, name, required=False):
        return self.path


def fake_psql(tmp_path, body):
    script = tmp_path / "psql"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return FakeModule(str(script))


def test_open_console_sends_the_commands_when_due(tmp_path):
    # Connected ahead: the stand-in writes its arguments at once, then what it reads once run() sends it.
    module = fake_psql(tmp_path, 'echo "$@" > %s/argv; echo "$PGPASSWORD" > %s/pw; cat > %s/stdin\n'
                       % (tmp_path, tmp_path, tmp_path))
    session = pgb.OpenConsole(module, "pgha_admin", "secret", port=6433)
    rc, out, err = session.run("RESUME")
    assert rc == 0
    assert (tmp_path / "stdin").read_text() == "RESUME;\n"
    argv = (tmp_path / "argv").read_text().split()
    assert argv[-6:] == ["-p", "6433", "-U", "pgha_admin", "-d", "pgbouncer"] and "ON_ERROR_STOP=1" in argv
    # The password goes through the environment, never the command line.
    assert (tmp_path / "pw").read_text().strip() == "secret" and "secret" not in argv


def test_open_console_says_when_the_session_is_gone(tmp_path):
    # A session that ended (login refused, connection cut) returns None: the caller uses admin() instead.
    session = pgb.OpenConsole(fake_psql(tmp_path, "exit 2\n"), "pgha_admin", "secret")
    session.proc.wait()
    assert session.run("RESUME") is None


def test_pause_all_uses_the_consoles_opened_ahead(monkeypatch):
    # PAUSE goes over each session opened ahead; one that is gone (None) falls back to a fresh psql.
    class Console(object):
        def __init__(self, answer):
            self.answer, self.sent, self.closed = answer, [], False

        def run(self, command):
            self.sent.append(command)
            return self.answer

        def close(self):
            self.closed = True

    fresh = []

    def fake_admin(module, sql, user, password, port=6432, host="127.0.0.1", check_rc=True, timeout=5):
        fresh.append((sql, host))
        return 0, "", ""
    monkeypatch.setattr(pgb, "admin", fake_admin)
    consoles = [Console((0, "", "")), Console(None)]
    paused, refused = pgb.pause_all(None, ["10.0.0.21", "10.0.0.22"], "u", "p", consoles=consoles)
    assert refused is None and [c.sent for c in consoles] == [["PAUSE"], ["PAUSE"]]
    assert fresh == [("PAUSE", "10.0.0.22")]
    # A refusal over a console resumes what was paused and closes the sessions not used.
    fresh[:] = []
    consoles = [Console((0, "", "")), Console((1, "", "ERROR: no such user")), Console((0, "", ""))]
    paused, refused = pgb.pause_all(None, ["10.0.0.21", "10.0.0.22", "10.0.0.23"], "u", "p", consoles=consoles)
    assert (paused, refused) == ([], ("10.0.0.22", "ERROR: no such user"))
    assert fresh == [("RESUME", "10.0.0.21")] and consoles[2].closed and consoles[2].sent == []


def test_pool_clients_counts_active_and_waiting_but_the_admin_console():
    from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import pool_clients
    text = ("pgbouncer|pgbouncer|1|0|0|0|0|0|0|0|0|statement\n"
            "app|app|4|2|0|4|0|0|0|0|0|transaction\n"
            "postgres|pgbouncer_auth|1|0|0|1|0|0|0|0|0|transaction\n")
    assert pool_clients(text) == 7
    assert pool_clients("") == 0 and pool_clients("garbage\nx|y|z|w\n") == 0
