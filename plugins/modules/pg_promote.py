#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_promote
short_description: Promote the local standby, after it replayed a given WAL position
version_added: 0.1.0
description:
  - Runs on the standby to promote. With I(after_lsn) (a switchover: the old
    primary's shutdown checkpoint) it first waits until it has replayed past
    that position, and refuses to promote if it does not within I(wait_timeout)
    seconds. Then promotes (C(pg_promote(wait => true))) and reports the new
    timeline and the time it took.
  - A node that is already a primary is reported unchanged.
  - In check mode reports what it would do.
extends_documentation_fragment:
  - pgha.cluster.node
options:
  after_lsn:
    description: WAL position the standby must have replayed past before promotion.
    type: str
  wait_timeout:
    description: Seconds to wait for I(after_lsn).
    type: int
    default: 30
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Promote pg2 once it has the old primary's shutdown checkpoint
  pgha.cluster.pg_promote:
    version: 15
    after_lsn: "{{ demoted.shutdown_checkpoint_lsn }}"
'''

RETURN = r'''
timeline:
  description: Timeline after promotion.
  returned: always
  type: int
promoted_at:
  description: Epoch time when the node accepted writes.
  returned: when promoted
  type: float
replay_lsn:
  description: Last replayed LSN before promotion.
  returned: always
  type: str
timings:
  description: Seconds waiting for the LSN and promoting.
  returned: always
  type: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import inspect_node, pg_paths, run_psql
from ansible_collections.pgha.cluster.plugins.module_utils.topology import parse_lsn


def replayed(module, bin_dir, port):
    rc, out, err = run_psql(module, bin_dir, port, "SELECT pg_last_wal_replay_lsn()")
    return out.strip() if rc == 0 else None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            version=dict(type='int', required=True),
            cluster=dict(type='str', default='main'),
            port=dict(type='int', default=5432),
            data_dir=dict(type='path'),
            bin_dir=dict(type='path'),
            after_lsn=dict(type='str'),
            wait_timeout=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    node = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    result = dict(changed=False, timeline=node['timeline'], replay_lsn=node.get('replay_lsn'), timings={})
    if node['up'] and node['role'] == 'primary':
        module.exit_json(msg="already a primary", **result)
    if not (node['up'] and node['role'] == 'standby'):
        module.fail_json(msg="this node is not a running standby (up: %s, role: %s)" % (node['up'], node['role']),
                         **result)
    result['changed'] = True
    if module.check_mode:
        module.exit_json(**result)

    start = time.time()
    if p['after_lsn']:
        target = parse_lsn(p['after_lsn'])
        deadline = start + p['wait_timeout']
        lsn = replayed(module, paths['bin_dir'], p['port'])
        while lsn is None or parse_lsn(lsn) <= target:
            if time.time() >= deadline:
                module.fail_json(msg="not promoted: replayed only up to %s after %d s, the old primary's shutdown "
                                     "checkpoint is at %s" % (lsn, p['wait_timeout'], p['after_lsn']), **result)
            time.sleep(0.02)
            lsn = replayed(module, paths['bin_dir'], p['port'])
        result['replay_lsn'] = lsn
    result['timings']['wait_lsn'] = round(time.time() - start, 3)

    step = time.time()
    rc, out, err = run_psql(module, paths['bin_dir'], p['port'], "SELECT pg_promote(true, %d)" % p['wait_timeout'],
                            timeout=p['wait_timeout'])
    if rc != 0 or out.strip() != "t":
        module.fail_json(msg="promotion failed: %s" % (err or out).strip(), **result)
    result['promoted_at'] = time.time()
    result['timings']['promote'] = round(result['promoted_at'] - step, 3)
    after = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    result['timeline'] = after['timeline']
    result['current_lsn'] = after.get('current_lsn')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
