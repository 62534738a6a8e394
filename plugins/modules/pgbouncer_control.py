#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pgbouncer_control
short_description: Pause, resume or re-point a PgBouncer through its admin console
version_added: 0.1.0
description:
  - Runs on the PgBouncer host. C(pause) and C(resume) use the admin console;
    C(repoint) rewrites the wildcard C(*) entry of pgbouncer.ini and sends
    C(RELOAD) (client connections stay); C(switch) waits until the new target
    accepts writes, re-points, reloads and resumes, timing each step.
  - C(follow) is the switch of a PgBouncer behind HAProxy (pgha_failover_mode automatic, role C(haproxy)).
    Nothing is re-pointed. It waits until HAProxy forwards to I(target_host) alone (an inventory name, HAProxy's
    server name) and, with I(check_user), a client through HAProxy can write, then resumes.
  - Never restarts PgBouncer.
options:
  action:
    description: What to do.
    type: str
    choices: [pause, resume, repoint, switch, follow]
    required: true
  target_host:
    description:
      - Address of the database node clients must reach (C(repoint), C(switch)); with C(follow) its inventory
        name (HAProxy's server name).
    type: str
  target_port:
    description: Its port.
    type: int
    default: 5432
  wait_writable:
    description: With C(switch), seconds to wait for the target to accept writes before re-pointing.
    type: int
    default: 30
  fallback_host:
    description:
      - With C(switch) or C(follow), the old primary. Once it has been seen down, if it accepts writes again
        (a failed switch restarts it) PgBouncer is resumed at once, still pointing at it, and the
        module fails.
    type: str
  check_user:
    description: Role used to ask the target whether it is in recovery (the PgBouncer lookup role).
    type: str
  check_password:
    description: Its password.
    type: str
  admin_user:
    description: PgBouncer admin console user.
    type: str
    required: true
  admin_password:
    description: Its password.
    type: str
    required: true
  listen_port:
    description: PgBouncer port.
    type: int
    default: 6432
  config:
    description: Path of pgbouncer.ini.
    type: path
    default: /etc/pgbouncer/pgbouncer.ini
  router_socket:
    description: With C(follow), HAProxy's admin socket.
    type: path
    default: /run/haproxy/admin.sock
  target_address:
    description:
      - With C(follow), the target's address. Once its Patroni (REST API on port 8008, TLS with the cluster CA)
        answers 200 on C(/primary) (it holds the leader key), HAProxy is told at once, over its admin socket, that
        the target is up and every other node down, instead of at its next checks; its checks go on.
    type: str
  console_host:
    description:
      - Address of a remote PgBouncer's admin console, for C(pause) and C(resume) only; the module
        then runs anywhere that reaches that PgBouncer (a database node resuming a PgBouncer the
        controller cannot reach). Without it the local PgBouncer (127.0.0.1) is used. With it the
        module does not fail when the console cannot be reached; C(console_ok) and C(console_error) say.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Send clients to the new primary once it accepts writes, then resume
  pgha.cluster.pgbouncer_control:
    action: switch
    target_host: 10.0.0.12
    check_user: pgbouncer_auth
    check_password: "{{ pgha_pgbouncer_auth_password }}"
    admin_user: pgha_admin
    admin_password: "{{ pgha_admin_password }}"
  no_log: true
'''

RETURN = r'''
previous_target:
  description: Host of the C(*) entry before.
  returned: always
  type: str
target:
  description: Host of the C(*) entry after.
  returned: always
  type: str
timings:
  description: Seconds spent in each step (wait_writable, repoint, resume).
  returned: always
  type: dict
polls:
  description: With C(switch), how many times the target was asked whether it takes writes over the session opened
    ahead (C(session)) and with a fresh psql once that session was gone (C(fresh)).
  returned: with switch
  type: dict
writable_at:
  description: With C(switch), epoch time when the target was seen taking writes.
  returned: with switch, when it did
  type: float
console_ok:
  description: With I(console_host) - the remote console took the command (or was already in that state).
  returned: when console_host is set
  type: bool
console_error:
  description: With I(console_host) - why it did not.
  returned: when console_host is set
  type: str
msg:
  description: With I(console_host) - what was done, or the exact command that finishes it by hand.
  returned: when console_host is set
  type: str
resumed_at:
  description: Epoch time of RESUME.
  returned: when resumed
  type: float
forced_at:
  description: With C(target_address), epoch time HAProxy was told the target is up.
  returned: when it was told
  type: float
forced_down:
  description: With C(target_address), the servers HAProxy was told are down.
  returned: when it was told
  type: list
  elements: str
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.files import write_atomic
from ansible_collections.pgha.cluster.plugins.module_utils.haproxy import force_route, parse_stat, read_stat, routed_to
from ansible_collections.pgha.cluster.plugins.module_utils.patroni import API_PORT, endpoint
from ansible_collections.pgha.cluster.plugins.module_utils.patroni_api import call
from ansible_collections.pgha.cluster.plugins.module_utils.pg import PsqlSession
from ansible_collections.pgha.cluster.plugins.module_utils.pgbouncer import OpenConsole, admin, repoint_ini, wildcard_target
from ansible_collections.pgha.cluster.plugins.module_utils.tls import tls_env


def _client(host, port, user, password):
    argv = ["psql", "-X", "-A", "-t", "-q", "-h", host, "-p", str(port), "-U", user, "-d", "postgres"]
    env = dict(tls_env(host), PGPASSWORD=password or "", PGCONNECT_TIMEOUT="2", PGAPPNAME="pgha")
    return argv, env


def is_writable(module, host, port, user, password, session=None, polls=None):
    """Whether the server accepts writes: over ``session`` (a PsqlSession to it, opened
    once: the promotion does not end it) while it lasts, else with a fresh psql.
    ``polls`` counts both kinds (the switch reports them)."""
    polls = {} if polls is None else polls
    answer = session.query("SELECT pg_is_in_recovery()", timeout=2) if session else None
    if answer is not None:
        polls['session'] = polls.get('session', 0) + 1
        return answer[0] == 0 and answer[1].strip() == "f"
    polls['fresh'] = polls.get('fresh', 0) + 1
    argv, env = _client(host, port, user, password)
    rc, out, err = module.run_command(argv + ["-c", "SELECT pg_is_in_recovery()"], cwd="/", environ_update=env)
    return rc == 0 and out.strip() == "f"


def open_session(module, host, port, user, password):
    argv, env = _client(host, port, user, password)
    argv[0] = module.get_bin_path("psql", required=True)
    return PsqlSession(argv, env)


def router(path):
    """The node HAProxy forwards to now (None when none or several are up, or it does not answer)."""
    try:
        found = routed_to(parse_stat(read_stat(path)))
    except OSError:
        return None
    return found if not isinstance(found, list) else None


def follow(module, p, console, result, route):
    """Behind HAProxy: resume once it forwards to the target alone and a client
    through it can write (Patroni calls a node primary while it still finishes
    its promotion). Never re-points. With target_address, HAProxy is told the moment
    the target's Patroni answers 200 on /primary (see force_route)."""
    result['changed'] = True
    result['target'] = p['target_host']
    if module.check_mode:
        module.exit_json(**result)
    started = time.time()
    deadline = started + p['wait_writable']
    fallback_down = False
    forced = not p['target_address']
    session = OpenConsole(module, **console)
    # Whether the target accepts writes is asked over one session opened now, straight to it (HAProxy forwards
    # there alone once router() says so): a psql and a TLS login through HAProxy per poll cost about 0.2 s on a
    # busy host, right while clients wait.
    target = open_session(module, p['target_address'] or p['target_host'], p['target_port'], p['check_user'],
                          p['check_password']) if p['check_user'] else None
    while True:
        if not forced:
            try:
                code = call("https://%s/primary" % endpoint(p['target_address'], API_PORT), timeout=1.0)[0]
            except OSError:
                code = None
            if code == 200:
                try:
                    result['forced_down'] = force_route(p["router_socket"], p['target_host'],
                                                        parse_stat(read_stat(p["router_socket"])))
                    result['forced_at'] = time.time()
                except OSError as exc:
                    result['force_error'] = str(exc)
                forced = True
        now = router(p["router_socket"])
        if now == p['target_host'] and (not p['check_user'] or is_writable(
                module, route.get('host'), int(route.get('port') or 5432), p['check_user'], p['check_password'],
                session=target)):
            break
        if p['fallback_host']:
            if now == p['fallback_host'] and fallback_down:
                session.close()
                admin(module, "RESUME", check_rc=False, **console)
                result['resumed_at'] = time.time()
                module.fail_json(msg="the switch failed: HAProxy forwards to %s again, not to %s; PgBouncer resumed"
                                     % (p['fallback_host'], p['target_host']), **result)
            fallback_down = fallback_down or now != p['fallback_host']
        if time.time() >= deadline:
            session.close()
            admin(module, "RESUME", check_rc=False, **console)
            result['resumed_at'] = time.time()
            module.fail_json(msg="HAProxy did not forward to %s within %d s (it forwards to %s); PgBouncer was resumed"
                                 % (p['target_host'], p['wait_writable'], now or "no node"), **result)
        # Once HAProxy was told (its socket and the open session are cheap to ask), every 20 ms; before, each
        # poll is a TLS request to Patroni.
        time.sleep(0.02 if forced else 0.05)
    result['timings']['wait_routed'] = round(time.time() - started, 3)
    resume(module, console, result, session)
    if target:
        target.close()
    module.exit_json(**result)


def resume(module, console, result, session=None):
    """RESUME (a PgBouncer not paused is fine), timed; over the session opened ahead when it is still there."""
    step = time.time()
    answer = session.run("RESUME") if session else None
    rc, out, err = answer if answer is not None else admin(module, "RESUME", check_rc=False, **console)
    if rc != 0 and "not paused" not in (err or out).lower():
        module.fail_json(msg="PgBouncer RESUME failed: %s" % (err or out).strip(), **result)
    result['resumed_at'] = time.time()
    result['timings']['resume'] = round(result['resumed_at'] - step, 3)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type='str', required=True, choices=['pause', 'resume', 'repoint', 'switch', 'follow']),
            target_host=dict(type='str'),
            target_port=dict(type='int', default=5432),
            wait_writable=dict(type='int', default=30),
            fallback_host=dict(type='str'),
            check_user=dict(type='str'),
            check_password=dict(type='str', no_log=True),
            admin_user=dict(type='str', required=True),
            admin_password=dict(type='str', required=True, no_log=True),
            listen_port=dict(type='int', default=6432),
            config=dict(type='path', default='/etc/pgbouncer/pgbouncer.ini'),
            console_host=dict(type='str'),
            router_socket=dict(type='path', default='/run/haproxy/admin.sock'),
            target_address=dict(type='str'),
        ),
        required_if=[('action', 'repoint', ['target_host']), ('action', 'follow', ['target_host']),
                     ('action', 'switch', ['target_host', 'check_user', 'check_password'])],
        supports_check_mode=True,
    )
    p = module.params
    if p['console_host'] and p['action'] not in ('pause', 'resume'):
        module.fail_json(msg="console_host works with action pause or resume only")
    ini = ""
    if not p['console_host']:
        with open(p['config']) as handle:
            ini = handle.read()
    current = (wildcard_target(ini) or {}).get('host')
    result = dict(changed=False, previous_target=current, target=current, timings={})
    console = dict(user=p['admin_user'], password=p['admin_password'], port=p['listen_port'])
    if p['console_host']:
        console['host'] = p['console_host']

    if p['action'] in ('pause', 'resume'):
        result['changed'] = True
        if not module.check_mode:
            rc, out, err = admin(module, p['action'].upper(), check_rc=False, **console)
            text = (err or out).lower()
            if p['console_host']:
                result['console_ok'] = rc == 0 or "already" in text or "not paused" in text
                result['console_error'] = None if result['console_ok'] else (err or out).strip()
                result['changed'] = rc == 0
                if result['console_ok']:
                    msg = "%s on %s:%s done" % (p['action'].upper(), p['console_host'], p['listen_port'])
                else:
                    msg = "%s on %s:%s failed (%s): run psql -h %s -p %s -U %s pgbouncer -c %s" % (
                        p['action'].upper(), p['console_host'], p['listen_port'], result['console_error'],
                        p['console_host'], p['listen_port'], p['admin_user'], p['action'].upper())
                module.exit_json(msg=msg, **result)
            if rc != 0 and not ("already" in text or "not paused" in text):
                module.fail_json(msg="PgBouncer %s failed: %s" % (p['action'].upper(), (err or out).strip()), **result)
            result['changed'] = rc == 0
            result['%sd_at' % p['action']] = time.time()
        module.exit_json(**result)

    if p['action'] == 'follow':
        follow(module, p, console, result, wildcard_target(ini) or {})

    new_ini = repoint_ini(ini, p['target_host'], p['target_port'])
    needs_repoint = new_ini != ini
    if module._diff:
        result['diff'] = {'before': "* -> %s\n" % current, 'after': "* -> %s\n" % p['target_host']}
    result['target'] = p['target_host']
    result['changed'] = needs_repoint or p['action'] == 'switch'
    if module.check_mode:
        module.exit_json(**result)

    started = time.time()
    if p['action'] == 'switch':
        deadline = started + p['wait_writable']
        fallback_down = False
        # The target is polled every 20 ms over one session; the old primary (a failed switch
        # brings it back) every half second with a fresh psql.
        session = open_session(module, p['target_host'], p['target_port'], p['check_user'], p['check_password'])
        fallback_checked = 0
        polls = result['polls'] = {'session': 0, 'fresh': 0}
        while not is_writable(module, p['target_host'], p['target_port'], p['check_user'], p['check_password'],
                              session, polls):
            if p['fallback_host'] and time.time() - fallback_checked >= 0.5:
                fallback_checked = time.time()
                fallback_up = is_writable(module, p['fallback_host'], p['target_port'], p['check_user'],
                                          p['check_password'])
                if fallback_up and fallback_down:
                    admin(module, "RESUME", check_rc=False, **console)
                    result['resumed_at'] = time.time()
                    module.fail_json(msg="the switch failed: %s accepts writes again and %s does not; PgBouncer "
                                         "resumed, still pointing at %s"
                                         % (p['fallback_host'], p['target_host'], current), **result)
                fallback_down = fallback_down or not fallback_up
            if time.time() >= deadline:
                session.close()
                admin(module, "RESUME", check_rc=False, **console)
                result['resumed_at'] = time.time()
                module.fail_json(msg="%s:%s did not accept writes within %d s; PgBouncer still points at %s and "
                                     "was resumed" % (p['target_host'], p['target_port'], p['wait_writable'], current),
                                 **result)
            time.sleep(0.02)
        session.close()
        result['writable_at'] = time.time()
        result['timings']['wait_writable'] = round(result['writable_at'] - started, 3)
    step = time.time()
    if needs_repoint:
        write_atomic(p['config'], new_ini)
        admin(module, "RELOAD", **console)
    result['timings']['repoint'] = round(time.time() - step, 3)
    if p['action'] == 'switch':
        resume(module, console, result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
