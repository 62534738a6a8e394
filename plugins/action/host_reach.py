# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgha.cluster.host_reach runs in the controller's own process: the probe is the
controller's to make, and a module round trip (even to localhost) would cost more
than the probe itself."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.plugins.action import ActionBase
from ansible_collections.pgha.cluster.plugins.module_utils.reach import trusted, unreachable


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("hosts", "timeout"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        try:
            timeout = float(args.get("timeout", 1.0))
        except (TypeError, ValueError):
            return dict(result, failed=True, msg="host_reach: timeout must be a number of seconds, got %r" % (args.get("timeout"),))
        if timeout <= 0:
            return dict(result, failed=True, msg="host_reach: timeout must be above 0 seconds, got %s" % timeout)
        hosts = args.get("hosts")
        if not isinstance(hosts, dict):
            return dict(result, failed=True, msg="host_reach: hosts must be a mapping of host to {address, port}")
        targets = {}
        for host, target in hosts.items():
            if not isinstance(target, dict) or not target.get("address"):
                return dict(result, failed=True,
                            msg="host_reach: %s needs an address (and a port, 22 by default), got %r" % (host, target))
            targets[host] = (str(target["address"]), int(target.get("port") or 22))
        started = time.monotonic()
        silent = unreachable(targets, timeout)
        result.update(changed=False, silent=silent, skip=trusted(targets, silent),
                      seconds=round(time.monotonic() - started, 3))
        return result
