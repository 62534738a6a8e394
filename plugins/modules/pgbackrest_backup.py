#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pgbackrest_backup
short_description: Take a pgBackRest backup now
version_added: 0.1.0
description:
  - Runs C(pgbackrest backup) into one repository and returns the new backup set as
    C(pgbackrest info) describes it.
  - With O(if_none=true) takes the backup only when the repository holds no backup of the
    stanza yet (the first backup of a site run), so a re-run changes nothing.
  - When the configuration asks for backups from a standby and no standby can serve one, the
    backup is taken from the primary instead (O(standby_fallback)).
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  stanza:
    description: Stanza name.
    type: str
    required: true
  type:
    description: Backup type.
    type: str
    choices: [full, diff, incr]
    default: full
  repo:
    description: Repository number (C(repoN) in pgbackrest.conf).
    type: int
    default: 1
  if_none:
    description: Only when the repository has no backup yet.
    type: bool
    default: false
  standby_fallback:
    description: Retry from the primary when no standby can serve the backup.
    type: bool
    default: true
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: A differential backup into the repository host
  pgha.cluster.pgbackrest_backup:
    stanza: main
    type: diff
    repo: 1
'''

RETURN = r'''
backup:
  description: The new backup set (label, type, times, LSNs, sizes); the newest existing one when none was taken.
  returned: when a backup exists
  type: dict
seconds:
  description: Duration of the backup command.
  returned: when a backup was taken
  type: float
from_primary:
  description: Whether the standby fallback took the backup from the primary.
  returned: when a backup was taken
  type: bool
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.backup import backups_of, stanza_entry
from ansible_collections.pgha.cluster.plugins.module_utils.pgbackrest import info, pgbackrest

NO_STANDBY = ("unable to find a standby", "unable to find standby")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stanza=dict(type='str', required=True),
            type=dict(type='str', default='full', choices=['full', 'diff', 'incr']),
            repo=dict(type='int', default=1),
            if_none=dict(type='bool', default=False),
            standby_fallback=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    before = backups_of(stanza_entry(info(module, p['stanza'], p['repo']), p['stanza']), p['repo'])
    if p['if_none'] and before:
        module.exit_json(changed=False, backup=before[-1])
    if module.check_mode:
        module.exit_json(changed=True, backup=before[-1] if before else None)
    args = ["--stanza=%s" % p['stanza'], "--repo=%d" % p['repo'], "--type=%s" % p['type'], "backup"]
    rc, out, err, seconds = pgbackrest(module, args)
    from_primary = False
    if rc != 0 and p['standby_fallback'] and any(s in (err + out).lower() for s in NO_STANDBY):
        rc, out, err, more = pgbackrest(module, ["--no-backup-standby"] + args)
        seconds += more
        from_primary = True
    if rc != 0:
        module.fail_json(msg="pgbackrest backup (%s into repo%d) failed (exit %d): %s"
                         % (p['type'], p['repo'], rc, (err or out).strip()))
    after = backups_of(stanza_entry(info(module, p['stanza'], p['repo']), p['stanza']), p['repo'])
    new = [b for b in after if b['label'] not in set(x['label'] for x in before)]
    module.exit_json(changed=True, backup=(new or after)[-1], seconds=round(seconds, 2), from_primary=from_primary)


if __name__ == '__main__':
    main()
