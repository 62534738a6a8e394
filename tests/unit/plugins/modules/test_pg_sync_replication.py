import json
from unittest import mock

from ansible_collections.pgha.cluster.plugins.modules import pg_sync_replication as mod

ARGS = {"version": 15, "mode": "quorum", "count": 1, "standbys": ["pg2", "pg3"], "wait_timeout": 0}


def fake_psql(states, executed):
    def _run(module, bin_dir, port, sql, **kw):
        if sql.startswith("SELECT json_build_object"):
            state = states[0] if len(states) == 1 else states.pop(0)
            return 0, json.dumps(state), ""
        executed.append(sql)
        return 0, "", ""
    return _run


def state(value, streaming):
    return {"in_recovery": False, "value": value,
            "replicas": [{"application_name": n, "state": "streaming", "sync_state": "async"} for n in streaming]}


def test_check_mode_reports_without_setting(run_module):
    executed = []
    with mock.patch.object(mod, "run_psql", fake_psql([state("", ["pg2", "pg3"])], executed)):
        rc, result = run_module(mod, dict(ARGS, _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and result["changed"] is True and result["value"] == 'ANY 1 ("pg2", "pg3")'
    assert executed == [] and "ANY 1" in result["diff"]["after"]


def test_enables_once_enough_standbys_stream(run_module):
    executed = []
    states = [state("", ["pg2"]), state('ANY 1 ("pg2", "pg3")', ["pg2"])]
    with mock.patch.object(mod, "run_psql", fake_psql(states, executed)):
        rc, result = run_module(mod, ARGS)
    assert rc == 0 and result["changed"] is True
    assert executed == ["ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (\"pg2\", \"pg3\")'",
                        "SELECT pg_reload_conf()"]


def test_refuses_when_too_few_stream(run_module):
    executed = []
    with mock.patch.object(mod, "run_psql", fake_psql([state("", [])], executed)):
        rc, result = run_module(mod, ARGS)
    assert rc == 1 and "0 of 2 standbys stream" in result["msg"] and "missing: pg2, pg3" in result["msg"]
    assert executed == []


def test_unchanged_when_already_set(run_module):
    executed = []
    with mock.patch.object(mod, "run_psql", fake_psql([state('ANY 1 ("pg2", "pg3")', [])], executed)):
        rc, result = run_module(mod, ARGS)
    assert rc == 0 and result["changed"] is False and executed == []


def test_count_larger_than_standbys_is_refused(run_module):
    rc, result = run_module(mod, dict(ARGS, count=3))
    assert rc == 1 and "larger than the 2 standby" in result["msg"]
