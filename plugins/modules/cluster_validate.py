#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_validate
short_description: Check the cluster-wide inputs before anything is changed
version_added: 0.1.0
description:
  - Validates the inventory and the C(pgha_*) settings of a cluster and fails
    with every problem found, each naming its fix. Changes nothing; meant to
    run once on the controller before any host is touched.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  groups:
    description: Role group name to its hosts (C(pgha_postgresql), C(pgha_pgbouncer)).
    type: dict
    required: true
  initial_primaries:
    description: Hosts that set C(pgha_initial_primary=true).
    type: list
    elements: str
    required: true
  settings:
    description:
      - The cluster-wide settings by variable name (unset ones as null). Unset
        ones that have a default take it (see RV(settings)); the cluster name
        and the PostgreSQL version must be set.
    type: dict
    required: true
  secrets:
    description:
      - The secrets by variable name (unset ones as null). Never returned. The
        replication password is needed when there are database nodes, PgBouncer's
        two when there are PgBouncer hosts.
    type: dict
    required: true
  apply_delays:
    description: Database node to its C(pgha_apply_delay) as written (delayed replicas); unset ones may be left out.
    type: dict
    default: {}
  upstreams:
    description: Database node to its C(pgha_upstream) as written (cascading replicas); unset ones may be left out.
    type: dict
    default: {}
  purpose:
    description:
      - V(change) for playbooks that change the cluster, V(read) for read-only
        ones (they need no secret).
    type: str
    choices: [change, read]
    default: change
  backup:
    description:
      - Backup inputs - C(s3_repos) (the C(pgha_backup_s3_repos) entries with C(key) and C(key_secret)
        replaced by whether they are set), C(cipher) (repositories encrypted) and C(cipher_pass_set).
    type: dict
  hosts:
    description:
      - Every inventory host to C(address) (C(pgha_address), else C(ansible_host), else the name) and
        C(settings) (the cluster-wide settings as that host sees them). Enables the safety checks -
        duplicate addresses, colliding or too long slot names, per-host overrides of cluster-wide
        settings, role and cluster names, client networks and parameters that break the guarantees.
    type: dict
  parameters:
    description: C(postgresql_parameters) of the database nodes.
    type: dict
    default: {}
  client_networks:
    description: C(postgresql_hba_client_networks).
    type: list
    elements: raw
    default: []
  archiving:
    description: The cluster has a backup repository (WAL archiving is part of the guarantees).
    type: bool
    default: false
  allow_unsafe:
    description: Parameters the user accepts even though they weaken a guarantee (C(pgha_allow_unsafe_parameters)).
    type: list
    elements: str
    default: []
  texts:
    description:
      - Inventory values that land in a configuration file or a systemd unit, checked so that none can break out
        of it - C(schedules) (OnCalendar expressions), C(paths), C(roles) (extra role names),
        C(pgbouncer_parameters). The secrets (I(secrets)) get the same check, and are never shown.
    type: dict
    default: {}
  monitoring:
    description:
      - The monitoring inputs - C(thresholds) (C(pgha_alert_thresholds)), C(durations) (C(pgha_alert_durations)),
        C(receiver) (C(monitoring_alert_receiver)), C(webhook_url), C(email_to), C(email_from), C(email_smarthost).
    type: dict
    default: {}
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Validate the inputs
  pgha.cluster.cluster_validate:
    groups:
      pgha_postgresql: "{{ groups['pgha_postgresql'] | default([]) }}"
      pgha_pgbouncer: "{{ groups['pgha_pgbouncer'] | default([]) }}"
    initial_primaries: [pg1]
    settings:
      pgha_postgresql_version: 15
    secrets:
      pgha_replication_password: "{{ pgha_replication_password | default(omit) }}"
  no_log: true
'''

RETURN = r'''
settings:
  description:
    - The cluster-wide settings with the defaults of the unset ones applied
      (the secrets are not part of it).
  returned: success
  type: dict
  sample: {"pgha_postgresql_port": 5432, "pgha_sync_mode": "quorum", "pgha_sync_count": 1}
errors:
  description: Problems found (empty when valid).
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.validate import (
    MONITOR_GROUP, config_text_problems, effective_settings, monitoring_problems, validate_backup, validate_inputs,
    validate_safety)


ARGUMENT_SPEC = dict(
    groups=dict(type='dict', required=True),
    initial_primaries=dict(type='list', elements='str', required=True),
    settings=dict(type='dict', required=True),
    secrets=dict(type='dict', required=True, no_log=True),
    purpose=dict(type='str', choices=['change', 'read'], default='change'),
    apply_delays=dict(type='dict', default={}),
    upstreams=dict(type='dict', default={}),
    backup=dict(type='dict'),
    hosts=dict(type='dict'),
    parameters=dict(type='dict', default={}),
    client_networks=dict(type='list', elements='raw', default=[]),
    archiving=dict(type='bool', default=False),
    allow_unsafe=dict(type='list', elements='str', default=[]),
    texts=dict(type='dict', default={}, no_log=False),
    monitoring=dict(type='dict', default={}),
)


def run(p):
    """The module's result for validated parameters (its action plugin runs this on the controller)."""
    errors = validate_inputs(p['groups'], p['initial_primaries'], p['settings'], p['secrets'], p['purpose'],
                             apply_delays=p['apply_delays'], upstreams=p['upstreams'])
    if p['backup'] is not None:
        errors += validate_backup(p['groups'], p['backup'].get('s3_repos') or [], p['backup'].get('cipher', True),
                                  p['backup'].get('cipher_pass_set', False))
    if p['hosts'] is not None:
        errors += validate_safety(p['hosts'], p['groups'], p['parameters'], p['client_networks'], p['archiving'],
                                  p['allow_unsafe'])
    texts = p['texts'] or {}
    errors += config_text_problems(texts.get('schedules'), texts.get('paths'), texts.get('roles'),
                                   texts.get('pgbouncer_parameters'), p['secrets'])
    errors += monitoring_problems(p['groups'], p['monitoring'])
    if errors:
        return dict(failed=True, msg="invalid inputs, nothing was changed:\n- " + "\n- ".join(errors), errors=errors)
    settings = effective_settings(p['settings'], len(p['groups'].get('pgha_postgresql') or []),
                                  len(p['groups'].get(MONITOR_GROUP) or []))
    return dict(changed=False, errors=[], settings=settings)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result = run(module.params)
    if result.get('failed'):
        module.fail_json(**dict((k, v) for k, v in result.items() if k != 'failed'))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
