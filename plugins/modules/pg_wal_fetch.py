#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_wal_fetch
short_description: Fetch WAL by streaming only during a switch, or from the repository again
version_added: 0.1.0
description:
  - Runs on a database node. A standby that promotes, or whose upstream promotes, runs C(restore_command) for the
    new timeline's history file and the next WAL files first, a repository round trip each. During a switchover
    streaming has them all.
  - I(from_archive=false) writes C(conf.d/pgha_switch.conf) with C(restore_command = '') next to the role's
    C(conf.d/pgha.conf) (read after it), reloads, and waits until the server runs with it. A file, not
    C(ALTER SYSTEM), because Patroni removes recovery settings from C(postgresql.auto.conf) when it writes its
    configuration (for example when it promotes the node) and does not touch C(conf.d).
  - I(from_archive=true) removes that file and an C(ALTER SYSTEM) value of C(restore_command) (an older
    switchover's), reloads, and waits until the server runs with the configured command again.
  - Changed only when a file or value was written or removed.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  from_archive:
    description: Whether the node fetches WAL from the repository (C(restore_command) as configured).
    type: bool
    required: true
  timeout:
    description: Seconds to wait until the server runs with the new value after the reload.
    type: int
    default: 10
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Fetch WAL by streaming only until the switch is over
  pgha.cluster.pg_wal_fetch:
    version: 15
    from_archive: false

- name: Fetch missing WAL from the repository again
  pgha.cluster.pg_wal_fetch:
    version: 15
    from_archive: true
'''

RETURN = r'''
restore_command:
  description: The value the server runs with when the module returned.
  returned: always
  type: str
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.files import write_atomic
from ansible_collections.pgha.cluster.plugins.module_utils.pg import node_argument_spec, pg_paths, read_file, run_psql

SWITCH_FILE = "pgha_switch.conf"
CONTENT = ("# pgha: WAL comes by streaming only while a switchover runs (switchover.yml removes this file\n"
           "# afterwards, and so does site.yml if a run was cut short).\n"
           "restore_command = ''\n")
SETTING = "SELECT current_setting('restore_command') || '|' || coalesce((SELECT sourcefile FROM pg_settings " \
          "WHERE name = 'restore_command'), '')"


def running(module, paths, port):
    rc, out, err = run_psql(module, paths['bin_dir'], port, SETTING)
    if rc != 0:
        module.fail_json(msg="cannot read restore_command: %s" % (err or out).strip())
    value, dummy, source = out.strip().rpartition("|")
    return value, source


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            from_archive=dict(type='bool', required=True),
            timeout=dict(type='int', default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    conf_d = os.path.join(paths['conf_dir'], "conf.d")
    switch_file = os.path.join(conf_d, SWITCH_FILE)
    value, source = running(module, paths, p['port'])
    overridden = source.endswith("/postgresql.auto.conf")
    has_file = os.path.exists(switch_file)
    if p['from_archive']:
        changed = has_file or overridden
    else:
        changed = read_file(switch_file) != CONTENT
    result = dict(changed=changed, restore_command=value)
    if module.check_mode or not changed:
        module.exit_json(**result)

    if p['from_archive']:
        if has_file:
            os.remove(switch_file)
        if overridden:
            run_psql(module, paths['bin_dir'], p['port'], "ALTER SYSTEM RESET restore_command", check_rc=True)
    else:
        if not has_file:
            # write_atomic keeps an existing file's mode and owner: start from the role's file.
            module.preserved_copy(os.path.join(conf_d, "pgha.conf"), switch_file)
        write_atomic(switch_file, CONTENT)
    run_psql(module, paths['bin_dir'], p['port'], "SELECT pg_reload_conf()", check_rc=True)
    deadline = time.time() + p['timeout']
    while True:
        value, source = running(module, paths, p['port'])
        done = (not source.endswith("/" + SWITCH_FILE) and not source.endswith("/postgresql.auto.conf")) \
            if p['from_archive'] else (value == "" and source.endswith("/" + SWITCH_FILE))
        if done:
            break
        if time.time() >= deadline:
            module.fail_json(msg="the server does not run with the new restore_command %d s after the reload "
                                 "(it runs with %r from %s)" % (p['timeout'], value, source or "its default"),
                             **result)
        time.sleep(0.05)
    result['restore_command'] = value
    module.exit_json(**result)


if __name__ == '__main__':
    main()
