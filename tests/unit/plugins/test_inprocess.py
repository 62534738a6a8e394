# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgha.cluster.plugins.plugin_utils.inprocess import run_module_logic

SPEC = dict(name=dict(type='str', required=True), secret=dict(type='str', no_log=True), count=dict(type='int', default=1))


def test_arguments_are_validated_and_coerced():
    seen = {}

    def run(p):
        seen.update(p)
        return {"value": p["count"] * 2}

    assert run_module_logic("m", {"name": "x", "count": "3"}, SPEC, run) == {"value": 6, "changed": False}
    assert seen == {"name": "x", "secret": None, "count": 3}


def test_bad_arguments_fail_before_the_logic_runs():
    result = run_module_logic("m", {"count": 1}, SPEC, lambda p: 1 / 0)
    assert result["failed"] is True
    assert result["msg"].startswith("m: ") and "name" in result["msg"]


def test_secrets_never_leave_in_the_result_or_warnings():
    def run(p):
        return {"failed": True, "msg": "wrong: %s" % p["secret"], "warnings": ["saw %s" % p["secret"]]}

    result = run_module_logic("m", {"name": "x", "secret": "hunter22"}, SPEC, run)
    assert "hunter22" not in str(result)
    assert result["failed"] is True and result["warnings"]


def test_an_action_with_check_mode_passes_it_to_the_logic():
    from unittest import mock
    from ansible_collections.pgha.cluster.plugins.plugin_utils.inprocess import InProcessAction

    seen = []

    class Action(InProcessAction):
        NAME = "m"
        SPEC = SPEC
        RUN = staticmethod(lambda p, check_mode: seen.append(check_mode) or {"changed": True})
        CHECK_MODE = True

    for check_mode in (True, False):
        action = Action.__new__(Action)
        action._task = mock.Mock(args={"name": "x"}, check_mode=check_mode)
        action._play_context = mock.Mock(check_mode=False)
        with mock.patch("ansible.plugins.action.ActionBase.run", return_value={}):
            assert action.run(task_vars={}) == {"changed": True}
    assert seen == [True, False]
