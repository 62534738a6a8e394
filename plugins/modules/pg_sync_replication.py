#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_sync_replication
short_description: Set synchronous_standby_names on a primary once enough standbys stream
version_added: 0.1.0
description:
  - Computes C(synchronous_standby_names) for quorum (C(ANY k (...))), priority
    (C(FIRST k (...))) or no synchronous replication, and applies it with
    C(ALTER SYSTEM) and a reload.
  - Turns synchronous replication on only once at least I(count) of the
    standbys stream; otherwise every write on the primary would wait. It waits
    up to I(wait_timeout) seconds for them, then fails with the figures.
extends_documentation_fragment:
  - pgha.cluster.node
options:
  mode:
    description: C(off), C(quorum) or C(priority).
    type: str
    choices: ["off", quorum, priority]
    required: true
  count:
    description: How many standbys must confirm each commit.
    type: int
    default: 1
  standbys:
    description: Standby application names (inventory host names), in priority order.
    type: list
    elements: str
    required: true
  wait_timeout:
    description: Seconds to wait for enough standbys to stream.
    type: int
    default: 60
  preset:
    description:
      - On a standby, write the value now (C(ALTER SYSTEM), reload) without waiting for anyone, so
        that it is in force the moment the standby is promoted, leaving no unprotected window. On a primary
        this option changes nothing.
    type: bool
    default: false
  slots:
    description:
      - Physical replication slots to create where missing (their WAL reserved at once), for the standbys that
        will follow this node. With I(preset), on a standby about to be promoted (switchover target, failover
        candidate), so that it holds their WAL from the moment it is promoted. Created in one statement; not in
        check mode (a slot is not undone by a rollback).
      - Names as pgha.cluster.slot_name makes them (lower-case letters, digits, underscores).
    type: list
    elements: str
    default: []
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
- name: Quorum commit over both standbys
  pgha.cluster.pg_sync_replication:
    version: 15
    mode: quorum
    count: 1
    standbys: [pg2, pg3]

- name: Get a standby ready to be promoted (slots for the others, its synchronous setting in force at once)
  pgha.cluster.pg_sync_replication:
    version: 15
    mode: quorum
    count: 1
    standbys: [pg1, pg3]
    slots: [pg1, pg3]
    preset: true
'''

RETURN = r'''
value:
  description: The synchronous_standby_names value now in force (or that would be).
  returned: always
  type: str
previous:
  description: The value before.
  returned: always
  type: str
streaming:
  description: Standbys streaming when the decision was made.
  returned: always
  type: list
  elements: str
slots_created:
  description: The slots of I(slots) that were missing and were created.
  returned: always
  type: list
  elements: str
replicas:
  description: pg_stat_replication rows after the change (application_name, state, sync_state).
  returned: always
  type: list
  elements: dict
'''

import atexit
import json
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import (
    create_slots, local_session, node_argument_spec, pg_paths, session_query)
from ansible_collections.pgha.cluster.plugins.module_utils.topology import quote_setting, sync_enable_decision

STATE_SQL = ("SELECT json_build_object('in_recovery', pg_is_in_recovery(), "
             "'value', current_setting('synchronous_standby_names'), "
             "'replicas', (SELECT coalesce(json_agg(json_build_object('application_name', application_name, "
             "'state', state, 'sync_state', sync_state) ORDER BY application_name), '[]'::json) "
             "FROM pg_stat_replication))")


def read_state(module, session, bin_dir, port):
    rc, out, err = session_query(module, session, bin_dir, port, STATE_SQL)
    if rc != 0:
        module.fail_json(msg="cannot read replication state on port %s: %s" % (port, err.strip()))
    return json.loads(out.strip())


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            mode=dict(type='str', required=True, choices=['off', 'quorum', 'priority']),
            count=dict(type='int', default=1),
            standbys=dict(type='list', elements='str', required=True),
            wait_timeout=dict(type='int', default=60),
            preset=dict(type='bool', default=False),
            slots=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    bin_dir = pg_paths(p["version"], p["cluster"], bin_dir=p["bin_dir"])["bin_dir"]
    try:
        sync_enable_decision(p["mode"], p["count"], p["standbys"], [])
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    # One psql session for every statement (on a critical path: failover, switchover).
    session = local_session(bin_dir, p["port"])
    atexit.register(session.close)
    state = read_state(module, session, bin_dir, p["port"])
    if state["in_recovery"] and not p["preset"]:
        module.fail_json(msg="this node is a standby: synchronous_standby_names is set on the primary "
                             "(or preset on a standby about to be promoted, with preset=true)")
    slots_created = [] if module.check_mode else create_slots(module, session, bin_dir, p["port"], p["slots"])

    deadline = time.time() + p["wait_timeout"]
    while True:
        streaming = [r["application_name"] for r in state["replicas"] if r["state"] == "streaming"]
        decision = sync_enable_decision(p["mode"], p["count"], p["standbys"], streaming)
        if decision["value"] == state["value"] or decision["ready"] or module.check_mode \
                or state["in_recovery"] or time.time() >= deadline:
            break
        time.sleep(1)
        state = read_state(module, session, bin_dir, p["port"])

    result = dict(changed=decision["value"] != state["value"] or bool(slots_created), value=decision["value"],
                  previous=state["value"], streaming=decision["streaming"], replicas=state["replicas"],
                  slots_created=slots_created)
    if module._diff:
        result["diff"] = {"before": "synchronous_standby_names = '%s'\n" % state["value"],
                          "after": "synchronous_standby_names = '%s'\n" % decision["value"]}
    if decision["value"] == state["value"] or module.check_mode:
        module.exit_json(**result)
    if not decision["ready"] and not state["in_recovery"]:
        module.fail_json(
            msg="synchronous replication (%s) left off: %d of %d standbys stream (%s), %d needed; "
                "missing: %s. Enabling it now would make every write wait. Check those standbys "
                "(pg_node_info, their PostgreSQL log) and run again"
                % (decision["value"], len(decision["streaming"]), len(p["standbys"]),
                   ", ".join(decision["streaming"]) or "none", p["count"], ", ".join(decision["missing"])),
            **result)

    for sql in ("ALTER SYSTEM SET synchronous_standby_names = %s" % quote_setting(decision["value"]),
                "SELECT pg_reload_conf()"):
        rc, out, err = session_query(module, session, bin_dir, p["port"], sql)
        if rc != 0:
            module.fail_json(msg="%s failed: %s" % (sql, err.strip()), **result)
    # The reload is asynchronous: wait until the server reports the new value.
    deadline = time.time() + 10
    while time.time() < deadline:
        state = read_state(module, session, bin_dir, p["port"])
        if state["value"] == decision["value"]:
            break
        time.sleep(0.2)
    result["replicas"] = state["replicas"]
    module.exit_json(**result)


if __name__ == '__main__':
    main()
