"""Monitoring on the lab (pgha.cluster.monitoring, issue 15): Prometheus on
monitor1 scrapes every host; the metrics name the primary and follow a
switchover (which leaves the primary on the target); real faults - a killed standby, a broken archive_command, a
PgBouncer paused by hand, all at once - fire alerts naming the host, without
any manual step, and the alerts leave Alertmanager (the lab's receiver on
monitor1 gets them). status.yml, run meanwhile, judges the same facts: it names
the same hosts and shows the same alerts. Everything is put back afterwards.
The lab's group_vars shorten the three awaited alerts' durations to 30 s (CI time)."""
import json
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import psycopg2
import pytest

from labtools import current_primary, lab_host, lab_settings as settings, playbook, status
from labtools import lab_sh as lab

MONITOR = "10.213.77.51"
PROMETHEUS = "http://%s:9090" % MONITOR
SINK_FILE = "/var/log/pgha-lab-alerts.jsonl"
# The acceptance: a killed standby's alert within 3 minutes.
ALERT_DEADLINE = 180


def prometheus(path, **params):
    url = "%s%s?%s" % (PROMETHEUS, path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = json.load(answer)
    assert body["status"] == "success", body
    return body["data"]


def query(expr):
    return [(r["metric"], float(r["value"][1])) for r in prometheus("/api/v1/query", query=expr)["result"]]


def firing():
    """(alertname, instance or standby) of every pgha alert firing, with when it became active."""
    return dict(((a["labels"]["alertname"], a["labels"].get("instance") or a["labels"].get("standby")), a["activeAt"])
                for a in prometheus("/api/v1/alerts")["alerts"]
                if a["state"] == "firing" and a["labels"]["alertname"].startswith("Pgha"))


def primaries():
    return sorted(m["instance"] for m, v in query('pgha_node_up{role="primary"}') if v == 1)


def wait_for(what, predicate, seconds):
    deadline = time.time() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("%s: not within %d s" % (what, seconds))
        time.sleep(2)


def psql(host, sql, db="postgres"):
    return subprocess.run(["podman", "exec", host, "runuser", "-u", "postgres", "--", "psql", "-XAtq",
                           "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                          check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()


def console(command):
    """PgBouncer's admin console on pooler1, as the lab's admin user (from the pooler itself)."""
    lab_settings = settings()
    return subprocess.run(["podman", "exec", "-e", "PGPASSWORD=%s" % lab_settings["pgha_admin_password"], "pooler1",
                           "psql", "-XAtq", "-h", "127.0.0.1", "-p", "6432", "-U", lab_settings["pgha_admin_user"],
                           "pgbouncer", "-c", command],
                          check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True).stdout


def sink_lines():
    out = subprocess.run(["podman", "exec", "monitor1", "cat", SINK_FILE], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True, check=False).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_prometheus_scrapes_every_host_of_the_inventory():
    expected = set()
    for host in settings()["addresses"]:
        if host == "pg4":
            continue
        expected.add(("node", host))
    expected |= {("postgres", h) for h in ("pg1", "pg2", "pg3")} | {("pgbouncer", "pooler1")}
    expected |= {("prometheus", "monitor1"), ("alertmanager", "monitor1")}

    def all_up():
        targets = prometheus("/api/v1/targets")["activeTargets"]
        seen = dict(((t["labels"]["job"], t["labels"]["instance"]), t) for t in targets)
        missing = expected - set(seen)
        down = [(k, seen[k]["lastError"]) for k in expected & set(seen) if seen[k]["health"] != "up"]
        all_up.last = (missing, down)
        return not missing and not down
    all_up.last = None
    try:
        wait_for("every target up", all_up, 60)
    except AssertionError:
        raise AssertionError("missing %s, down %s" % all_up.last)
    # The exporters speak HTTPS (the cluster CA), and only on the hosts' lab addresses.
    schemes = {t["labels"]["job"]: t["scrapeUrl"].split(":")[0] for t in prometheus("/api/v1/targets")["activeTargets"]}
    assert schemes["node"] == schemes["postgres"] == schemes["pgbouncer"] == "https", schemes
    listening = lab_host("pg1").run("ss -Htlnp").stdout
    assert "10.213.77.11:9187" in listening and "0.0.0.0:9187" not in listening and "*:9187" not in listening


def test_the_exporter_reads_postgresql_with_least_privilege():
    primary = current_primary()
    row = psql(primary, "SELECT rolsuper, rolcreaterole, rolreplication, "
                        "pg_has_role('pgha_monitor', 'pg_monitor', 'MEMBER') FROM pg_roles WHERE rolname = 'pgha_monitor'")
    assert row == "f|f|f|t", row
    # It may read statistics, not data: a table of the application is out of reach.
    out = subprocess.run(["podman", "exec", primary, "runuser", "-u", "prometheus", "--", "psql", "-XAtq",
                          "-h", "/var/run/postgresql", "-U", "pgha_monitor", "-d", "postgres", "-c",
                          "SELECT count(*) FROM pg_authid"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=False)
    assert out.returncode != 0 and "permission denied" in out.stdout, out.stdout


def test_metrics_name_the_primary_and_follow_a_switchover():
    st = status()
    assert primaries() == [st["primary"]]
    before = query('pgha_node_timeline{role="primary"}')[0][1]
    target = sorted(r["host"] for r in st["nodes"] if r["role"] == "standby")[0]
    started = time.time()
    rc, out, dummy = playbook("playbooks/switchover.yml", "-e", "pgha_target=%s" % target)
    assert rc == 0, out[-3000:]
    done = time.time()
    wait_for("Prometheus names %s the only primary" % target, lambda: primaries() == [target], 60)
    seen = time.time()
    print("\nswitchover to %s: playbook %.1f s; Prometheus named it the only primary %.1f s after the playbook"
          % (target, done - started, seen - done))
    timeline = query('pgha_node_timeline{role="primary"}')[0]
    assert timeline[0]["instance"] == target and timeline[1] == before + 1, timeline
    # The old primary reports as a standby that streams, and no alert about primaries fires.
    wait_for("the old primary streams", lambda: query('pgha_node_wal_receiver_streaming{instance="%s", role="standby"} == 1'
                                                      % st["primary"]), 60)
    assert not [k for k in firing() if k[0] in ("PghaNoPrimary", "PghaMultiplePrimaries")]
    # The primary stays there: the faults below start from it, and test_operations' first
    # switchover under writes brings the first primary back (CI time: one switchover fewer).


def paused_alert():
    """PgBouncer 1.21 and later say they are paused (SHOW STATE); before, a global PAUSE shows through
    the client it holds."""
    return "PghaPgBouncerPaused" if query('pgbouncer_paused{instance="pooler1"}') else "PghaPgBouncerClientsWaiting"


@pytest.fixture(scope="module")
def faults(app):
    """A killed standby, a broken archive_command on the primary and a paused
    PgBouncer, injected at once; put back afterwards."""
    st = status()
    primary = st["primary"]
    standby = sorted(r["host"] for r in st["nodes"] if r["role"] == "standby")[-1]
    # A client of pooler1, connected before the PAUSE, whose next query the PAUSE holds.
    client = psycopg2.connect(app, connect_timeout=5)
    client.autocommit = True
    sink_before = len(sink_lines())
    injected = time.time()
    subprocess.run(["podman", "kill", "-s", "KILL", standby], check=True, stdout=subprocess.PIPE)
    psql(primary, "ALTER SYSTEM SET archive_command = '/bin/false'")
    psql(primary, "SELECT pg_reload_conf()")
    psql(primary, "CREATE TABLE IF NOT EXISTS pgha_monitoring_probe (at timestamptz); "
                  "INSERT INTO pgha_monitoring_probe VALUES (now())")
    psql(primary, "SELECT pg_switch_wal()")
    console("PAUSE")
    held = threading.Thread(target=lambda: client.cursor().execute("SELECT 1"), daemon=True)
    held.start()
    try:
        yield {"primary": primary, "standby": standby, "injected": injected, "sink_before": sink_before}
    finally:
        console("RESUME")
        held.join(30)
        client.close()
        psql(primary, "ALTER SYSTEM RESET archive_command")
        psql(primary, "SELECT pg_reload_conf()")
        psql(primary, "DROP TABLE IF EXISTS pgha_monitoring_probe")
        psql(primary, "SELECT pg_switch_wal()")
        lab("start", standby)
        wait_for("%s streams again" % standby,
                 lambda: query('pgha_node_wal_receiver_streaming{instance="%s", role="standby"} == 1' % standby), 120)
        wait_for("WAL is archived again", lambda: query('pgha_archiver_ready_files{instance="%s"} == 0' % primary), 120)


@pytest.fixture(scope="module")
def fired(faults):
    """Wait until each fault's alert fires; when each did, seconds after the faults."""
    expected = {
        ("PghaHostDown", faults["standby"]): None,
        ("PghaArchivingFailing", faults["primary"]): None,
        (paused_alert(), "pooler1"): None,
    }

    def all_fired():
        now = firing()
        for key in expected:
            if expected[key] is None and key in now:
                expected[key] = time.time() - faults["injected"]
        return all(v is not None for v in expected.values())
    try:
        wait_for("the alerts of the faults", all_fired, ALERT_DEADLINE + 60)
    finally:
        print("\nalerts fired after the faults: %s" % ", ".join(
            "%s(%s) %s" % (k[0], k[1], "NOT" if v is None else "{:.0f} s".format(v)) for k, v in expected.items()))
    return expected


def test_a_killed_standby_fires_an_alert_naming_it_within_3_minutes(faults, fired):
    seconds = fired[("PghaHostDown", faults["standby"])]
    assert seconds <= ALERT_DEADLINE, "PghaHostDown for %s after %.0f s" % (faults["standby"], seconds)
    # The primary sees one standby fewer; the dead node's PostgreSQL alert is inhibited, not lost.
    assert query('pgha_node_streaming_standbys{role="primary"}')[0][1] == 1


def test_a_broken_archive_command_fires_the_archiving_alert(faults, fired):
    assert fired[("PghaArchivingFailing", faults["primary"])] <= ALERT_DEADLINE
    assert query('pgha_archiver_ready_files{instance="%s"}' % faults["primary"])[0][1] >= 1


def test_a_paused_pgbouncer_fires_its_alert(faults, fired):
    assert fired[(paused_alert(), "pooler1")] <= ALERT_DEADLINE


def test_the_alerts_leave_alertmanager_for_the_receiver(faults, fired):
    seen = {}

    def received():
        names = seen["names"] = set()
        for line in sink_lines()[faults["sink_before"]:]:
            for alert in line["payload"].get("alerts", []):
                if alert.get("status") == "firing":
                    names.add((alert["labels"]["alertname"], alert["labels"].get("instance")))
        return names if set(fired) <= names else None
    # Alerts that fire more than group_wait apart reach the receiver in separate notifications,
    # the later ones up to group_interval (1m) after the first.
    try:
        names = wait_for("the receiver gets the three faults' alerts (%s)" % sorted(fired), received, 120)
    except AssertionError as exc:
        raise AssertionError("%s; it got %s" % (exc, sorted(seen.get("names", ()))))
    assert ("PghaHostDown", faults["standby"]) in names, names


def test_status_judges_the_same_facts_and_shows_the_alerts(faults, fired):
    st = status()
    # A paused PgBouncer routes no writes: clients cannot write.
    assert st["verdict"] == "down", st["reasons"]
    reasons = " | ".join(st["reasons"])
    assert faults["standby"] in reasons and "archiving fails on %s" % faults["primary"] in reasons, reasons
    assert "no PgBouncer routes writes" in reasons and "PgBouncer pooler1 does not answer clients" in reasons, reasons
    shown = " | ".join(st["alerts"])
    # (A client PAUSE holds is dropped after PgBouncer's query_wait_timeout, 120 s: the waiting-clients
    # alert may have ended by now; status' own probe still sees the pause, above.)
    for name, host in (("PghaHostDown", faults["standby"]), ("PghaArchivingFailing", faults["primary"])):
        assert "%s (critical, instance=%s)" % (name, host) in shown, shown
    # They agree: no warning says otherwise.
    assert not [w for w in st["warnings"] if "Prometheus" in w], st["warnings"]


def test_status_says_when_prometheus_cannot_be_read(faults, fired):
    # Nothing listens on port 1: status.yml still judges the cluster, and says why it shows no alerts.
    rc, out, dummy = playbook("playbooks/status.yml", "-e", "monitoring_prometheus_port=1")
    assert rc == 0, out[-3000:]
    assert "Prometheus on monitor1 could not be read" in out and "Connection refused" in out, out[-3000:]
    assert "verdict: DOWN" in out, out[-3000:]
