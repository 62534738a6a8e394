"""Switchover benchmark: pgbench (TPC-B by default, 4 clients at 100 tps)
and an accounting writer run through PgBouncer during each switchover.
Prints, per run and as medians: pgbench's failed transactions and aborted
clients, the longest gap between completed transactions and the p99 latency
around the switch, the acknowledged writes lost (the writer), every phase of
the switch from the modules' own timings, and the playbook's wall time.
It measures; it asserts nothing. JSON goes to bench/results/.

    bench/switchover [--runs N] [--keep-lab] [--layout pooler|colocated] [--mode manual|automatic|both]
                     [--clients 4] [--rate 100|0] [--scale 10] [--script tpcb-like] [--load-seconds 60] [--no-load]

Each run switches to another node (pg2, pg3, pg1, ...), so consecutive runs
also switch back. In automatic mode (Patroni) the plan picks the target:
Patroni switches over only to a synchronous standby. --mode both runs each
mode on a fresh lab and prints them side by side.
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


def phases(stdout, gap_end):
    """The switch's phases (seconds) from the playbook's report: the modules' timings and the epochs."""
    text = stdout.replace("\n", " ")
    epochs = dict((k, float(v)) for k, v in re.findall(r"(paused|stopped|upstream_gone|promoted|resumed)\s+(\d+\.\d+)",
                                                       " ".join(stdout.split()).partition("epochs:")[2]))
    timings = {}
    for section, step, seconds in re.findall(r"\b(old_primary|new_primary|pgbouncer)\.(\w+)=(\d+(?:\.\d+)?)", text):
        timings.setdefault(section, {}).setdefault(step, []).append(float(seconds))
    old = dict((k, v[0]) for k, v in timings.get("old_primary", {}).items())
    new = dict((k, v[0]) for k, v in timings.get("new_primary", {}).items())
    poolers = [dict((k, max(v)) for k, v in timings.get("pgbouncer", {}).items())]
    out = {"checkpoint": old.get("checkpoint"), "archiver catch-up": old.get("archive_catch_up"),
           "pause": old.get("pause"), "pause to shutdown checkpoint": old.get("stop"),
           "replay": new.get("wait_lsn"), "promote": new.get("promote"),
           "re-point": max((p.get("repoint") or 0) for p in poolers) or None,
           "resume": max((p.get("resume") or 0) for p in poolers) or None}
    # The client's pause, step by step: the old primary shuts down (the target sees its shutdown checkpoint
    # and its connection end), the target promotes, PgBouncer is re-pointed and resumed.
    marks = [(k, epochs[k]) for k in ("paused", "upstream_gone", "promoted", "resumed") if k in epochs]
    for (a, at), (b, bt) in zip(marks, marks[1:]):
        out["%s -> %s" % (a, b)] = round(bt - at, 3)
    if "paused" in epochs and "stopped" in epochs:
        out["paused -> old primary's module saw it stopped"] = round(epochs["stopped"] - epochs["paused"], 3)
    if "resumed" in epochs and gap_end:
        out["resumed -> first commit"] = round(gap_end - epochs["resumed"], 3)
    if "paused" in epochs and "resumed" in epochs:
        out["PgBouncer paused"] = round(epochs["resumed"] - epochs["paused"], 3)
    return dict((k, v) for k, v in out.items() if v is not None)


def bench(args, mode):
    """Runs of one mode; returns the summary (medians)."""
    env = lab_env(args.layout, mode)
    if not args.keep_lab:
        sh(["lab/lab.sh", "up"], env)
        sh(["ansible-playbook", "playbooks/site.yml"], env)
    st = status(env)
    primary = st["primary"]
    dsn = client(env, primary)
    order = ["pg2", "pg3", "pg1"]
    load = pgbench_load(args, dsn)
    results = []
    for i in range(args.runs):
        target = [h for h in order[i % 3:] + order[:i % 3] if h != primary][0]
        writer = Writer(dsn, "switchover-%d-%s" % (i, uuid.uuid4().hex[:6]))
        if load:
            load.start()
        writer.start()
        time.sleep(args.lead if load else 1.0)
        automatic = st.get("failover", {}).get("mode") == "automatic"
        command = ["ansible-playbook", "playbooks/switchover.yml"] + ([] if automatic else ["-e", "pgha_target=%s" % target])
        start = time.time()
        proc = sh(command, env, check=False)
        end = time.time()
        client_view = load.finish((start, end)) if load else {}
        time.sleep(1.0)
        writer.stop()
        lost = writer.lost(dsn)
        st = status(env)
        target = st["primary"] if automatic else target
        old_follows = any(r["host"] == primary and r["upstream"] == target and r.get("streaming")
                          for r in st["nodes"])
        gap_end = client_view.get("gap_end") or writer.gap_window()[2]
        row = {"run": i + 1, "from": primary, "to": target, "rc": proc.returncode, "wall_s": round(end - start, 1),
               "failed_tx": client_view.get("failed_transactions"), "aborted_clients": client_view.get("aborted_clients"),
               "longest_gap_s": client_view.get("longest_gap_s", round(writer.longest_gap(), 3)),
               "p99_ms": client_view.get("p99_latency_ms"), "max_ms": client_view.get("max_latency_ms"),
               "transactions": client_view.get("transactions"), "pgbench_rc": client_view.get("rc"),
               "pgbench_summary": client_view.get("summary"),
               "load_covered": end < start - args.lead + args.load_seconds if load else None,
               "writer_gap_s": round(writer.longest_gap(), 3), "client_errors": len(writer.errors),
               "acked": len(writer.acked), "lost_acked": len(lost),
               "new_primary": st["primary"], "old_primary_streams_from_new": old_follows,
               "phases": phases(proc.stdout, gap_end), "pgbench_errors": client_view.get("errors", []),
               "errors": [e for at, e in writer.errors][:3]}
        results.append(row)
        print("run %(run)d %(from)s->%(to)s rc=%(rc)d wall %(wall_s).1f s: longest gap %(longest_gap_s)s s, p99 %(p99_ms)s ms, "
              "failed tx %(failed_tx)s, aborted clients %(aborted_clients)s, writer errors %(client_errors)d, "
              "lost %(lost_acked)d of %(acked)d, old primary follows: %(old_primary_streams_from_new)s" % row, flush=True)
        print("      phases: %s" % ", ".join("%s %s" % kv for kv in row["phases"].items()), flush=True)
        if load and not row["load_covered"]:
            print("      (pgbench ended before the playbook: raise --load-seconds)", flush=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:])
        primary = st["primary"]
    ok = [r for r in results if r["rc"] == 0]
    summary = {"runs": len(results), "failed runs": len(results) - len(ok),
               "failed transactions": sum(r["failed_tx"] or 0 for r in results),
               "aborted clients": sum(r["aborted_clients"] or 0 for r in results),
               "writer errors": sum(r["client_errors"] for r in results),
               "lost acked writes": sum(r["lost_acked"] for r in results)}
    print("\nswitchover under %s (%s mode, %d runs, medians):"
          % (describe_load(args), st.get("failover", {}).get("mode"), len(results)))
    if ok:
        gaps = [r["longest_gap_s"] for r in ok]
        summary.update({"longest gap s": statistics.median(gaps), "worst gap s": max(gaps),
                        "playbook wall time s": statistics.median(r["wall_s"] for r in ok)})
        p99 = [r["p99_ms"] for r in ok if r["p99_ms"] is not None]
        if p99:
            summary["p99 latency ms"] = statistics.median(p99)
        print("  longest gap between completed transactions %.3f s (max %.3f s)" % (statistics.median(gaps), max(gaps)))
        if p99:
            print("  p99 latency around the switch  %.1f ms" % summary["p99 latency ms"])
        print("  playbook wall time %.1f s" % summary["playbook wall time s"])
        print_phases(ok, summary, 30)
    for key in ("failed transactions", "aborted clients", "writer errors", "lost acked writes", "failed runs"):
        print("  %-20s %d in all runs" % (key, summary[key]))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "switchover-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
    with open(path, "w") as handle:
        json.dump({"workload": describe_load(args), "mode": st.get("failover", {}).get("mode"),
                   "summary": summary, "runs": results}, handle, indent=2)
    print("written to %s" % os.path.relpath(path, ROOT))
    if not args.keep_lab:
        sh(["lab/lab.sh", "down"], env)
    return summary


if __name__ == "__main__":
    bench_main(__doc__, bench, "switchover", 5)
