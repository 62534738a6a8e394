import pytest

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
    from ansible_collections.pgha.cluster.plugins.module_utils import pgbouncer as pgb
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
