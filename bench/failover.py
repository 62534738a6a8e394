"""Failover benchmark: a client writes through PgBouncer; the primary is
killed (podman kill -s KILL) and failover.yml runs at once. Prints, per run
and as medians, the time from the playbook's start until PgBouncer accepted
writes again, the longest gap between acknowledged writes, the client errors,
the acknowledged writes lost, and the playbook's wall time. Each run then
restarts the old primary and brings it back with rejoin.yml (timed too).
It measures; it asserts nothing.

    bench/failover [--runs N] [--keep-lab] [--layout pooler|colocated]
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
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-lab", action="store_true", help="use the running lab as it is")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="pooler",
                        help="pooler: the lab's dedicated PgBouncer; colocated: PgBouncer on each database node "
                             "(inventories/lab/colocated.yml), clients with a multi-host string")
    args = parser.parse_args()
    env = lab_env(args.layout)
    if not args.keep_lab:
        sh(["lab/lab.sh", "up"], env)
        sh(["ansible-playbook", "playbooks/site.yml"], env)
    primary = status(env)["primary"]
    dsn = client(env, primary)
    results = []
    for i in range(args.runs):
        writer = Writer(dsn, "failover-%d-%s" % (i, uuid.uuid4().hex[:6]))
        writer.start()
        time.sleep(1.0)
        sh(["podman", "kill", "-s", "KILL", primary], env)
        killed = time.time()
        proc = sh(["ansible-playbook", "playbooks/failover.yml"], env, check=False)
        wall = time.time() - killed
        time.sleep(2.0)
        writer.stop()
        resumed = [at for seq, at in writer.acked if at > killed]
        st = status(env)
        new_primary = st["primary"]
        lost = writer.lost(dsn)
        sh(["lab/lab.sh", "start", primary], env)
        rejoin_start = time.time()
        rejoin = sh(["ansible-playbook", "playbooks/rejoin.yml", "-e", "pgha_target=%s" % primary], env, check=False)
        rejoin_wall = time.time() - rejoin_start
        st = status(env)
        follows = any(r["host"] == primary and r["upstream"] == new_primary and r.get("streaming") for r in st["nodes"])
        row = {"run": i + 1, "killed": primary, "new_primary": new_primary, "rc": proc.returncode,
               "writes_back_after_s": round(resumed[0] - killed, 2) if resumed else None,
               "longest_gap_s": round(writer.longest_gap(), 2), "client_errors": len(writer.errors),
               "acked": len(writer.acked), "lost_acked": len(lost), "wall_s": round(wall, 1),
               "rejoin_rc": rejoin.returncode, "rejoin_s": round(rejoin_wall, 1), "old_primary_follows": follows,
               "errors": sorted(set(e for at, e in writer.errors))[:3]}
        results.append(row)
        print("run %(run)d kill %(killed)s -> %(new_primary)s rc=%(rc)d writes back after %(writes_back_after_s)s s "
              "(gap %(longest_gap_s)s s), client errors %(client_errors)d, lost %(lost_acked)d of %(acked)d, "
              "wall %(wall_s)s s; rejoin rc=%(rejoin_rc)d in %(rejoin_s)s s, follows: %(old_primary_follows)s"
              % row, flush=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:])
        if rejoin.returncode != 0:
            sys.stderr.write(rejoin.stdout[-4000:])
        primary = new_primary
    ok = [r for r in results if r["rc"] == 0 and r["writes_back_after_s"] is not None]
    print("\nfailover after kill -9 of the primary, client writing through PgBouncer (%d runs, medians):" % len(results))
    if ok:
        print("  writes accepted again after %.2f s (max %.2f s)" % (
            statistics.median(r["writes_back_after_s"] for r in ok), max(r["writes_back_after_s"] for r in ok)))
        print("  playbook wall time %.1f s" % statistics.median(r["wall_s"] for r in ok))
        print("  rejoin (pg_rewind) wall time %.1f s" % statistics.median(r["rejoin_s"] for r in ok))
    print("  client errors      %d in all runs (connections to the dead primary)" % sum(r["client_errors"] for r in results))
    print("  lost acked writes  %d in all runs" % sum(r["lost_acked"] for r in results))
    print("  failed runs        %d" % (len(results) - len(ok)))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "failover-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
    with open(path, "w") as handle:
        json.dump(results, handle, indent=2)
    print("written to %s" % os.path.relpath(path, ROOT))
    if not args.keep_lab:
        sh(["lab/lab.sh", "down"], env)


if __name__ == "__main__":
    main()
