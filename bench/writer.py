"""A client that writes through PgBouncer while an operation runs, and the
checks of what it saw: the longest gap between acknowledged writes, the client
errors, and (afterwards) the acknowledged writes missing from the primary.

Used by bench/switchover, bench/failover and the molecule verifiers.
"""
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

import psycopg2

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
POOLER = "10.213.77.21"


def sh(cmd, env, check=True):
    """Run a command in the checkout; exit with its output's tail when it fails and check is set."""
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout[-5000:])
        raise SystemExit("bench: %s failed (rc=%d)" % (" ".join(cmd), proc.returncode))
    return proc


# Where clients connect: the lab's dedicated PgBouncer (inventories/lab/hosts.yml),
# or the PgBouncer on each database node (inventories/lab/colocated.yml) through
# a libpq multi-host string.
LAYOUTS = {
    "pooler": {"inventory": "hosts.yml", "hosts": [POOLER]},
    "colocated": {"inventory": "colocated.yml", "hosts": ["10.213.77.11", "10.213.77.12", "10.213.77.13"]},
}


MODES = ("manual", "automatic")


def lab_env(layout="pooler", mode=None):
    """The environment of the lab's commands; ``mode`` goes to lab/lab.sh up (PGHA_FAILOVER_MODE)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_INVENTORY=os.path.join(ROOT, "inventories", "lab", LAYOUTS[layout]["inventory"]),
               PGHA_BENCH_LAYOUT=layout)
    env.pop("PGHA_FAILOVER_MODE", None)
    if mode:
        env["PGHA_FAILOVER_MODE"] = mode
    return env


def bench_main(doc, bench, name, runs):
    """The benchmarks' command line: runs, --keep-lab, --layout, --mode (both: each mode on a
    fresh lab, then side by side). ``bench(args, mode)`` returns a summary dict."""
    import argparse
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--keep-lab", action="store_true", help="use the running lab as it is")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="pooler",
                        help="pooler: the lab's dedicated PgBouncer; colocated: PgBouncer on each database node "
                             "(inventories/lab/colocated.yml), clients with a multi-host string")
    parser.add_argument("--mode", choices=MODES + ("both",), default=None,
                        help="failover mode of a new lab (default: the lab's own, manual); both: one lab each")
    load = parser.add_argument_group("client load (pgbench through PgBouncer, next to the accounting writer)")
    load.add_argument("--clients", type=int, default=4, help="pgbench clients (default 4)")
    load.add_argument("--rate", type=float, default=100,
                      help="transactions per second over all clients, 0 for unthrottled (default 100)")
    load.add_argument("--scale", type=int, default=10, help="pgbench scale, initialised once per lab (default 10)")
    load.add_argument("--script", default="tpcb-like",
                      help="pgbench built-in script (tpcb-like, simple-update, select-only) or a script file")
    load.add_argument("--load-seconds", type=int, default=60,
                      help="how long pgbench runs per operation, from --lead seconds before it (default 60)")
    load.add_argument("--lead", type=float, default=5.0, help="seconds of load before the operation (default 5)")
    load.add_argument("--no-load", action="store_true", help="the accounting writer only (the old benchmark)")
    args = parser.parse_args()
    if args.mode == "both":
        side_by_side(name, dict((mode, bench(args, mode)) for mode in MODES))
    else:
        bench(args, args.mode)


def side_by_side(name, summaries):
    """Print each mode's summary in a column."""
    keys = []
    for summary in summaries.values():
        keys += [k for k in summary if k not in keys]
    print("\n%s, both modes (medians):" % name)
    print("  %-24s %s" % ("", "".join("%14s" % mode for mode in summaries)))
    for key in keys:
        cells = []
        for summary in summaries.values():
            value = summary.get(key)
            cells.append("%14s" % ("-" if value is None else ("%.3f" % value if isinstance(value, float) else value)))
        print("  %-24s %s" % (key, "".join(cells)))


def pgbench_load(args, dsn):
    """The benchmark's pgbench (bench/load.py) through the same PgBouncer as ``dsn``, tables initialised;
    None with --no-load."""
    if args.no_load:
        return None
    from load import Pgbench
    conn = dict(part.split("=", 1) for part in dsn.split())
    load = Pgbench(conn, clients=args.clients, rate=args.rate, scale=args.scale, script=args.script,
                   seconds=args.load_seconds, log_dir=os.path.join(ROOT, ".lab", "pgbench"))
    os.makedirs(load.log_dir, exist_ok=True)
    load.init()
    return load


def describe_load(args):
    """The workload, as the README names it."""
    if args.no_load:
        return "one autocommit writer"
    return "pgbench %s, %d clients at %s, scale %d, through PgBouncer, plus the accounting writer" % (
        args.script, args.clients, ("%g tps" % args.rate) if args.rate else "full speed (unthrottled)", args.scale)


def print_phases(runs, summary, width=30):
    """Median of each phase over the runs (in the order they first appear), into ``summary`` and printed."""
    names = []
    for run in runs:
        names += [k for k in run["phases"] if k not in names]
    for name in names:
        summary["phase " + name] = statistics.median(run["phases"][name] for run in runs if name in run["phases"])
        print("  phase %-*s %.3f s" % (width, name, summary["phase " + name]))


def status(env):
    """status.yml's JSON report."""
    path = os.path.join(ROOT, ".lab", "bench-status.json")
    sh(["ansible-playbook", "playbooks/status.yml", "-e", "pgha_status_file=%s" % path], env)
    with open(path) as handle:
        return json.load(handle)


def client(env, primary):
    """A login role created on the primary (after deploy) and its DSN through PgBouncer."""
    password = uuid.uuid4().hex
    sh(["podman", "exec", primary, "runuser", "-u", "postgres", "--", "psql", "-q", "-c",
        "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgha_bench') THEN "
        "CREATE ROLE pgha_bench LOGIN; END IF; END$$; ALTER ROLE pgha_bench PASSWORD '%s'; "
        "GRANT CREATE ON SCHEMA public TO pgha_bench" % password], env)
    hosts = LAYOUTS[env.get("PGHA_BENCH_LAYOUT", "pooler")]["hosts"]
    dsn = "host=%s port=6432 dbname=postgres user=pgha_bench password=%s" % (",".join(hosts), password)
    if len(hosts) > 1:
        dsn += " target_session_attrs=read-write connect_timeout=3"
    setup(dsn, "init")
    return dsn


TABLE = "pgha_bench_writes"


def setup(dsn, run):
    """Create the table (owned by the connecting role) and return the run id."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS %s (run text, seq bigint, at timestamptz DEFAULT clock_timestamp(), "
                    "PRIMARY KEY (run, seq))" % TABLE)
    conn.close()
    return run


class Writer(threading.Thread):
    """Autocommit INSERTs as fast as the server acknowledges them (bounded by
    ``interval``); records the time of every acknowledgement and every error."""

    def __init__(self, dsn, run, interval=0.005, max_seconds=600):
        super(Writer, self).__init__(daemon=True)
        self.dsn, self.run_id, self.interval, self.max_seconds = dsn, run, interval, max_seconds
        self.acked, self.errors = [], []
        self._halt = threading.Event()
        self.conn = None

    def _connect(self):
        self.conn = psycopg2.connect(self.dsn, connect_timeout=5)
        self.conn.autocommit = True

    def run(self):
        started = time.time()
        seq = 0
        while not self._halt.is_set() and time.time() - started < self.max_seconds:
            seq += 1
            try:
                if self.conn is None or self.conn.closed:
                    self._connect()
                with self.conn.cursor() as cur:
                    cur.execute("INSERT INTO " + TABLE + " (run, seq) VALUES (%s, %s)", (self.run_id, seq))
                self.acked.append((seq, time.time()))
            except psycopg2.Error as exc:
                self.errors.append((time.time(), str(exc).strip().splitlines()[0] if str(exc).strip() else
                                    type(exc).__name__))
                try:
                    self.conn.close()
                except Exception:
                    pass
                self.conn = None
                time.sleep(0.05)
            time.sleep(self.interval)

    def stop(self):
        self._halt.set()
        self.join(30)
        if self.is_alive():
            # A commit that never returns (a synchronous commit no standby confirms): closing the
            # connection from here would wait on it forever. Record it; the daemon thread is left.
            self.errors.append((time.time(), "a write did not return within 30 s of stop()"))
            return
        if self.conn is not None and not self.conn.closed:
            self.conn.close()

    def longest_gap(self, since=None):
        """Longest time between two consecutive acknowledgements (seconds)."""
        return self.gap_window(since)[0]

    def gap_window(self, since=None):
        """(length, start, end) of the longest gap between consecutive acknowledgements (epoch seconds)."""
        times = [at for seq, at in self.acked if since is None or at >= since]
        gaps = [(b - a, a, b) for a, b in zip(times, times[1:])]
        return max(gaps) if gaps else (0.0, None, None)

    def lost(self, dsn, patience=30.0):
        """Acknowledged sequence numbers that the database does not have. The connection is
        retried for ``patience`` seconds, as any client of PgBouncer must after a failover: a
        PgBouncer whose last server login failed turns the next client away at once
        (server_login_retry) and connects again, and libpq does not try the next host of a
        multi-host string after a server that answered refused the login."""
        deadline = time.time() + patience
        while True:
            try:
                conn = psycopg2.connect(dsn, connect_timeout=5)
                break
            except psycopg2.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        with conn.cursor() as cur:
            cur.execute("SELECT seq FROM " + TABLE + " WHERE run = %s", (self.run_id,))
            present = set(r[0] for r in cur.fetchall())
        conn.close()
        return sorted(set(seq for seq, at in self.acked) - present)
