import sys

from ansible_collections.pgha.cluster.plugins.modules.fence_command import run


def test_reports_the_exit_status_and_output_without_failing():
    ok = run({"argv": [sys.executable, "-c", "print('pg1 powered off')"], "timeout": 10})
    assert ok["rc"] == 0 and "pg1 powered off" in ok["stdout"] and ok["changed"] is True and not ok.get("failed")
    bad = run({"argv": [sys.executable, "-c", "import sys; sys.stderr.write('still runs'); sys.exit(3)"],
               "timeout": 10})
    # failed is false, not missing: Ansible would mark a result with a non-zero rc and no failed key as failed.
    assert bad["rc"] == 3 and "still runs" in bad["stderr"] and bad["failed"] is False


def test_a_command_that_cannot_start_or_hangs_has_no_exit_status():
    missing = run({"argv": ["/nonexistent/fence", "pg1"], "timeout": 10})
    assert missing["rc"] is None and "could not run /nonexistent/fence" in missing["stderr"]
    hung = run({"argv": [sys.executable, "-c", "import time; time.sleep(30)"], "timeout": 0.3})
    assert hung["rc"] is None and "killed after 0.3 s" in hung["stderr"] and hung["seconds"] < 5


def test_an_empty_command_is_refused():
    assert run({"argv": [], "timeout": 10})["failed"] is True
