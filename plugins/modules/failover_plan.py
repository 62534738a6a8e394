#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: failover_plan
short_description: Decide a failover from what the reachable nodes reported
version_added: 0.1.0
description:
  - Runs on the controller and changes nothing. Finds the failed primary (the node PgBouncer
    points at), refuses while a primary still answers unless I(force=true) and that primary is the
    failed node, refuses while any other node answers as a writable primary whatever the flags,
    refuses a I(failed) node that is a running standby or not the node PgBouncer and the standbys use
    (the refusal lists every node's role, timeline and LSN), chooses the standby
    with the highest received LSN (synchronous members first on a tie), refuses when that
    candidate may be missing acknowledged commits unless I(accept_data_loss=true), and decides
    how the failed primary is fenced (stopped over SSH, a fencing command, or not at all only with
    I(accept_unfenced=true)).
  - Where Patroni runs on the database nodes that are up, the plan's C(engine) is C(patroni) - pgha
    still picks the candidate and fences the failed primary (stopping its Patroni first), and Patroni
    promotes the candidate (POST /failover) and re-points the other standbys. The candidate's Patroni
    must answer. A cluster half-way through a change of mode is refused.
  - The new primary's synchronous set counts only live standbys; when fewer than I(sync_count) are
    alive, k is capped (with a warning) so that the new primary can commit.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  nodes:
    description: Host to pg_node_info C(node) result (unreachable hosts as C({unreachable=true})).
    type: dict
    required: true
  addresses:
    description: Host to address.
    type: dict
    required: true
  pooler_targets:
    description: Addresses the PgBouncers point at now.
    type: list
    elements: str
    default: []
  failed:
    description:
      - The failed primary, when it cannot be told from PgBouncer or the standbys. Refused when it is a
        running standby, when another node answers as a writable primary, or when PgBouncer and the
        standbys use another node.
    type: str
  sync_mode:
    description: C(off), C(quorum) or C(priority).
    type: str
    default: quorum
  sync_count:
    description: Synchronous standby count.
    type: int
    default: 1
  force:
    description: Fail over even though the primary answers.
    type: bool
    default: false
  fence_command:
    description: A fencing command is configured (used when the failed primary cannot be reached).
    type: bool
    default: false
  accept_unfenced:
    description: Promote even when the failed primary cannot be fenced.
    type: bool
    default: false
  accept_data_loss:
    description: Promote even when the candidate may miss acknowledged commits.
    type: bool
    default: false
  delayed:
    description:
      - Host to C(pgha_apply_delay) of the delayed replicas (pgha.cluster.apply_delays). They are never synchronous
        members and never chosen as the candidate unless named in I(target).
    type: dict
    default: {}
  upstreams:
    description:
      - Host to C(pgha_upstream) of the cascading replicas (pgha.cluster.upstreams). They are never synchronous members
        nor unnamed candidates; one whose upstream runs keeps streaming from it, one whose upstream failed follows the
        new primary.
    type: dict
    default: {}
  target:
    description: The standby the user named (C(pgha_target)); only lets a delayed or cascading replica be the candidate.
    type: str
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Decide the failover
  pgha.cluster.failover_plan:
    nodes: "{{ nodes }}"
    addresses: "{{ addresses }}"
    pooler_targets: [10.0.0.11]
  register: plan
'''

RETURN = r'''
plan:
  description: The day-2 plan shape (C(operation) failover, C(engine) (C(pgha) or C(patroni)), C(primary) (the failed
    one), C(target) (the candidate), C(repoint), C(steps)) with C(lsn), C(timeline), C(ranking),
    C(may_miss_commits), C(reason),
    C(fence) (stop, command or none), C(followers), C(sync_standbys), C(sync_count),
    C(sync_mode) (the new primary's synchronous set, live members only) and C(warnings).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.operations import (
    OperationError, failed_primary, failover_plan)


ARGUMENT_SPEC = dict(
    nodes=dict(type='dict', required=True),
    addresses=dict(type='dict', required=True),
    pooler_targets=dict(type='list', elements='str', default=[]),
    failed=dict(type='str'),
    sync_mode=dict(type='str', default='quorum'),
    sync_count=dict(type='int', default=1),
    force=dict(type='bool', default=False),
    fence_command=dict(type='bool', default=False),
    accept_unfenced=dict(type='bool', default=False),
    accept_data_loss=dict(type='bool', default=False),
    delayed=dict(type='dict', default={}),
    upstreams=dict(type='dict', default={}),
    target=dict(type='str'),
)


def run(p):
    """The module's result for validated parameters (its action plugin runs this on the controller)."""
    try:
        failed = failed_primary(p['nodes'], p['addresses'], p['pooler_targets'], p['force'], named=p['failed'])
        plan = failover_plan(p['nodes'], failed, p['sync_mode'], p['sync_count'], p['fence_command'],
                             p['accept_unfenced'], p['accept_data_loss'], delayed=p['delayed'], target=p['target'],
                             upstreams=p['upstreams'])
    except OperationError as exc:
        return dict(failed=True, msg="failover refused, nothing was changed: %s" % exc)
    return dict(changed=False, plan=plan, warnings=list(plan['warnings']))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result = run(module.params)
    if result.get('failed'):
        module.fail_json(msg=result['msg'])
    for warning in result.pop('warnings'):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
