#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_archive_now
short_description: Archive what a primary has written so far (switch the WAL file, wait for the archiver)
version_added: 0.1.0
description:
  - Runs on the primary. Switches to a new WAL file (C(pg_switch_wal())) and waits until the
    archiver has no finished WAL file left to archive, so that every commit made before the
    call can be restored from the repository. Used before planning a point-in-time restore.
  - Switching the WAL file changes no data and no setting; the module reports no change.
  - Not a primary, archiving off, or an archiver that does not catch up within I(timeout)
    seconds is a warning, not a failure (the restore then uses what is archived); the result
    says which.
  - In check mode nothing is switched.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  timeout:
    description: Seconds to wait for the archiver.
    type: int
    default: 30
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Archive the current WAL file before planning a restore
  pgha.cluster.pg_archive_now:
    version: 15
'''

RETURN = r'''
archived:
  description: Every finished WAL file, including the one just switched, is archived.
  returned: always
  type: bool
switch_lsn:
  description: What C(pg_switch_wal()) returned (null when nothing was switched).
  returned: always
  type: str
backlog:
  description: WAL files still waiting to be archived when the module returned.
  returned: always
  type: int
last_archived_wal:
  description: The newest WAL file the archiver reports as archived.
  returned: always
  type: str
seconds:
  description: Time spent switching and waiting.
  returned: always
  type: float
'''

import json
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import node_argument_spec, pg_paths, run_psql, wait_archiver

STATE = """
SELECT json_build_object('in_recovery', pg_is_in_recovery(), 'archive_mode', current_setting('archive_mode'),
                         'last_archived_wal', last_archived_wal, 'failed_count', failed_count,
                         'last_failed_wal', last_failed_wal)
FROM pg_stat_archiver
"""


def read_state(module, paths, port):
    rc, out, err = run_psql(module, paths['bin_dir'], port, STATE)
    if rc != 0:
        return None, (err or out).strip()
    return json.loads(out), None


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(timeout=dict(type='int', default=30)),
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    started = time.time()
    result = dict(changed=False, archived=False, switch_lsn=None, backlog=None, last_archived_wal=None, seconds=0.0)
    state, error = read_state(module, paths, p['port'])
    if state is None:
        module.warn("nothing archived now: the server does not answer (%s)" % error)
        module.exit_json(**result)
    result['last_archived_wal'] = state['last_archived_wal']
    if state['in_recovery'] or state['archive_mode'] == 'off':
        module.warn("nothing archived now: %s" % ("this server is a standby" if state['in_recovery'] else "archive_mode is off"))
        module.exit_json(**result)
    if module.check_mode:
        module.exit_json(**result)
    rc, out, err = run_psql(module, paths['bin_dir'], p['port'], "SELECT pg_switch_wal()")
    if rc != 0:
        module.warn("pg_switch_wal() failed: %s" % (err or out).strip())
        module.exit_json(**result)
    result['switch_lsn'] = out.strip()
    backlog = wait_archiver(module, paths['bin_dir'], p['port'], deadline=started + p['timeout'], poll=0.1)
    result['backlog'] = backlog
    after, error = read_state(module, paths, p['port'])
    if after is not None:
        result['last_archived_wal'] = after['last_archived_wal']
    result['archived'] = backlog == 0
    result['seconds'] = round(time.time() - started, 3)
    if not result['archived']:
        failed = after and after['failed_count'] > state['failed_count']
        module.warn("%d WAL file(s) still wait to be archived after %ds%s; the restore uses what is archived"
                    % (backlog, p['timeout'],
                       " (archiving %s failed: see the PostgreSQL log)" % after['last_failed_wal'] if failed else ""))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
