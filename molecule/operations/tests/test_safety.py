"""No split brain, nothing destroyed: operator errors and real faults (runs after
test_operations.py, from the topology it left). Every case checks that exactly one
node accepts writes and that no data directory was lost."""
import concurrent.futures
import json
import subprocess
import time
import uuid

import pytest

import os
import sys

from labtools import ROOT, playbook, status
from labtools import lab_sh as lab

sys.path.insert(0, os.path.join(ROOT, "bench"))
from writer import Writer  # noqa: E402

VERSION = None


def run(host, *argv, check=True):
    proc = subprocess.run(["podman", "exec", host] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    if check:
        assert proc.returncode == 0, proc.stdout
    return proc


def version():
    global VERSION
    if VERSION is None:
        VERSION = run("pg1", "ls", "/etc/postgresql").stdout.split()[0]
    return VERSION


def data_dir():
    return "/var/lib/postgresql/%s/main" % version()


def sysid(host):
    """The system identifier of the host's data directory (it must exist)."""
    out = run(host, "/usr/lib/postgresql/%s/bin/pg_controldata" % version(), data_dir()).stdout
    return [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Database system identifier")][0]


def writable(host):
    proc = run(host, "runuser", "-u", "postgres", "--", "psql", "-XAtc", "SELECT pg_is_in_recovery()", check=False)
    return proc.returncode == 0 and proc.stdout.strip() == "f"


def writable_nodes():
    return [h for h in ("pg1", "pg2", "pg3") if writable(h)]


def fenced_markers():
    return [h for h in ("pg1", "pg2", "pg3")
            if run(h, "test", "-e", data_dir() + "/pgha.fenced", check=False).returncode == 0]


def wait_streaming(host, primary, seconds=90):
    deadline = time.time() + seconds
    st = None
    while time.time() < deadline:
        st = status()
        if any(r["host"] == host and r["upstream"] == primary and r.get("streaming") for r in st["nodes"]):
            return st
        time.sleep(2)
    raise AssertionError("%s does not stream from %s: %s" % (host, primary, st and st["nodes"]))


def one_primary():
    nodes = writable_nodes()
    assert len(nodes) == 1, "writable: %s" % nodes
    return nodes[0]


FLAG_SETS = [
    [],
    ["-e", "pgha_accept_data_loss=true"],
    ["-e", "pgha_force=true"],
    ["-e", "pgha_accept_data_loss=true", "-e", "pgha_force=true", "-e", "pgha_accept_unfenced=true"],
]
FLAG_IDS = ["no flag", "data loss", "force", "every flag"]


@pytest.fixture(scope="module")
def healthy_standby_failovers():
    """failover.yml naming a healthy standby as the failed node, once per flag set, all four at once (each is
    refused by the plan, before any host is changed), between two readings of the lab: the flag set's id ->
    (rc, output, recap), the primary, the standby named, the system identifiers before, and after all four the
    system identifiers, the writable nodes, the fencing markers and status.yml's report."""
    primary = one_primary()
    standby = [r["host"] for r in status()["nodes"] if r["host"] != primary][0]
    ids = dict((h, sysid(h)) for h in ("pg1", "pg2", "pg3"))

    def attempt(flags):
        return playbook("playbooks/failover.yml", "-e", "pgha_failed=%s" % standby, *flags)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(FLAG_SETS)) as pool:
        results = dict(zip(FLAG_IDS, pool.map(attempt, FLAG_SETS)))
    after = dict(ids=dict((h, sysid(h)) for h in ("pg1", "pg2", "pg3")), writable=writable_nodes(),
                 fenced=fenced_markers(), status=status())
    return results, primary, standby, ids, after


@pytest.mark.parametrize("flags_id", FLAG_IDS)
def test_failing_over_from_a_healthy_standby_is_refused_with_every_flag(healthy_standby_failovers, flags_id):
    results, primary, standby, ids_before, after = healthy_standby_failovers
    rc, out, recap = results[flags_id]
    assert rc != 0, out[-3000:]
    assert "%s is a running writable primary, not %s" % (primary, standby) in out, out[-3000:]
    assert "Topology: " in out and "nothing was changed" in out
    assert all(r["changed"] == 0 for r in recap.values()), recap
    assert after["writable"] == [primary] and after["fenced"] == []
    assert after["ids"] == ids_before
    assert after["status"]["primary"] == primary and after["status"]["healthy"], after["status"]


def test_a_fence_that_fails_stops_the_failover_before_any_promotion():
    primary = one_primary()
    lab("isolate", primary)
    try:
        # The controller cannot reach the primary; the fencing command (the power API) fails.
        rc, out, recap = playbook("playbooks/failover.yml", "-e", json.dumps({"pgha_fence_command": ["/bin/false"]}))
        assert rc != 0, out[-3000:]
        assert "failover stopped before any promotion" in out and "exited 1" in out, out[-3000:]
        assert one_primary() == primary
    finally:
        lab("heal", primary)
    st = status()
    assert st["primary"] == primary and st["healthy"], st


def test_an_unfenced_failover_is_refused_while_the_old_primary_still_answers():
    # The controller cannot reach the primary, no fencing command is configured and the user accepts
    # an unfenced failover: the candidate still reaches the old primary, so it refuses to promote.
    primary = one_primary()
    lab("isolate", primary)
    try:
        rc, out, recap = playbook("playbooks/failover.yml", "-e", json.dumps({"pgha_fence_command": []}),
                                  "-e", "pgha_accept_unfenced=true")
        assert rc != 0, out[-3000:]
        assert "not promoted: the unfenced failed primary's PostgreSQL still answers" in out, out[-3000:]
        assert one_primary() == primary
    finally:
        lab("heal", primary)
    st = status()
    assert st["primary"] == primary and st["healthy"], st


def test_failover_with_k_equal_to_the_standbys_commits(app):
    old = one_primary()
    writer = Writer(app, "k-equals-n-%s" % uuid.uuid4().hex[:6])
    writer.start()
    time.sleep(1)
    subprocess.run(["podman", "kill", "-s", "KILL", old], check=True, stdout=subprocess.PIPE)
    started = time.time()
    rc, out, recap = playbook("playbooks/failover.yml", "-e", "pgha_sync_count=2")
    time.sleep(2)
    writer.stop()
    assert rc == 0, out[-4000:]
    assert "synchronous replication runs with k=1 until the others are back" in out
    back = [at for seq, at in writer.acked if at > started]
    assert back, "no write committed through PgBouncer after the failover"
    assert writer.lost(app) == []
    new = one_primary()
    assert new != old
    test_failover_with_k_equal_to_the_standbys_commits.state = (old, new)


def _foreign_ca(tmp_path):
    """A CA certificate that signed none of the lab's certificates."""
    key, crt = str(tmp_path / "foreign.key"), str(tmp_path / "foreign.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=foreign", "-days", "1", "-keyout", key, "-out", crt], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return crt


def test_a_command_fenced_primary_powered_on_again_starts_read_only(tmp_path):
    old, new = test_failover_with_k_equal_to_the_standbys_commits.state
    # Its CA file is replaced while it is off: no peer's certificate verifies from there. A certificate
    # problem must not look like an absent peer (the boot guard would then let it start writable).
    subprocess.run(["podman", "cp", "%s:/etc/pgha/tls/ca.crt" % old, str(tmp_path / "ca.crt")], check=True)
    subprocess.run(["podman", "cp", _foreign_ca(tmp_path), "%s:/etc/pgha/tls/ca.crt" % old], check=True)
    lab("start", old)
    deadline = time.time() + 30
    while time.time() < deadline:
        proc = run(old, "runuser", "-u", "postgres", "--", "psql", "-XAtc", "SELECT pg_is_in_recovery()", check=False)
        if proc.returncode == 0:
            break
        time.sleep(1)
    assert proc.stdout.strip() == "t", "the former primary came back writable: %s" % proc.stdout
    assert one_primary() == new
    assert old in fenced_markers()
    # status.yml names it, with the rejoin that clears the marker.
    st = status()
    assert "%s is fenced as a former primary (pgha.fenced" % old in " | ".join(st["reasons"]), st["reasons"]
    assert "rejoin.yml -e pgha_target=%s" % old in " | ".join(st["reasons"]), st["reasons"]
    journal = run(old, "journalctl", "-u", "postgresql@%s-main" % version(), "--no-pager").stdout
    assert "pgha-boot-guard: peer" in journal and "Starting read-only" in journal
    assert "does not verify" in journal
    # The real CA back, and the services that read it at start (pgBackRest's TLS server) or on reload.
    subprocess.run(["podman", "cp", str(tmp_path / "ca.crt"), "%s:/etc/pgha/tls/ca.crt" % old], check=True)
    run(old, "systemctl", "restart", "pgha-pgbackrest.service")
    run(old, "systemctl", "reload", "postgresql@%s-main" % version())


def test_rejoin_while_the_old_primary_cannot_reach_the_new_one_keeps_its_data():
    old, new = getattr(test_failover_with_k_equal_to_the_standbys_commits, "state", (None, None))
    new = one_primary()
    if old is None or old == new:
        old = [h for h in ("pg1", "pg2", "pg3") if h != new][0]
    before = sysid(old)
    # Copies an earlier rejoin kept aside (a clone fallback, test_continuity's) stay; this one adds none.
    asides = run(old, "sh", "-c", "ls -d %s.pgha-aside-* 2>/dev/null" % data_dir(), check=False).stdout
    lab("partition", old)
    try:
        # Once its WAL receiver gave up (wal_receiver_timeout), it needs a rejoin that cannot reach the primary.
        deadline = time.time() + 30
        while time.time() < deadline:
            proc = run(old, "runuser", "-u", "postgres", "--", "psql", "-XAtc",
                       "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'", check=False)
            if proc.stdout.strip() != "1":
                break
            time.sleep(1)
        rc, out, recap = playbook("playbooks/rejoin.yml", "-e", "pgha_target=%s" % old)
        assert rc != 0, out[-3000:]
        assert "this node was not touched" in out and "cannot be reached for pg_rewind" in out, out[-3000:]
        assert sysid(old) == before
        assert run(old, "sh", "-c", "ls -d %s.pgha-aside-* 2>/dev/null" % data_dir(), check=False).stdout == asides
        assert run(old, "test", "-f", data_dir() + "/PG_VERSION", check=False).returncode == 0
    finally:
        lab("heal", old)
    assert one_primary() == new
    rc, out, recap = playbook("playbooks/rejoin.yml", "-e", "pgha_target=%s" % old)
    assert rc == 0, out[-3000:]
    wait_streaming(old, new)
    assert fenced_markers() == []


def test_a_pooler_the_controller_loses_during_a_switchover_is_not_left_paused(app, tmp_path):
    old = one_primary()
    log = str(tmp_path / "switchover.log")
    env_cmd = ["ansible-playbook", "-i", "inventories/lab/hosts.yml", "playbooks/switchover.yml"]
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    with open(log, "w") as handle:
        proc = subprocess.Popen(env_cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and "PLAY [Switch" not in open(log).read():
                time.sleep(0.1)
            lab("isolate", "pooler1")
            rc = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
    out = open(log).read()
    try:
        assert rc != 0, out[-3000:]
        assert "PgBouncer pooler1 could not be reached by the controller" in out and "resumed from %s" % old in out, \
            out[-3000:]
        # A client through PgBouncer gets an answer (not paused), and exactly one node takes writes.
        local = app.replace("host=10.213.77.21", "host=127.0.0.1")
        probe = run("pooler1", "timeout", "5", "psql", "-XAtc", "SELECT 1", local, check=False)
        assert probe.returncode == 0 and probe.stdout.strip() == "1", "a client waits: %s" % probe.stdout
        new = one_primary()
        assert new != old
    finally:
        lab("heal", "pooler1")
    rc, out, recap = playbook("playbooks/site.yml")
    assert rc == 0, out[-3000:]
    st = status()
    assert st["healthy"] and st["poolers"][0]["target"] == st["primary"] == new, st
