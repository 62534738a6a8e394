"""A client that writes through PgBouncer while an operation runs, and the
checks of what it saw: the longest gap between acknowledged writes, the client
errors, and (afterwards) the acknowledged writes missing from the primary.

Used by bench/switchover, bench/failover and the molecule verifiers.
"""
import threading
import time

import psycopg2

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

    def lost(self, dsn):
        """Acknowledged sequence numbers that the database does not have."""
        conn = psycopg2.connect(dsn, connect_timeout=5)
        with conn.cursor() as cur:
            cur.execute("SELECT seq FROM " + TABLE + " WHERE run = %s", (self.run_id,))
            present = set(r[0] for r in cur.fetchall())
        conn.close()
        return sorted(set(seq for seq, at in self.acked) - present)
