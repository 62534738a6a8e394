"""Automatic failover (pgha_failover_mode: automatic). The cluster was deployed
in manual mode (converge); site.yml converts it under writes, then faults are
injected for real (podman kill) with no playbook run. Tests run in order."""
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from labtools import ROOT, current_primary, lab_settings, playbook, restore, status, sysid

sys.path.insert(0, os.path.join(ROOT, "bench"))
from writer import TABLE, Writer  # noqa: E402

AUTOMATIC = ("-e", "pgha_failover_mode=automatic")
NODES = {"pg1": "10.213.77.11", "pg2": "10.213.77.12", "pg3": "10.213.77.13"}
# The lab's PostgreSQL (15 on Debian 12, 17 on Debian 13) and its systemd unit.
PG = str(lab_settings()["pgha_postgresql_version"])
UNIT = "postgresql@%s-main" % PG
CA = os.path.join(os.path.expanduser("~"), ".pgha", "ca", "main", "ca.crt")


def patroni(name, path, timeout=1.0):
    """(HTTP status, JSON) of a Patroni REST endpoint, (None, None) when it does not answer."""
    context = ssl.create_default_context(cafile=CA)
    try:
        with urllib.request.urlopen("https://%s:8008/%s" % (NODES[name], path), timeout=timeout,
                                    context=context) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return None, None


def leader():
    """The member Patroni's REST API calls the primary (None when none does)."""
    found = [name for name in NODES if patroni(name, "primary")[0] == 200]
    assert len(found) <= 1, "two primaries according to Patroni: %s" % found
    return found[0] if found else None


def stable_leader(timeout=60):
    """The leader once Patroni's shared state (GET /cluster) and the nodes' own /primary agree on it, and
    Patroni has recorded a synchronous standby that streams: in strict synchronous mode only a recorded
    one may be promoted, so before that no fault can be taken over (a fault injected earlier tests
    Patroni's refusal, not its failover)."""
    started = time.time()
    seen = None
    while time.time() - started < timeout:
        claim = leader()
        for name in NODES:
            code, cluster = patroni(name, "cluster")
            if code == 200 and cluster:
                seen = cluster.get("members", [])
                named = [m["name"] for m in seen if m.get("role") == "leader"]
                synchronous = [m["name"] for m in seen if m.get("role") in ("sync_standby", "quorum_standby")
                               and m.get("state") in ("running", "streaming")]
                if claim and named == [claim] and synchronous:
                    return claim
                break
        time.sleep(0.5)
    raise AssertionError("no leader that /cluster and /primary agree on, with a synchronous standby, within %d s: %s"
                         % (timeout, seen))


def shared_config():
    """Patroni's shared configuration (GET /config) from the first member that serves it."""
    for name in sorted(NODES):
        code, config = patroni(name, "config")
        if code == 200:
            return config
    raise AssertionError("no Patroni serves its configuration")


def patroni_version():
    """(major, minor) of the Patroni the lab runs (3.0 on Debian 12, 4.0 on Debian 13)."""
    for name in sorted(NODES):
        code, state = patroni(name, "patroni")
        if code == 200:
            return tuple(int(x) for x in state["patroni"]["version"].split(".")[:2])
    raise AssertionError("no Patroni answers")


def psql(host, query):
    out = subprocess.run(["podman", "exec", host, "runuser", "-u", "postgres", "--", "psql", "-XAtq", "-c", query],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert out.returncode == 0, "%s on %s: %s" % (query, host, out.stdout)
    return out.stdout.strip()


# What a Sampler runs inside each node: one psql session asked every 0.2 s for the time and whether the
# server is out of recovery; a lost session is opened again. One long-lived podman exec per node and one
# connection: a podman exec costs about 0.2 s of CPU and a new psql about 0.05 s, and asking that way
# every few tenths of a second took half of this 2-core machine from the cluster under test. Bounded in
# time, and stopped by name (pkill -f pgha-sampler).
SAMPLER_LOOP = (
    'end=$(($(date +%s) + 1200)); while [ "$(date +%s)" -lt "$end" ]; do '
    'while [ "$(date +%s)" -lt "$end" ]; do '
    'echo "SELECT extract(epoch FROM clock_timestamp()), pg_catalog.pg_is_in_recovery();"; sleep 0.2; done '
    "| runuser -u postgres -- psql -XAtq -F ' ' 2>/dev/null; sleep 0.2; done")


class Sampler(threading.Thread):
    """Asks every node, every 0.2 s, whether it accepts writes (a server that
    answers and is not in recovery), for the at-most-one-primary check.

    The nodes are asked independently, from inside (podman exec: a network
    partition does not hide a node), and each answer carries the server's
    time (the containers share the host's clock). A node's consecutive
    writable answers form a run; two nodes were writable at once when their
    runs overlap in time. A node that cannot be asked (stopped, restarting,
    paused) gives no answer: its run goes on until it answers otherwise."""

    def __init__(self):
        super(Sampler, self).__init__(daemon=True)
        self.samples, self._halt, self._procs = [], threading.Event(), {}

    def _follow(self, host):
        while not self._halt.is_set():
            proc = subprocess.Popen(["podman", "exec", host, "sh", "-c", SAMPLER_LOOP, "pgha-sampler"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
            self._procs[host] = proc
            for line in proc.stdout:
                parts = line.split()
                if len(parts) == 2 and parts[1] in ("t", "f"):
                    self.samples.append((float(parts[0]), host, parts[1] == "f"))
                if self._halt.is_set():
                    break
            # The node stopped (killed, rebooted): ask again once it runs.
            self._halt.wait(1)

    def run(self):
        followers = [threading.Thread(target=self._follow, args=(h,), daemon=True) for h in NODES]
        for follower in followers:
            follower.start()
        self._halt.wait()
        # Every node at once, a few seconds each: a node that is shutting down (a reboot) may not take a
        # podman exec until its container has stopped, and its loop ends with it anyway.
        kills = [subprocess.Popen(["podman", "exec", host, "pkill", "-f", "pgha-sampler"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for host in NODES]
        for kill in kills:
            try:
                kill.wait(5)
            except subprocess.TimeoutExpired:
                kill.kill()
                kill.wait()
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        for follower in followers:
            follower.join(10)

    def stop(self):
        self._halt.set()
        self.join(60)
        return doubles(self.samples)


def doubles(samples):
    """The pairs of writable runs (host, first, last) of two nodes that overlap in time."""
    runs, current = [], {}
    for at, host, writable in sorted(samples):
        if writable:
            run = current.setdefault(host, [host, at, at])
            run[2] = at
        elif host in current:
            runs.append(tuple(current.pop(host)))
    runs += [tuple(r) for r in current.values()]
    return [(a, b) for i, a in enumerate(runs) for b in runs[i + 1:]
            if a[0] != b[0] and a[1] <= b[2] and b[1] <= a[2]]


def test_the_double_primary_check_sees_overlaps_only():
    """The sampler's judgement, on made-up answers (no lab needed)."""
    switch = [(1.0, "pg1", True), (1.1, "pg2", False), (2.0, "pg1", True), (2.1, "pg2", False),
              (3.0, "pg1", False), (3.1, "pg2", True), (4.0, "pg1", False), (4.1, "pg2", True)]
    assert doubles(switch) == []
    split = [(1.0, "pg1", True), (1.1, "pg2", True), (2.0, "pg1", True), (2.1, "pg2", True)]
    assert doubles(split) == [(("pg1", 1.0, 2.0), ("pg2", 1.1, 2.1))]
    # One answer of the new primary inside the old one's run is a double.
    assert doubles([(1.0, "pg1", True), (1.5, "pg2", True), (2.0, "pg1", True), (2.5, "pg2", False)])


def load(app, tag):
    """A writer through PgBouncer and the at-most-one-primary sampler, both running."""
    writer = Writer(app, "%s-%s" % (tag, uuid.uuid4().hex[:6]))
    writer.start()
    sampler = Sampler()
    sampler.start()
    return writer, sampler


def wait_streaming(primary, node, timeout=120):
    """Seconds until ``node`` streams from ``primary`` (fails after ``timeout``)."""
    started = time.time()
    state = ""
    while time.time() - started < timeout and state != "streaming":
        state = psql(primary, "SELECT state FROM pg_catalog.pg_stat_replication WHERE application_name = '%s'" % node)
        time.sleep(1)
    assert state == "streaming", "%s not streaming from %s after %d s" % (node, primary, timeout)
    return time.time() - started


def test_converting_a_running_cluster_keeps_writes_going(app):
    primary = current_primary()
    writer = Writer(app, "convert-%s" % uuid.uuid4().hex[:6])
    writer.start()
    time.sleep(1)
    started = time.time()
    rc, out, dummy = playbook("playbooks/site.yml", *AUTOMATIC)
    took = time.time() - started
    time.sleep(1)
    writer.stop()
    assert rc == 0, out[-5000:]
    print("conversion under writes: %.1f s, %d writes, longest gap %.3f s"
          % (took, len(writer.acked), writer.longest_gap()))
    assert writer.errors == [], writer.errors[:5]
    assert writer.lost(app) == []
    assert writer.longest_gap() < 2.0
    # Patroni adopted the primary it found and runs every node.
    assert leader() == primary
    members = patroni(primary, "cluster")[1]["members"]
    assert sorted(m["name"] for m in members) == sorted(NODES)
    assert all(m["state"] in ("running", "streaming") for m in members), members
    # Patroni's synchronous_standby_names is in force, pgha's ALTER SYSTEM value gone.
    assert psql(primary, "SELECT count(*) FROM pg_catalog.pg_file_settings WHERE name = "
                         "'synchronous_standby_names' AND sourcefile LIKE '%postgresql.auto.conf'") == "0"
    assert int(psql(primary, "SELECT count(*) FROM pg_catalog.pg_stat_replication "
                             "WHERE sync_state IN ('sync', 'quorum')")) >= 1
    # What each Patroni runs with: quorum commit (ANY 1) on Patroni 4, one named synchronous standby on 3;
    # the lease pgha asks for is the one Patroni keeps (3.2 and later raise a ttl below 20 s to 20 s).
    config, version = shared_config(), patroni_version()
    assert (config["synchronous_mode"], config["synchronous_mode_strict"]) == \
        (("quorum" if version >= (4, 0) else True), True), config
    assert psql(primary, "SHOW synchronous_standby_names").startswith("ANY 1 (") == (version >= (4, 0))
    assert (config["ttl"], config["loop_wait"], config["retry_timeout"]) == \
        ((20 if version >= (3, 2) else 8), 1, 3), config
    # Only Patroni starts the server at boot.
    for host in NODES:
        unit = subprocess.run(["podman", "exec", host, "systemctl", "is-enabled", UNIT, "patroni"],
                              stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout.split()
        assert unit == ["disabled", "enabled"], (host, unit)


def test_automatic_mode_rerun_changes_nothing():
    rc, out, recap = playbook("playbooks/site.yml", *AUTOMATIC)
    assert rc == 0, out[-4000:]
    changed = dict((h, r["changed"]) for h, r in recap.items() if r["changed"])
    assert changed == {}, changed


def test_day2_playbooks_refuse_what_patroni_would_not_do():
    before = leader()
    # A failover from a leader that runs, a rejoin of the leader: refused as in manual mode.
    for args, fragment in ((["playbooks/failover.yml"], "%s is a running primary" % before),
                           (["playbooks/rejoin.yml", "-e", "pgha_target=%s" % before], "is the current primary")):
        rc, out, dummy = playbook(*(args + list(AUTOMATIC)))
        assert rc != 0 and fragment in out, out[-3000:]
    # Nor configures the cluster as a manual one (systemd would start the servers next to Patroni).
    rc, out, dummy = playbook("playbooks/site.yml")
    assert rc != 0 and "but pgha_failover_mode is manual" in out, out[-3000:]
    assert leader() == before


def test_pgbouncer_goes_through_haproxy_to_the_leader():
    st = status()
    assert st["verdict"] == "healthy", st["reasons"]
    assert [(p["target"], p["via"]) for p in st["poolers"]] == [(leader(), "haproxy")], st["poolers"]


def test_a_pgbouncer_host_that_restarts_reaches_the_leader_again(app):
    """The PgBouncer host's container restarted: podman rewrites /etc/hosts at start (as
    cloud-init's manage_etc_hosts does at boot), so nothing on the way to the leader may
    depend on a line there. A client through it writes again within 30 s."""
    subprocess.run(["podman", "restart", "-t", "5", "pooler1"], check=True, stdout=subprocess.PIPE)
    deadline, last = time.time() + 30, None
    while time.time() < deadline:
        writer = Writer(app, "pooler-restart-%s" % uuid.uuid4().hex[:6])
        writer.start()
        time.sleep(1)
        writer.stop()
        if writer.acked:
            break
        last = writer.errors[-1:] or last
    assert writer.acked, "no write through the restarted PgBouncer host within 30 s: %s" % last
    assert writer.lost(app) == []
    st = status()
    assert [(p["target"], p["via"]) for p in st["poolers"]] == [(leader(), "haproxy")], st["poolers"]


def test_switchover_through_patroni_under_writes(app):
    old = stable_leader()
    writer, sampler = load(app, "pswitch")
    time.sleep(1)
    rc, out, dummy = playbook("playbooks/switchover.yml", *AUTOMATIC)
    time.sleep(1)
    writer.stop()
    doubles = sampler.stop()
    assert rc == 0, out[-5000:]
    new = leader()
    print("switchover through Patroni %s -> %s: longest gap %.3f s, %d writes"
          % (old, new, writer.longest_gap(), len(writer.acked)))
    assert new and new != old
    assert writer.errors == [], writer.errors[:5]
    assert writer.lost(app) == []
    assert doubles == [], doubles[:3]
    # Patroni restarted the old leader as a standby of the new one; pgha's playbook waited for it.
    assert psql(new, "SELECT state FROM pg_catalog.pg_stat_replication WHERE application_name = '%s'" % old) \
        == "streaming"
    # The asynchronous standby streamed from the target until the switch; its tag is gone again. Under
    # quorum commit (Patroni 4) both standbys are in the quorum: none is re-pointed.
    quorum = shared_config()["synchronous_mode"] == "quorum"
    assert bool(re.search(r"stream pg\d from %s until the switch" % new, out)) != quorum, out[-3000:]
    for host in NODES:
        tagged = subprocess.run(["podman", "exec", host, "grep", "-c", "replicatefrom", "/etc/patroni/config.yml"],
                                stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout.strip()
        assert tagged == "0", (host, tagged)
    # Archive fetching, off on the target and the cascading standby during the switch, is back on.
    for host in NODES:
        assert psql(host, "SELECT sourcefile FROM pg_catalog.pg_settings WHERE name = 'restore_command'") \
            .endswith("/conf.d/pgha.conf"), host
    # bench/switchover measures it (about 1.8 s on Patroni 3.0); under 3 s here, with the test's own load and
    # noise. Patroni 4's quorum commit adds about 2 s: the other standby's Patroni sees the leader key
    # released and sleeps 2 s before it follows the new leader, whose commits wait for a quorum member.
    assert writer.longest_gap() < (6.0 if quorum else 3.0)


def test_losing_one_etcd_member_changes_nothing(app):
    before = stable_leader()
    member = [h for h in NODES if h != before][0]
    writer = Writer(app, "etcd-%s" % uuid.uuid4().hex[:6])
    writer.start()
    subprocess.run(["podman", "exec", member, "systemctl", "stop", "etcd"], check=True)
    try:
        # Longer than Patroni's ttl: the leader renews its lock through the two members left.
        time.sleep(shared_config()["ttl"] + 4)
        assert leader() == before
        # status.yml names the member and what one more loss would do.
        st = status()
        assert st["failover"]["etcd"]["healthy"] == 2 and st["failover"]["etcd"]["members"][member] is not True
        assert st["verdict"] == "degraded" and any(r.startswith("etcd: 2 of 3 members answer healthy (%s: " % member)
                                                   for r in st["reasons"]), st["reasons"]
    finally:
        subprocess.run(["podman", "exec", member, "systemctl", "start", "etcd"], check=True)
    writer.stop()
    assert writer.errors == [], writer.errors[:5]
    assert writer.longest_gap() < 1.0
    assert writer.lost(app) == []


def test_a_killed_primary_is_replaced_without_a_playbook(app):
    old = stable_leader()
    # The killed leader's lock expires after Patroni's ttl (8 s; 20 s on Patroni 3.2 and later); then the
    # standbys compare themselves, HAProxy's checks follow, PgBouncer reconnects: bench/failover measures
    # about 12 s on Patroni 3.0 and about 25 s on 4.0.
    limit = shared_config()["ttl"] + 15
    writer, sampler = load(app, "kill")
    time.sleep(2)
    subprocess.run(["podman", "kill", "-s", "KILL", old], check=True, stdout=subprocess.PIPE)
    killed = time.time()
    new = None
    while time.time() - killed < limit + 10 and not new:
        new = leader()
        time.sleep(0.2)
    elected = time.time() - killed
    # HAProxy follows the new leader; PgBouncer reconnects through it. No playbook runs.
    while time.time() - killed < limit + 30 and not any(at > killed for seq, at in writer.acked):
        time.sleep(0.2)
    writer.stop()
    time.sleep(1)
    doubles = sampler.stop()
    assert new and new != old, "no new primary %.1f s after the kill" % elected
    back = [at - killed for seq, at in writer.acked if at > killed]
    print("%s killed: %s is the primary %.1f s later, writes through PgBouncer %.1f s after the kill"
          % (old, new, elected, back[0] if back else -1))
    assert back and back[0] < limit, "no write through PgBouncer within %d s of the kill" % limit
    assert doubles == [], doubles[:3]
    # Every write the old primary acknowledged (synchronously replicated) is on the new one.
    acked = set(seq for seq, at in writer.acked)
    present = set(int(x) for x in psql(new, "SELECT seq FROM public.%s WHERE run = '%s'"
                                       % (TABLE, writer.run_id)).split())
    assert len(acked) > 50
    assert sorted(acked - present) == []


def test_the_old_primary_comes_back_as_a_standby_by_itself():
    new = leader()
    old = [h for h in NODES if h != new and patroni(h, "patroni")[0] is None]
    assert len(old) == 1, old
    subprocess.run([os.path.join(ROOT, "lab", "lab.sh"), "start", old[0]], check=True, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
    print("%s streams from %s %.1f s after it was started" % (old[0], new, wait_streaming(new, old[0])))
    assert leader() == new


def test_a_partitioned_primary_stops_writing_and_pgbouncer_follows_the_new_one(app):
    old = stable_leader()
    writer, sampler = load(app, "partition")
    time.sleep(2)
    # Cut off from its peers, etcd and PgBouncer (the controller still reaches it).
    subprocess.run([os.path.join(ROOT, "lab", "lab.sh"), "partition", old], check=True, stdout=subprocess.PIPE)
    cut = time.time()
    try:
        new = None
        while time.time() - cut < 40 and not new:
            new = [h for h in NODES if h != old and patroni(h, "primary")[0] == 200]
            time.sleep(0.2)
        elected = time.time() - cut
        assert new, "no new leader %.1f s after the partition" % elected
        new = new[0]
        # The old primary takes no writes once another leads: Patroni demoted it when it could not reach
        # etcd. It is shutting down (its archiver cannot reach the repositories either), or already back
        # as a read-only standby; never writable again.
        for dummy in range(10):
            out = subprocess.run(["podman", "exec", old, "runuser", "-u", "postgres", "--", "psql", "-XAtq", "-c",
                                  "SELECT pg_catalog.pg_is_in_recovery()"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, universal_newlines=True, check=False)
            assert not (out.returncode == 0 and out.stdout.strip() == "f"), "%s still takes writes" % old
            time.sleep(0.5)
        since = time.time()
        while time.time() - since < 20 and not any(at > since for seq, at in writer.acked):
            time.sleep(0.2)
        print("%s partitioned: %s leads %.1f s later; longest write gap through PgBouncer %.1f s"
              % (old, new, elected, writer.longest_gap()))
    finally:
        subprocess.run([os.path.join(ROOT, "lab", "lab.sh"), "heal", old], check=True, stdout=subprocess.PIPE)
    writer.stop()
    doubles = sampler.stop()
    assert doubles == [], doubles[:3]
    acked = set(seq for seq, at in writer.acked)
    present = set(int(x) for x in psql(new, "SELECT seq FROM public.%s WHERE run = '%s'"
                                       % (TABLE, writer.run_id)).split())
    assert sorted(acked - present) == []
    assert any(at > cut + 1 for seq, at in writer.acked), "no write went through PgBouncer after the partition"
    # Healed, the old primary follows the new one by itself (pg_rewind where needed).
    wait_streaming(new, old)
    st = status()
    assert st["verdict"] == "healthy", st["reasons"]


def test_a_rebooting_primary_hands_over_first(app):
    old = stable_leader()
    writer, sampler = load(app, "reboot")
    time.sleep(2)
    # systemd stops pgha-handover.service before Patroni: the leader switches over, then stops.
    subprocess.run(["podman", "exec", old, "systemctl", "reboot"], check=False, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
    rebooted = time.time()
    new = None
    while time.time() - rebooted < 40 and not new:
        new = [h for h in NODES if h != old and patroni(h, "primary")[0] == 200]
        time.sleep(0.2)
    elected = time.time() - rebooted
    time.sleep(3)
    writer.stop()
    doubles = sampler.stop()
    assert new, "no new leader %.1f s after the reboot" % elected
    new = new[0]
    print("%s rebooted: %s leads %.1f s later; longest write gap %.2f s, %d client errors"
          % (old, new, elected, writer.longest_gap(), len(writer.errors)))
    assert doubles == [], doubles[:3]
    assert writer.lost(app) == []
    # A handover, not a lease expiry (ttl 8 s, 20 s on Patroni 4): the new leader is there within a few seconds.
    assert elected < 8, "the new leader came %.1f s after the reboot: no handover" % elected
    # The container stops on reboot in the lab (once its shutdown has ended); started again, it follows
    # the new leader.
    subprocess.run(["timeout", "120", "podman", "wait", "--condition=exited", old], check=False,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = subprocess.run([os.path.join(ROOT, "lab", "lab.sh"), "start", old], check=False, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True)
    assert out.returncode == 0, out.stdout
    wait_streaming(new, old)


def patronictl(host, *args):
    out = subprocess.run(["podman", "exec", host, "patronictl", "-c", "/etc/patroni/config.yml"] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert out.returncode == 0, "patronictl %s on %s: %s" % (" ".join(args), host, out.stdout)
    return out.stdout


def test_operator_failover_and_rejoin_while_patroni_is_paused(app):
    """Maintenance mode: Patroni leaves a crashed primary alone; failover.yml fences it
    (stopping its Patroni) and has Patroni promote pgha's candidate; rejoin.yml brings
    it back once Patroni is resumed."""
    old = stable_leader()
    patronictl(old, "pause", "--wait")
    writer, sampler = load(app, "paused-failover")
    try:
        time.sleep(1)
        subprocess.run(["podman", "exec", old, "pkill", "-KILL", "-x", "postgres"], check=False)
        # Paused: nobody takes over, even after the lease ran out.
        time.sleep(shared_config()["ttl"] + 2)
        assert leader() is None
        started = time.time()
        rc, out, dummy = playbook("playbooks/failover.yml", *AUTOMATIC)
        took = time.time() - started
        assert rc == 0, out[-5000:]
        new = stable_leader()
        time.sleep(1)
    finally:
        writer.stop()
        two = sampler.stop()
    print("paused failover through failover.yml: %.1f s, new leader %s, %d writes, %d client errors, longest gap %.1f s"
          % (took, new, len(writer.acked), len(writer.errors), writer.longest_gap()))
    assert new != old
    assert two == [], two[:3]
    assert writer.lost(app) == []
    assert "through Patroni (POST /failover)" in out
    # Fenced: Patroni down on the old leader, and kept down (marker) until rejoin.yml.
    unit = subprocess.run(["podman", "exec", old, "systemctl", "is-active", "patroni"], stdout=subprocess.PIPE,
                          universal_newlines=True, check=False).stdout.strip()
    assert unit != "active"
    # Still paused: a rejoin is refused, naming the fix.
    rc, out, dummy = playbook("playbooks/rejoin.yml", *AUTOMATIC)
    assert rc != 0 and "Patroni is paused" in out and "resume" in out, out[-3000:]
    patronictl(new, "resume", "--wait")
    rc, out, dummy = playbook("playbooks/rejoin.yml", *AUTOMATIC)
    assert rc == 0, out[-5000:]
    print("rejoined %s under Patroni in %.1f s of waiting" % (old, wait_streaming(new, old, timeout=120)))
    assert psql(old, "SELECT pg_catalog.pg_is_in_recovery()") == "t"
    assert stable_leader() == new
    st = status()
    assert st["verdict"] == "healthy", st["reasons"]


def patroni_members(host):
    return dict((m["Member"], m) for m in json.loads(patronictl(host, "list", "-f", "json")))


def test_inplace_restore_through_patroni(tmp_path):
    """restore.yml in place, automatic mode: it pauses and stops Patroni with each server, forgets its state in
    etcd (the restored cluster is behind the last LSN Patroni saw), rebuilds the cluster from the last backup
    and the archived WAL, and Patroni takes it over."""
    before = stable_leader()
    assert sorted(patroni_members(before)) == sorted(NODES)
    # A fresh incremental backup: the restore replays the WAL since it, not since the first deploy's.
    rc, out, dummy = playbook("playbooks/backup.yml", "-e", "pgha_backup_type=incr", *AUTOMATIC)
    assert rc == 0, out[-3000:]
    psql(before, "CREATE TABLE patroni_probe (n int); INSERT INTO patroni_probe SELECT generate_series(1, 10)")
    time.sleep(1.5)
    point = psql(before, "SELECT now()")
    time.sleep(1.5)
    psql(before, "INSERT INTO patroni_probe SELECT generate_series(11, 15)")
    report_dir = str(tmp_path)
    target = ["-e", "pgha_restore_mode=inplace", "-e", "pgha_restore_confirm=%s" % sysid(before),
              "-e", json.dumps({"pgha_restore_target_time": point})]
    # An inventory still in manual mode would rebuild a manual cluster behind Patroni: refused, nothing changed.
    rc, out, report = restore(report_dir, *target)
    assert rc != 0 and "but pgha_failover_mode is manual" in out, out[-3000:]
    assert psql(before, "SELECT count(*) FROM patroni_probe") == "15"
    rc, out, report = restore(report_dir, *(target + list(AUTOMATIC)))
    assert rc == 0, out[-4000:]
    assert report["passed"], json.dumps(report, indent=1)[:3000]
    members = patroni_members("pg1")
    # The restore host leads; Patroni runs everywhere again, not paused, with a synchronous standby recorded.
    assert members["pg1"]["Role"] == "Leader", members
    assert all(m["State"] in ("running", "streaming") for m in members.values()), members
    deadline = time.time() + 30
    while not any(m["Role"] == "Sync Standby" for m in members.values()) and time.time() < deadline:
        time.sleep(1)
        members = patroni_members("pg1")
    assert any(m["Role"] == "Sync Standby" for m in members.values()), members
    assert "paused" not in patronictl("pg1", "list").lower()
    for host in NODES:
        if host != "pg1":
            wait_streaming("pg1", host)
        assert psql(host, "SELECT count(*) FROM patroni_probe") == "10", host
    assert stable_leader() == "pg1"
    st = status()
    assert st["primary"] == "pg1" and st["verdict"] == "healthy", st["reasons"]


def test_handing_the_cluster_back_to_manual_keeps_writes_going(app):
    """handback.yml under writes: Patroni paused, the standbys then the primary restarted under
    systemd (PgBouncer paused around the primary's restart), Patroni, HAProxy and etcd stopped,
    site.yml in manual mode. Last: the cluster it leaves is a manual one."""
    primary = stable_leader()
    writer, sampler = load(app, "handback")
    try:
        time.sleep(1)
        started = time.time()
        rc, out, dummy = playbook("playbooks/handback.yml")
        took = time.time() - started
        time.sleep(1)
    finally:
        writer.stop()
        two = sampler.stop()
    assert rc == 0, out[-5000:]
    print("handback under writes: %.1f s (site.yml included), %d writes, %d client errors, longest gap %.3f s"
          % (took, len(writer.acked), len(writer.errors), writer.longest_gap()))
    assert writer.errors == [], writer.errors[:5]
    assert writer.lost(app) == []
    assert two == [], two[:3]
    assert writer.longest_gap() < 5.0
    # systemd runs every server with pgha's configuration; Patroni, HAProxy and etcd are off.
    for host in NODES:
        units = subprocess.run(["podman", "exec", host, "systemctl", "is-enabled", UNIT, "patroni",
                                "pgha-handover", "etcd"], stdout=subprocess.PIPE, universal_newlines=True,
                               check=False).stdout.split()
        assert units == ["enabled", "disabled", "disabled", "disabled"], (host, units)
        active = subprocess.run(["podman", "exec", host, "systemctl", "is-active", UNIT],
                                stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout.strip()
        assert active == "active", (host, active)
        assert psql(host, "SELECT count(*) FROM pg_catalog.pg_file_settings WHERE sourcefile LIKE '%patroni%' "
                          "OR sourcefile LIKE '%base.conf'") == "0", host
    # No Patroni cache left that would start a later Patroni paused (a change back to automatic).
    for host in NODES:
        assert subprocess.run(["podman", "exec", host, "test", "-e", "/var/lib/postgresql/%s/main/patroni.dynamic.json" % PG],
                              check=False).returncode != 0, host
    assert leader() is None
    st = status()
    assert st["verdict"] == "healthy" and st["primary"] == primary, st["reasons"]
    assert [(p["target"], p.get("via")) for p in st["poolers"]] == [(primary, None)], st["poolers"]
    # A converged manual cluster: site.yml changes nothing.
    rc, out, recap = playbook("playbooks/site.yml")
    assert rc == 0, out[-4000:]
    changed = dict((h, r["changed"]) for h, r in recap.items() if r["changed"])
    assert changed == {}, changed
