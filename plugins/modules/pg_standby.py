#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pg_standby
short_description: Make the local node a streaming standby of a primary
version_added: 0.1.0
description:
  - Clones the node with C(pg_basebackup) (WAL streamed, fast checkpoint,
    physical slot, backup manifest verified with C(pg_verifybackup)) when it has
    no data directory, or points an existing standby of the same database system
    at the primary (C(primary_conninfo) with C(application_name), C(primary_slot_name)).
  - A standby already configured for the primary is left alone.
  - A data directory that belongs to another database system is left alone unless
    I(reclone=true); then it is moved aside (after a free-space check), never removed.
    A node that holds a primary data directory of the same cluster is refused (use the
    rejoin playbook).
  - In check mode returns the plan (action and reason) without acting.
extends_documentation_fragment:
  - pgha.cluster.node
  - pgha.cluster.tls
options:
  primary_host:
    description: Address of the primary.
    type: str
    required: true
  primary_port:
    description: Port of the primary.
    type: int
    default: 5432
  primary_system_identifier:
    description:
      - The primary's database system identifier; a local data directory with another one is foreign.
      - Unknown only in check mode on a cluster not created yet; then an existing data directory is not compared.
    type: str
  replication_user:
    description: Role used to stream; its password is read from the postgres user's C(~/.pgpass).
    type: str
    required: true
  application_name:
    description: Name the standby reports to the primary (used in C(synchronous_standby_names)).
    type: str
    required: true
  slot_name:
    description: Physical replication slot on the primary.
    type: str
    required: true
  passfile:
    description: Password file of the postgres user holding the replication password.
    type: path
    default: /var/lib/postgresql/.pgpass
  clean_switchover_lsn:
    description:
      - Set by the switchover playbook on the old primary. A primary data directory is turned into a
        standby (no rewind) only when the server is stopped, shut down cleanly and its last checkpoint
        is exactly this LSN, the shutdown checkpoint the new primary replayed before its promotion.
    type: str
  reclone:
    description: Replace a data directory that belongs to another database system with a fresh clone.
    type: bool
    default: false
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
- name: Clone pg2 from pg1, or leave it alone when it already streams
  pgha.cluster.pg_standby:
    version: 15
    primary_host: 10.0.0.11
    primary_system_identifier: "7301234567890123456"
    replication_user: replicator
    application_name: pg2
    slot_name: pg2
'''

RETURN = r'''
action:
  description: What was (or in check mode would be) done, C(none), C(configure) or C(clone).
  returned: always
  type: str
reason:
  description: Why.
  returned: always
  type: str
node:
  description: The node's state before acting (see M(pgha.cluster.pg_node_info)).
  returned: always
  type: dict
commands:
  description: Commands run (or that would run), as argument lists.
  returned: always
  type: list
  elements: list
clone_seconds:
  description: Wall time of pg_basebackup and verification.
  returned: when cloned
  type: float
kept_aside:
  description: Where the replaced data directory was moved (never removed); null when there was none.
  returned: when cloned
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import inspect_node, node_argument_spec, pg_paths
from ansible_collections.pgha.cluster.plugins.module_utils.tls import tls_argument_spec
from ansible_collections.pgha.cluster.plugins.module_utils.standby import (
    clone, configure, conninfo_text, desired_upstream, register)
from ansible_collections.pgha.cluster.plugins.module_utils.topology import (
    TopologyError, build_conninfo, standby_action)


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            primary_host=dict(type='str', required=True),
            primary_port=dict(type='int', default=5432),
            primary_system_identifier=dict(type='str'),
            replication_user=dict(type='str', required=True),
            application_name=dict(type='str', required=True),
            slot_name=dict(type='str', required=True),
            passfile=dict(type='path', default='/var/lib/postgresql/.pgpass', no_log=False),
            reclone=dict(type='bool', default=False),
            clean_switchover_lsn=dict(type='str'),
            **tls_argument_spec()
        ),
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p["version"], p["cluster"], data_dir=p["data_dir"], bin_dir=p["bin_dir"])
    node = inspect_node(module, p["version"], p["cluster"], p["port"], data_dir=p["data_dir"], bin_dir=p["bin_dir"])
    desired = desired_upstream(p)
    if not p["primary_system_identifier"] and not module.check_mode:
        module.fail_json(msg="the primary's system identifier is unknown: is %s:%s up?"
                             % (p["primary_host"], p["primary_port"]))
    try:
        plan = standby_action(node, {"system_identifier": p["primary_system_identifier"]}, desired, p["reclone"],
                              clean_switchover_lsn=p["clean_switchover_lsn"])
    except TopologyError as exc:
        module.fail_json(msg=str(exc), node=node, action="refuse")

    before = dict(node["primary_conninfo"], slot_name=node["primary_slot_name"])
    result = dict(changed=plan["action"] != "none", action=plan["action"], reason=plan["reason"],
                  node=node, commands=[])
    if module._diff:
        result["diff"] = {
            "before": "primary_conninfo = %s\nprimary_slot_name = %s\n" % (
                build_conninfo(dict((k, v) for k, v in before.items() if k != "slot_name" and v)),
                before.get("slot_name") or ""),
            "after": "primary_conninfo = %s\nprimary_slot_name = %s\n" % (conninfo_text(desired),
                                                                          desired["slot_name"]),
        }
    needs_register = plan["action"] == "clone" or not node["config_exists"]
    result["changed"] = plan["action"] != "none" or needs_register
    if needs_register and plan["action"] == "none":
        result["reason"] += "; registering it with postgresql-common (no configuration in %s)" % paths["conf_dir"]
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    if plan["action"] == "clone":
        result["clone_seconds"], result["kept_aside"] = clone(module, p, paths, node, desired, result["commands"])
    elif plan["action"] == "configure":
        configure(module, p, paths, node, desired, result["commands"])
    if needs_register:
        register(module, p, paths, result["commands"])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
