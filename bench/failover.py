"""Failover benchmark: pgbench (TPC-B by default, 4 clients at 100 tps) and
an accounting writer run through PgBouncer; the primary is killed (podman
kill -s KILL) and failover.yml starts at once. Prints, per run and as
medians, the time from the kill until PgBouncer accepted writes again (the
writer's first acknowledged write, and pgbench's first completed transaction),
pgbench's failed transactions and aborted clients (a client whose
transaction the dying server held is disconnected: pgbench does not
reconnect it), the acknowledged writes lost, the failover's phases (inspect,
fence, promote, re-point) and the playbook's wall time. Each run then restarts
the old primary and brings it back with rejoin.yml (timed too). It measures;
it asserts nothing. JSON goes to bench/results/.

    bench/failover [--runs N] [--keep-lab] [--layout pooler|colocated] [--mode manual|automatic|both]
                   [--clients 4] [--rate 100|0] [--scale 10] [--script tpcb-like] [--load-seconds 60] [--no-load]

In automatic mode (Patroni) no playbook runs: the run waits until writes go
through PgBouncer again, starts the old primary's container and times how long
it takes to stream from the new primary by itself. --mode both runs each mode
on a fresh lab and prints them side by side.
"""
import json
import os
import re
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from writer import (ROOT, Writer, bench_main, client, describe_load, lab_env, pgbench_load, print_phases, sh,  # noqa: E402  pylint: disable=wrong-import-position
                    status)


def phases(stdout, killed):
    """The failover's phases (seconds from the kill) from the playbook's report epochs."""
    epochs = dict((k, float(v)) for k, v in re.findall(r"(acting|fenced|promoted|resumed)\s+(\d+\.\d+)",
                                                       " ".join(stdout.split()).partition("epochs:")[2]))
    out, last = {}, killed
    for name, key in (("kill -> acting (validate, inspect, plan)", "acting"), ("-> fence confirmed", "fenced"),
                      ("-> promoted", "promoted"), ("-> PgBouncer resumed", "resumed")):
        if key in epochs:
            out[name] = round(epochs[key] - last, 3)
            last = epochs[key]
    return out


def wait_until(check, timeout, step=0.2):
    """Seconds until check() is true (None after timeout)."""
    started = time.time()
    while time.time() - started < timeout:
        if check():
            return time.time() - started
        time.sleep(step)
    return None


def streams_from(env, host, primary):
    st = status(env)
    return any(r["host"] == host and r["upstream"] == primary and r.get("streaming") for r in st["nodes"])


def bench(args, mode):
    """Runs of one mode; returns the summary (medians)."""
    env = lab_env(args.layout, mode)
    if not args.keep_lab:
        sh(["lab/lab.sh", "up"], env)
        sh(["ansible-playbook", "playbooks/site.yml"], env)
    st = status(env)
    automatic = st.get("failover", {}).get("mode") == "automatic"
    primary = st["primary"]
    dsn = client(env, primary)
    load = pgbench_load(args, dsn)
    results = []
    for i in range(args.runs):
        writer = Writer(dsn, "failover-%d-%s" % (i, uuid.uuid4().hex[:6]))
        if load:
            load.start()
        writer.start()
        time.sleep(args.lead if load else 1.0)
        sh(["podman", "kill", "-s", "KILL", primary], env)
        killed = time.time()
        if automatic:
            # Nobody runs anything: Patroni elects, HAProxy follows, PgBouncer reconnects.
            wait_until(lambda: any(at > killed for seq, at in writer.acked), 90)
            proc = sh(["true"], env)
        else:
            proc = sh(["ansible-playbook", "playbooks/failover.yml"], env, check=False)
        wall = time.time() - killed
        client_view = load.finish((killed, killed + wall)) if load else {}
        time.sleep(2.0)
        writer.stop()
        resumed = [at for seq, at in writer.acked if at > killed]
        st = status(env)
        new_primary = st["primary"]
        lost = writer.lost(dsn)
        sh(["lab/lab.sh", "start", primary], env)
        rejoin_start = time.time()
        if automatic:
            wait_until(lambda: streams_from(env, primary, new_primary), 180, step=1)
            rejoin = sh(["true"], env)
        else:
            rejoin = sh(["ansible-playbook", "playbooks/rejoin.yml", "-e", "pgha_target=%s" % primary], env,
                        check=False)
        rejoin_wall = time.time() - rejoin_start
        follows = streams_from(env, primary, new_primary)
        row = {"run": i + 1, "killed": primary, "new_primary": new_primary, "rc": proc.returncode,
               "writes_back_after_s": round(resumed[0] - killed, 2) if resumed else None,
               "longest_gap_s": round(writer.longest_gap(), 2), "client_errors": len(writer.errors),
               "pgbench_back_after_s": round(client_view["first_completed_after"] - killed, 2)
               if client_view.get("first_completed_after") else None,
               "failed_tx": client_view.get("failed_transactions"), "aborted_clients": client_view.get("aborted_clients"),
               "transactions": client_view.get("transactions"), "pgbench_rc": client_view.get("rc"),
               "pgbench_summary": client_view.get("summary"), "pgbench_errors": client_view.get("errors"),
               "phases": phases(proc.stdout, killed),
               "acked": len(writer.acked), "lost_acked": len(lost), "wall_s": round(wall, 1),
               "rejoin_rc": rejoin.returncode, "rejoin_s": round(rejoin_wall, 1), "old_primary_follows": follows,
               "errors": sorted(set(e for at, e in writer.errors))[:3]}
        results.append(row)
        print("run %(run)d kill %(killed)s -> %(new_primary)s rc=%(rc)d writes back after %(writes_back_after_s)s s "
              "(gap %(longest_gap_s)s s), client errors %(client_errors)d, lost %(lost_acked)d of %(acked)d, "
              "wall %(wall_s)s s; pgbench: first transaction after %(pgbench_back_after_s)s s, failed tx %(failed_tx)s, "
              "aborted clients %(aborted_clients)s; rejoin rc=%(rejoin_rc)d in %(rejoin_s)s s, follows: %(old_primary_follows)s"
              % row, flush=True)
        print("      phases: %s" % ", ".join("%s %s" % kv for kv in row["phases"].items()), flush=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:])
        if rejoin.returncode != 0:
            sys.stderr.write(rejoin.stdout[-4000:])
        primary = new_primary
        if not follows and i + 1 < args.runs:
            # The next kill would meet a cluster with a standby down: its failover measures something else.
            print("stopping after run %d: %s does not stream from %s again (rejoin rc=%d)"
                  % (i + 1, row["killed"], new_primary, rejoin.returncode), flush=True)
            break
    ok = [r for r in results if r["rc"] == 0 and r["writes_back_after_s"] is not None]
    summary = {"runs": len(results), "failed runs": len(results) - len(ok),
               "client errors": sum(r["client_errors"] for r in results),
               "lost acked writes": sum(r["lost_acked"] for r in results)}
    summary.update({"failed transactions": sum(r["failed_tx"] or 0 for r in results),
                    "aborted clients": sum(r["aborted_clients"] or 0 for r in results)})
    print("\nfailover after kill -9 of the primary under %s (%s mode, %d runs, medians):"
          % (describe_load(args), "automatic" if automatic else "manual", len(results)))
    if ok:
        summary.update({"writes back after s": statistics.median(r["writes_back_after_s"] for r in ok),
                        "worst writes back s": max(r["writes_back_after_s"] for r in ok),
                        "longest gap s": statistics.median(r["longest_gap_s"] for r in ok),
                        "old primary back s": statistics.median(r["rejoin_s"] for r in ok)})
        print("  writes accepted again after %.2f s (max %.2f s)" % (
            summary["writes back after s"], summary["worst writes back s"]))
        print("  playbook wall time %.1f s" % statistics.median(r["wall_s"] for r in ok))
        back = [r["pgbench_back_after_s"] for r in ok if r["pgbench_back_after_s"] is not None]
        if back:
            summary["pgbench back after s"] = statistics.median(back)
            print("  pgbench's first transaction after %.2f s" % summary["pgbench back after s"])
        print_phases(ok, summary, 42)
        print("  old primary streams again after %.1f s (%s)" % (
            summary["old primary back s"], "by itself" if automatic else "rejoin.yml, pg_rewind"))
    print("  client errors      %d in all runs (connections to the dead primary)" % summary["client errors"])
    print("  lost acked writes  %d in all runs" % summary["lost acked writes"])
    print("  pgbench: failed transactions %d, aborted clients %d in all runs" % (
        summary["failed transactions"], summary["aborted clients"]))
    print("  failed runs        %d" % summary["failed runs"])
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "failover-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
    with open(path, "w") as handle:
        json.dump({"workload": describe_load(args), "mode": "automatic" if automatic else "manual",
                   "summary": summary, "runs": results}, handle, indent=2)
    print("written to %s" % os.path.relpath(path, ROOT))
    if not args.keep_lab:
        sh(["lab/lab.sh", "down"], env)
    return summary


if __name__ == "__main__":
    bench_main(__doc__, bench, "failover after kill -9", 3)
