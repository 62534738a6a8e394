"""Deploy benchmark: on fresh lab hosts, the wall time of the first site.yml
run, of the re-run, and the re-run's changed count, with packages already in
the image (baked) and without (bare). Prints medians; writes JSON under
bench/results/. It measures; it asserts nothing.

    bench/deploy [--runs N] [--variants baked,bare]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def sh(cmd, env=None):
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit("bench/deploy: %s failed (rc=%d)" % (" ".join(cmd), proc.returncode))
    return proc.stdout


def timed_site(env):
    start = time.monotonic()
    out = sh(["ansible-playbook", "playbooks/site.yml"], env)
    seconds = time.monotonic() - start
    changed = sum(int(m.group(3)) for m in RECAP.finditer(out))
    return seconds, changed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", default="baked,bare")
    args = parser.parse_args()
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    lab_os = env.get("LAB_OS", "bookworm")
    results = {"lab_os": lab_os, "runs": args.runs, "variants": {}}
    try:
        for variant in args.variants.split(","):
            venv = dict(env, LAB_BAKED="1" if variant == "baked" else "0")
            sh(["lab/lab.sh", "image"], venv)  # image build is not part of the figures
            samples = []
            for i in range(args.runs):
                sh(["lab/lab.sh", "up"], venv)
                first, first_changed = timed_site(venv)
                rerun, rerun_changed = timed_site(venv)
                samples.append({"first_s": round(first, 1), "first_changed": first_changed,
                                "rerun_s": round(rerun, 1), "rerun_changed": rerun_changed})
                print("%s run %d: first %.1f s (%d changed), re-run %.1f s (%d changed)"
                      % (variant, i + 1, first, first_changed, rerun, rerun_changed), flush=True)
            results["variants"][variant] = {
                "samples": samples,
                "median_first_s": round(statistics.median(s["first_s"] for s in samples), 1),
                "median_rerun_s": round(statistics.median(s["rerun_s"] for s in samples), 1),
                "max_rerun_changed": max(s["rerun_changed"] for s in samples),
            }
    finally:
        sh(["lab/lab.sh", "down"], env)
    print("\nsite.yml on fresh lab hosts (%s, %d runs each, medians):" % (lab_os, args.runs))
    print("%-8s %14s %14s %18s" % ("image", "first run (s)", "re-run (s)", "re-run changed"))
    for variant, r in results["variants"].items():
        print("%-8s %14.1f %14.1f %18d" % (variant, r["median_first_s"], r["median_rerun_s"], r["max_rerun_changed"]))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "deploy-%s-%s.json" % (lab_os, time.strftime("%Y%m%dT%H%M%S")))
    with open(path, "w") as handle:
        json.dump(results, handle, indent=2)
    print("written to %s" % os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
