"""Point-in-time recovery stays continuous across every failover and switchover
(the backup suite, after test_backup.py).

The primary is cut off from the repositories (so WAL piles up) while pgbench writes
through PgBouncer; a row is written, the time T noted, another row; the
primary is killed and failover.yml promotes a standby. The standbys held
every WAL file they received until it was archived, the promoted one pushes
them, and a drill to T returns exactly the rows of T. With the standbys'
holding deliberately skipped, the continuity check names the gap, a drill to T
is refused with it, and backup.yml -e pgha_archive_repair=true fills it from
the old primary's pg_wal."""
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from backuptools import ROOT, current_primary, lab_host, playbook, psql, restore, status
from labtools import lab_sh

sys.path.insert(0, os.path.join(ROOT, "bench"))
from load import Pgbench  # noqa: E402  pylint: disable=wrong-import-position

POOLER = "10.213.77.21"
STATE = {}


@pytest.fixture(scope="module", autouse=True)
def load_tables_dropped_afterwards():
    """The suites after this one on the same lab make pgbench tables of their own (as another role):
    this module's, owned by postgres, and its role go when it ends."""
    yield
    if "password" in STATE:
        psql(current_primary(), "DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_tellers, "
                                "pgbench_history; DROP ROLE IF EXISTS pgha_load")


ROWS = "SELECT md5(string_agg(id || ':' || note, ',' ORDER BY id)) FROM public.continuity"


def probes(rows_md5):
    return json.dumps({"pgha_restore_probes": [{"name": "rows of continuity", "sql": ROWS, "expect": rows_md5}]})


def set_archive_command(hostname, command):
    value = "RESET archive_command" if command is None else "SET archive_command = '%s'" % command
    psql(hostname, "ALTER SYSTEM %s" % value)
    psql(hostname, "SELECT pg_reload_conf()")


def ready_files(hostname):
    out = lab_host(hostname).check_output("sh -c 'ls /var/lib/postgresql/*/main/pg_wal/archive_status/'")
    return [line[:-len(".ready")] for line in out.split() if line.endswith(".ready")]


def load_conn():
    """The load's role and pgbench tables on the primary (made once), and how pgbench reaches them through PgBouncer."""
    primary = current_primary()
    if "password" not in STATE:
        STATE["password"] = uuid.uuid4().hex
        psql(primary, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgha_load') THEN "
                      "CREATE ROLE pgha_load LOGIN; END IF; END$$")
        psql(primary, "ALTER ROLE pgha_load PASSWORD '%s'" % STATE["password"])
        lab_host(primary).check_output(
            "sh -c 'runuser -u postgres -- /usr/lib/postgresql/*/bin/pgbench -q -i -s 2 postgres >/dev/null 2>&1'")
        psql(primary, "GRANT SELECT, INSERT, UPDATE ON pgbench_accounts, pgbench_branches, pgbench_tellers, "
                      "pgbench_history TO pgha_load")
    return {"host": POOLER, "port": 6432, "user": "pgha_load", "password": STATE["password"], "connect_timeout": "3"}


def start_load():
    """pgbench's TPC-B through PgBouncer (bench/load.py: 4 clients at 60 tps), as a background load."""
    load = Pgbench(load_conn(), clients=4, rate=60, scale=2, seconds=300)
    load.start()
    time.sleep(2)
    assert load.running(), load.finish()
    return load


def backlog_then_t(primary, tag):
    """Rows and WAL files the primary cannot archive; the time T between two rows.
    Returns (T, md5 of the rows at T)."""
    for i in range(3):
        psql(primary, "INSERT INTO continuity VALUES (%d, '%s before %d')" % (STATE["next"], tag, i))
        STATE["next"] += 1
        psql(primary, "SELECT pg_switch_wal()")
    psql(primary, "INSERT INTO continuity VALUES (%d, '%s A')" % (STATE["next"], tag))
    STATE["next"] += 1
    rows = psql(primary, ROWS)
    moment = psql(primary, "SELECT clock_timestamp()")
    time.sleep(1.2)
    psql(primary, "INSERT INTO continuity VALUES (%d, '%s C after T')" % (STATE["next"], tag))
    STATE["next"] += 1
    psql(primary, "SELECT pg_switch_wal()")
    return moment, rows


def repos(st):
    return dict((a["repo"], a) for a in st["archives"])


def wait_continuous(timeout=90):
    """Until every repository has a continuous window to the newest WAL."""
    deadline = time.time() + timeout
    while True:
        st = status()
        found = repos(st)
        if found and all(a.get("continuous") and not a.get("error") for a in found.values()):
            return st
        assert time.time() < deadline, json.dumps(st["archives"], indent=1)
        time.sleep(5)


def drill_to(report_dir, moment, rows):
    rc, out, report = restore(report_dir, "-e", "pgha_restore_mode=drill", "-e", probes(rows),
                              "-e", json.dumps({"pgha_restore_target_time": moment}))
    return rc, out, report


def bring_back(old):
    """The killed primary starts again, fenced by the boot guard (read-only)."""
    subprocess.run([os.path.join(ROOT, "lab", "lab.sh"), "start", old], check=True, stdout=subprocess.PIPE)


def rejoin(old):
    rc, out, recap = playbook("playbooks/rejoin.yml")
    assert rc == 0, out[-3000:]
    st = status()
    assert [r for r in st["nodes"] if r["host"] == old][0]["streaming"], st


def wait_status(predicate, timeout=120):
    deadline = time.time() + timeout
    while True:
        st = status()
        if predicate(st) or time.time() > deadline:
            return st
        time.sleep(3)


def test_status_says_when_archiving_fails():
    """A failing archive_command makes status.yml degraded, naming the primary and
    the WAL file; once archiving works again the reason goes away."""
    primary = current_primary()
    reason = "archiving fails on %s" % primary
    psql(primary, "CREATE TABLE IF NOT EXISTS archiving_probe (at timestamptz)")
    set_archive_command(primary, "/bin/false")
    try:
        psql(primary, "INSERT INTO archiving_probe VALUES (now())")
        psql(primary, "SELECT pg_switch_wal()")
        st = wait_status(lambda s: any(r.startswith(reason) for r in s["reasons"]))
        assert st["verdict"] == "degraded" and any(r.startswith(reason) for r in st["reasons"]), st["reasons"]
    finally:
        set_archive_command(primary, None)
    st = wait_status(lambda s: not any(r.startswith(reason) for r in s["reasons"]))
    assert not any(r.startswith(reason) for r in st["reasons"]), st["reasons"]
    psql(primary, "DROP TABLE archiving_probe")


def test_failover_with_an_archive_backlog_keeps_point_in_time_recovery_continuous(report_dir):
    st = wait_continuous()
    primary = st["primary"]
    psql(primary, "DROP TABLE IF EXISTS continuity; CREATE TABLE continuity (id int PRIMARY KEY, note text)")
    STATE["next"] = 1
    load = start_load()
    lab_sh("cut-archive", primary)  # the primary's archiving stalls: WAL piles up
    moment, rows = backlog_then_t(primary, "failover")
    time.sleep(2)
    backlog = ready_files(primary)
    assert len(backlog) >= 4, backlog
    for standby in [r["host"] for r in st["nodes"] if r["host"] != primary]:
        held = ready_files(standby)  # the standbys keep what the primary could not archive
        assert set(backlog) - set(held) <= {backlog[-1]}, (backlog, held)
    subprocess.run(["podman", "kill", "-s", "KILL", primary], check=True, stdout=subprocess.PIPE)
    rc, out, recap = playbook("playbooks/failover.yml")
    load.stop()
    load.finish()  # its clients lost the killed primary: no figure to hold here
    assert rc == 0, out[-4000:]
    new = current_primary()
    assert new and new != primary
    psql(new, "INSERT INTO continuity VALUES (%d, 'after the failover')" % STATE["next"])
    STATE["next"] += 1
    st = wait_continuous()
    for archive in st["archives"]:
        assert archive["gaps"] == [] and "no gap" in archive["description"], archive
    # A drill to T, inside the backlog the old primary never archived: exactly the rows of T.
    rc, out, report = drill_to(report_dir, moment, rows)
    assert rc == 0 and report["passed"], out[-3000:]
    assert psql("drill1", "SELECT count(*) FROM continuity WHERE note LIKE '%C after T'") == "0"
    assert psql("drill1", "SELECT count(*) FROM continuity WHERE note = 'failover A'") == "1"
    # latest crosses the timeline switch and has the row written after the failover.
    latest_rows = psql(new, ROWS)
    rc, out, report = restore(report_dir, "-e", "pgha_restore_mode=drill", "-e", "pgha_restore_target=latest",
                              "-e", probes(latest_rows))
    assert rc == 0 and report["passed"], out[-3000:]
    assert psql("drill1", "SELECT count(*) FROM continuity WHERE note = 'after the failover'") == "1"
    bring_back(primary)
    rejoin(primary)


def test_a_gap_made_on_purpose_is_named_refused_and_repaired(report_dir):
    st = wait_continuous()
    primary = st["primary"]
    standbys = [r["host"] for r in st["nodes"] if r["host"] != primary]
    # The holding skipped on purpose: the standbys let go of WAL at once.
    for host in standbys:
        set_archive_command(host, "/bin/true")
    lab_sh("cut-archive", primary)
    moment, rows = backlog_then_t(primary, "gap")
    deadline = time.time() + 30
    while any(ready_files(h) for h in standbys) and time.time() < deadline:
        time.sleep(1)
    for host in standbys:
        set_archive_command(host, None)
    subprocess.run(["podman", "kill", "-s", "KILL", primary], check=True, stdout=subprocess.PIPE)
    rc, out, recap = playbook("playbooks/failover.yml")
    assert rc == 0, out[-4000:]
    deadline = time.time() + 60
    while True:  # the new timeline's history file reaches the repositories within seconds
        st = status()
        gaps = [a for a in st["archives"] if a["gaps"]]
        if len(gaps) == len(st["archives"]) or time.time() > deadline:
            break
        time.sleep(3)
    assert gaps and len(gaps) == len(st["archives"]) and not st["healthy"], st["archives"]
    first = gaps[0]["gaps"][0]["first_missing"]
    assert any(first in p and "repair it with playbooks/backup.yml -e pgha_archive_repair=true" in p
               for p in st["problems"]), st["problems"]
    # The drill to T is refused with the gap named; nothing is restored.
    rc, out, report = drill_to(report_dir, moment, rows)
    assert rc != 0 and report is None, out[-3000:]
    assert "falls in or after a gap in the archived WAL" in out and first in out, out[-3000:]
    # The old primary still holds its backlog: the repair pushes it.
    bring_back(primary)
    rc, out, recap = playbook("playbooks/backup.yml", "-e", "pgha_archive_repair=true")
    assert rc == 0, out[-4000:]
    assert "pushed from " in out and first in out, out[-4000:]
    st = wait_continuous(timeout=30)
    rc, out, report = drill_to(report_dir, moment, rows)
    assert rc == 0 and report["passed"], out[-3000:]
    assert psql("drill1", "SELECT count(*) FROM continuity WHERE note = 'gap A'") == "1"
    assert psql("drill1", "SELECT count(*) FROM continuity WHERE note = 'gap C after T'") == "0"
    rejoin(primary)


def test_switchover_keeps_point_in_time_recovery_continuous(report_dir):
    st = wait_continuous()
    primary = st["primary"]
    # Stopped once the switchover is done (not at -T); its log says whether a transaction failed.
    load = start_load()
    moment, rows = backlog_then_t(primary, "switchover")
    rc, out, recap = playbook("playbooks/switchover.yml")
    time.sleep(2)
    assert load.running(), "pgbench ended before the switchover did"
    load.stop()
    figures = load.finish()
    assert rc == 0, out[-4000:]
    assert figures["transactions"] > 0 and figures["failed_transactions"] == 0 and figures["aborted_clients"] == 0, \
        figures
    new = current_primary()
    assert new != primary
    psql(new, "INSERT INTO continuity VALUES (%d, 'after the switchover')" % STATE["next"])
    wait_continuous()
    rc, out, report = drill_to(report_dir, moment, rows)
    assert rc == 0 and report["passed"], out[-3000:]
    assert psql("drill1", "SELECT count(*) FROM continuity WHERE note = 'switchover A'") == "1"
    assert psql("drill1", "SELECT count(*) FROM continuity WHERE note = 'switchover C after T'") == "0"
