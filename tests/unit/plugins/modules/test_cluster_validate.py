from ansible_collections.pgha.cluster.plugins.modules import cluster_validate as mod

SETTINGS = {"pgha_cluster_name": "main", "pgha_postgresql_version": 15, "pgha_postgresql_port": 5432,
            "pgha_replication_user": "r", "pgha_sync_mode": "quorum", "pgha_sync_count": 1,
            "pgha_pgbouncer_auth_user": "a", "pgha_admin_user": "b"}
SECRETS = {"pgha_replication_password": "s3cret-one", "pgha_pgbouncer_auth_password": "s3cret-two",
           "pgha_admin_password": "s3cret-three"}


def args(**kw):
    base = {"groups": {"pgha_postgresql": ["pg1", "pg2"], "pgha_pgbouncer": ["pooler1"]},
            "initial_primaries": ["pg1"], "settings": SETTINGS, "secrets": SECRETS}
    base.update(kw)
    return base


def test_valid(run_module):
    rc, result = run_module(mod, dict(args(), _ansible_check_mode=True))
    assert rc == 0 and result["changed"] is False and result["errors"] == []


def test_invalid_lists_every_problem_and_hides_secrets(run_module):
    rc, result = run_module(mod, args(initial_primaries=["pg1", "pg2"], settings=dict(SETTINGS, pgha_sync_count=2)))
    assert rc == 1 and result["msg"].startswith("invalid inputs, nothing was changed")
    assert "2 initial primaries (pg1, pg2)" in result["msg"]
    assert "pgha_sync_count is 2 but the cluster has 1 standby(s)" in result["msg"]
    assert "s3cret" not in str(result)
