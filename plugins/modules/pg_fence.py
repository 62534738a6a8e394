#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_fence
short_description: Fence a failed primary so that it can never take writes again
version_added: 0.1.0
description:
  - Runs on the failed primary when it can still be reached. Stops the server - a clean stop
    first; when it does not finish in I(stop_timeout) seconds (its archiver cannot reach the
    repository, for one), an immediate shutdown, then SIGKILL. Confirms that no postmaster runs, and
    leaves a C(standby.signal) in its data directory so that a restart (a reboot) brings it up
    read-only until it is rejoined.
  - Where Patroni runs it is stopped first (it would start the server again), after the fenced
    marker is written - the marker keeps Patroni from starting at boot and the leader's handover
    (pgha-handover) from running a switchover on the way down. rejoin.yml starts it again.
  - In check mode reports whether it would act.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  stop_timeout:
    description: Seconds to wait for a clean stop before killing the server.
    type: int
    default: 10
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Fence pg1
  pgha.cluster.pg_fence:
    version: 15
'''

RETURN = r'''
fenced:
  description: No postmaster runs and standby.signal is in place.
  returned: always
  type: bool
killed:
  description: The server had to be killed (SIGKILL).
  returned: always
  type: bool
how:
  description: How the server was stopped (clean stop, immediate shutdown, killed); null when it was not running.
  returned: always
  type: str
patroni_stopped:
  description: Patroni ran here and was stopped first.
  returned: always
  type: bool
unit_reloaded:
  description: systemd was reloaded because the stopped unit stayed in a transition state.
  returned: always
  type: bool
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import (
    FENCED_MARKER, PATRONI_UNIT, node_argument_spec, pg_paths, postmaster_running, stop_server,
    unit_state)
from ansible_collections.pgha.cluster.plugins.module_utils.standby import touch_signal


def write_marker(data_dir):
    """Tells site.yml, pg_standby, Patroni's unit and the handover that this node needs rejoin.yml."""
    with open(os.path.join(data_dir, FENCED_MARKER), 'w') as handle:
        handle.write("fenced at %s\n" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def stop_patroni(module, timeout):
    """Stop Patroni, killing it when its stop does not end in time (the
    server it leaves running is stopped next, like any other)."""
    rc = module.run_command(["timeout", str(timeout), "systemctl", "stop", PATRONI_UNIT])[0]
    if rc != 0:
        module.run_command(["systemctl", "kill", "--signal=SIGKILL", PATRONI_UNIT])
    return unit_state(module, PATRONI_UNIT) != "active"


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            stop_timeout=dict(type='int', default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    running = postmaster_running(paths['data_dir'])
    standby_signal = os.path.join(paths['data_dir'], 'standby.signal')
    patroni = unit_state(module, PATRONI_UNIT) == "active"
    result = dict(changed=running or patroni or not os.path.exists(os.path.join(paths['data_dir'], FENCED_MARKER)),
                  fenced=False, killed=False, was_running=running, how=None, unit_reloaded=False,
                  patroni_stopped=False)
    if module.check_mode:
        module.exit_json(**result)
    if patroni:
        if os.path.isdir(paths['data_dir']):
            write_marker(paths['data_dir'])
        if not stop_patroni(module, p['stop_timeout'] * 3):
            module.fail_json(msg="Patroni still runs after stop and kill: NOT fenced", **result)
        result['patroni_stopped'] = True
        # Patroni, paused, may have left the server running outside PostgreSQL's own unit:
        # stop_server shuts it down fast (SIGINT) then.
        running = postmaster_running(paths['data_dir'])
    if running:
        stop_server(module, paths, p['stop_timeout'], result=result)
    if postmaster_running(paths['data_dir']):
        module.fail_json(msg="the server still runs after stop and kill: NOT fenced", **result)
    if os.path.isdir(paths['data_dir']):
        touch_signal(standby_signal)
        write_marker(paths['data_dir'])
    result['fenced'] = True
    module.exit_json(**result)


if __name__ == '__main__':
    main()
