#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pgbackrest_info
short_description: What a pgBackRest repository holds, and a restore plan for a recovery target
version_added: 0.1.0
description:
  - Reads C(pgbackrest info) and the archive listing (C(repo-ls)) of one repository and returns
    its backups and the restorable window, from the end of the oldest backup to the end of the
    newest archived WAL file.
  - Given a recovery target, validates it against that window and chooses the backup set to
    restore from (the newest one that ended before a time or LSN target). A target that is
    unparseable, out of the window or on a timeline the archive does not hold fails the task
    with the window in the message. Changes nothing.
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  stanza:
    description: Stanza name.
    type: str
    required: true
  repo:
    description: Repository number.
    type: int
    default: 1
  target:
    description: C(immediate) (end of the backup) or C(latest) (end of the archived WAL).
    type: str
  target_time:
    description: Recovery target time with an offset, e.g. C(2026-11-21 10:15:00+00).
    type: str
  target_lsn:
    description: Recovery target LSN, e.g. C(0/3000060).
    type: str
  target_xid:
    description: Recovery target transaction id.
    type: str
  target_name:
    description: Recovery target restore point (C(pg_create_restore_point)).
    type: str
  target_timeline:
    description: Timeline to recover along (a number, C(current) or C(latest)).
    type: str
  set:
    description: Restore from this backup set instead of the one chosen for the target.
    type: str
  plan:
    description: Validate the target and return a plan (with no target given, C(latest)).
    type: bool
    default: false
  archive_first:
    description:
      - Before reading the repository (and after the target's form is checked), run
        C(pgbackrest check), which switches the primary's WAL file and waits until it is
        archived, so the newest commits are restorable. A failed check (no primary answers)
        is a warning; the plan then uses what is archived.
    type: bool
    default: false
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Plan a point-in-time restore
  pgha.cluster.pgbackrest_info:
    stanza: main
    plan: true
    target_time: "2026-11-21 10:15:00+00"
  register: restore_info
'''

RETURN = r'''
backups:
  description: Backup sets of the repository, oldest first.
  returned: always
  type: list
  elements: dict
window:
  description: Restorable window (earliest/latest time and LSN, timelines); null without backups.
  returned: always
  type: dict
archive:
  description: Archived timelines with their first/last segment, end LSN and time.
  returned: always
  type: dict
archive_warnings:
  description: Why archiving the current WAL first failed, if it did.
  returned: always
  type: list
  elements: str
plan:
  description: Validated target, backup set and window.
  returned: when plan is true
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.backup import (
    RestoreError, archive_summary, backups_of, choose_backup, describe_window, parse_target, restorable_window,
    stanza_entry, system_identifier_of)
from ansible_collections.pgha.cluster.plugins.module_utils.pgbackrest import archive_listing, info, pgbackrest


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stanza=dict(type='str', required=True),
            repo=dict(type='int', default=1),
            target=dict(type='str'),
            target_time=dict(type='str'),
            target_lsn=dict(type='str'),
            target_xid=dict(type='str'),
            target_name=dict(type='str'),
            target_timeline=dict(type='str'),
            set=dict(type='str'),
            plan=dict(type='bool', default=False),
            archive_first=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    target = None
    if p['plan']:
        # The target's form first: a typo fails before the repository is read.
        try:
            target = parse_target(p['target'], p['target_time'], p['target_lsn'], p['target_xid'], p['target_name'])
        except RestoreError as exc:
            module.fail_json(msg="restore refused, nothing was changed: %s" % exc)
    warnings = []
    if p['archive_first']:
        rc, out, err, dummy = pgbackrest(module, ["--stanza=%s" % p['stanza'], "check"])
        if rc != 0:
            warnings.append("could not archive the current WAL first (pgbackrest check, exit %d): %s"
                            % (rc, (err or out).strip()))
            module.warn(warnings[-1])
    entry = stanza_entry(info(module, p['stanza'], p['repo']), p['stanza'])
    if entry is None:
        module.fail_json(msg="stanza %s is not in repo%d" % (p['stanza'], p['repo']))
    backups = backups_of(entry, p['repo'])
    archive = {"timelines": [], "history": []}
    for item in entry.get("archive", []):
        if (item.get("database") or {}).get("repo-key") not in (None, p['repo']):
            continue
        if item.get("min"):
            listing = archive_listing(module, p['stanza'], item["id"], p['repo'])
            summary = archive_summary(listing)
            archive["timelines"].extend(summary["timelines"])
            archive["history"].extend(summary["history"])
    window = restorable_window(backups, archive)
    result = dict(changed=False, backups=backups, window=window, archive=archive, archive_warnings=warnings)
    if p['plan']:
        try:
            if window is None:
                raise RestoreError(describe_window(window) + "; take a backup first (playbooks/backup.yml)")
            result["plan"] = choose_backup(backups, target, archive, window, p['target_timeline'], p['set'])
        except RestoreError as exc:
            module.fail_json(msg="restore refused, nothing was changed: %s" % exc, **result)
        result["plan"]["repo"] = p['repo']
        result["plan"]["system_identifier"] = system_identifier_of(entry, result["plan"]["backup"].get("db_id"))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
