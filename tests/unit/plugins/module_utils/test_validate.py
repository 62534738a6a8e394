import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import validate
from ansible_collections.pgha.cluster.plugins.module_utils.validate import validate_inputs

GOOD_SETTINGS = {
    "pgha_cluster_name": "main", "pgha_postgresql_version": 15, "pgha_postgresql_port": 5432,
    "pgha_replication_user": "replicator", "pgha_sync_mode": "quorum", "pgha_sync_count": 1,
    "pgha_pgbouncer_auth_user": "pgbouncer_auth", "pgha_admin_user": "pgha_admin",
}
GOOD_SECRETS = {"pgha_replication_password": "a", "pgha_pgbouncer_auth_password": "b",
                "pgha_admin_password": "c"}
GROUPS = {"pgha_postgresql": ["pg1", "pg2", "pg3"], "pgha_pgbouncer": ["pooler1"]}


def run(groups=None, primaries=("pg1",), settings=None, secrets=None):
    s = dict(GOOD_SETTINGS, **(settings or {}))
    return validate_inputs(groups or GROUPS, list(primaries), s, dict(GOOD_SECRETS, **(secrets or {})))


def test_valid_inputs():
    assert run() == []


@pytest.mark.parametrize("kwargs, fragment", [
    ({"primaries": ()}, "no initial primary: set pgha_initial_primary: true on exactly one host"),
    ({"primaries": ("pg1", "pg2")}, "2 initial primaries (pg1, pg2)"),
    ({"primaries": ("pooler1",)}, "the initial primary pooler1 is not in pgha_postgresql"),
    ({"settings": {"pgha_sync_count": 3}},
     "pgha_sync_count is 3 but the cluster has 2 standby(s)"),
    ({"settings": {"pgha_sync_count": 0}}, "at least 1"),
    ({"settings": {"pgha_sync_mode": "sometimes"}}, "pgha_sync_mode must be one of off, quorum, priority"),
    ({"settings": {"pgha_sync_mode": False}}, "write it quoted, pgha_sync_mode: 'off'"),
    ({"settings": {"pgha_postgresql_version": 12}}, "PostgreSQL version 12 is not supported"),
    ({"settings": {"pgha_postgresql_version": "latest"}}, "PostgreSQL version latest is not supported"),
    ({"settings": {"pgha_postgresql_port": 70000}}, "TCP port"),
    ({"settings": {"pgha_cluster_name": None}}, "missing required settings: pgha_cluster_name"),
    ({"secrets": {"pgha_replication_password": None, "pgha_admin_password": ""}},
     "missing required secrets: pgha_replication_password, pgha_admin_password"),
    ({"groups": {"pgha_postgresql": ["pg1", "pg2"], "pgha_pgbouncer": ["pg2"]}},
     "pg2 is in two roles (pgha_pgbouncer and pgha_postgresql)"),
    ({"groups": {"pgha_postgresql": [], "pgha_pgbouncer": ["pooler1"]}, "primaries": ()},
     "PgBouncer host(s) pooler1 have no database node to point at"),
])
def test_each_bad_input_is_named(kwargs, fragment):
    errors = run(**kwargs)
    assert any(fragment in e for e in errors), errors


def test_sync_count_ignored_when_sync_off():
    assert run(settings={"pgha_sync_mode": "off", "pgha_sync_count": 5}) == []


def test_all_problems_reported_at_once():
    errors = run(primaries=(), settings={"pgha_postgresql_version": 9}, secrets={"pgha_admin_password": None})
    assert len(errors) == 3


GOOD_S3 = {"endpoint": "acct.r2.cloudflarestorage.com", "bucket": "b", "region": "auto", "uri_style": "path",
           "key": True, "key_secret": True}


@pytest.mark.parametrize("groups, repos, cipher, pass_set, fragment", [
    ({"pgha_backup": ["b1", "b2"]}, [], False, False, "pgha_backup has 2 hosts (b1, b2)"),
    ({}, [dict(GOOD_S3, endpoint="https://acct.r2.cloudflarestorage.com")], False, False,
     "must be a host name only (no scheme, no path)"),
    ({}, [dict(GOOD_S3, key=False)], False, False, "pgha_backup_s3_repos[0] lacks key"),
    ({}, [dict(GOOD_S3, uri_style="virtual")], False, False, "uri_style must be host or path"),
    ({}, [dict(GOOD_S3, port="http")], False, False, "port must be a TCP port"),
    ({}, ["acct.r2.cloudflarestorage.com"], False, False, "must be a mapping"),
    ({}, {"endpoint": "x"}, False, False, "must be a list of repositories"),
    ({"pgha_drill": ["d1"]}, [], False, False, "pgha_drill hosts (d1) have no repository to restore from"),
    ({"pgha_backup": ["b1"]}, [], True, False, "pgha_backup_cipher_pass is not set"),
])
def test_backup_inputs(groups, repos, cipher, pass_set, fragment):
    errors = validate.validate_backup(groups, repos, cipher, pass_set)
    assert any(fragment in e for e in errors), errors


def test_good_backup_inputs():
    assert validate.validate_backup({"pgha_backup": ["b1"], "pgha_drill": ["d1"]}, [GOOD_S3], True, True) == []
    assert validate.validate_backup({}, [], True, False) == []  # no repository: nothing to encrypt
