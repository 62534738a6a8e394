"""Switchover benchmark: a client writes through PgBouncer during each
switchover; prints, per run and as medians, the longest gap between
acknowledged writes, client errors, acknowledged writes lost, and the
playbook's wall time. It measures; it asserts nothing.

    bench/switchover [--runs N] [--keep-lab] [--layout pooler|colocated]

Each run switches to another node (pg2, pg3, pg1, ...), so consecutive runs
also switch back.
"""
import argparse
import json
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from writer import LAYOUTS, ROOT, Writer, client, lab_env, sh, status  # noqa: E402  pylint: disable=wrong-import-position


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep-lab", action="store_true", help="use the running lab as it is")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="pooler",
                        help="pooler: the lab's dedicated PgBouncer; colocated: PgBouncer on each database node "
                             "(inventories/lab/colocated.yml), clients with a multi-host string")
    args = parser.parse_args()
    env = lab_env(args.layout)
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
        proc = sh(["ansible-playbook", "playbooks/switchover.yml", "-e", "pgha_target=%s" % target], env, check=False)
        wall = time.monotonic() - start
        time.sleep(1.0)
        writer.stop()
        lost = writer.lost(dsn)
        st = status(env)
        old_follows = any(r["host"] == primary and r["upstream"] == target and r.get("streaming")
                          for r in st["nodes"])
        gap, gap_start, gap_end = writer.gap_window()
        paused = [l.strip() for l in proc.stdout.splitlines() if "PgBouncer paused for" in l]
        row = {"run": i + 1, "pgbouncer_pause": paused[0].split("for", 1)[1].strip(" s'") if paused else None,
               "gap_start": gap_start, "gap_end": gap_end, "from": primary, "to": target, "rc": proc.returncode,
               "longest_gap_s": round(writer.longest_gap(), 3), "client_errors": len(writer.errors),
               "acked": len(writer.acked), "lost_acked": len(lost), "wall_s": round(wall, 1),
               "new_primary": st["primary"], "old_primary_streams_from_new": old_follows,
               "errors": [e for at, e in writer.errors][:3]}
        results.append(row)
        print("run %(run)d %(from)s->%(to)s rc=%(rc)d gap %(longest_gap_s).3f s, errors %(client_errors)d, "
              "lost %(lost_acked)d of %(acked)d, wall %(wall_s).1f s, PgBouncer paused %(pgbouncer_pause)s s, "
              "old primary follows: %(old_primary_streams_from_new)s" % row, flush=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:])
        primary = st["primary"]
    ok = [r for r in results if r["rc"] == 0]
    print("\nswitchover under client writes through PgBouncer (%d runs, medians):" % len(results))
    if ok:
        gaps = [r["longest_gap_s"] for r in ok]
        print("  longest write gap  %.3f s (max %.3f s)" % (statistics.median(gaps), max(gaps)))
        print("  client errors      %d in all runs" % sum(r["client_errors"] for r in results))
        print("  lost acked writes  %d in all runs" % sum(r["lost_acked"] for r in results))
        print("  playbook wall time %.1f s" % statistics.median(r["wall_s"] for r in ok))
    print("  failed runs        %d" % (len(results) - len(ok)))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "switchover-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
    with open(path, "w") as handle:
        json.dump(results, handle, indent=2)
    print("written to %s" % os.path.relpath(path, ROOT))
    if not args.keep_lab:
        sh(["lab/lab.sh", "down"], env)


if __name__ == "__main__":
    main()
