from ansible_collections.pgha.cluster.plugins.module_utils.pgbackrest import PgBackRestError
from ansible_collections.pgha.cluster.plugins.modules import pgbackrest_info


def fake_read(module, p):
    """Repository 2 cannot be read; the others hold nothing yet."""
    if p["repo"] == 2:
        raise PgBackRestError("repo2: connection refused")
    return {}, [], {"segments": {}, "history": {}}, None, None


def test_repos_are_read_in_one_call_each_with_its_number_and_error(run_module, monkeypatch):
    monkeypatch.setattr(pgbackrest_info, "read_repository", fake_read)
    code, result = run_module(pgbackrest_info, {"stanza": "main", "repos": [1, 2, 3], "on_error": "report"})
    assert code == 0 and result["changed"] is False
    assert [r["repo"] for r in result["repos"]] == [1, 2, 3]
    assert result["repos"][1]["error"] == "repo2: connection refused"
    assert result["repos"][1]["description"] == "repo2 cannot be read: repo2: connection refused"
    assert "error" not in result["repos"][0] and result["repos"][0]["window"] is None
    # Without on_error=report, one unreadable repository fails the task, naming it.
    code, result = run_module(pgbackrest_info, {"stanza": "main", "repos": [1, 2, 3]})
    assert code == 1 and result["msg"] == "repo2: connection refused"


def test_repos_cannot_plan_a_restore(run_module, monkeypatch):
    monkeypatch.setattr(pgbackrest_info, "read_repository", fake_read)
    code, result = run_module(pgbackrest_info, {"stanza": "main", "repos": [1], "plan": True})
    assert code == 1 and "plan a restore with repo" in result["msg"]
