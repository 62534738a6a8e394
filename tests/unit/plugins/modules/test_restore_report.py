import os
import stat

from ansible_collections.pgha.cluster.plugins.modules import restore_report

REPORT = {"mode": "drill", "passed": True, "stanza": "main", "host": "drill1", "phases": [], "checks": []}


def test_writes_the_report_and_latest_then_changes_nothing(run_module, tmp_path):
    where = str(tmp_path / "reports")
    code, result = run_module(restore_report, {"report": REPORT, "dir": where, "name": "drill-1"})
    assert code == 0 and result["changed"] is True
    assert sorted(os.listdir(where)) == ["drill-1.json", "drill-1.md", "latest.json", "latest.md"]
    assert all(stat.S_IMODE(os.stat(os.path.join(where, name)).st_mode) == 0o640 for name in os.listdir(where))
    with open(os.path.join(where, "latest.md")) as handle:
        assert handle.read().startswith("# pgha restore drill: PASS")
    code, result = run_module(restore_report, {"report": REPORT, "dir": where, "name": "drill-1"})
    assert code == 0 and result["changed"] is False


def test_a_new_report_replaces_latest_only(run_module, tmp_path):
    where = str(tmp_path)
    run_module(restore_report, {"report": REPORT, "dir": where, "name": "drill-1"})
    failed = dict(REPORT, passed=False)
    code, result = run_module(restore_report, {"report": failed, "dir": where, "name": "drill-2"})
    assert code == 0 and result["changed"] is True
    with open(os.path.join(where, "drill-1.md")) as handle:
        assert "PASS" in handle.readline()
    with open(os.path.join(where, "latest.md")) as handle:
        assert "FAIL" in handle.readline()
    # No temporary file is left behind.
    assert sorted(os.listdir(where)) == ["drill-1.json", "drill-1.md", "drill-2.json", "drill-2.md",
                                         "latest.json", "latest.md"]


def test_check_mode_and_a_bad_name_write_nothing(run_module, tmp_path):
    where = str(tmp_path / "reports")
    code, result = run_module(restore_report, {"report": REPORT, "dir": where, "name": "drill-1", "_ansible_check_mode": True})
    assert code == 0 and result["changed"] is True and not os.path.exists(where)
    code, result = run_module(restore_report, {"report": REPORT, "dir": str(tmp_path), "name": "../x"})
    assert code == 1 and "must be a plain file name" in result["msg"]
    assert os.listdir(str(tmp_path)) == []
