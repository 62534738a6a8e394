"""Switchover, failover (kill and partition), rejoin and refusals on the lab,
with a client writing through PgBouncer. Tests run in order: each starts from
the topology the previous one left."""
import concurrent.futures
import os
import sys
import time
import uuid

from labtools import ROOT, current_primary, kill_primary_and_fail_over, playbook, status
from labtools import lab_sh as lab

sys.path.insert(0, os.path.join(ROOT, "bench"))
from writer import Writer  # noqa: E402


def follows(st, host, primary):
    return any(r["host"] == host and r["upstream"] == primary and r.get("streaming") for r in st["nodes"])


def wait_follows(host, primary, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        st = status()
        if follows(st, host, primary):
            return st
        time.sleep(2)
    raise AssertionError("%s does not stream from %s: %s" % (host, primary, st["nodes"]))


def switchover(dsn, target):
    before = current_primary()
    writer = Writer(dsn, "switchover-%s-%s" % (target, uuid.uuid4().hex[:6]))
    writer.start()
    time.sleep(1)
    rc, out, recap = playbook("playbooks/switchover.yml", "-e", "pgha_target=%s" % target)
    time.sleep(1)
    writer.stop()
    assert rc == 0, out[-4000:]
    assert writer.errors == [], writer.errors[:5]
    assert writer.lost(dsn) == []
    st = status()
    assert st["primary"] == target and st["poolers"][0]["target"] == target
    assert follows(st, before, target), st["nodes"]
    return writer


def restore_command_overrides():
    """Nodes whose restore_command does not come from the role's conf.d/pgha.conf (a switchover's
    leftover: conf.d/pgha_switch.conf, or postgresql.auto.conf from older releases)."""
    import subprocess
    found = []
    for host in ("pg1", "pg2", "pg3"):
        out = subprocess.run(["podman", "exec", host, "runuser", "-u", "postgres", "--", "psql", "-XAtc",
                              "SELECT sourcefile FROM pg_settings WHERE name = 'restore_command'"],
                             check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
        if not out.strip().endswith("/conf.d/pgha.conf"):
            found.append(host)
    return found


def test_switchover_under_writes_and_back(app):
    # From wherever the tests before left the primary (test_monitoring leaves it on
    # pg2), through another node, back to pg1: the tests after these start from pg1.
    current = current_primary()
    w1 = switchover(app, sorted(h for h in ("pg2", "pg3") if h != current)[0])
    w2 = switchover(app, "pg1")
    assert len(w1.acked) > 100 and len(w2.acked) > 100
    # Archive fetching, off on the re-pointed standbys during each switch, is back
    # on every node (restore_command as configured, no leftover).
    assert restore_command_overrides() == []


def test_refusals_change_nothing(app):
    before = status()
    cases = [
        (["playbooks/switchover.yml", "-e", "pgha_target=pg9"], "pg9 is not a database node of this cluster"),
        (["playbooks/switchover.yml", "-e", "pgha_target=pg1"], "pg1 is already the primary"),
        (["playbooks/failover.yml"], "pg1 is a running primary"),
        (["playbooks/rejoin.yml", "-e", "pgha_target=pg1"], "pg1 is the current primary"),
    ]
    # Each is refused before any change: all four at once.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(cases)) as pool:
        results = list(pool.map(lambda case: playbook(*case[0]), cases))
    for (args, message), (rc, out, recap) in zip(cases, results):
        assert rc != 0 and message in out, out[-3000:]
        assert all(r["changed"] == 0 for r in recap.values()), (args, recap)
    # A lagging standby: replay paused on pg3 while the primary writes.
    import subprocess
    subprocess.run(["podman", "exec", "pg3", "runuser", "-u", "postgres", "--", "psql", "-c",
                    "SELECT pg_wal_replay_pause()"], check=True, stdout=subprocess.PIPE)
    try:
        subprocess.run(["podman", "exec", "pg1", "runuser", "-u", "postgres", "--", "psql", "-c",
                        "CREATE TABLE IF NOT EXISTS pgha_lag AS SELECT g FROM generate_series(1, 50000) g"],
                       check=True, stdout=subprocess.PIPE)
        rc, out, recap = playbook("playbooks/switchover.yml", "-e", "pgha_target=pg3",
                                  "-e", "pgha_switchover_max_lag_bytes=65536")
        assert rc != 0 and "pg3 lags" in out and "bytes behind pg1" in out and "the bound is 65536 bytes" in out, \
            out[-3000:]
        assert all(r["changed"] == 0 for r in recap.values()), recap
    finally:
        subprocess.run(["podman", "exec", "pg3", "runuser", "-u", "postgres", "--", "psql", "-c",
                        "SELECT pg_wal_replay_resume()"], check=True, stdout=subprocess.PIPE)
    after = status()
    assert after["primary"] == before["primary"] and after["poolers"] == before["poolers"]


def test_a_synchronous_standby_dies_and_writes_continue(app):
    writer = Writer(app, "standby-dies-%s" % uuid.uuid4().hex[:6])
    writer.start()
    time.sleep(1)
    import subprocess
    subprocess.run(["podman", "kill", "-s", "KILL", "pg3"], check=True, stdout=subprocess.PIPE)
    killed = time.time()
    time.sleep(4)
    writer.stop()
    after = [at for seq, at in writer.acked if at > killed]
    assert writer.errors == [] and len(after) > 50, (writer.errors[:3], len(after))
    assert writer.longest_gap(since=killed) < 2.0
    assert writer.lost(app) == []
    lab("start", "pg3")
    wait_follows("pg3", current_primary())


def test_failover_after_kill_loses_no_acknowledged_write_then_rejoin(app):
    old = current_primary()
    writer, started, rc, out = kill_primary_and_fail_over(app, old, playbook, "failover-kill")
    assert rc == 0, out[-4000:]
    back = [at for seq, at in writer.acked if at > started]
    assert back and back[0] - started < 15, "writes through PgBouncer not back within 15 s"
    assert writer.lost(app) == []
    st = status()
    new = st["primary"]
    assert new not in (None, old) and st["poolers"][0]["target"] == new
    lab("start", old)
    rc, out, recap = playbook("playbooks/rejoin.yml", "-e", "pgha_target=%s" % old)
    assert rc == 0, out[-4000:]
    wait_follows(old, new)


def test_failover_of_a_partitioned_primary_fences_it_then_rejoin(app):
    import psycopg2
    old = current_primary()
    lab("partition", old)
    try:
        # It still answers this machine: refused unless forced.
        rc, out, recap = playbook("playbooks/failover.yml")
        assert rc != 0 and "%s is a running primary" % old in out
        writer = Writer(app, "failover-partition-%s" % uuid.uuid4().hex[:6])
        writer.start()
        started = time.time()
        rc, out, recap = playbook("playbooks/failover.yml", "-e", "pgha_force=true")
        took = time.time() - started
        time.sleep(2)
        writer.stop()
        assert rc == 0, out[-4000:]
        # Its archiver cannot reach the repository: the fence must not wait on it.
        assert took < 60, "forced failover took %.0f s" % took
        assert writer.lost(app) == []
        st = status()
        new = st["primary"]
        assert new != old and st["poolers"][0]["target"] == new
        assert [r for r in st["nodes"] if r["host"] == old][0]["role"].startswith("down")
        # Through PgBouncer, writes land on the new primary only.
        conn = psycopg2.connect(app)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery(), inet_server_addr()::text")
            in_recovery, server = cur.fetchone()
        conn.close()
        assert in_recovery is False and server.split("/")[0] != "10.213.77.1%s" % old[-1]
    finally:
        lab("heal", old)
    rc, out, recap = playbook("playbooks/rejoin.yml", "-e", "pgha_target=%s" % old)
    assert rc == 0, out[-4000:]
    wait_follows(old, new)


def test_site_rerun_after_failovers_changes_nothing():
    primary = current_primary()
    rc, out, recap = playbook("playbooks/site.yml")
    assert rc == 0, out[-3000:]
    assert all(r["changed"] == 0 for r in recap.values()), recap
    assert current_primary() == primary
