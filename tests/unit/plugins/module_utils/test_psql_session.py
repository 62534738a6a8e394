import sys
from unittest import mock

from ansible_collections.pgha.cluster.plugins.module_utils import pg
from ansible_collections.pgha.cluster.plugins.module_utils.pg import PsqlSession

# Stands in for psql reading a script from stdin: a query prints its row (or an
# error), \echo prints its text, "sleep" never answers, "quit" ends the session.
FAKE_PSQL = r'''
import sys, time
for line in sys.stdin:
    line = line.strip()
    if line.startswith("\\echo "):
        print(line[6:])
    elif line == "SELECT pg_is_in_recovery();":
        print("f")
    elif line == "SELECT broken;":
        print("ERROR:  column \"broken\" does not exist")
    elif line == "sleep;":
        time.sleep(30)
    elif line == "quit;":
        break
    sys.stdout.flush()
'''


def session():
    return PsqlSession([sys.executable, "-c", FAKE_PSQL], {})


def test_queries_run_over_one_process_until_it_ends():
    s = session()
    pid = s.proc.pid
    assert s.query("SELECT pg_is_in_recovery()") == (0, "f\n")
    assert s.query("SELECT pg_is_in_recovery();") == (0, "f\n") and s.proc.pid == pid
    assert s.query("SELECT broken")[0] == 1
    assert s.query("quit") is None and s.proc is None
    assert s.query("SELECT pg_is_in_recovery()") is None


def test_a_query_that_does_not_answer_in_time_ends_the_session():
    s = session()
    assert s.query("sleep", timeout=0.3) is None and s.proc is None


def test_a_client_that_cannot_start_gives_no_session():
    s = PsqlSession(["/nonexistent/psql"], {})
    assert s.query("SELECT 1") is None
    s.close()


def test_session_query_uses_the_session_then_a_fresh_psql_once_it_is_gone():
    fresh = []

    def run_psql(module, bin_dir, port, sql, timeout=5):
        fresh.append(sql)
        return 0, "t\n", ""
    s = session()
    with mock.patch.object(pg, "run_psql", run_psql):
        assert pg.session_query(None, s, "/bin", 5432, "SELECT pg_is_in_recovery()") == (0, "f\n", "")
        rc, out, err = pg.session_query(None, s, "/bin", 5432, "SELECT broken")
        assert rc == 1 and out == "" and "does not exist" in err
        assert fresh == []
        s.query("quit")
        assert pg.session_query(None, s, "/bin", 5432, "SELECT 1") == (0, "t\n", "")
        assert pg.session_query(None, None, "/bin", 5432, "SELECT 2") == (0, "t\n", "")
    assert fresh == ["SELECT 1", "SELECT 2"]
