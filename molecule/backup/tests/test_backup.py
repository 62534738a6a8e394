"""Backups proven by restoring them, on the lab (the backup suite, in the default scenario).

The tests run in file order and build on each other: a table, a bad DELETE,
drills to that moment by time, LSN, xid and restore point (from the
repository host and from the S3-compatible store), refused targets, and last an
in-place restore of the whole cluster. (Archiving across a switchover and a failover:
test_continuity.py.) The default scenario runs them after the shared checks."""
import json
import os
import subprocess
import time

import pytest

from backuptools import ROOT, current_primary, lab_host, playbook, probes, psql, restore, status, sysid

STATE = {}


def pgbackrest_info():
    out = lab_host("backup1").check_output("runuser -u postgres -- pgbackrest --stanza=main --output=json info")
    return json.loads(out)[0]


def test_archiving_works_and_every_repository_has_a_backup():
    info = pgbackrest_info()
    assert info["status"]["code"] == 0, info["status"]
    repos = {r["key"]: r["status"]["code"] for r in info["repo"]}
    assert repos == {1: 0, 2: 0}, repos
    per_repo = {}
    for backup in info["backup"]:
        per_repo.setdefault(backup["database"]["repo-key"], []).append(backup["label"])
    assert sorted(per_repo) == [1, 2], per_repo
    assert info["cipher"] == "aes-256-cbc"
    primary = current_primary()
    archiver = psql(primary, "SELECT archived_count > 0, failed_count = 0 OR last_archived_time > last_failed_time "
                             "FROM pg_stat_archiver")
    assert archiver == "t|t", archiver
    # Every node archives with pgha-archive (the primary pushes, a standby holds WAL until it is archived).
    for node in status()["nodes"]:
        settings = psql(node["host"], "SELECT current_setting('archive_mode'), current_setting('archive_command')")
        assert settings == 'always|/usr/local/sbin/pgha-archive pgbackrest --stanza=main archive-push "%p"', \
            (node["host"], settings)


def test_schedules_are_installed():
    timers = lab_host("backup1").check_output("systemctl list-timers --all --no-pager --plain")
    for unit in ("pgha-backup-full.timer", "pgha-backup-diff.timer", "pgha-backup-incr.timer",
                 "pgha-logical-backup.timer"):
        assert unit in timers, timers


# Names that were options, paths or line breaks to the former shell script.
HOSTILE_NAMES = ["-f.pgpass", "../escape", "two\nlines"]


def lab_address(name):
    import yaml
    with open(os.path.join(ROOT, "inventories", "lab", "hosts.yml")) as handle:
        groups = yaml.safe_load(handle)["pgha_lab"]["children"]
    return [g["hosts"][name]["ansible_host"] for g in groups.values() if name in g["hosts"]][0]


def _ident(text):
    return '"%s"' % text.replace('"', '""')


def test_logical_backup_dumps_hostile_database_names_safely_encrypted_and_restores():
    primary = current_primary()
    for name in HOSTILE_NAMES:
        psql(primary, "DROP DATABASE IF EXISTS %s" % _ident(name))
        psql(primary, "CREATE DATABASE %s" % _ident(name))
    psql(primary, "CREATE TABLE marker AS SELECT 'kept ' || g AS note FROM generate_series(1, 3) g",
         db=HOSTILE_NAMES[0])
    backup1 = lab_host("backup1")
    home_before = backup1.check_output("ls -a /var/lib/postgresql /var/backups/pgha")
    try:
        backup1.check_output("systemctl start pgha-logical-backup.service")
        latest = "/var/backups/pgha/logical/latest"
        manifest = json.loads(backup1.check_output("cat %s/MANIFEST.json" % latest))
        assert manifest["encrypted"] and manifest["failed"] == []
        assert set(HOSTILE_NAMES + ["postgres"]) <= set(manifest["databases"].values()), manifest
        files = backup1.check_output("ls -A %s" % latest).splitlines()
        assert all(f.startswith("db_") and f.endswith(".dump.enc") for f in files
                   if f not in ("MANIFEST.json", "globals.sql.enc")), files
        # Nothing landed outside the backup folder (no ../escape, no ~/.pgpass written by pg_dump -f).
        assert backup1.check_output("ls -a /var/lib/postgresql /var/backups/pgha") == home_before
        # Encrypted at rest: no dump header in the file, and the globals carry no password verifier.
        files_by_name = dict((v, k) for k, v in manifest["databases"].items())
        raw = backup1.check_output("head -c 5 %s/%s | od -c | head -1", latest, files_by_name[HOSTILE_NAMES[0]])
        assert "P   G   D   M   P" not in raw, raw
        decrypt = "cd / && runuser -u postgres -- python3 /usr/local/lib/pgha/pgha_logical_backup.py decrypt " \
                  "/etc/pgha/logical-backup.json %s/%s"
        globals_sql = backup1.check_output(decrypt % (latest, "globals.sql.enc"))
        assert "CREATE ROLE replicator" in globals_sql and "SCRAM-SHA-256$" not in globals_sql
        # Restore the dump of "-f.pgpass" into a new database on the primary: the rows come back.
        dump = subprocess.run(["ssh", "-i", os.path.join(ROOT, ".lab", "id_ed25519"), "-o", "StrictHostKeyChecking=no",
                               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                               "root@" + lab_address("backup1"), decrypt % (latest, files_by_name[HOSTILE_NAMES[0]])],
                              stdout=subprocess.PIPE, check=True).stdout
        assert dump.startswith(b"PGDMP")
        psql(primary, "DROP DATABASE IF EXISTS pgha_restored_dump")
        psql(primary, "CREATE DATABASE pgha_restored_dump TEMPLATE template0")
        subprocess.run(["ssh", "-i", os.path.join(ROOT, ".lab", "id_ed25519"), "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@" + lab_address(primary),
                        "cd / && runuser -u postgres -- pg_restore --no-owner -d pgha_restored_dump"],
                       input=dump, check=True)
        assert psql(primary, "SELECT string_agg(note, ',' ORDER BY note) FROM marker",
                    db="pgha_restored_dump") == "kept 1,kept 2,kept 3"
    finally:
        for name in HOSTILE_NAMES + ["pgha_restored_dump"]:
            psql(primary, "DROP DATABASE IF EXISTS %s" % _ident(name))


def test_backup_playbook_takes_a_differential_backup():
    before = len(pgbackrest_info()["backup"])
    rc, out, recap = playbook("playbooks/backup.yml", "-e", "pgha_backup_type=diff", "-e", "pgha_backup_repo=1")
    assert rc == 0, out[-3000:]
    backups = pgbackrest_info()["backup"]
    assert len(backups) == before + 1
    assert backups[-1]["type"] == "diff" and backups[-1]["database"]["repo-key"] == 1


def test_a_bad_delete():
    """Rows written; time, LSN, xid and a restore point noted; then the bad DELETE."""
    primary = current_primary()
    psql(primary, "CREATE TABLE orders (id int PRIMARY KEY, note text)")
    xid = psql(primary, "INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 1000) g; "
                        "SELECT txid_current()")
    STATE["md5"] = psql(primary, "SELECT md5(string_agg(id || ':' || note, ',' ORDER BY id)) FROM orders")
    STATE["xid"] = xid.splitlines()[-1]
    STATE["time"] = psql(primary, "SELECT clock_timestamp()")
    STATE["lsn"] = psql(primary, "SELECT pg_current_wal_lsn()")
    psql(primary, "SELECT pg_create_restore_point('before_bad_delete')")
    time.sleep(1.2)
    psql(primary, "DELETE FROM orders WHERE id > 600")
    assert psql(primary, "SELECT count(*) FROM orders") == "600"


def drill(report_dir, *target):
    before = status()
    rc, out, report = restore(report_dir, "-e", "pgha_restore_mode=drill", "-e", probes(STATE["md5"]), *target)
    assert rc == 0, out[-4000:]
    STATE["out"] = out
    assert report and report["passed"], json.dumps(report, indent=1)[:4000]
    assert report["untouched"] == "yes"
    checks = {c["name"]: c["ok"] for c in report["checks"]}
    assert checks.get("probe: rows of orders") is True, checks
    assert checks.get("pg_amcheck --all") is True, checks
    # The exact rows of that moment, on the drill host.
    assert psql("drill1", "SELECT count(*), max(id) FROM orders") == "1000|1000"
    # The running cluster kept its bad DELETE, its primary and its timelines.
    after = status()
    assert after["primary"] == before["primary"]
    assert psql(after["primary"], "SELECT count(*) FROM orders") == "600"
    return report


def test_drill_to_the_time_before_the_delete(report_dir):
    report = drill(report_dir, "-e", json.dumps({"pgha_restore_target_time": STATE["time"]}))
    assert report["target"]["kind"] == "time"
    assert any(c["name"] == "reached time matches the target" and c["ok"] for c in report["checks"])
    names = [p["name"] for p in report["phases"]]
    assert "pgbackrest restore" in names and "recovery to the target" in names
    STATE["report"] = report


def test_the_report_is_written_as_json_and_markdown(report_dir):
    import os
    with open(os.path.join(report_dir, "latest.md")) as handle:
        text = handle.read()
    assert text.startswith("# pgha restore drill: PASS")
    for needle in ("backup used", "reached LSN", "WAL replayed", "Running cluster untouched: yes", "| pg_amcheck --all | pass"):
        assert needle in text, text


def test_prometheus_has_the_drill_and_the_backups(report_dir):
    """The drill's verdict and duration and each repository's newest backup reach Prometheus on monitor1
    (textfile collector on drill1 and backup1): the alerts on a failed or old drill or backup read these."""
    import urllib.parse
    import urllib.request

    def query(expr):
        url = "http://10.213.77.51:9090/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as answer:
            return [(r["metric"], float(r["value"][1])) for r in json.load(answer)["data"]["result"]]
    deadline = time.time() + 90
    while not query('pgha_drill_last_timestamp_seconds{instance="drill1"} >= %d' % int(time.time() - 3600)):
        assert time.time() < deadline, "no recent drill metric from drill1"
        time.sleep(3)
    assert query('pgha_drill_last_success{instance="drill1"}')[0][1] == 1
    assert query('pgha_drill_last_duration_seconds{instance="drill1"}')[0][1] == pytest.approx(
        STATE["report"]["duration_s"], abs=1)
    repos = {m["repo"] for m, v in query('pgha_backup_last_completion_timestamp_seconds{instance="backup1"}') if v > 0}
    assert repos == {"1", "2"}, repos
    assert not query('ALERTS{alertname=~"PghaRestoreDrillFailed|PghaBackupRepositoryUnreadable", alertstate="firing"}')


def test_drill_to_the_lsn_before_the_delete(report_dir):
    drill(report_dir, "-e", "pgha_restore_target_lsn=%s" % STATE["lsn"])


def test_a_prepared_drill_host_is_not_prepared_again():
    # The first drill prepared drill1 and recorded a digest of what it set up;
    # the drill just run found it unchanged and skipped the preparation.
    digest = lab_host("drill1").check_output("cat /etc/postgresql/*/main/pgha-drill-prepared")
    assert len(digest.strip()) == 64, digest
    assert "Read the digest of the last preparation" in STATE["out"]
    assert "Write server settings" not in STATE["out"], STATE["out"][-3000:]


def test_drill_to_the_xid_of_the_insert(report_dir):
    drill(report_dir, "-e", "pgha_restore_target_xid=%s" % STATE["xid"])


def test_drill_to_the_restore_point(report_dir):
    drill(report_dir, "-e", "pgha_restore_target_name=before_bad_delete")


def test_drill_from_the_s3_repository_works_the_same(report_dir):
    report = drill(report_dir, "-e", "pgha_restore_repo=2", "-e", json.dumps({"pgha_restore_target_time": STATE["time"]}))
    assert report["repo"] == 2
    assert report["backup"]["repo"] == 2


@pytest.mark.parametrize("target, message", [
    (("-e", "pgha_restore_target_time='2001-01-01 00:00:00+00'"), "is earlier than the end of the oldest backup"),
    (("-e", "pgha_restore_target_time='2099-01-01 00:00:00+00'"), "is later than the newest archived WAL"),
    (("-e", "pgha_restore_target_lsn=FF/0"), "is after the end of the newest archived WAL"),
    (("-e", "pgha_restore_target_lsn=0/1"), "is before the end of the oldest backup"),
    (("-e", "pgha_restore_target_timeline=9"), "timeline 9 is not in the repository's archive"),
    (("-e", "pgha_restore_target_time=yesterday"), "is not understood"),
    (("-e", "pgha_restore_target_lsn=12345"), "is not an LSN"),
    (("-e", "pgha_restore_target_xid=abc"), "is not a transaction id"),
    (("-e", "pgha_restore_target=earliest"), "is not one of immediate, latest"),
    (("-e", "pgha_restore_target_xid=1000", "-e", "pgha_restore_target_name=x"), "give one recovery target per run"),
    (("-e", json.dumps({"pgha_restore_target_name": "it's"})), "holds a quote, a backslash or a control character"),
    (("-e", json.dumps({"pgha_restore_target_name": "a\nb"})), "holds a quote, a backslash or a control character"),
])
def test_invalid_targets_are_refused_before_any_change(report_dir, target, message):
    started = psql("drill1", "SELECT pg_postmaster_start_time()")
    rc, out, report = restore(report_dir, "-e", "pgha_restore_mode=drill", *target)
    assert rc != 0
    assert message in out, out[-3000:]
    assert "restore refused, nothing was changed" in out
    if "window" in message or "earlier" in message or "later" in message or "after" in message or "before" in message:
        assert "restorable window:" in out, out[-3000:]
    assert report is None
    # The drill host was not touched: the same server process still runs.
    assert psql("drill1", "SELECT pg_postmaster_start_time()") == started


def test_scheduled_drill_runs_and_status_shows_it(report_dir, tmp_path):
    """drill_schedule.yml writes a timer and a service; the service's command
    runs a drill that writes the latest report, which status.yml shows."""
    import os
    import shlex
    import subprocess
    units = tmp_path / "units"
    units.mkdir()
    rc, out, recap = playbook("playbooks/drill_schedule.yml", "-e", "pgha_drill_unit_dir=%s" % units,
                              "-e", "pgha_restore_report_dir=%s" % report_dir,
                              "-e", "pgha_drill_schedule='Sat *-*-* 03:00:00'")
    # CI runs as root without sudo: the drill would run as root, which is refused.
    assert rc != 0 and "a drill needs no root" in out and not (units / "pgha-drill.service").exists(), out[-2000:]
    rc, out, recap = playbook("playbooks/drill_schedule.yml", "-e", "pgha_drill_unit_dir=%s" % units,
                              "-e", "pgha_restore_report_dir=%s" % report_dir, "-e", "pgha_drill_user=nobody",
                              "-e", "pgha_drill_schedule='Sat *-*-* 03:00:00'")
    assert rc == 0, out[-3000:]
    assert "User=nobody" in (units / "pgha-drill.service").read_text()
    # (The command below runs as this test's user: the lab's SSH key is root's.)
    timer = (units / "pgha-drill.timer").read_text()
    assert "OnCalendar=Sat *-*-* 03:00:00" in timer
    service = (units / "pgha-drill.service").read_text()
    command = [line.split("=", 1)[1] for line in service.splitlines() if line.startswith("ExecStart=")][0]
    env = dict(line.split("=", 1)[1].split("=", 1) for line in service.splitlines() if line.startswith("Environment="))
    workdir = [line.split("=", 1)[1] for line in service.splitlines() if line.startswith("WorkingDirectory=")][0]
    if os.path.exists(os.path.join(report_dir, "latest.json")):
        os.remove(os.path.join(report_dir, "latest.json"))
    proc = subprocess.run(shlex.split(command), cwd=workdir, env=dict(os.environ, **env), check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with open(os.path.join(report_dir, "latest.json")) as handle:
        report = json.load(handle)
    assert report["passed"] and report["target"]["kind"] == "latest"
    rc, out, recap = playbook("playbooks/status.yml", "-e", "pgha_restore_report_dir=%s" % report_dir)
    assert rc == 0 and "latest restore drill on drill1" in out and "PASS" in out, out[-3000:]


def streaming(hostname):
    return psql(hostname, "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'") == "1"


def test_a_drill_onto_a_database_nodes_address_is_refused(report_dir, tmp_path):
    st = status()
    standby = [r["host"] for r in st["nodes"] if r["host"] != st["primary"]][0]
    before = sysid(standby)
    extra = tmp_path / "drill-on-a-member.yml"
    address = {"pg1": "10.213.77.11", "pg2": "10.213.77.12", "pg3": "10.213.77.13"}[standby]
    extra.write_text(json.dumps({"pgha_lab": {"children": {"pgha_drill": {"hosts": {"drill1": {
        "ansible_host": address}}}}}}))
    rc, out, recap = playbook("playbooks/restore.yml", "-e", "pgha_restore_mode=drill",
                              "-e", "pgha_restore_report_dir=%s" % report_dir,
                              inventory=[os.path.join(ROOT, "inventories", "lab", "hosts.yml"), str(extra)])
    assert rc != 0, out[-3000:]
    assert "%s and drill1 share the address %s" % (standby, address) in out or \
        "drill1 and %s share the address %s" % (standby, address) in out, out[-3000:]
    assert "nothing was changed" in out and set(recap) == {"localhost"}, recap
    assert sysid(standby) == before and streaming(standby)


def test_a_drill_never_overwrites_a_data_directory_no_drill_made(report_dir):
    drill = lab_host("drill1")
    data = drill.check_output("sh -c 'ls -d /var/lib/postgresql/*/main'")
    before = sysid("drill1")
    started = psql("drill1", "SELECT pg_postmaster_start_time()")
    drill.check_output("mv %s/pgha.drill %s/pgha.drill.kept" % (data, data))
    try:
        rc, out, report = restore(report_dir, "-e", "pgha_restore_mode=drill")
        assert rc != 0 and report is None, out[-3000:]
        # Its data directory is a drill's copy of this cluster: without the marker it looks like a member.
        assert "drill1 holds a data directory of this cluster" in out and "without pgha's drill marker" in out, \
            out[-3000:]
        assert "restore refused, nothing was changed" in out
        assert sysid("drill1") == before and psql("drill1", "SELECT pg_postmaster_start_time()") == started
    finally:
        drill.check_output("mv %s/pgha.drill.kept %s/pgha.drill" % (data, data))


def test_inplace_restore_is_refused_unconfirmed_or_with_a_node_out_of_reach(report_dir):
    st = status()
    ids = dict((r["host"], sysid(r["host"])) for r in st["nodes"])
    cluster_id = ids[st["primary"]]
    rc, out, report = restore(report_dir, "-e", "pgha_restore_mode=inplace", "-e", "pgha_restore_confirm=main")
    assert rc != 0 and "Confirm with -e pgha_restore_confirm=%s" % cluster_id in out, out[-3000:]
    standby = [r["host"] for r in st["nodes"] if r["host"] != st["primary"]][0]
    subprocess.run([os.path.join(ROOT, "lab", "lab.sh"), "isolate", standby], check=True, stdout=subprocess.PIPE)
    try:
        rc, out, report = restore(report_dir, "-e", "pgha_restore_mode=inplace",
                                  "-e", "pgha_restore_confirm=%s" % cluster_id, "-e", json.dumps({"pgha_fence_command": []}))
        assert rc != 0, out[-3000:]
        assert "%s cannot be reached to stop PostgreSQL and no pgha_fence_command is configured" % standby in out, \
            out[-3000:]
    finally:
        subprocess.run([os.path.join(ROOT, "lab", "lab.sh"), "heal", standby], check=True, stdout=subprocess.PIPE)
    after = status()
    assert after["primary"] == st["primary"] and after["healthy"], after
    assert dict((r["host"], sysid(r["host"])) for r in after["nodes"]) == ids


def test_inplace_restore_rebuilds_the_cluster(report_dir):
    confirm = sysid(current_primary())
    rc, out, report = restore(report_dir, "-e", "pgha_restore_mode=inplace", "-e", "pgha_restore_confirm=%s" % confirm,
                              "-e", json.dumps({"pgha_restore_target_time": STATE["time"]}), "-e", probes(STATE["md5"]))
    assert rc == 0, out[-4000:]
    assert report["passed"] and report["mode"] == "inplace", json.dumps(report, indent=1)[:3000]
    st = status()
    assert st["primary"] == "pg1"
    for node in st["nodes"]:
        if node["host"] != "pg1":
            assert node["role"] == "standby" and node["upstream"] == "pg1" and node["streaming"], st
    assert [p["target"] for p in st["poolers"]] == ["pg1"], st["poolers"]
    assert psql("pg1", "SELECT count(*) FROM orders") == "1000"
    # The standbys cloned from the restored primary have the same rows.
    assert psql("pg2", "SELECT count(*) FROM orders") == "1000"
    # Every replaced data directory was kept aside, the restore host's included.
    for host in ("pg1", "pg2", "pg3"):
        assert "pgha-aside-" in lab_host(host).check_output("ls /var/lib/postgresql/*/"), host
    assert report.get("kept_aside"), report


def test_copies_kept_aside_are_listed_and_removed_only_when_asked():
    rc, out, recap = playbook("playbooks/aside.yml")
    assert rc == 0 and "kept /var/lib/postgresql/" in out and "pgha-aside-" in out, out[-3000:]
    assert all(r["changed"] == 0 for r in recap.values()), recap
    rc, out, recap = playbook("playbooks/aside.yml", "-e", "pgha_aside_prune=true")
    assert rc != 0 and "pruning needs -e pgha_aside_keep=N" in out, out[-3000:]
    assert "pgha-aside-" in lab_host("pg2").check_output("ls /var/lib/postgresql/*/")
    rc, out, recap = playbook("playbooks/aside.yml", "-e", "pgha_aside_prune=true", "-e", "pgha_aside_keep=0")
    assert rc == 0 and "removed /var/lib/postgresql/" in out, out[-3000:]
    for host in ("pg1", "pg2", "pg3"):
        assert "pgha-aside-" not in lab_host(host).check_output("ls /var/lib/postgresql/*/"), host
    # The live data directories are untouched.
    assert psql("pg1", "SELECT count(*) FROM orders") == "1000"
