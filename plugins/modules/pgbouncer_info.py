#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pgbouncer_info
short_description: Report where a PgBouncer points and whether it runs
version_added: 0.1.0
description:
  - Read-only. Parses the C([databases]) section of the PgBouncer configuration
    and reports each entry's target, plus whether the service is active.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  config:
    description: Path of pgbouncer.ini.
    type: path
    default: /etc/pgbouncer/pgbouncer.ini
  service:
    description: systemd unit of PgBouncer.
    type: str
    default: pgbouncer.service
  probe_user:
    description:
      - When set, a client connects through PgBouncer as this role and asks C(pg_is_in_recovery()),
        what a client would see. A paused PgBouncer (or a hung server) does not answer within
        I(probe_timeout) seconds.
    type: str
  probe_password:
    description: Password of I(probe_user).
    type: str
  probe_timeout:
    description: Seconds the probe may take.
    type: int
    default: 3
  router_socket:
    description:
      - Admin socket of HAProxy next to PgBouncer (pgha_failover_mode automatic, role C(haproxy)). When it exists,
        C(router) reports which database node HAProxy forwards PgBouncer's connections to.
    type: path
    default: /run/haproxy/admin.sock
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Where does PgBouncer send clients?
  pgha.cluster.pgbouncer_info:
  register: bouncer
'''

RETURN = r'''
active:
  description: The service is active.
  returned: always
  type: bool
databases:
  description: Database entries, name to parsed connection settings (host, port, ...).
  returned: always
  type: dict
target:
  description: Host of the wildcard entry (C(*)), where any database goes.
  returned: always
  type: str
listen_port:
  description: Port PgBouncer listens on.
  returned: always
  type: int
serving:
  description:
    - What the probe saw - C(writes) (a primary answered), C(read-only) (a standby answered),
      C(stalled) (no answer in time - paused, or the server hangs), C(error) (see C(probe_error)),
      or null without I(probe_user).
  returned: always
  type: str
probe_error:
  description: The probe's error when C(serving=error).
  returned: always
  type: str
router:
  description:
    - HAProxy's view when PgBouncer goes through it - C(servers) (node name to HAProxy's status, UP or DOWN)
      and C(routed_to) (the one node up, null when none is, a list when several are); C(error) when the socket
      did not answer. Null without HAProxy.
  returned: always
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.haproxy import parse_stat, read_stat, routed_to
from ansible_collections.pgha.cluster.plugins.module_utils.topology import parse_conninfo


def parse_ini(text):
    sections, current = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#" or line.startswith("%include"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip().lower()
            sections.setdefault(current, {})
            continue
        if current and "=" in line:
            key, value = line.split("=", 1)
            sections[current][key.strip()] = value.strip()
    return sections


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type='path', default='/etc/pgbouncer/pgbouncer.ini'),
            service=dict(type='str', default='pgbouncer.service'),
            probe_user=dict(type='str'),
            probe_password=dict(type='str', no_log=True),
            probe_timeout=dict(type='int', default=3),
            router_socket=dict(type='path', default='/run/haproxy/admin.sock'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not os.path.isfile(p['config']):
        module.exit_json(changed=False, active=False, databases={}, target=None, listen_port=None,
                         router=None, msg="%s does not exist" % p['config'])
    with open(p['config']) as handle:
        sections = parse_ini(handle.read())
    databases = dict((name, parse_conninfo(value)) for name, value in sections.get('databases', {}).items())
    for entry in databases.values():
        entry.pop('password', None)
    rc, out, err = module.run_command(['systemctl', 'is-active', p['service']])
    port = sections.get('pgbouncer', {}).get('listen_port', '6432')
    serving, probe_error = None, None
    if p['probe_user']:
        argv = ["timeout", str(p['probe_timeout']), "psql", "-X", "-A", "-t", "-q", "-h", "127.0.0.1", "-p", str(port),
                "-U", p['probe_user'], "-d", "postgres", "-c", "SELECT pg_is_in_recovery()"]
        prc, pout, perr = module.run_command(argv, cwd="/", environ_update={
            "PGPASSWORD": p['probe_password'] or "", "PGCONNECT_TIMEOUT": str(p['probe_timeout']), "PGAPPNAME": "pgha"})
        if prc == 124:
            serving = "stalled"
        elif prc == 0 and pout.strip() in ("f", "t"):
            serving = "writes" if pout.strip() == "f" else "read-only"
        else:
            serving, probe_error = "error", (perr or pout).strip()[-300:]
    router = None
    if os.path.exists(p['router_socket']):
        try:
            states = parse_stat(read_stat(p['router_socket']))
            router = {"servers": states, "routed_to": routed_to(states)}
        except OSError as exc:
            router = {"servers": {}, "routed_to": None, "error": "%s: %s" % (p['router_socket'], exc)}
    module.exit_json(changed=False, active=out.strip() == 'active', databases=databases,
                     target=databases.get('*', {}).get('host'), listen_port=int(port), serving=serving,
                     probe_error=probe_error, router=router)


if __name__ == '__main__':
    main()
