"""Switchover benchmark: a client writes through PgBouncer during each
switchover; prints, per run and as medians, the longest gap between
acknowledged writes, client errors, acknowledged writes lost, and the
playbook's wall time. It measures; it asserts nothing.

    bench/switchover [--runs N] [--keep-lab] [--layout pooler|colocated] [--mode manual|automatic|both]

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
from writer import ROOT, Writer, bench_main, client, lab_env, sh, status  # noqa: E402  pylint: disable=wrong-import-position


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
    results = []
    for i in range(args.runs):
        target = [h for h in order[i % 3:] + order[:i % 3] if h != primary][0]
        writer = Writer(dsn, "switchover-%d-%s" % (i, uuid.uuid4().hex[:6]))
        writer.start()
        time.sleep(1.0)
        start = time.monotonic()
        automatic = st.get("failover", {}).get("mode") == "automatic"
        command = ["ansible-playbook", "playbooks/switchover.yml"] + ([] if automatic else ["-e", "pgha_target=%s" % target])
        proc = sh(command, env, check=False)
        wall = time.monotonic() - start
        time.sleep(1.0)
        writer.stop()
        lost = writer.lost(dsn)
        st = status(env)
        target = st["primary"] if automatic else target
        old_follows = any(r["host"] == primary and r["upstream"] == target and r.get("streaming")
                          for r in st["nodes"])
        gap, gap_start, gap_end = writer.gap_window()
        paused = [l.strip() for l in proc.stdout.splitlines() if "PgBouncer paused for" in l]
        epochs = dict(re.findall(r"(paused|stopped|promoted|resumed) (\d+\.\d+)", proc.stdout.replace("\n", " ")))
        # Where the gap sits against the switch's own steps (epoch seconds, so + means after).
        steps = dict(("gap_start_vs_paused" if k == "paused" else "gap_end_vs_" + k,
                      round((gap_start if k == "paused" else gap_end) - float(v), 3))
                     for k, v in epochs.items() if gap_start and gap_end)
        row = {"run": i + 1, "pgbouncer_pause": paused[0].split("for", 1)[1].strip(" s'") if paused else None,
               "gap_start": gap_start, "gap_end": gap_end, "from": primary, "to": target, "rc": proc.returncode,
               "longest_gap_s": round(writer.longest_gap(), 3), "client_errors": len(writer.errors),
               "acked": len(writer.acked), "lost_acked": len(lost), "wall_s": round(wall, 1),
               "new_primary": st["primary"], "old_primary_streams_from_new": old_follows,
               "errors": [e for at, e in writer.errors][:3], "steps": steps}
        results.append(row)
        print("run %(run)d %(from)s->%(to)s rc=%(rc)d gap %(longest_gap_s).3f s, errors %(client_errors)d, "
              "lost %(lost_acked)d of %(acked)d, wall %(wall_s).1f s, PgBouncer paused %(pgbouncer_pause)s s, "
              "old primary follows: %(old_primary_streams_from_new)s, gap vs steps %(steps)s" % row, flush=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:])
        primary = st["primary"]
    ok = [r for r in results if r["rc"] == 0]
    summary = {"runs": len(results), "failed runs": len(results) - len(ok),
               "client errors": sum(r["client_errors"] for r in results),
               "lost acked writes": sum(r["lost_acked"] for r in results)}
    print("\nswitchover under client writes through PgBouncer (%s mode, %d runs, medians):"
          % (st.get("failover", {}).get("mode"), len(results)))
    if ok:
        gaps = [r["longest_gap_s"] for r in ok]
        summary.update({"longest write gap s": statistics.median(gaps), "worst gap s": max(gaps),
                        "playbook wall time s": statistics.median(r["wall_s"] for r in ok)})
        print("  longest write gap  %.3f s (max %.3f s)" % (statistics.median(gaps), max(gaps)))
        print("  client errors      %d in all runs" % summary["client errors"])
        print("  lost acked writes  %d in all runs" % summary["lost acked writes"])
        print("  playbook wall time %.1f s" % summary["playbook wall time s"])
    print("  failed runs        %d" % summary["failed runs"])
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "switchover-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
    with open(path, "w") as handle:
        json.dump(results, handle, indent=2)
    print("written to %s" % os.path.relpath(path, ROOT))
    if not args.keep_lab:
        sh(["lab/lab.sh", "down"], env)
    return summary


if __name__ == "__main__":
    bench_main(__doc__, bench, "switchover", 5)
