import json
from unittest import mock

import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import pg
from ansible_collections.pgha.cluster.plugins.modules import pg_sync_replication as mod


@pytest.fixture(autouse=True)
def no_session():
    """A stand-in psql session: every statement goes to the patched session_query."""
    # create_slots (module_utils) runs its statement through the same patched function, looked up per call.
    def through_module(*args, **kwargs):
        return mod.session_query(*args, **kwargs)
    with mock.patch.object(mod, "local_session", return_value=mock.Mock()), \
            mock.patch.object(pg, "session_query", through_module):
        yield


ARGS = {"version": 15, "mode": "quorum", "count": 1, "standbys": ["pg2", "pg3"], "wait_timeout": 0}


def fake_psql(states, executed):
    def _run(module, session, bin_dir, port, sql, **kw):
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
    with mock.patch.object(mod, "session_query", fake_psql([state("", ["pg2", "pg3"])], executed)):
        rc, result = run_module(mod, dict(ARGS, _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and result["changed"] is True and result["value"] == 'ANY 1 ("pg2", "pg3")'
    assert executed == [] and "ANY 1" in result["diff"]["after"]


def test_enables_once_enough_standbys_stream(run_module):
    executed = []
    states = [state("", ["pg2"]), state('ANY 1 ("pg2", "pg3")', ["pg2"])]
    with mock.patch.object(mod, "session_query", fake_psql(states, executed)):
        rc, result = run_module(mod, ARGS)
    assert rc == 0 and result["changed"] is True
    assert executed == ["ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (\"pg2\", \"pg3\")'",
                        "SELECT pg_reload_conf()"]


def test_refuses_when_too_few_stream(run_module):
    executed = []
    with mock.patch.object(mod, "session_query", fake_psql([state("", [])], executed)):
        rc, result = run_module(mod, ARGS)
    assert rc == 1 and "0 of 2 standbys stream" in result["msg"] and "missing: pg2, pg3" in result["msg"]
    assert executed == []


def test_unchanged_when_already_set(run_module):
    executed = []
    with mock.patch.object(mod, "session_query", fake_psql([state('ANY 1 ("pg2", "pg3")', [])], executed)):
        rc, result = run_module(mod, ARGS)
    assert rc == 0 and result["changed"] is False and executed == []


def test_count_larger_than_standbys_is_refused(run_module):
    rc, result = run_module(mod, dict(ARGS, count=3))
    assert rc == 1 and "larger than the 2 standby" in result["msg"]


def test_preset_creates_the_missing_slots_in_one_statement(run_module):
    # A standby about to be promoted: the slots first (one statement), then the value, without waiting for anyone.
    executed = []

    def run(module, session, bin_dir, port, sql, **kw):
        if sql.startswith("SELECT json_build_object"):
            return 0, json.dumps(dict(state("", []), in_recovery=True) if not executed[1:] else
                                 dict(state('ANY 1 ("pg1", "pg3")', []), in_recovery=True)), ""
        executed.append(sql)
        return (0, "pg3\n", "") if "pg_create_physical_replication_slot" in sql else (0, "", "")
    args = dict(ARGS, standbys=["pg1", "pg3"], slots=["pg1", "pg3"], preset=True)
    with mock.patch.object(mod, "session_query", run):
        rc, result = run_module(mod, args)
    assert rc == 0 and result["changed"] is True and result["slots_created"] == ["pg3"]
    assert "pg_create_physical_replication_slot(s, true)" in executed[0] and "'pg1,pg3'" in executed[0]
    assert executed[1:] == ["ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (\"pg1\", \"pg3\")'",
                            "SELECT pg_reload_conf()"]


def test_slots_only_changed_when_one_was_missing(run_module):
    # The value already in force and every slot there: nothing changed, and no slot in check mode.
    executed = []
    standby = dict(state('ANY 1 ("pg1", "pg3")', []), in_recovery=True)
    with mock.patch.object(mod, "session_query", fake_psql([standby], executed)):
        rc, result = run_module(mod, dict(ARGS, standbys=["pg1", "pg3"], slots=["pg1", "pg3"], preset=True))
    assert rc == 0 and result["changed"] is False and result["slots_created"] == []
    assert len(executed) == 1 and "pg_create_physical_replication_slot" in executed[0]
    executed[:] = []
    with mock.patch.object(mod, "session_query", fake_psql([standby], executed)):
        rc, result = run_module(mod, dict(ARGS, standbys=["pg1", "pg3"], slots=["pg1"], preset=True,
                                          _ansible_check_mode=True))
    assert rc == 0 and executed == []


def test_slot_names_are_checked_and_a_standby_without_preset_gets_none(run_module):
    executed = []
    with mock.patch.object(mod, "session_query", fake_psql([state("", ["pg2", "pg3"])], executed)):
        rc, result = run_module(mod, dict(ARGS, slots=["pg2'; DROP TABLE x; --"]))
    assert rc == 1 and "is not a physical slot name" in result["msg"] and executed == []
    with mock.patch.object(mod, "session_query", fake_psql([dict(state("", []), in_recovery=True)], executed)):
        rc, result = run_module(mod, dict(ARGS, slots=["pg2"]))
    assert rc == 1 and "this node is a standby" in result["msg"] and executed == []
