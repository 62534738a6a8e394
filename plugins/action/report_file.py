# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgha.cluster.report_file writes on the controller: in ansible-playbook's own process
(plugin_utils/inprocess.py), not as a module started on localhost."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgha.cluster.plugins.modules.report_file import ARGUMENT_SPEC, run
from ansible_collections.pgha.cluster.plugins.plugin_utils.inprocess import InProcessAction


class ActionModule(InProcessAction):
    NAME = "report_file"
    SPEC = ARGUMENT_SPEC
    RUN = staticmethod(run)
    CHECK_MODE = True
