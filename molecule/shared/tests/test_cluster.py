"""The converged lab: roles, streaming, sync state, data flow, PgBouncer, access rules, check mode."""
import time
import uuid

import psycopg2
import pytest

from labtools import playbook

STANDBYS = ("pg2", "pg3")


def test_pg1_is_primary_and_standbys_are_in_recovery(sql):
    assert sql("pg1", "SELECT pg_is_in_recovery()") == "f"
    for name in STANDBYS:
        assert sql(name, "SELECT pg_is_in_recovery()") == "t"


def test_data_checksums_and_scram(sql):
    assert sql("pg1", "SHOW data_checksums") == "on"
    assert sql("pg1", "SHOW password_encryption") == "scram-sha-256"
    assert sql("pg1", "SHOW wal_log_hints") == "on"


def test_both_standbys_stream_with_quorum_sync_state(sql, lab):
    rows = sql("pg1", "SELECT application_name || ':' || state || ':' || sync_state FROM pg_stat_replication "
                      "ORDER BY 1").splitlines()
    expected = "quorum" if lab["pgha_sync_mode"] == "quorum" else "sync"
    assert rows == ["pg2:streaming:%s" % expected, "pg3:streaming:%s" % expected]
    assert sql("pg1", "SHOW synchronous_standby_names") == 'ANY 1 ("pg2", "pg3")'


def test_each_standby_uses_its_own_slot(sql):
    rows = sql("pg1", "SELECT slot_name || ':' || active FROM pg_replication_slots ORDER BY 1").splitlines()
    assert rows == ["pg2:true", "pg3:true"]


def test_row_written_on_primary_is_readable_on_both_standbys(sql):
    token = uuid.uuid4().hex
    sql("pg1", "CREATE TABLE IF NOT EXISTS pgha_verify (token text PRIMARY KEY, at timestamptz DEFAULT now())")
    sql("pg1", "INSERT INTO pgha_verify (token) VALUES ('%s')" % token)
    for name in STANDBYS:
        deadline = time.time() + 15
        while sql(name, "SELECT count(*) FROM pgha_verify WHERE token = '%s'" % token) != "1":
            assert time.time() < deadline, "row %s not replayed on %s within 15 s" % (token, name)
            time.sleep(0.2)


def test_role_created_after_deploy_logs_in_through_pgbouncer_on_the_primary(sql, lab):
    name = "app_%s" % uuid.uuid4().hex[:8]
    password = uuid.uuid4().hex
    sql("pg1", "CREATE ROLE %s LOGIN PASSWORD '%s'" % (name, password))
    try:
        conn = psycopg2.connect(host=lab["addresses"]["pooler1"], port=6432, dbname="postgres", user=name,
                                password=password, connect_timeout=5)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT host(inet_server_addr()), pg_is_in_recovery(), current_user")
            server, in_recovery, user = cur.fetchone()
        conn.close()
        assert (server, in_recovery, user) == (lab["addresses"]["pg1"], False, name)
    finally:
        sql("pg1", "DROP ROLE %s" % name)


def test_wrong_password_through_pgbouncer_is_rejected(sql, lab):
    name = "app_%s" % uuid.uuid4().hex[:8]
    sql("pg1", "CREATE ROLE %s LOGIN PASSWORD '%s'" % (name, uuid.uuid4().hex))
    try:
        with pytest.raises(psycopg2.OperationalError, match="authentication failed"):
            psycopg2.connect(host=lab["addresses"]["pooler1"], port=6432, dbname="postgres",
                             user=name, password="wrong", connect_timeout=5)
    finally:
        sql("pg1", "DROP ROLE %s" % name)


def test_replication_from_a_non_member_address_is_rejected(lab):
    # This machine (the podman gateway address) is not a cluster member.
    with pytest.raises(psycopg2.OperationalError, match="no pg_hba.conf entry for replication connection"):
        psycopg2.connect(host=lab["addresses"]["pg1"], port=5432, dbname="replication", replication="true",
                         user=lab["pgha_replication_user"], password=lab["pgha_replication_password"],
                         connect_timeout=5)


def test_no_trust_on_host_lines(sql):
    rows = sql("pg1", "SELECT count(*) FROM pg_hba_file_rules WHERE type LIKE 'host%' AND auth_method = 'trust'")
    assert rows == "0"


def test_pgbouncer_admin_console_answers_on_the_pooler(lab):
    from labtools import lab_host
    out = lab_host("pooler1").check_output(
        "PGPASSWORD=%s psql -XAt -F= -h 127.0.0.1 -p 6432 -U %s pgbouncer -c 'SHOW CONFIG'",
        lab["pgha_admin_password"], lab["pgha_admin_user"])
    config = dict(line.split("=")[:2] for line in out.splitlines() if "=" in line)
    assert config["listen_port"] == "6432" and config["pool_mode"] == "transaction"


def test_secret_files_are_not_readable_by_others():
    from labtools import lab_host
    for name, path in (("pg1", "/var/lib/postgresql/.pgpass"), ("pooler1", "/etc/pgbouncer/userlist.txt")):
        f = lab_host(name).file(path)
        assert f.exists and f.mode & 0o007 == 0, "%s:%s mode %o" % (name, path, f.mode)


def test_check_mode_on_converged_cluster_reports_zero_changes():
    rc, out, recap = playbook("playbooks/site.yml", check=True)
    assert rc == 0, out[-3000:]
    assert set(recap) >= {"pg1", "pg2", "pg3", "pooler1"}
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()), recap


def test_status_playbook_reports_the_topology(tmp_path):
    status_file = tmp_path / "status.json"
    rc, out, recap = playbook("playbooks/status.yml", "-e", "pgha_status_file=%s" % status_file)
    assert rc == 0, out[-3000:]
    import json
    status = json.loads(status_file.read_text())
    assert status["primary"] == "pg1"
    rows = dict((r["host"], r) for r in status["nodes"])
    assert rows["pg2"]["upstream"] == "pg1" and rows["pg3"]["sync_state"] in ("quorum", "sync")
    assert status["poolers"][0]["target"] == "pg1" and status["poolers"][0]["active"] is True
    assert "pgbouncer pooler1:6432 active -> pg1" in out


def test_built_collection_installs_and_runs_from_its_fqcn(tmp_path):
    """ansible-galaxy collection build + install, then pgha.cluster.status by FQCN against the lab."""
    import os
    import subprocess
    from labtools import ROOT
    build = subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(tmp_path), ROOT],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert build.returncode == 0, build.stdout
    tarball = [p for p in os.listdir(str(tmp_path)) if p.endswith(".tar.gz")]
    assert tarball == ["pgha-cluster-0.1.0.tar.gz"]
    installed = tmp_path / "collections"
    inst = subprocess.run(["ansible-galaxy", "collection", "install", "--force", "--offline", "--no-deps", "-p", str(installed),
                           str(tmp_path / tarball[0])], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert inst.returncode == 0, inst.stdout
    assert not (installed / "ansible_collections" / "pgha" / "cluster" / ".lab").exists()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1")
    run = subprocess.run(["ansible-playbook", "-i", os.path.join(ROOT, "inventories", "lab", "hosts.yml"),
                          "pgha.cluster.status"], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    doc = subprocess.run(["ansible-doc", "-t", "module", "pgha.cluster.pg_node_info"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert doc.returncode == 0 and str(installed) in doc.stdout, doc.stdout[-2000:]
    assert "pgbouncer pooler1:6432 active -> pg1" in run.stdout
