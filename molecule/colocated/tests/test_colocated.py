"""The three-node layout: PgBouncer on each database node, clients listing all
three. Tests run in order. In the colocated scenario they start on a fresh deployment of the
layout; in the default scenario they run last (CI time: no deployment of their own), and
site.yml first brings the lab's cluster to the layout by adding a PgBouncer to each
database node (pooler1, outside this inventory, is left as it is)."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import yaml

from colocatedtools import INVENTORY, NODES, ROOT, current_primary, labtools, playbook, run, status

sys.path.insert(0, os.path.join(ROOT, "bench"))
from writer import Writer  # noqa: E402


def test_site_brings_a_running_cluster_to_the_layout_and_a_rerun_changes_nothing():
    # In the default scenario: a PgBouncer added to each database node of the running cluster
    # (in the colocated scenario, a re-run).
    rc, out, recap = run("playbooks/site.yml")
    assert rc == 0, out[-4000:]
    rc, out, recap = run("playbooks/site.yml")
    assert rc == 0 and all(r["changed"] == 0 for r in recap.values()), recap


def test_every_node_runs_a_pgbouncer_pointing_at_the_primary():
    st = status()
    assert st["verdict"] == "healthy", st["reasons"]
    assert sorted(p["host"] for p in st["poolers"]) == sorted(NODES)
    assert all(p["target"] == st["primary"] and p["serving"] == "writes" for p in st["poolers"]), st["poolers"]


def test_a_multi_host_client_writes_through_any_node(app):
    import psycopg2
    # Whichever PgBouncer a client reaches, it writes to the primary.
    for address in NODES.values():
        single = app.replace("host=%s" % ",".join(NODES.values()), "host=%s" % address)
        conn = psycopg2.connect(single)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_catalog.inet_server_addr()::text, pg_catalog.pg_is_in_recovery()")
            server, in_recovery = cur.fetchone()
        conn.close()
        assert not in_recovery and server.split("/")[0] == NODES[current_primary()]


def switchover(dsn, target):
    writer = Writer(dsn, "colocated-%s-%s" % (target, uuid.uuid4().hex[:6]))
    writer.start()
    time.sleep(1)
    rc, out, dummy = run("playbooks/switchover.yml", "-e", "pgha_target=%s" % target)
    time.sleep(1)
    writer.stop()
    assert rc == 0, out[-4000:]
    assert writer.errors == [], writer.errors[:5]
    assert writer.lost(dsn) == []
    assert len(writer.acked) > 100
    st = status()
    assert st["primary"] == target and st["verdict"] == "healthy", st["reasons"]
    assert all(p["target"] == target for p in st["poolers"]), st["poolers"]
    return writer


def test_switchover_through_the_colocated_poolers_has_no_client_error(app):
    first = current_primary()
    w1 = switchover(app, sorted(h for h in NODES if h != first)[0])
    w2 = switchover(app, first)
    print("longest write gap: %.3f s, %.3f s" % (w1.longest_gap(), w2.longest_gap()))


def test_failover_with_the_primary_host_and_its_pgbouncer_gone(app):
    """The primary's host dies with its PgBouncer: failover.yml succeeds, the
    multi-host client writes again through another node, nothing acknowledged
    is lost; the host comes back read-only and rejoins."""
    old = current_primary()
    writer, started, rc, out = labtools.kill_primary_and_fail_over(app, old, run, "colocated-kill", settle=2)
    assert rc == 0, out[-4000:]
    back = [at for seq, at in writer.acked if at > started]
    assert back, "no write through the other nodes' PgBouncers after the failover"
    print("writes back %.1f s after the kill" % (back[0] - started))
    assert writer.lost(app) == []
    st = status()
    new = st["primary"]
    assert new not in (None, old)
    assert all(p["target"] == new for p in st["poolers"] if p["host"] != old), st["poolers"]
    assert st["verdict"] == "degraded", st["reasons"]
    subprocess.run([os.path.join(ROOT, "lab", "lab.sh"), "start", old], check=True, stdout=subprocess.PIPE)
    rc, out, dummy = run("playbooks/rejoin.yml", "-e", "pgha_target=%s" % old)
    assert rc == 0, out[-4000:]
    # site.yml puts the returning host's PgBouncer back in front of the primary.
    rc, out, dummy = run("playbooks/site.yml")
    assert rc == 0, out[-4000:]
    deadline = time.time() + 60
    while time.time() < deadline:
        st = status()
        if st["verdict"] == "healthy":
            break
        time.sleep(3)
    assert st["verdict"] == "healthy", st["reasons"]


def test_tags_reach_their_role_and_validation_always_runs():
    rc, out, recap = run("playbooks/site.yml", "--tags", "pgbouncer")
    assert rc == 0, out[-3000:]
    assert "TASK [Check inventory groups, settings and secrets]" in out
    assert "TASK [pgha.cluster.pgbouncer : Write PgBouncer's configuration and start it (enabled at boot)]" in out
    assert [line for line in out.splitlines() if line.startswith("TASK [pgha.cluster.primary :")
            and "Validating arguments" not in line] == []
    assert all(r["changed"] == 0 for r in recap.values()), recap
    rc, out, recap = run("playbooks/site.yml", "--tags", "pgbackrest")
    assert rc == 0 and "TASK [pgha.cluster.pgbackrest : Install pgBackRest and write pgbackrest.conf]" in out, out[-3000:]
    # Bad input is refused whatever the tags.
    rc, out, dummy = run("playbooks/site.yml", "--tags", "pgbouncer", "-e", "pgha_sync_count=7")
    assert rc != 0 and "pgha_sync_count is 7 but the cluster has 2 standby(s)" in out
    assert "TASK [pgha.cluster.pgbouncer" not in out


def test_status_needs_no_secret_and_changes_refuse_without_them():
    """An inventory without the secrets file: status.yml reads the cluster;
    site.yml refuses, naming the secrets, before touching a host."""
    work = tempfile.mkdtemp(prefix="pgha-nosecrets-")
    try:
        lab_vars = os.path.join(ROOT, "inventories", "lab", "group_vars", "all")
        os.makedirs(os.path.join(work, "group_vars", "all"))
        shutil.copy(INVENTORY, os.path.join(work, "hosts.yml"))
        shutil.copy(os.path.join(lab_vars, "lab.yml"), os.path.join(work, "group_vars", "all", "lab.yml"))
        with open(os.path.join(lab_vars, "main.yml")) as handle:
            settings = yaml.safe_load(handle)
        settings.pop("pgha_backup_s3_repos")  # its keys are secrets too
        with open(os.path.join(work, "group_vars", "all", "main.yml"), "w") as handle:
            yaml.safe_dump(settings, handle)
        rc, out, dummy = playbook("playbooks/status.yml", "-e", "pgha_status_strict=true",
                                  inventory=[os.path.join(work, "hosts.yml")])
        assert rc == 0 and "verdict: healthy" in out, out[-3000:]
        rc, out, recap = playbook("playbooks/site.yml", inventory=[os.path.join(work, "hosts.yml")], check=True)
        assert rc != 0 and "missing required secrets: pgha_replication_password, pgha_pgbouncer_auth_password, " \
            "pgha_admin_password" in out and "pgha_backup_cipher_pass" in out, out[-3000:]
        assert set(recap) == {"localhost"}, recap
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_built_collection_runs_with_only_its_declared_dependencies():
    """ansible-galaxy builds the tarball; it is installed offline next to only the
    collections galaxy.yml declares, and its playbooks run from there."""
    work = tempfile.mkdtemp(prefix="pgha-installed-")
    try:
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
        subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", work], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.PIPE)
        tarball = glob.glob(os.path.join(work, "pgha-cluster-*.tar.gz"))[0]
        listing = subprocess.run(["tar", "tzf", tarball], check=True, stdout=subprocess.PIPE, text=True).stdout
        for left_out in ("lab/", "bench/", "molecule/", "Makefile", "ansible.cfg", "tests/", "inventories/lab/"):
            assert not [n for n in listing.splitlines() if n.startswith(left_out)], left_out
        with open(os.path.join(ROOT, "galaxy.yml")) as handle:
            declared = yaml.safe_load(handle)["dependencies"]
        path = os.path.join(work, "collections")
        for fqcn in declared:
            namespace, name = fqcn.split(".")
            shutil.copytree(os.path.join(ROOT, ".collections", "ansible_collections", namespace, name),
                            os.path.join(path, "ansible_collections", namespace, name))
        # Offline: the declared ranges must be met by what is installed, or this fails.
        subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "-p", path, tarball], env=env,
                       check=True, stdout=subprocess.PIPE)
        installed = sorted(os.path.relpath(p, os.path.join(path, "ansible_collections"))
                           for p in glob.glob(os.path.join(path, "ansible_collections", "*", "*")))
        assert installed == sorted([fqcn.replace(".", "/") for fqcn in declared] + ["pgha/cluster"])
        # Only these collections: no checkout, no Python-installed ones, no project ansible.cfg.
        with open(os.path.join(work, "ansible.cfg"), "w") as cfg:
            cfg.write("[defaults]\ncollections_path = %s\ncollections_scan_sys_path = False\nhost_key_checking = True\n"
                      "interpreter_python = auto_silent\n[ssh_connection]\npipelining = True\n" % path)
        env.update(ANSIBLE_CONFIG=os.path.join(work, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        for args in (["pgha.cluster.site", "--check"], ["pgha.cluster.status", "-e", "pgha_status_strict=true"]):
            proc = subprocess.run(["ansible-playbook", "-i", INVENTORY] + args, cwd=work, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900, check=False)
            assert proc.returncode == 0, proc.stdout[-4000:]
            assert "/.collections/" not in proc.stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)
