"""Bad inputs are refused before any host is touched, each with a message naming the fix."""
import os

import pytest
import yaml

from labtools import ROOT, lab_host, playbook

LAB_INVENTORY = os.path.join(ROOT, "inventories", "lab", "hosts.yml")
WATCHED = {
    "pg1": ["/etc/postgresql/{v}/main/conf.d/pgha.conf", "/etc/postgresql/{v}/main/pg_hba.conf",
            "/var/lib/postgresql/{v}/main/postgresql.auto.conf"],
    "pg2": ["/var/lib/postgresql/{v}/main/postgresql.auto.conf"],
    "pg3": ["/var/lib/postgresql/{v}/main/postgresql.auto.conf"],
    "pooler1": ["/etc/pgbouncer/pgbouncer.ini"],
}


def fingerprint(version):
    """Checksums of the managed files plus each server's start time: any change shows."""
    prints = {}
    for name, paths in WATCHED.items():
        host = lab_host(name)
        for path in paths:
            prints[(name, path)] = host.file(path.format(v=version)).md5sum
        if name != "pooler1":
            prints[(name, "start")] = host.run("runuser -u postgres -- psql -XAtc 'SELECT pg_postmaster_start_time()'").stdout
    return prints


def extra_inventory(tmp_path, data):
    path = tmp_path / "extra.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


CASES = [
    ("no initial primary", [], {"pgha_lab": {"children": {"pgha_postgresql": {"hosts": {"pg1": {
        "pgha_initial_primary": False}}}}}},
     "no initial primary: set pgha_initial_primary: true on exactly one host of pgha_postgresql"),
    ("two initial primaries", [], {"pgha_lab": {"children": {"pgha_postgresql": {"hosts": {"pg2": {
        "pgha_initial_primary": True}}}}}},
     "2 initial primaries (pg1, pg2)"),
    ("sync count above standbys", ["-e", "pgha_sync_count=3"], None,
     "pgha_sync_count is 3 but the cluster has 2 standby(s)"),
    ("unsupported version", ["-e", "pgha_postgresql_version=12"], None,
     "PostgreSQL version 12 is not supported"),
    ("host in two roles", [], {"pgha_lab": {"children": {"pgha_postgresql": {"hosts": {"pooler1": {}}}}}},
     "pooler1 is in two roles (pgha_pgbouncer and pgha_postgresql)"),
    ("missing secret", ["-e", "pgha_replication_password="], None,
     "missing required secrets: pgha_replication_password"),
    ("object store endpoint with a scheme",
     ["-e", '{"pgha_backup_s3_repos": [{"endpoint": "https://s3.example", "bucket": "b", "key": "k", "key_secret": "s"}]}'],
     None, "endpoint 'https://s3.example' must be a host name only"),
    ("encrypted repository without a passphrase", ["-e", "pgha_backup_cipher_pass="], None,
     "pgha_backup_cipher_pass is not set"),
]


@pytest.mark.parametrize("label, extra_args, extra_inv, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(tmp_path, lab, label, extra_args, extra_inv, message):
    before = fingerprint(lab["pgha_postgresql_version"])
    inventories = [LAB_INVENTORY] + ([extra_inventory(tmp_path, extra_inv)] if extra_inv else [])
    rc, out, recap = playbook("playbooks/site.yml", *extra_args, inventory=inventories)
    assert rc != 0, out[-2000:]
    assert message in out, out[-3000:]
    assert "nothing was changed" in out
    # Only the validation play ran: no database or pooler host was even contacted.
    assert set(recap) == {"localhost"}, recap
    assert fingerprint(lab["pgha_postgresql_version"]) == before


def test_pooler_without_database_nodes_is_refused(tmp_path, lab):
    inv = {"pgha_pgbouncer": {"hosts": {"pooler1": {"ansible_host": lab["addresses"]["pooler1"]}}}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inv))
    group_vars = tmp_path / "group_vars"
    os.symlink(os.path.join(ROOT, "inventories", "lab", "group_vars"), str(group_vars))
    rc, out, recap = playbook("playbooks/site.yml", inventory=[str(path)])
    assert rc != 0
    assert "PgBouncer host(s) pooler1 have no database node to point at" in out, out[-3000:]
    assert set(recap) == {"localhost"}, recap
