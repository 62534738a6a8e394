"""pgbench as the benchmarks' client: it runs through PgBouncer while an
operation runs, and its per-transaction log says what a client saw.

    load = Pgbench(dsn_params, clients=4, rate=100, scale=10, script="tpcb-like", seconds=90, log_dir=...)
    load.init()      # pgbench -i, once per lab (tables owned by the bench role)
    load.start()     # in the background
    ... the operation, between two time.time() marks ...
    figures = load.finish(window=(start, end))

The figures: transactions, failed transactions, aborted clients, the longest
gap between two completed transactions (any client) and the p99 latency of the
transactions that completed during the window. Pure functions (``read_log``,
``figures``) are unit-tested in tests/unit/bench.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile


def _pgbench():
    for path in [shutil.which("pgbench")] + sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True):
        if path and os.path.exists(path):
            return path
    raise SystemExit("bench: pgbench not found on this machine: apt-get install postgresql (it ships pgbench), "
                     "or run with --no-load")


# "client 3 aborted in command 4 (SQL) of script 0; ..." and
# "client 3 script 0 aborted in command 4 query 0: ..." (pgbench 15 on Debian 12)
ABORTED = re.compile(r"client (\d+) (?:script \d+ )?aborted")


def read_log(lines):
    """Per-transaction log lines -> list of (completed_epoch_s, latency_s or None when it failed).

    pgbench 15+: ``client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]``;
    ``time`` is the latency in microseconds, or ``failed`` / ``serialization`` / ``deadlock`` /
    ``skipped`` for a transaction that did not complete."""
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) < 6:
            continue
        try:
            done = int(parts[4]) + int(parts[5]) / 1e6
        except ValueError:
            continue
        latency = int(parts[2]) / 1e6 if parts[2].isdigit() else None
        out.append((done, latency))
    return out


def _percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def figures(transactions, window=None, margin=2.0, stderr=""):
    """What a client saw. ``window`` (start, end) epoch seconds of the operation: the gap and p99
    are taken over transactions completed from ``margin`` s before it to ``margin`` s after it
    (the gap also counts from the window's edges, so a stall at either end is not missed)."""
    done = sorted(t for t in transactions if t[1] is not None)
    failed = [t for t in transactions if t[1] is None]
    result = {"transactions": len(done), "failed_transactions": len(failed),
              "aborted_clients": len(set(ABORTED.findall(stderr)))}
    if window:
        low, high = window[0] - margin, window[1] + margin
        inside = [t for t in done if low <= t[0] <= high]
        marks = [low] + [t[0] for t in inside] + [high]
    else:
        inside = done
        marks = [t[0] for t in inside]
    gaps = [(b - a, a, b) for a, b in zip(marks, marks[1:])]
    gap = max(gaps) if gaps else (0.0, None, None)
    after = [t[0] for t in done if window and t[0] > window[0]]
    result.update({"longest_gap_s": round(gap[0], 3), "gap_start": gap[1], "gap_end": gap[2],
                   "first_completed_after": after[0] if after else None,
                   "p99_latency_ms": round(_percentile([t[1] for t in inside], 0.99) * 1000, 1) if inside else None,
                   "max_latency_ms": round(max(t[1] for t in inside) * 1000, 1) if inside else None,
                   "transactions_in_window": len(inside)})
    return result


class Pgbench(object):
    """pgbench in the background through PgBouncer; connection settings as libpq keywords."""

    def __init__(self, conn, clients=4, rate=100, scale=10, script="tpcb-like", seconds=90, log_dir=None):
        self.conn, self.clients, self.rate, self.scale = conn, clients, rate, scale
        self.script, self.seconds = script, seconds
        # A directory of its own is removed once its logs are read (finish); one given is kept.
        # Made when pgbench starts: an instance that only creates tables (init) leaves nothing behind.
        self.own_dir = not log_dir
        self.log_dir = log_dir
        self.proc = None

    def _env(self):
        env = dict(os.environ, PGHOST=self.conn["host"], PGPORT=str(self.conn["port"]), PGUSER=self.conn["user"],
                   PGPASSWORD=self.conn["password"], PGDATABASE=self.conn.get("dbname", "postgres"),
                   PGCONNECT_TIMEOUT=self.conn.get("connect_timeout", "5"))
        if "target_session_attrs" in self.conn:
            env["PGTARGETSESSIONATTRS"] = self.conn["target_session_attrs"]
        return env

    def _script_args(self):
        if os.path.exists(self.script):
            return ["-f", self.script]
        return ["-b", self.script]

    def init(self):
        """pgbench_* tables at the scale, unless they are there at that scale already."""
        probe = subprocess.run(["psql", "-XAtc", "SELECT count(*) FROM pgbench_branches"], env=self._env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == str(self.scale):
            return
        # Through PgBouncer (transaction pooling): no server-side vacuum in a transaction, no foreign keys.
        subprocess.run([_pgbench(), "-i", "-q", "-s", str(self.scale), "-I", "dtgvp"], env=self._env(), check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)

    @property
    def prefix(self):
        return os.path.join(self.log_dir, "tx")

    def start(self):
        if self.log_dir is None:
            self.log_dir = tempfile.mkdtemp(prefix="pgha-pgbench-")
        for old in glob.glob(self.prefix + "*"):
            os.unlink(old)
        command = [_pgbench(), "-n", "-c", str(self.clients), "-j", str(min(self.clients, 2)), "-T", str(self.seconds),
                   "-l", "--log-prefix", self.prefix, "--failures-detailed"] + self._script_args()
        if self.rate:
            command += ["-R", str(self.rate)]
        self.proc = subprocess.Popen(command, env=self._env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     universal_newlines=True)

    def stop(self):
        """End pgbench now (SIGTERM; not SIGINT, which a shell ignores in background jobs)
        rather than at -T. It writes its per-transaction
        log through stdio buffers, so the last lines (about the last second or two)
        may be lost: stop it a few seconds after the window the figures cover."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def finish(self, window=None):
        """Wait for pgbench to end (-T), read its logs; the figures, with ``summary`` its own last lines."""
        out, err = self.proc.communicate()
        lines = []
        for path in sorted(glob.glob(self.prefix + ".*")):
            with open(path) as handle:
                lines += handle.readlines()
        if self.own_dir and self.log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)
            self.log_dir = None
        result = figures(read_log(lines), window, stderr=err)
        result["rc"] = self.proc.returncode
        result["summary"] = [l for l in out.splitlines() if l.startswith(("number of", "latency", "tps"))]
        result["errors"] = [l for l in err.splitlines() if "error" in l.lower()][:5]
        return result
