"""Bad inputs are refused before any host is touched, each with a message naming the fix."""
import concurrent.futures
import json
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
    # PgBouncer may share a database node (the three-node layout); nothing else may.
    ("host in two roles", [], {"pgha_lab": {"children": {"pgha_backup": {"hosts": {"pooler1": {}}}}}},
     "pooler1 is in two roles (pgha_backup and pgha_pgbouncer)"),
    ("database node as a drill host", [], {"pgha_lab": {"children": {"pgha_drill": {"hosts": {"pg3": {}}}}}},
     "pg3 is in two roles (pgha_drill and pgha_postgresql)"),
    ("missing secret", ["-e", "pgha_replication_password="], None,
     "missing required secrets: pgha_replication_password"),
    ("object store endpoint with a scheme",
     ["-e", '{"pgha_backup_s3_repos": [{"endpoint": "https://s3.example", "bucket": "b", "key": "k", "key_secret": "s"}]}'],
     None, "endpoint 'https://s3.example' must be a host name only"),
    ("encrypted repository without a passphrase", ["-e", "pgha_backup_cipher_pass="], None,
     "pgha_backup_cipher_pass is not set"),
]


def _json(data):
    return ["-e", json.dumps(data)]


SAFETY_CASES = [
    ("duplicate address", [], {"pgha_lab": {"children": {"pgha_pgbouncer": {"hosts": {"pooler1": {
        "ansible_host": "10.213.77.12"}}}}}}, "pg2 and pooler1 share the address 10.213.77.12"),
    ("colliding slot names", [], {"pgha_lab": {"children": {"pgha_postgresql": {"hosts": {"PG3": {
        "ansible_host": "10.213.77.99"}}}}}}, "pg3, PG3 map to the same replication slot pg3"),
    ("name over 63 bytes", [], {"pgha_lab": {"children": {"pgha_postgresql": {"hosts": {"n" * 64: {
        "ansible_host": "10.213.77.98"}}}}}}, "is longer than 63 bytes"),
    ("cluster-wide setting per host", [], {"pgha_lab": {"children": {"pgha_postgresql": {"hosts": {"pg3": {
        "pgha_postgresql_port": 5433}}}}}}, "pgha_postgresql_port is cluster-wide but differs between hosts"),
    ("replication user is the lookup user", ["-e", "pgha_pgbouncer_auth_user=replicator"], None,
     "pgha_replication_user and pgha_pgbouncer_auth_user are both 'replicator'"),
    ("replication user is postgres", ["-e", "pgha_replication_user=postgres"], None,
     "pgha_replication_user is postgres"),
    ("role name is a pg_hba keyword", ["-e", "pgha_admin_user=all"], None, "'all' is a pg_hba keyword"),
    ("role name is a group reference", _json({"pgha_pgbouncer_auth_user": "+admins"}), None,
     "'+admins' is a pg_hba keyword"),
    ("role name with a newline", _json({"pgha_replication_user": "rep\nhost all all 0.0.0.0/0 trust"}), None,
     "must be a plain identifier"),
    ("client network 0.0.0.0/0", _json({"postgresql_hba_client_networks": ["0.0.0.0/0"]}), None,
     "opens the cluster to every address"),
    ("client network samenet", _json({"postgresql_hba_client_networks": ["samenet"]}), None,
     "'samenet' is a pg_hba keyword"),
    ("client network with a newline", _json({"postgresql_hba_client_networks": ["10.0.0.0/8\nhost all all all trust"]}),
     None, "holds spaces or control characters"),
    ("cluster name with a slash", ["-e", "pgha_cluster_name=../etc"], None, "pgha_cluster_name '../etc' must be"),
    ("cluster name with a semicolon", _json({"pgha_cluster_name": "a;b"}), None, "no '/', '..', ';' or spaces"),
    ("S3 field with a newline", _json({"pgha_backup_s3_repos": [{"endpoint": "s3.example", "bucket": "b\n[global]",
                                                                 "key": "k", "key_secret": "s"}]}),
     None, "pgha_backup_s3_repos[0].bucket holds a newline"),
    ("schedule that would add a unit line", _json({"pgbackrest_schedule_full": "Sun *-*-* 01:00:00\nExecStartPre=/bin/sh"}),
     None, "pgbackrest_schedule_full 'Sun *-*-* 01:00:00\\nExecStartPre=/bin/sh' is not a systemd calendar"),
    ("logical backup folder outside", _json({"pgbackrest_logical_dir": "/var/backups/../../etc/cron.d"}), None,
     "pgbackrest_logical_dir '/var/backups/../../etc/cron.d' must be an absolute path"),
    ("rewind role is a pg_hba keyword", ["-e", "pgha_rewind_user=all"], None, "pgha_rewind_user: 'all' is a pg_hba keyword"),
    ("pgbouncer setting with a newline", _json({"pgbouncer_parameters": {"auth_type": "trust\nadmin_users = x"}}),
     None, "pgbouncer_parameters 'auth_type'"),
    ("password with a newline", _json({"pgha_admin_password": "pw\nx"}), None,
     "pgha_admin_password holds a newline"),
    ("synchronous_commit local with quorum", _json({"postgresql_parameters": {"synchronous_commit": "local"}}), None,
     "postgresql_parameters sets synchronous_commit = local"),
    ("wal_level minimal", _json({"postgresql_parameters": {"wal_level": "minimal"}}), None, "wal_level = minimal"),
    ("ssl off", _json({"postgresql_parameters": {"ssl": "off"}}), None, "ssl = off"),
    ("md5 passwords", _json({"postgresql_parameters": {"password_encryption": "md5"}}), None,
     "password_encryption = md5"),
    ("archive_mode off with a repository", _json({"postgresql_parameters": {"archive_mode": "off"}}), None,
     "archive_mode = off"),
]


ALL_CASES = CASES + SAFETY_CASES


@pytest.fixture(scope="module")
def refusals(lab, tmp_path_factory):
    """Every bad input run through site.yml, three at a time (each is refused on the controller in about 2 s),
    between two fingerprints of the lab's managed files and servers: the case -> (rc, output, recap), and both
    fingerprints."""
    version = lab["pgha_postgresql_version"]
    before = fingerprint(version)

    def run(case):
        label, extra_args, extra_inv, dummy = case
        inventories = [LAB_INVENTORY]
        if extra_inv:
            inventories.append(extra_inventory(tmp_path_factory.mktemp("inv"), extra_inv))
        return label, playbook("playbooks/site.yml", *extra_args, inventory=inventories)

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(pool.map(run, ALL_CASES))
    return results, before, fingerprint(version)


@pytest.mark.parametrize("label, message", [(c[0], c[3]) for c in ALL_CASES], ids=[c[0] for c in ALL_CASES])
def test_bad_input_is_refused_before_any_change(refusals, label, message):
    results, before, after = refusals
    rc, out, recap = results[label]
    assert rc != 0, out[-2000:]
    assert message in out, out[-3000:]
    assert "nothing was changed" in out
    # Only the validation play ran: no database or pooler host was even contacted.
    assert set(recap) == {"localhost"}, recap
    # No managed file and no server start time changed while the refused runs went on.
    assert after == before, {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}


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


def test_an_unsafe_parameter_can_be_accepted_explicitly(lab):
    rc, out, recap = playbook("playbooks/validate.yml", "-e", json.dumps({
        "postgresql_parameters": {"synchronous_commit": "local"}, "pgha_allow_unsafe_parameters": ["synchronous_commit"]}))
    assert rc == 0, out[-2000:]
