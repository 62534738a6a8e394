# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgha.cluster.fence_command runs on the controller only: in ansible-playbook's own process
(plugin_utils/inprocess.py), not as a module started on localhost."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgha.cluster.plugins.modules.fence_command import ARGUMENT_SPEC, run as fence_run
from ansible_collections.pgha.cluster.plugins.plugin_utils.inprocess import InProcessAction


class ActionModule(InProcessAction):
    NAME = "fence_command"
    SPEC = ARGUMENT_SPEC
    RUN = staticmethod(fence_run)

    def run(self, tmp=None, task_vars=None):
        if self._task.check_mode:
            return dict(changed=True, msg="the fencing command would run")
        return super(ActionModule, self).run(tmp, task_vars)
