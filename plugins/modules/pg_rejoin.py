#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_rejoin
short_description: Bring a former primary or a diverged standby back as a standby, with pg_rewind
version_added: 0.1.0
description:
  - Runs on the node to rejoin. Refuses while the node runs as a writable primary
    (fence it first). Stops it, rewinds it against the current primary with
    C(pg_rewind) (which first finishes crash recovery when the node was killed),
    points it at the primary (C(standby.signal), C(primary_conninfo),
    C(primary_slot_name)) and starts it.
  - Checks first that the primary accepts the connection pg_rewind needs; when it does not, fails
    with the node untouched (not even stopped).
  - When the rewind is impossible (for instance the WAL it needs is gone), falls
    back to a fresh clone with C(pg_basebackup) if I(fallback_clone=true) - the old data
    directory is moved aside (C(DATADIR.pgha-aside-TIME-rejoin)) after a free-space check,
    never removed. Connection or authentication errors, and failures it cannot classify, never
    lead to a clone; the data directory stays as it is and the module fails with pg_rewind's words.
  - A standby that already streams from the primary is left alone, unless it carries pgha's fenced marker
    (a former primary), which is always rewound (C(pg_rewind) says when nothing needs rewinding).
  - In check mode returns the plan.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
  - pgha.cluster.tls
options:
  primary_host:
    description: Address of the current primary.
    type: str
    required: true
  primary_port:
    description: Its port.
    type: int
    default: 5432
  primary_system_identifier:
    description: The primary's system identifier; a node of another database system is refused.
    type: str
    required: true
  primary_timeline:
    description: The primary's timeline; a standby on it that streams is left alone.
    type: int
  replication_user:
    description: Role for streaming (password from the postgres user's C(.pgpass)).
    type: str
    required: true
  rewind_user:
    description:
      - Role pg_rewind logs in as, to database C(postgres), with this host's certificate (C(cert)
        authentication in C(pg_hba.conf); no password). It may only read the files pg_rewind needs.
    type: str
    default: pgha_rewind
  application_name:
    description: Name the standby reports to the primary.
    type: str
    required: true
  slot_name:
    description: Physical slot on the primary.
    type: str
    required: true
  passfile:
    description: Password file of the postgres user.
    type: path
    default: /var/lib/postgresql/.pgpass
  stop_stray_primary:
    description:
      - Stop the node even though it runs as a writable primary. Only for a stray primary that no
        PgBouncer sends clients to (a fenced node powered on again); rejoin.yml decides that.
    type: bool
    default: false
  fallback_clone:
    description: Re-clone when pg_rewind fails.
    type: bool
    default: true
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Rejoin the old primary pg1 as a standby of pg2
  pgha.cluster.pg_rejoin:
    version: 15
    primary_host: 10.0.0.12
    primary_system_identifier: "7301234567890123456"
    replication_user: replicator
    application_name: pg1
    slot_name: pg1
'''

RETURN = r'''
action:
  description: C(none), C(rewind) or C(clone) (after a failed rewind).
  returned: always
  type: str
timings:
  description: Seconds for stop, rewind (or clone) and start.
  returned: always
  type: dict
rewind_output:
  description: Last lines pg_rewind printed.
  returned: when rewound
  type: str
kept_aside:
  description: Where the old data directory was moved before a fallback clone.
  returned: when cloned
  type: str
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.operations import rewind_failure
from ansible_collections.pgha.cluster.plugins.module_utils.pg import (
    FENCED_MARKER, as_postgres, inspect_node, libpq_env, node_argument_spec, pg_paths, postmaster_running, stop_server)
from ansible_collections.pgha.cluster.plugins.module_utils.standby import (
    clone, configure, conninfo_text, desired_upstream)
from ansible_collections.pgha.cluster.plugins.module_utils.tls import client_tls, tls_argument_spec
from ansible_collections.pgha.cluster.plugins.module_utils.topology import build_conninfo


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            primary_host=dict(type='str', required=True),
            primary_port=dict(type='int', default=5432),
            primary_system_identifier=dict(type='str', required=True),
            primary_timeline=dict(type='int'),
            replication_user=dict(type='str', required=True),
            application_name=dict(type='str', required=True),
            slot_name=dict(type='str', required=True),
            passfile=dict(type='path', default='/var/lib/postgresql/.pgpass', no_log=False),
            fallback_clone=dict(type='bool', default=True),
            stop_stray_primary=dict(type='bool', default=False),
            rewind_user=dict(type='str', default='pgha_rewind'),
            **tls_argument_spec()
        ),
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    node = inspect_node(module, p['version'], p['cluster'], p['port'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    desired = desired_upstream(p)
    result = dict(changed=False, action='none', timings={}, node=node, commands=[])

    if not node['data_directory_exists']:
        module.fail_json(msg="no data directory: this node has nothing to rejoin; site.yml clones it", **result)
    if node.get('system_identifier') and str(node['system_identifier']) != str(p['primary_system_identifier']):
        module.fail_json(msg="this node belongs to another database system (%s, the primary's is %s)"
                             % (node['system_identifier'], p['primary_system_identifier']), **result)
    if node['up'] and node['role'] == 'primary' and not p['stop_stray_primary']:
        module.fail_json(msg="this node runs as a writable primary (timeline %s, LSN %s): fence it (stop it, or run "
                             "failover.yml) before rejoining" % (node['timeline'], node['current_lsn']), **result)
    upstream = node.get('upstream') or {}
    # A fenced node (pg_fence, or the boot guard) always goes through pg_rewind, which proves whether it
    # holds WAL the primary lacks ("no rewind required" when it does not). A WAL receiver that streams
    # is no proof: a former primary that diverged connects, receives, and its startup process rejects
    # the new timeline's WAL and restarts the receiver, over and over (seen on the lab).
    if node['up'] and node['role'] == 'standby' and not node.get('fenced') and upstream.get('status') == 'streaming' \
            and upstream.get('host') == p['primary_host'] \
            and (p['primary_timeline'] is None or upstream.get('timeline') == p['primary_timeline']):
        module.exit_json(msg="already streaming from %s" % p['primary_host'], **result)

    result.update(changed=True, action='rewind')
    if module.check_mode:
        module.exit_json(**result)

    source = build_conninfo(dict(client_tls(p, client_cert=True), host=p['primary_host'], port=str(p['primary_port']),
                                 user=p['rewind_user'], dbname='postgres', connect_timeout='5'))
    # The source must answer before anything here is stopped: pg_rewind needs it.
    probe = as_postgres([os.path.join(paths['bin_dir'], 'psql'), '-X', '-A', '-t', '-q', '-d', source,
                         '-c', 'SELECT pg_is_in_recovery()'])
    rc, out, err = module.run_command(probe, cwd="/", environ_update=libpq_env(LC_ALL="C"))
    if rc != 0 or out.strip() != "f":
        module.fail_json(msg="rejoin refused, this node was not touched: the primary %s:%s %s"
                             % (p['primary_host'], p['primary_port'],
                                "is in recovery" if rc == 0 else "cannot be reached for pg_rewind (%s)"
                                % (err or out).strip()), **result)

    step = time.time()
    stopped = {}
    stop_server(module, paths, result=stopped)
    if postmaster_running(paths['data_dir']):
        module.fail_json(msg="could not stop the server before the rewind; nothing else was done", **result)
    result['stopped'] = stopped.get('how') or 'was not running'
    result['timings']['stop'] = round(time.time() - step, 3)

    step = time.time()
    argv = as_postgres([os.path.join(paths['bin_dir'], 'pg_rewind'), '--target-pgdata', paths['data_dir'],
                        '--source-server', source, '--progress'])
    result['commands'].append(argv)
    rc, out, err = module.run_command(argv, cwd="/", environ_update=libpq_env(LC_ALL="C"))
    result['rewind_output'] = "\n".join((out + err).strip().splitlines()[-5:])
    result['timings']['rewind'] = round(time.time() - step, 3)
    if rc != 0:
        kind = rewind_failure(out + err)
        result['rewind_failure'] = kind
        if kind != 'clone' or not p['fallback_clone']:
            why = {"connection": "cannot reach the primary: fix the connection and run rejoin.yml again",
                   "unknown": "not a failure a fresh clone is known to fix",
                   "clone": "fallback_clone is off"}[kind]
            module.fail_json(msg="pg_rewind failed (%s); the data directory %s is left as it is, the server stopped: "
                                 "%s" % (why, paths['data_dir'], result['rewind_output']), **result)
        result['action'] = 'clone'
        step = time.time()
        dummy, result['kept_aside'] = clone(module, p, paths, node, desired, result['commands'], reason="rejoin")
        result['timings']['clone'] = round(time.time() - step, 3)
    else:
        # pg_rewind copies the source's postgresql.auto.conf: point this node at the primary again.
        configure(module, p, paths, dict(node, up=False), desired, result['commands'])

    marker = os.path.join(paths['data_dir'], FENCED_MARKER)
    if os.path.exists(marker):
        os.remove(marker)
    step = time.time()
    module.run_command(["systemctl", "start", paths['service']], check_rc=True)
    result['timings']['start'] = round(time.time() - step, 3)
    result['conninfo'] = conninfo_text(desired)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
