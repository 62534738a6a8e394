#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pgbouncer_restart
short_description: Count PgBouncer's clients, restart it, and wait until its admin console answers
version_added: 0.1.0
description:
  - The opt-in PgBouncer step of a rolling run (C(rolling.yml -e pgha_rolling_poolers=true)), on the PgBouncer host.
    Restarting PgBouncer drops every client connection it holds (clients must reconnect); the module says how many
    there were (C(SHOW POOLS), active and waiting, the admin console's own left out).
  - With I(state=counted) only counts them (the step before a reboot or an upgrade).
  - In check mode only counts.
options:
  state:
    description: C(restarted), or C(counted) (nothing changed).
    type: str
    choices: [restarted, counted]
    default: restarted
  service:
    description: systemd unit of PgBouncer.
    type: str
    default: pgbouncer.service
  port:
    description: Port PgBouncer listens on.
    type: int
    default: 6432
  admin_user:
    description: PgBouncer admin console user.
    type: str
    required: true
  admin_password:
    description: Its password.
    type: str
    required: true
  timeout:
    description: Seconds PgBouncer may take to answer again.
    type: int
    default: 60
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Restart PgBouncer
  pgha.cluster.pgbouncer_restart:
    admin_user: pgha_admin
    admin_password: "{{ pgha_admin_password }}"
'''

RETURN = r'''
clients:
  description: Client connections PgBouncer held before (active and waiting); a restart dropped them.
  returned: always
  type: int
seconds:
  description: Seconds from the restart until the admin console answered.
  returned: state=restarted
  type: float
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import admin, pool_clients


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['restarted', 'counted'], default='restarted'),
            service=dict(type='str', default='pgbouncer.service'),
            port=dict(type='int', default=6432),
            admin_user=dict(type='str', required=True),
            admin_password=dict(type='str', required=True, no_log=True),
            timeout=dict(type='int', default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    rc, out, err = admin(module, "SHOW POOLS", p['admin_user'], p['admin_password'], port=p['port'], check_rc=False)
    clients = pool_clients(out) if rc == 0 else 0
    result = dict(changed=False, clients=clients)
    if p['state'] == 'counted' or module.check_mode:
        module.exit_json(**result)
    start = time.time()
    rc, out, err = module.run_command(["systemctl", "restart", p['service']])
    if rc != 0:
        module.fail_json(msg="systemctl restart %s failed: %s" % (p['service'], (err or out).strip()), **result)
    result['changed'] = True
    deadline = start + p['timeout']
    while True:
        rc, out, err = admin(module, "SHOW VERSION", p['admin_user'], p['admin_password'], port=p['port'],
                             check_rc=False, timeout=2)
        if rc == 0:
            break
        if time.time() >= deadline:
            module.fail_json(msg="PgBouncer did not answer on port %d within %d s of its restart: %s"
                                 % (p['port'], p['timeout'], (err or out).strip()), **result)
        time.sleep(0.2)
    result['seconds'] = round(time.time() - start, 3)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
