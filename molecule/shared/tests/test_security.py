"""Least privilege on the converged lab (issue 10): no path from a database
owner to superuser, TLS on every connection between hosts with verified
certificates, PgBouncer's admin console and internal roles fenced off, no
shell between hosts. Every check here is an attempt that must fail, next to
one that must succeed (so a check that cannot fail is visible)."""
import os
import threading
import time

import psycopg2
import pytest

from labtools import lab_host, playbook

CA = os.path.expanduser("~/.pgha/ca/main/ca.crt")
PLANT_PW = "mallory-pw-Xq7"
EVIL = """
CREATE FUNCTION public.{name}({args}) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    EXECUTE 'ALTER ROLE pgha_mallory SUPERUSER';
  END IF;
  RETURN pg_catalog.{name}({call});
END $f$;
"""


def run_on(hostname, command, *args):
    return lab_host(hostname).run(command, *args)


@pytest.fixture(scope="module")
def mallory(sql, lab):
    """A login role that owns a database and has planted functions that shadow
    the built-ins pgha's superuser SQL calls (type resolution prefers them)."""
    sql("pg1", "DROP DATABASE IF EXISTS pgha_mallorydb")
    sql("pg1", "DROP ROLE IF EXISTS pgha_mallory")
    sql("pg1", "CREATE ROLE pgha_mallory LOGIN PASSWORD '%s'" % PLANT_PW)
    sql("pg1", "CREATE DATABASE pgha_mallorydb OWNER pgha_mallory")
    conn = psycopg2.connect(host=lab["addresses"]["pooler1"], port=6432, dbname="pgha_mallorydb",
                            user="pgha_mallory", password=PLANT_PW, sslmode="verify-full", sslrootcert=CA,
                            connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(EVIL.format(name="obj_description", args="oid, text", call="$1, $2::name"))
        cur.execute(EVIL.format(name="format", args="text, text", call="$1, $2"))
    conn.close()
    yield
    sql("pg1", "DROP DATABASE IF EXISTS pgha_mallorydb WITH (FORCE)")
    sql("pg1", "DROP ROLE IF EXISTS pgha_mallory")


def test_a_database_owner_cannot_become_superuser_through_site_yml(mallory, sql):
    assert sql("pg1", "SELECT rolsuper FROM pg_roles WHERE rolname = 'pgha_mallory'") == "f"
    # The lookup function "outdated" in that database: site.yml re-creates it there (format() runs).
    sql("pg1", "DROP FUNCTION IF EXISTS pgbouncer.get_auth(text)", db="pgha_mallorydb")
    rc, out, dummy = playbook("playbooks/site.yml", "-t", "primary_objects")
    assert rc == 0, out[-3000:]
    # The function was re-created in the planted database (so format() and the probe ran there)...
    assert sql("pg1", "SELECT count(*) FROM pg_proc WHERE proname = 'get_auth'", db="pgha_mallorydb") == "1"
    # ...and the planted functions never ran as a superuser.
    assert sql("pg1", "SELECT rolsuper FROM pg_roles WHERE rolname = 'pgha_mallory'") == "f"


def test_every_replication_connection_is_tls_with_a_verified_certificate(sql):
    rows = sql("pg1", "SELECT r.application_name || ':' || s.ssl FROM pg_stat_replication r "
                      "JOIN pg_stat_ssl s USING (pid) ORDER BY 1").splitlines()
    assert rows == ["pg2:true", "pg3:true"]
    for name in ("pg2", "pg3"):
        conninfo = sql(name, "SHOW primary_conninfo")
        assert "sslmode=verify-full" in conninfo and "sslrootcert=/etc/pgha/tls/ca.crt" in conninfo, conninfo


def test_no_remote_host_line_accepts_a_connection_without_tls(sql):
    rows = sql("pg1", "SELECT type || ' ' || coalesce(address, '') || ' ' || auth_method FROM pg_hba_file_rules "
                      "WHERE type = 'host' AND auth_method <> 'reject' "
                      "AND coalesce(address, 'all') NOT IN ('127.0.0.1', '::1')")
    assert rows == ""
    assert int(sql("pg1", "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'hostssl'")) >= 4


def test_postgresql_refuses_a_client_without_tls_and_accepts_one_with(lab):
    pw = lab["pgha_pgbouncer_auth_password"]
    base = "host=%s port=5432 dbname=postgres user=%s" % (lab["addresses"]["pg1"], lab["pgha_pgbouncer_auth_user"])
    plain = run_on("pooler1", "PGPASSWORD=%s psql -XAtq -d %s -c 'SELECT 1'", pw, base + " sslmode=disable")
    assert plain.rc != 0 and "no encryption" in plain.stderr, plain.stderr
    tls = run_on("pooler1", "PGPASSWORD=%s psql -XAtq -d %s -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'",
                 pw, base + " sslmode=verify-full sslrootcert=/etc/pgha/tls/ca.crt")
    assert tls.rc == 0 and tls.stdout.strip() == "t", tls.stderr


def test_pgbouncer_refuses_a_client_without_tls_and_accepts_one_with(mallory, lab):
    kw = dict(host=lab["addresses"]["pooler1"], port=6432, dbname="pgha_mallorydb", user="pgha_mallory",
              password=PLANT_PW, connect_timeout=5)
    with pytest.raises(psycopg2.OperationalError, match="SSL required"):
        psycopg2.connect(sslmode="disable", **kw)
    conn = psycopg2.connect(sslmode="verify-full", sslrootcert=CA, **kw)
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    conn.close()


def test_pgbouncer_verifies_the_database_nodes_certificate():
    config = run_on("pooler1", "grep -E '^server_tls_sslmode|^client_tls_sslmode' /etc/pgbouncer/pgbouncer.ini")
    assert "server_tls_sslmode = verify-full" in config.stdout and "client_tls_sslmode = require" in config.stdout


def test_admin_console_refuses_the_controller_and_answers_a_database_node(lab):
    # The controller (the lab's gateway) is not localhost and not a database node.
    with pytest.raises(psycopg2.OperationalError, match="rejected|no such user|not allowed"):
        psycopg2.connect(host=lab["addresses"]["pooler1"], port=6432, dbname="pgbouncer",
                         user=lab["pgha_admin_user"], password=lab["pgha_admin_password"],
                         sslmode="verify-full", sslrootcert=CA, connect_timeout=5)
    from_node = run_on("pg1", "PGPASSWORD=%s psql -XAtq -d %s -c 'SHOW VERSION'", lab["pgha_admin_password"],
                       "host=%s port=6432 dbname=pgbouncer user=%s sslmode=verify-full sslrootcert=/etc/pgha/tls/ca.crt"
                       % (lab["addresses"]["pooler1"], lab["pgha_admin_user"]))
    assert from_node.rc == 0 and "PgBouncer" in from_node.stdout, from_node.stderr


def test_the_replication_role_logs_in_to_no_database(lab):
    user, pw = lab["pgha_replication_user"], lab["pgha_replication_password"]
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(host=lab["addresses"]["pooler1"], port=6432, dbname="postgres", user=user, password=pw,
                         sslmode="verify-full", sslrootcert=CA, connect_timeout=5)
    direct = run_on("pg2", "PGPASSWORD=%s psql -XAtq -d %s -c 'SELECT 1'", pw,
                    "host=%s dbname=postgres user=%s sslmode=verify-full sslrootcert=/etc/pgha/tls/ca.crt"
                    % (lab["addresses"]["pg1"], user))
    assert direct.rc != 0 and "rejects connection" in direct.stderr, direct.stderr
    # It still streams (replication connections), as the previous tests showed; and IDENTIFY_SYSTEM works.
    ident = run_on("pg2", "PGPASSWORD=%s psql -XAtq -d %s -c IDENTIFY_SYSTEM", pw,
                   "host=%s dbname=replication replication=true user=%s sslmode=verify-full "
                   "sslrootcert=/etc/pgha/tls/ca.crt" % (lab["addresses"]["pg1"], user))
    assert ident.rc == 0, ident.stderr


def test_no_shell_between_the_repository_host_and_the_nodes(lab):
    ssh = ("runuser -u postgres -- ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no "
           "-o UserKnownHostsFile=/dev/null postgres@%s true 2>&1; echo rc=$?")
    # (ssh exits 255 when refused; the echo keeps testinfra from raising on it)
    node_to_repo = run_on("pg1", ssh % lab["addresses"]["backup1"]).stdout
    assert "Permission denied" in node_to_repo and "rc=255" in node_to_repo, node_to_repo
    repo_to_node = run_on("backup1", ssh % lab["addresses"]["pg1"]).stdout
    assert "Permission denied" in repo_to_node and "rc=255" in repo_to_node, repo_to_node
    # pgBackRest still works between them (over its TLS server).
    check = run_on("backup1", "runuser -u postgres -- pgbackrest --stanza=main check")
    assert check.rc == 0, check.stderr


def test_pgbackrest_tls_server_refuses_a_certificate_it_does_not_list(lab):
    # The pooler's certificate is signed by the cluster CA but its CN is not in tls-server-auth.
    opts = ("--repo1-host=%s --repo1-host-type=tls --repo1-host-cert-file=/etc/pgha/tls/host.crt "
            "--repo1-host-key-file=/etc/pgha/tls/host.key --repo1-host-ca-file=/etc/pgha/tls/ca.crt "
            "--stanza=main --log-level-console=warn --log-path=/tmp" % lab["addresses"]["backup1"])
    refused = run_on("pooler1", "cd / && runuser -u postgres -- pgbackrest %s repo-ls" % opts)
    # (pgBackRest 2.45 prints its error on stderr, 2.55 on stdout)
    assert refused.rc != 0 and "access denied" in refused.stdout + refused.stderr, (refused.rc, refused.stdout)
    # The drill host's certificate is listed: the same command works there.
    allowed = run_on("drill1", "cd / && runuser -u postgres -- pgbackrest %s repo-ls" % opts)
    assert allowed.rc == 0 and "archive" in allowed.stdout, allowed.stderr


def test_certificate_renewal_under_writes_loses_no_transaction(mallory, lab):
    """Renew every certificate (-e pgha_tls_renew=true) while a client writes through PgBouncer."""
    before = run_on("pg1", "openssl x509 -noout -serial -in /etc/pgha/tls/host.crt").stdout
    conn = psycopg2.connect(host=lab["addresses"]["pooler1"], port=6432, dbname="pgha_mallorydb",
                            user="pgha_mallory", password=PLANT_PW, sslmode="verify-full", sslrootcert=CA,
                            connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS pgha_renewal (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
    stop, errors, done = threading.Event(), [], []

    def writer():
        while not stop.is_set():
            try:
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO pgha_renewal DEFAULT VALUES RETURNING id")
                    done.append(cur.fetchone()[0])
            except psycopg2.Error as exc:
                errors.append(str(exc))
            time.sleep(0.01)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        rc, out, dummy = playbook("playbooks/site.yml", "-t", "tls", "-e", "pgha_tls_renew=true")
    finally:
        stop.set()
        thread.join()
    assert rc == 0, out[-3000:]
    after = run_on("pg1", "openssl x509 -noout -serial -in /etc/pgha/tls/host.crt").stdout
    assert after != before
    assert errors == [] and len(done) > 50, (errors[:3], len(done))
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pgha_renewal WHERE id = ANY(%s)", (done,))
        assert cur.fetchone()[0] == len(done)
        cur.execute("DROP TABLE pgha_renewal")
    conn.close()
    # New sessions see the new certificate (reloaded), and replication still verifies it.
    served = run_on("pooler1", "echo | openssl s_client -starttls postgres -connect %s:5432 2>/dev/null "
                    "| openssl x509 -noout -serial", lab["addresses"]["pg1"]).stdout
    assert served == after


def test_the_rewind_role_logs_in_by_certificate_from_a_member_only(lab):
    conninfo = ("host=%s user=pgha_rewind dbname=%%s sslmode=verify-full sslrootcert=/etc/pgha/tls/ca.crt "
                "sslcert=/etc/pgha/tls/host.crt sslkey=/etc/pgha/tls/host.key" % lab["addresses"]["pg1"])
    member = run_on("pg2", "cd / && runuser -u postgres -- psql -XAtq -d %s -c %s", conninfo % "postgres",
                    "SELECT count(*) > 0 FROM pg_ls_dir('global', false, false)")
    assert member.rc == 0 and member.stdout.strip() == "t", member.stderr
    other_db = run_on("pg2", "cd / && runuser -u postgres -- psql -XAtq -d %s -c 'SELECT 1'", conninfo % "template1")
    assert other_db.rc != 0 and "rejects connection" in other_db.stderr, other_db.stderr
    # The pooler's certificate is from the same CA, but the pooler is not a member.
    pooler = run_on("pooler1", "cd / && psql -XAtq -d %s -c 'SELECT 1'", conninfo % "postgres")
    assert pooler.rc != 0 and "rejects connection" in pooler.stderr, pooler.stderr
