import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench"))
import load  # noqa: E402  pylint: disable=wrong-import-position


LOG = """0 1 2500 0 1700000000 100000 300
1 1 3000 0 1700000000 200000 10
0 2 failed 0 1700000001 500000 0
2 1 serialization 0 1700000001 600000 0
1 2 1800000 0 1700000002 900000 50
garbage line
"""


def test_read_log_times_completions_and_marks_failures():
    tx = load.read_log(LOG.splitlines())
    assert tx[0] == (1700000000.1, 0.0025)
    assert [t[1] is None for t in tx] == [False, False, True, True, False]
    assert tx[-1] == (pytest.approx(1700000002.9), 1.8)


def test_figures_count_failures_and_find_the_longest_gap_between_completions():
    aborted = "pgbench: error: client 3 aborted in command 4\n"
    f = load.figures(load.read_log(LOG.splitlines()), stderr=aborted * 2)
    assert (f["transactions"], f["failed_transactions"], f["aborted_clients"]) == (3, 2, 1)
    # Failed transactions are not completions: 0.2 -> 2.9 is the gap.
    assert f["longest_gap_s"] == 2.7 and f["max_latency_ms"] == 1800.0


def test_figures_window_counts_a_stall_at_its_edges():
    tx = [(100.0 + i * 0.01, 0.002) for i in range(100)]  # completions until 100.99, then nothing
    f = load.figures(tx, window=(100.5, 102.0), margin=1.0)
    assert f["longest_gap_s"] == pytest.approx(2.01, abs=0.001)  # from the last completion to the window's end
    assert f["p99_latency_ms"] == 2.0 and f["transactions_in_window"] == 100


def test_figures_without_transactions():
    f = load.figures([], window=(1.0, 2.0), margin=0.5)
    assert f["transactions"] == 0 and f["longest_gap_s"] == 2.0 and f["p99_latency_ms"] is None


def test_aborted_clients_in_the_debian_12_wording():
    stderr = ("pgbench: error: client 3 script 0 aborted in command 4 query 0: FATAL:  server conn crashed?\n"
              "pgbench: error: client 0 script 0 aborted in command 4 query 0: FATAL:  server conn crashed?\n"
              "pgbench: error: client 3 script 0 aborted in command 4 query 0: FATAL:  server conn crashed?\n")
    assert load.figures(load.read_log(LOG.splitlines()), stderr=stderr)["aborted_clients"] == 2
