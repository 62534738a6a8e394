# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a controller-side pgha module's logic inside ansible-playbook's own process.

Modules that only decide on the controller (inputs, plans) cost a Python start
and a module transfer each time they run on localhost - about a second on a busy
host, on the critical path of every playbook (validation) and of a failover (the
plan). Their action plugins validate the task's arguments with the module's own
argument spec and call the module's run(params); the module file keeps working
alone (its main() calls the same run()).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.module_utils.common.parameters import remove_values


def run_module_logic(name, args, argument_spec, run):
    """The task result of run(validated params), secrets (no_log options) masked."""
    validated = ArgumentSpecValidator(argument_spec).validate(dict(args))
    if validated.error_messages:
        return {"failed": True, "msg": "%s: %s" % (name, "; ".join(validated.error_messages))}
    result = dict(run(validated.validated_parameters))
    warnings = result.pop("warnings", None) or []
    result = remove_values(result, validated._no_log_values)
    if warnings:
        result["warnings"] = list(remove_values(warnings, validated._no_log_values))
    result.setdefault("changed", False)
    return result


class InProcessAction(ActionBase):
    """The action plugin of a module that runs on the controller: NAME, SPEC (its argument
    spec) and RUN (its run(params) function) say which. With CHECK_MODE, RUN is called as
    run(params, check_mode) (a module that writes, and writes nothing in check mode)."""

    TRANSFERS_FILES = False
    NAME = None
    SPEC = None
    RUN = None
    CHECK_MODE = False

    def run(self, tmp=None, task_vars=None):
        result = super(InProcessAction, self).run(tmp, task_vars)
        logic = type(self).RUN
        if self.CHECK_MODE:
            check_mode = bool(self._task.check_mode or self._play_context.check_mode)
            logic = functools.partial(logic, check_mode=check_mode)
        result.update(run_module_logic(self.NAME, self._task.args, self.SPEC, logic))
        return result
