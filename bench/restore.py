"""Restore benchmark: a database of at least --size-gib GiB plus WAL written
after its backup, restored onto the drill host to a point in time, by the
collection (playbooks/restore.yml, drill mode) and by a bare `pgbackrest
restore` of the same backup set and target followed by a server start and a
wait for the promotion. Each run starts from the same state (a fresh initdb
data directory on the drill host). Prints each phase, the throughput and the
collection's time over the bare one - its restore and recovery phases, and
its whole playbook (which also plans, prepares the drill host, inspects the
running cluster before and after and writes the report) - per run and as
medians. It measures; it asserts nothing.

    bench/restore [--size-gib 1.0] [--wal-seconds 30] [--runs 3] [--keep-lab]

The collection runs without pg_amcheck for the comparison (the bare restore
checks nothing); one more collection run with pg_amcheck shows its cost.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from writer import ROOT, lab_env, sh, status  # noqa: E402  pylint: disable=wrong-import-position

DRILL = "drill1"


def on(host, script, check=True):
    """A shell script as root on a lab host (podman exec)."""
    proc = subprocess.run(["podman", "exec", host, "bash", "-c", script], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    if check and proc.returncode != 0:
        raise SystemExit("bench: on %s: %s failed (rc=%d): %s" % (host, script[:200], proc.returncode, proc.stdout[-2000:]))
    return proc.stdout.strip()


def psql(host, sql, check=True):
    return on(host, "runuser -u postgres -- psql -XAtq -c %s" % json.dumps(sql), check=check)


def reset_drill(version):
    """The same starting point for every run: the drill server stopped, its
    data directory a fresh initdb (configuration in /etc untouched)."""
    data = "/var/lib/postgresql/%s/main" % version
    on(DRILL, "systemctl stop postgresql@%s-main; rm -rf %s && install -d -o postgres -g postgres -m 0700 %s && "
              "runuser -u postgres -- /usr/lib/postgresql/%s/bin/initdb -D %s --data-checksums >/dev/null"
       % (version, data, data, version, data))


def bare_restore(version, backup_set, target):
    reset_drill(version)
    started = time.monotonic()
    on(DRILL, "runuser -u postgres -- pgbackrest --stanza=main --repo=1 --set=%s --delta --type=time "
              "--target=%s --target-action=promote --archive-mode=off restore" % (backup_set, json.dumps(target)))
    restored = time.monotonic()
    # The restored copy must not stream from or wait for the running cluster.
    on(DRILL, "sed -i -e '/^primary_conninfo/d' -e '/^primary_slot_name/d' -e '/^synchronous_standby_names/d' "
              "/var/lib/postgresql/%s/main/postgresql.auto.conf" % version)
    # Started and awaited from inside the host, polling as the collection's
    # module does (podman exec per poll would take CPU from the recovery).
    out = on(DRILL, "systemctl start postgresql@%s-main; "
                    "until [ \"$(runuser -u postgres -- psql -XAtq -c 'SELECT pg_is_in_recovery()' 2>/dev/null)\" = f ]; do "
                    "systemctl -q is-active postgresql@%s-main || { echo STOPPED; break; }; sleep 0.5; done"
             % (version, version), check=False)
    if "STOPPED" in out:
        raise SystemExit("bench: the bare restore's server stopped: %s"
                         % on(DRILL, "tail -5 /var/log/postgresql/postgresql-%s-main.log" % version, check=False))
    done = time.monotonic()
    return {"restore_s": restored - started, "recovery_s": done - restored, "total_s": done - started}


def collection_restore(env, version, target, amcheck, report_dir):
    reset_drill(version)
    started = time.monotonic()
    sh(["ansible-playbook", "playbooks/restore.yml", "-e", "pgha_restore_mode=drill",
        "-e", json.dumps({"pgha_restore_target_time": target}), "-e", "pgha_restore_amcheck=%s" % amcheck,
        "-e", "pgha_restore_report_dir=%s" % report_dir], env)
    wall = time.monotonic() - started
    with open(os.path.join(report_dir, "latest.json")) as handle:
        report = json.load(handle)
    phases = dict((p["name"], p["seconds"]) for p in report["phases"])
    return {"wall_s": wall, "restore_s": phases["pgbackrest restore"], "recovery_s": phases["recovery to the target"],
            "verify_s": phases["verify"], "passed": report["passed"], "set": report["backup"]["label"],
            "restored_bytes": report["restored_bytes"], "wal_replayed_bytes": report["wal_replayed_bytes"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--wal-seconds", type=int, default=30, help="pgbench load after the backup")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true", help="use the running lab and its data as they are")
    args = parser.parse_args()
    env = lab_env()
    if not args.keep_lab:
        sh(["lab/lab.sh", "up"], env)
        sh(["ansible-playbook", "playbooks/site.yml"], env)
    primary = status(env)["primary"]
    version = on(primary, "ls /usr/lib/postgresql | sort -n | tail -1")
    bindir = "/usr/lib/postgresql/%s/bin" % version
    size = int(psql(primary, "SELECT pg_database_size('postgres')"))
    if size < args.size_gib * 2 ** 30:
        # Half pgbench (its filler compresses to almost nothing), half a table
        # of hex digests (compresses about 2:1, like much real data).
        scale = int(args.size_gib * 2 ** 29 / 15.5e6) + 1  # pgbench: about 15 MiB per scale unit
        rows = int(args.size_gib * 2 ** 29 / 330)  # about 330 bytes per row on disk
        print("loading pgbench scale %d and %d rows of digests on %s ..." % (scale, rows, primary), flush=True)
        t = time.monotonic()
        on(primary, "runuser -u postgres -- %s/pgbench -q -i -s %d postgres 2>&1 | tail -1" % (bindir, scale))
        psql(primary, "DROP TABLE IF EXISTS bench_digests; CREATE TABLE bench_digests AS SELECT g AS id, "
                      "md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 31)::text) AS payload "
                      "FROM generate_series(1, %d) g" % rows)
        while int(psql(primary, "SELECT pg_database_size('postgres')")) < args.size_gib * 2 ** 30:
            psql(primary, "INSERT INTO bench_digests SELECT g, md5(g::text) || md5((g * 7)::text) || "
                          "md5((g * 13)::text) || md5((g * 31)::text) FROM generate_series(1, 500000) g")
        print("loaded in %.0f s" % (time.monotonic() - t), flush=True)
    size = int(psql(primary, "SELECT pg_database_size('postgres')"))
    print("database size %.2f GiB" % (size / 2 ** 30), flush=True)
    t = time.monotonic()
    sh(["ansible-playbook", "playbooks/backup.yml", "-e", "pgha_backup_type=full", "-e", "pgha_backup_repo=1"], env)
    print("full backup (repo1, via backup.yml) in %.0f s" % (time.monotonic() - t), flush=True)
    lsn0 = psql(primary, "SELECT pg_current_wal_lsn()")
    # The target is taken while pgbench still commits, so recovery stops
    # before a commit that follows it (a real point in time, not the end).
    load = subprocess.Popen(["podman", "exec", primary, "runuser", "-u", "postgres", "--", "%s/pgbench" % bindir,
                             "-n", "-c", "4", "-T", str(args.wal_seconds), "postgres"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(max(1, args.wal_seconds - 5))
    target = psql(primary, "SELECT clock_timestamp()")
    wal = int(psql(primary, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '%s')" % lsn0))
    load.wait()
    print("WAL written after the backup up to the target: %.0f MiB; target time %s" % (wal / 2 ** 20, target),
          flush=True)
    psql(primary, "SELECT pg_switch_wal()")

    rows = []
    with tempfile.TemporaryDirectory(prefix="pgha-bench-restore-") as report_dir:
        backup_set = None
        for i in range(args.runs):
            # Alternate which goes first (caches on the repository host).
            if i % 2 == 0:
                col = collection_restore(env, version, target, "false", report_dir)
                bare = bare_restore(version, col["set"], target)
            else:
                bare = bare_restore(version, backup_set, target)
                col = collection_restore(env, version, target, "false", report_dir)
            backup_set = col["set"]
            path = col["restore_s"] + col["recovery_s"]
            row = {"run": i + 1, "bare": bare, "collection": col,
                   "ratio": col["wall_s"] / bare["total_s"], "path_ratio": path / bare["total_s"],
                   "restore_throughput_mib_s": col["restored_bytes"] / 2 ** 20 / col["restore_s"],
                   "bare_throughput_mib_s": col["restored_bytes"] / 2 ** 20 / bare["restore_s"]}
            rows.append(row)
            print("run %d: bare restore %.1f s + recovery %.1f s = %.1f s | collection restore %.1f s + recovery %.1f s "
                  "= %.1f s (ratio %.3f), + verify %.1f s, whole playbook %.1f s (ratio %.3f) | %.0f MiB/s vs bare %.0f MiB/s"
                  % (i + 1, bare["restore_s"], bare["recovery_s"], bare["total_s"], col["restore_s"],
                     col["recovery_s"], path, row["path_ratio"], col["verify_s"], col["wall_s"], row["ratio"],
                     row["restore_throughput_mib_s"], row["bare_throughput_mib_s"]), flush=True)
        full = collection_restore(env, version, target, "true", report_dir)

    def med(figure):
        return statistics.median(figure(r) for r in rows)

    summary = {
        "database_bytes": size, "wal_after_backup_bytes": wal, "backup_set": rows[0]["collection"]["set"],
        "restored_bytes": rows[0]["collection"]["restored_bytes"], "runs": rows,
        "median_bare_total_s": med(lambda r: r["bare"]["total_s"]),
        "median_bare_restore_s": med(lambda r: r["bare"]["restore_s"]),
        "median_bare_recovery_s": med(lambda r: r["bare"]["recovery_s"]),
        "median_collection_wall_s": med(lambda r: r["collection"]["wall_s"]),
        "median_collection_restore_s": med(lambda r: r["collection"]["restore_s"]),
        "median_collection_recovery_s": med(lambda r: r["collection"]["recovery_s"]),
        "median_ratio": med(lambda r: r["ratio"]),
        "median_restore_plus_recovery_ratio": med(lambda r: r["path_ratio"]),
        "median_fixed_overhead_s": med(lambda r: r["collection"]["wall_s"] - r["bare"]["total_s"]),
        "median_throughput_mib_s": med(lambda r: r["restore_throughput_mib_s"]),
        "with_amcheck": full,
    }
    print("\nmedians over %d runs: bare %.1f s (restore %.1f + recovery %.1f); collection playbook %.1f s "
          "(restore %.1f + recovery %.1f); restore+recovery ratio %.3f; whole-playbook ratio %.3f (%.1f s more); "
          "throughput %.0f MiB/s" % (
              len(rows), summary["median_bare_total_s"], summary["median_bare_restore_s"],
              summary["median_bare_recovery_s"], summary["median_collection_wall_s"],
              summary["median_collection_restore_s"], summary["median_collection_recovery_s"],
              summary["median_restore_plus_recovery_ratio"], summary["median_ratio"],
              summary["median_fixed_overhead_s"], summary["median_throughput_mib_s"]))
    print("with pg_amcheck: playbook %.1f s, verify phase %.1f s, passed %s"
          % (full["wall_s"], full["verify_s"], full["passed"]))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "restore-%d.json" % int(time.time()))
    with open(path, "w") as handle:
        json.dump(summary, handle, indent=1)
    print("figures in %s" % path)


if __name__ == "__main__":
    main()
