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
