#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_node_info
short_description: Report one PostgreSQL node's place in a replication topology
version_added: 0.1.0
description:
  - Read-only. Reports whether the local cluster is up, its role (primary or
    standby), system identifier, timeline, current/received/replayed LSN,
    what it streams from and which standbys stream from it.
  - When the server is stopped it reads the data directory instead
    (C(pg_controldata), C(standby.signal), C(postgresql.auto.conf)).
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  wait_streaming:
    description:
      - Seconds to wait until the node is a standby whose WAL receiver streams;
        fails with what it saw when it does not. C(0) reports at once.
    type: int
    default: 0
  expect_upstream:
    description: With I(wait_streaming), the address the WAL receiver must stream from.
    type: str
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Inspect the local node
  pgha.cluster.pg_node_info:
    version: 15
  register: node

- name: Show its role
  ansible.builtin.debug:
    msg: "{{ node.node.role }} on timeline {{ node.node.timeline }}"
'''

RETURN = r'''
node:
  description: The node's state.
  returned: always
  type: dict
  contains:
    up:
      description: The server answers on its local socket.
      type: bool
    role:
      description: C(primary), C(standby), C(recovering) (archive recovery) or C(absent) (no data directory).
      type: str
    system_identifier:
      description: Database system identifier (as text).
      type: str
    timeline:
      description: Current timeline.
      type: int
    current_lsn:
      description: Write position of a primary.
      type: str
    receive_lsn:
      description: Last WAL position received by a standby.
      type: str
    replay_lsn:
      description: Last WAL position replayed by a standby.
      type: str
    upstream:
      description: The WAL receiver (status, host, port, slot_name, timeline) of a standby.
      type: dict
    replicas:
      description: Standbys streaming from this node (application_name, state, sync_state, LSNs, replay_lag_bytes).
      type: list
      elements: dict
    primary_conninfo:
      description: The configured upstream connection, parsed (never contains a password).
      type: dict
    supervisor:
      description: What starts and stops the server - C(patroni) when the Patroni service is running
        (C(pgha_failover_mode=automatic)), else C(systemd).
      type: str
    patroni:
      description: Where Patroni runs, what its REST API says of this node - C(state), C(role), C(pause)
        (maintenance mode, no automatic failover), C(timeline); or C(error).
      type: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import inspect_node, node_argument_spec


def streaming(node, host=None):
    upstream = node.get("upstream") or {}
    return node.get("role") == "standby" and upstream.get("status") == "streaming" \
        and (host is None or upstream.get("host") == host)


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            wait_streaming=dict(type='int', default=0),
            expect_upstream=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    deadline = time.time() + p['wait_streaming']
    while True:
        node = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
        node['primary_conninfo'].pop('password', None)
        if p['wait_streaming'] <= 0 or streaming(node, p['expect_upstream']) or time.time() >= deadline:
            break
        time.sleep(1)
    if p['wait_streaming'] > 0 and not streaming(node, p['expect_upstream']):
        upstream = node.get('upstream') or {}
        module.fail_json(
            msg="not streaming%s after %d s: role %s, up %s, WAL receiver %s (from %s), configured upstream %s:%s "
                "(slot %s), replayed up to %s%s. Check this node's PostgreSQL log and the primary's "
                "pg_hba.conf and slots" % (
                    " from %s" % p['expect_upstream'] if p['expect_upstream'] else "",
                    p['wait_streaming'], node['role'], node['up'], upstream.get('status') or 'not running',
                    upstream.get('host') or '-',
                    node['primary_conninfo'].get('host'), node['primary_conninfo'].get('port'),
                    node.get('primary_slot_name'), node.get('replay_lsn') or node.get('checkpoint_lsn'),
                    "; error: %s" % node['error'] if node.get('error') else ""),
            node=node)
    module.exit_json(changed=False, node=node)


if __name__ == '__main__':
    main()
