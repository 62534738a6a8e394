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
