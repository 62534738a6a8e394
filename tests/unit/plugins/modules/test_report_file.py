import os
import stat

from ansible_collections.pgha.cluster.plugins.modules import report_file


def test_writes_then_changes_nothing_when_the_same(tmp_path):
    path = str(tmp_path / "status.json")
    assert report_file.run({"path": path, "content": '{"a": 1}\n', "mode": "0644"}) == {"changed": True, "path": path}
    with open(path) as handle:
        assert handle.read() == '{"a": 1}\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert report_file.run({"path": path, "content": '{"a": 1}\n', "mode": "0644"})["changed"] is False
    # A new mode alone is a change.
    assert report_file.run({"path": path, "content": '{"a": 1}\n', "mode": "0600"})["changed"] is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # No temporary file is left next to it.
    assert os.listdir(str(tmp_path)) == ["status.json"]


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / "status.json")
    assert report_file.run({"path": path, "content": "x", "mode": "0644"}, check_mode=True)["changed"] is True
    assert not os.path.exists(path)


def test_a_missing_directory_or_a_bad_mode_is_refused(tmp_path):
    result = report_file.run({"path": str(tmp_path / "nowhere" / "status.json"), "content": "x", "mode": "0644"})
    assert result["failed"] and "its directory does not exist" in result["msg"]
    result = report_file.run({"path": str(tmp_path / "status.json"), "content": "x", "mode": "rw"})
    assert result["failed"] and "'rw' is not an octal mode" in result["msg"]
    assert os.listdir(str(tmp_path)) == []


def test_main_reports_like_the_action_plugin(run_module, tmp_path):
    path = str(tmp_path / "status.json")
    code, result = run_module(report_file, {"path": path, "content": "x"})
    assert code == 0 and result["changed"] is True and result["path"] == path
    code, result = run_module(report_file, {"path": str(tmp_path / "no" / "f"), "content": "x"})
    assert code == 1 and "does not exist" in result["msg"]
