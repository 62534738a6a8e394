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
  - Reads C(pgbackrest info), the archive listing (C(repo-ls)) and the newest timeline history file
    (C(repo-get)) of one repository and returns its backups, the gaps in the archived WAL along that
    timeline's path (the first and last missing segment of each) and the continuous restorable
    window, from the end of the oldest backup whose WAL runs without a gap to the newest archived
    WAL file. Stretches that a gap cuts off are returned too.
  - Given a recovery target, validates it against that window and chooses the backup set to
    restore from (the newest one that ended before a time or LSN target). A target that is
    unparseable, out of the window or on a timeline the archive does not hold fails the task
    with the window in the message; so does a target past a gap, naming the gap. Changes nothing.
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
  repos:
    description:
      - Read these repositories in one call (status reports) and return each in RV(repos); O(repo) and the
        target options are then not used, and O(plan) must be false.
    type: list
    elements: int
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
  on_error:
    description:
      - C(fail) fails the task when the repository cannot be read; C(report) returns the reason in
        C(error) instead (for status reports that must not stop at one unreadable repository).
    type: str
    choices: [fail, report]
    default: fail
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
  returned: without O(repos)
  type: list
  elements: dict
window:
  description:
    - Continuous restorable window (earliest/latest time and LSN, timelines), with C(gaps) (each with
      C(first_missing), C(last_missing), C(from_lsn), C(to_lsn)), C(runs) (every gap-free stretch that
      starts at a backup), C(continuous) and C(path) (the timelines a restore follows); null without backups.
  returned: without O(repos)
  type: dict
archive:
  description: Archived timelines with their first/last segment and count, and the timeline history files.
  returned: without O(repos)
  type: dict
description:
  description: The window and its gaps in one sentence.
  returned: without O(repos)
  type: str
error:
  description: Why the repository could not be read (with on_error=report).
  returned: when on_error is report and reading failed
  type: str
archive_warnings:
  description: Why archiving the current WAL first failed, if it did.
  returned: always
  type: list
  elements: str
plan:
  description: Validated target, backup set and window.
  returned: when plan is true
  type: dict
repos:
  description:
    - With O(repos), per repository in that order, C(repo) (its number) and what a single read returns
      (C(backups), C(window), C(archive), C(description), and C(error) with on_error=report).
  returned: with O(repos)
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.archive import archive_index, merge_index, newest_timeline
from ansible_collections.pgha.cluster.plugins.module_utils.backup import (
    RestoreError, backups_of, choose_backup, describe_window, parse_target, restorable_window, stanza_entry,
    system_identifier_of)
from ansible_collections.pgha.cluster.plugins.module_utils.pgbackrest import (
    PgBackRestError, archive_listing, info, pgbackrest, repo_get)


def summary(index):
    """Per timeline: first and last archived segment numbers, count, newest time."""
    timelines = []
    for timeline in sorted(index["segments"]):
        numbers = index["segments"][timeline]
        timelines.append({"timeline": timeline, "first": min(numbers), "last": max(numbers),
                          "segments": len(numbers), "last_time": numbers[max(numbers)]})
    return {"timelines": timelines, "history": sorted(index["history"])}


def read_repository(module, p):
    """Backups, archive index and the target timeline's history of one repository."""
    entry = stanza_entry(info(module, p['stanza'], p['repo'], fail=False), p['stanza'])
    if entry is None:
        raise PgBackRestError("stanza %s is not in repo%d" % (p['stanza'], p['repo']))
    backups = backups_of(entry, p['repo'])
    index, history, newest_id = {"segments": {}, "history": {}}, None, None
    for item in entry.get("archive", []):
        if (item.get("database") or {}).get("repo-key") not in (None, p['repo']):
            continue
        if item.get("min"):
            index = merge_index(index, archive_index(archive_listing(module, p['stanza'], item["id"], p['repo'])))
            newest_id = item["id"]
    timeline = p['target_timeline'] if str(p['target_timeline'] or "").isdigit() else None
    wanted = int(timeline) if timeline else newest_timeline(index)
    if wanted and wanted > 1 and wanted in index["history"] and newest_id:
        history = repo_get(module, p['stanza'], "archive/%s/%s/%08X.history" % (p['stanza'], newest_id, wanted),
                           p['repo'])
    return entry, backups, index, history, wanted


def read_window(module, p):
    """(what a read returns: backups, window, archive, description; then the stanza entry, the
    backups and the archive index, for a plan) of repository p['repo']."""
    entry, backups, index, history, timeline = read_repository(module, p)
    window = restorable_window(backups, index, history, timeline)
    return (dict(backups=backups, window=window, archive=summary(index), description=describe_window(window)),
            entry, backups, index)


def unreadable(repo, exc):
    """What a read returns for a repository that cannot be read (on_error=report)."""
    return dict(error=str(exc), backups=[], window=None, archive={}, description="repo%d cannot be read: %s" % (repo, exc))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stanza=dict(type='str', required=True),
            repo=dict(type='int', default=1),
            repos=dict(type='list', elements='int'),
            target=dict(type='str'),
            target_time=dict(type='str'),
            target_lsn=dict(type='str'),
            target_xid=dict(type='str'),
            target_name=dict(type='str'),
            target_timeline=dict(type='str'),
            set=dict(type='str'),
            plan=dict(type='bool', default=False),
            archive_first=dict(type='bool', default=False),
            on_error=dict(type='str', default='fail', choices=['fail', 'report']),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p['repos'] is not None and p['plan']:
        module.fail_json(msg="repos reads repositories for a report: plan a restore with repo")
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
    if p['repos'] is not None:
        read = []
        for repo in p['repos']:
            try:
                read.append(dict(read_window(module, dict(p, repo=repo))[0], repo=repo))
            except PgBackRestError as exc:
                if p['on_error'] != 'report':
                    module.fail_json(msg=str(exc), repos=read)
                read.append(dict(unreadable(repo, exc), repo=repo))
        module.exit_json(changed=False, repos=read, archive_warnings=warnings)
    try:
        result, entry, backups, index = read_window(module, p)
    except PgBackRestError as exc:
        if p['on_error'] == 'report':
            module.exit_json(changed=False, archive_warnings=warnings, **unreadable(p['repo'], exc))
        module.fail_json(msg=str(exc))
    window = result["window"]
    result.update(changed=False, archive_warnings=warnings)
    if p['plan']:
        try:
            if window is None:
                raise RestoreError(describe_window(window) + "; take a backup first (playbooks/backup.yml)")
            result["plan"] = choose_backup(backups, target, index, window, p['target_timeline'], p['set'])
        except RestoreError as exc:
            module.fail_json(msg="restore refused, nothing was changed: %s" % exc, **result)
        result["plan"]["repo"] = p['repo']
        result["plan"]["system_identifier"] = system_identifier_of(entry, result["plan"]["backup"].get("db_id"))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
