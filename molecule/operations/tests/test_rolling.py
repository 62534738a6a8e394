"""Rolling maintenance on the lab under pgbench (4 clients at 100 tps through
PgBouncer) plus the accounting writer: a restart-requiring change through
site.yml (raised: standbys first and a switchover; lowered: the primary first
with PgBouncer paused), the health gate of rolling.yml restart stopping at a
standby that does not come back, then one fourth node through its life:
added, made a delayed replica, then a cascading one, removed. (rolling.yml's
reboot mode: test_upgrade, whose upgrade reboots every node under load.) Tests run in order."""
import os
import subprocess
import sys
import time
import uuid

import pytest
import yaml

from labtools import ROOT, current_primary, lab_sh, playbook, status

sys.path.insert(0, os.path.join(ROOT, "bench"))
from load import Pgbench  # noqa: E402  pylint: disable=wrong-import-position
from writer import Writer  # noqa: E402  pylint: disable=wrong-import-position

NODES = ("pg1", "pg2", "pg3")
# The default postgresql_max_connections (roles/postgresql/defaults) and the raised value.
BASE_CONNECTIONS, RAISED_CONNECTIONS = 200, 250


def psql(host, query):
    out = subprocess.run(["podman", "exec", host, "runuser", "-u", "postgres", "--", "psql", "-XAtc", query],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    return out.strip()


def started_at(host):
    return float(psql(host, "SELECT extract(epoch FROM pg_postmaster_start_time())"))


def settings_everywhere(name):
    return dict((h, psql(h, "SELECT current_setting('%s')" % name)) for h in NODES)


def pending_everywhere():
    return dict((h, psql(h, "SELECT coalesce(string_agg(name, ','), '') FROM pg_settings WHERE pending_restart"))
                for h in NODES)


def healthy(st):
    """One primary, both standbys streaming from it, PgBouncer pointing at it."""
    standbys = [n for n in st["nodes"] if n["host"] != st["primary"]]
    return (len([n for n in st["nodes"] if n.get("role") == "primary"]) == 1
            and all(n.get("upstream") == st["primary"] and n.get("streaming") for n in standbys)
            and all(p["target"] == st["primary"] for p in st["poolers"]))


@pytest.fixture(scope="module")
def bench_conn(app):
    conn = dict(part.split("=", 1) for part in app.split())
    load = Pgbench(conn, clients=4, rate=100, scale=5, seconds=1)
    load.init()
    return conn


def under_load(app, bench_conn, *args):
    """Run a playbook while pgbench (4 x 100 tps) and the writer run; returns (rc, out, figures, writer).
    pgbench runs from 2.5 s before the playbook to 3 s after it (the figures cover it and 2 s either side;
    its last second of log may be lost when it is stopped)."""
    load = Pgbench(bench_conn, clients=4, rate=100, scale=5, seconds=900)
    writer = Writer(app, "rolling-%s" % uuid.uuid4().hex[:6])
    load.start()
    writer.start()
    time.sleep(2.5)
    start = time.time()
    rc, out, dummy = playbook(*args)
    end = time.time()
    time.sleep(3)
    writer.stop()
    assert load.running(), "pgbench ended before the playbook (%.0f s)" % (end - start)
    load.stop()
    figures = load.finish((start, end))
    print("%s: %.1f s, pgbench %s, writer acked %d" % (" ".join(args), end - start, figures, len(writer.acked)))
    return rc, out, figures, writer


def assert_clients_saw_nothing(app, figures, writer, max_gap):
    assert figures["failed_transactions"] == 0 and figures["aborted_clients"] == 0, figures
    assert figures["longest_gap_s"] < max_gap, figures
    assert writer.errors == [], writer.errors[:5]
    assert writer.lost(app) == []


def test_site_rolls_a_raised_max_connections_without_stopping_writes(app, bench_conn):
    before = dict((h, started_at(h)) for h in NODES)
    primary = current_primary()
    rc, out, figures, writer = under_load(app, bench_conn, "playbooks/site.yml",
                                          "-e", "postgresql_max_connections=%d" % RAISED_CONNECTIONS)
    assert rc == 0, out[-4000:]
    assert settings_everywhere("max_connections") == dict((h, str(RAISED_CONNECTIONS)) for h in NODES)
    assert pending_everywhere() == dict((h, "") for h in NODES)
    assert all(started_at(h) > before[h] for h in NODES)
    st = status()
    assert healthy(st) and st["primary"] != primary, st
    assert_clients_saw_nothing(app, figures, writer, 2.0)


def test_site_refuses_to_lower_it_without_primary_first_and_changes_nothing():
    conf = psql("pg1", "SELECT pg_read_file(current_setting('config_file'))")
    rc, out, dummy = playbook("playbooks/site.yml")
    assert rc != 0
    assert "max_connections %d -> %d" % (RAISED_CONNECTIONS, BASE_CONNECTIONS) in out, out[-3000:]
    assert "pgha_rolling_primary_first=true" in out
    assert settings_everywhere("max_connections") == dict((h, str(RAISED_CONNECTIONS)) for h in NODES)
    assert pending_everywhere() == dict((h, "") for h in NODES)
    assert psql("pg1", "SELECT pg_read_file(current_setting('config_file'))") == conf


def test_site_lowers_it_primary_first_with_writes_waiting_not_failing(app, bench_conn):
    primary = current_primary()
    rc, out, figures, writer = under_load(app, bench_conn, "playbooks/site.yml", "-e", "pgha_rolling_primary_first=true")
    assert rc == 0, out[-4000:]
    assert settings_everywhere("max_connections") == dict((h, str(BASE_CONNECTIONS)) for h in NODES)
    assert pending_everywhere() == dict((h, "") for h in NODES)
    st = status()
    assert healthy(st) and st["primary"] == primary, st
    # The primary restarts in place with PgBouncer paused: clients wait; none fails.
    assert_clients_saw_nothing(app, figures, writer, 10.0)


def address(host):
    with open(os.path.join(ROOT, "inventories", "lab", "hosts.yml")) as handle:
        inventory = yaml.safe_load(handle)["pgha_lab"]["children"]
    return [group["hosts"][host]["ansible_host"] for group in inventory.values() if host in group["hosts"]][0]


def boot_id(host):
    return subprocess.run(["podman", "inspect", "-f", "{{.State.StartedAt}}", host], check=True,
                          stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()


def test_the_gate_stops_at_a_standby_that_does_not_come_back():
    st = status()
    primary = st["primary"]
    standbys = sorted(n["host"] for n in st["nodes"] if n["host"] != primary)
    before = dict((h, started_at(h)) for h in NODES)
    # The primary refuses the first standby's replication connection from now on: the
    # connection it has stays until the restart, after which it cannot stream again.
    hba = psql(primary, "SHOW hba_file")
    original = psql(primary, "SELECT pg_read_file('%s')" % hba)
    reject = "host replication all %s/32 reject" % address(standbys[0])
    subprocess.run(["podman", "exec", primary, "sed", "-i", "1i %s" % reject, hba], check=True)
    psql(primary, "SELECT pg_reload_conf()")
    try:
        rc, out, dummy = playbook("playbooks/rolling.yml", "-e", "pgha_rolling=restart", "-e", "pgha_rolling_gate_timeout=15")
    finally:
        subprocess.run(["podman", "exec", primary, "sed", "-i", "1d", hba], check=True)
        psql(primary, "SELECT pg_reload_conf()")
    assert psql(primary, "SELECT pg_read_file('%s')" % hba) == original
    assert rc != 0
    assert "%s is not back" % standbys[0] in out and "after 15 s" in out, out[-3000:]
    # Stopped there: the other standby and the primary were not touched.
    assert started_at(standbys[0]) > before[standbys[0]]
    assert started_at(standbys[1]) == before[standbys[1]] and started_at(primary) == before[primary]
    deadline = time.time() + 60
    while time.time() < deadline and not healthy(status()):
        time.sleep(2)
    assert healthy(status())


SCALE = [os.path.join(ROOT, "inventories", "lab", "hosts.yml"), os.path.join(ROOT, "inventories", "lab", "scale.yml")]
PG4 = "10.213.77.14"


def pg_version():
    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "all", "lab.yml")) as handle:
        return yaml.safe_load(handle)["pgha_postgresql_version"]


def hba_lines_for(host, address):
    return [line for line in psql(host, "SELECT pg_read_file(current_setting('hba_file'))").splitlines()
            if address in line]


def slots(host):
    return psql(host, "SELECT coalesce(string_agg(slot_name, ',' ORDER BY slot_name), '') FROM pg_replication_slots").split(",")


# One fourth node, pg4, for the rest of this module (CI time: one clone, not three). It joins
# as a plain standby, becomes a delayed replica, then a cascading one, and leaves: each step
# is a change of its inventory entry applied by site.yml, as an operator would make it.
@pytest.fixture(scope="module")
def pg4():
    lab_sh("add", "pg4")
    yield "pg4"
    lab_sh("remove", "pg4")


def test_scale_out_to_four_nodes_under_load(app, bench_conn, pg4):
    rc, out, figures, writer = under_load(app, bench_conn, "-i", SCALE[1], "playbooks/site.yml")
    assert rc == 0, out[-4000:]
    st = status(inventory=SCALE)
    primary = st["primary"]
    assert healthy(st) and "pg4" in [n["host"] for n in st["nodes"]], st
    assert '"pg4"' in psql(primary, "SHOW synchronous_standby_names")
    assert "pg4" in slots(primary)
    assert all(hba_lines_for(h, PG4) for h in NODES)
    assert_clients_saw_nothing(app, figures, writer, 2.0)

    # The primary cannot be removed; nothing changes.
    rc, out, dummy = playbook("-i", SCALE[1], "playbooks/remove_node.yml", "-e", "pgha_target=%s" % primary)
    assert rc != 0 and "%s is the primary: switch over first" % primary in out, out[-3000:]
    assert current_primary(inventory=SCALE) == primary


DELAYED = [SCALE[0], os.path.join(ROOT, "inventories", "lab", "delayed.yml")]


def test_a_standby_made_delayed_is_never_synchronous_nor_chosen_and_follows_a_switchover(app, bench_conn, pg4):
    # pgha_apply_delay set on the streaming pg4: site.yml takes it out of the synchronous set.
    rc, out, dummy = playbook("-i", DELAYED[1], "playbooks/site.yml")
    assert rc == 0, out[-4000:]
    st = status(inventory=DELAYED)
    primary = st["primary"]
    assert healthy(st) and "pg4" in [n["host"] for n in st["nodes"]], st
    assert psql("pg4", "SHOW recovery_min_apply_delay") == "1h"
    assert "pg4" not in psql(primary, "SHOW synchronous_standby_names")
    assert "pg4" in slots(primary)
    # It receives at once and applies an hour late.
    probe = "delayed_probe_%s" % uuid.uuid4().hex[:8]
    lsn = psql(primary, "CREATE TABLE %s (id int); SELECT pg_current_wal_insert_lsn()" % probe).splitlines()[-1]
    deadline = time.time() + 20
    while time.time() < deadline and psql("pg4", "SELECT pg_last_wal_receive_lsn() >= '%s'" % lsn) != "t":
        time.sleep(0.5)
    assert psql("pg4", "SELECT pg_last_wal_receive_lsn() >= '%s'" % lsn) == "t"
    assert psql("pg4", "SELECT to_regclass('%s') IS NULL" % probe) == "t"
    assert psql(primary, "SELECT to_regclass('%s') IS NOT NULL" % probe) == "t"

    # A switchover never goes to it (named, it is refused, nothing changed)...
    rc, out, dummy = playbook("-i", DELAYED[1], "playbooks/switchover.yml", "-e", "pgha_target=pg4")
    assert rc != 0 and "pg4 is a delayed replica (pgha_apply_delay 1h)" in out, out[-3000:]
    assert current_primary(inventory=DELAYED) == primary
    # ...and it follows the new primary, still out of the synchronous set.
    rc, out, figures, writer = under_load(app, bench_conn, "-i", DELAYED[1], "playbooks/switchover.yml")
    assert rc == 0, out[-4000:]
    st = status(inventory=DELAYED)
    assert st["primary"] not in (primary, "pg4"), st
    # pg4 is re-pointed, not waited for: PostgreSQL restarts a delayed replica's WAL receiver
    # only once recovery asks for more WAL, after the delay. The three others are healthy.
    assert healthy(dict(st, nodes=[n for n in st["nodes"] if n["host"] != "pg4"])), st
    assert "host=%s " % address(st["primary"]) in psql("pg4", "SHOW primary_conninfo") + " "
    assert "pg4" not in psql(st["primary"], "SHOW synchronous_standby_names")
    assert "pg4" in slots(st["primary"])
    assert_clients_saw_nothing(app, figures, writer, 2.0)
    psql(st["primary"], "DROP TABLE %s" % probe)


def receiver_host(host):
    return psql(host, "SELECT coalesce(sender_host, '') FROM pg_stat_wal_receiver WHERE status = 'streaming'")


def wait_receiver(host, source, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline and receiver_host(host) != address(source):
        time.sleep(1)
    return receiver_host(host) == address(source)


def cascade_healthy(st, upstream):
    """The three nodes healthy, and pg4 streaming from its upstream."""
    pg4 = [n for n in st["nodes"] if n["host"] == "pg4"]
    return (healthy(dict(st, nodes=[n for n in st["nodes"] if n["host"] != "pg4"]))
            and pg4 and pg4[0].get("upstream") == upstream and pg4[0].get("streaming"))


def cascade_inventory(directory, upstream):
    """pg4 with pgha_upstream, as an inventory file to add to the lab's."""
    cascade = directory / "cascade.yml"
    cascade.write_text(yaml.safe_dump({"pgha_lab": {"children": {"pgha_postgresql": {"hosts": {
        "pg4": {"ansible_host": PG4, "pgha_upstream": upstream}}}}}}))
    return cascade


def test_the_delayed_replica_made_cascading_follows_its_upstream_through_a_switchover_and_a_failover(
        app, bench_conn, pg4, tmp_path):
    from labtools import kill_primary_and_fail_over
    primary = current_primary()
    upstream = sorted(h for h in NODES if h != primary)[0]
    cascade = cascade_inventory(tmp_path, upstream)
    inventory = [SCALE[0], str(cascade)]

    def run(*args):
        return playbook("-i", str(cascade), *args)

    # The delay off and an upstream named: pg4 applies what it held back, streams from its
    # upstream with its slot there, and its slot on the primary goes; never synchronous.
    rc, out, dummy = run("playbooks/site.yml")
    assert rc == 0, out[-4000:]
    assert wait_receiver("pg4", upstream)
    assert psql("pg4", "SHOW recovery_min_apply_delay") == "0"
    st = status(inventory=inventory)
    assert cascade_healthy(st, upstream), st
    assert "pg4" in slots(upstream) and "pg4" not in slots(primary)
    assert "pg4" not in psql(primary, "SHOW synchronous_standby_names")
    rc, out, recap = run("playbooks/site.yml")
    assert rc == 0 and all(r["changed"] == 0 for r in recap.values()), recap

    # Its upstream becomes the primary: pg4 goes on streaming from it, nothing moved.
    rc, out, figures, writer = under_load(app, bench_conn, "-i", str(cascade), "playbooks/switchover.yml",
                                          "-e", "pgha_target=%s" % upstream)
    assert rc == 0, out[-4000:]
    assert_clients_saw_nothing(app, figures, writer, 2.0)
    st = status(inventory=inventory)
    assert st["primary"] == upstream and healthy(st), st
    assert receiver_host("pg4") == address(upstream) and "pg4" in slots(upstream)

    # Its upstream fails: pg4 follows the new primary, with a slot there.
    writer, started, rc, out = kill_primary_and_fail_over(app, upstream, run, "cascade-failover")
    assert rc == 0, out[-4000:]
    assert writer.lost(app) == []
    new = current_primary(inventory=inventory)
    assert new not in (upstream, "pg4")
    assert wait_receiver("pg4", new) and "pg4" in slots(new)

    # Its upstream back (rejoin), site.yml moves pg4 back to it and drops its slot on the primary.
    lab_sh("start", upstream)
    rc, out, dummy = run("playbooks/rejoin.yml", "-e", "pgha_target=%s" % upstream)
    assert rc == 0, out[-4000:]
    rc, out, dummy = run("playbooks/site.yml")
    assert rc == 0, out[-4000:]
    assert receiver_host("pg4") == address(upstream) and "pg4" in slots(upstream)
    assert "pg4" not in slots(new)
    st = status(inventory=inventory)
    assert cascade_healthy(st, upstream) and "pg4" not in psql(new, "SHOW synchronous_standby_names"), st

    # Its upstream cannot be removed while it streams from it.
    rc, out, dummy = run("playbooks/remove_node.yml", "-e", "pgha_target=%s" % upstream)
    assert rc != 0 and "%s streams WAL to pg4" % upstream in out, out[-3000:]


def test_scale_in_back_to_three_nodes_under_load(app, bench_conn, pg4, tmp_path):
    upstream = [h for h in NODES if address(h) == receiver_host("pg4")][0]
    cascade = cascade_inventory(tmp_path, upstream)
    rc, out, figures, writer = under_load(app, bench_conn, "-i", str(cascade), "playbooks/remove_node.yml",
                                          "-e", "pgha_target=pg4")
    assert rc == 0, out[-4000:]
    primary = current_primary()
    assert "pg4" not in psql(primary, "SHOW synchronous_standby_names")
    # Its slot goes with it, on its upstream and everywhere.
    assert all("pg4" not in slots(h) for h in NODES), upstream
    assert not any(hba_lines_for(h, PG4) for h in NODES)
    assert subprocess.run(["podman", "exec", "pg4", "pgrep", "-x", "postgres"], check=False).returncode != 0
    # Its data directory stays.
    assert subprocess.run(["podman", "exec", "pg4", "test", "-f",
                           "/var/lib/postgresql/%s/main/PG_VERSION" % pg_version()], check=False).returncode == 0
    assert_clients_saw_nothing(app, figures, writer, 2.0)

    # pg4 out of the inventory: site.yml rewrites what else named it, then changes nothing.
    rc, out, recap = playbook("playbooks/site.yml")
    assert rc == 0, out[-3000:]
    before = dict((h, started_at(h)) for h in NODES)
    rc, out, recap = playbook("playbooks/site.yml")
    assert rc == 0 and all(r["changed"] == 0 for r in recap.values()), recap
    # Nothing waits for a restart and nothing was restarted.
    assert dict((h, started_at(h)) for h in NODES) == before
    assert pending_everywhere() == dict((h, "") for h in NODES)
    st = status()
    assert healthy(st) and sorted(n["host"] for n in st["nodes"]) == list(NODES), st
    assert "pg4" not in psql(st["primary"], "SHOW synchronous_standby_names")
    for host in NODES:
        assert "pg4" not in slots(host)
        assert not hba_lines_for(host, PG4)
        assert "pg4" not in psql(host, "SELECT pg_read_file(current_setting('ident_file'))")
