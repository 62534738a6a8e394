#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pgbackrest_stanza
short_description: Create a pgBackRest stanza when a repository lacks it, and check archiving
version_added: 0.1.0
description:
  - Reads C(pgbackrest info) first and runs C(stanza-create) only for a stanza that a
    repository does not hold yet, so a re-run reports no change.
  - With O(check=true) runs C(pgbackrest check), which switches the primary's WAL file and waits
    until it is archived in every repository; a failure fails the task with pgBackRest's message.
  - Runs where pgBackRest reaches the database nodes (the repository host, or a database node).
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  stanza:
    description: Stanza name (the cluster name).
    type: str
    required: true
  check:
    description: Verify archiving with C(pgbackrest check) after the stanza exists.
    type: bool
    default: true
  check_required:
    description:
      - Fail when the check fails. With V(false) a failed check (say, no primary answers during a
        disaster) is returned as C(check_error) and a warning.
    type: bool
    default: true
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Stanza and archiving check
  pgha.cluster.pgbackrest_stanza:
    stanza: main
'''

RETURN = r'''
repos:
  description: Repository key to its status message before the run.
  returned: always
  type: dict
created:
  description: Whether C(stanza-create) ran (or would run in check mode).
  returned: always
  type: bool
backups:
  description: Repository key to how many backups of the stanza it holds (before the run).
  returned: always
  type: dict
check_error:
  description: Why the check failed (only with check_required false).
  returned: when the check failed
  type: str
check_seconds:
  description: How long C(pgbackrest check) took (WAL switched and archived).
  returned: when check ran
  type: float
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.backup import backups_of, stanza_entry
from ansible_collections.pgha.cluster.plugins.module_utils.pgbackrest import info, pgbackrest

# pgBackRest's info status codes that mean the stanza is not in a repository.
MISSING = (1, 3)


def repo_status(entry):
    repos = {}
    for repo in (entry or {}).get("repo", []):
        repos[str(repo.get("key"))] = repo.get("status", {})
    return repos


def main():
    module = AnsibleModule(
        argument_spec=dict(stanza=dict(type='str', required=True), check=dict(type='bool', default=True),
                           check_required=dict(type='bool', default=True)),
        supports_check_mode=True,
    )
    stanza = module.params['stanza']
    entry = stanza_entry(info(module, stanza), stanza)
    repos = repo_status(entry)
    missing = entry is None or not repos or any(s.get("code") in MISSING for s in repos.values())
    result = dict(changed=missing, created=missing,
                  repos=dict((k, s.get("message")) for k, s in repos.items()),
                  backups=dict((k, len(backups_of(entry, k))) for k in repos))
    if module.check_mode:
        module.exit_json(**result)
    if missing:
        pgbackrest(module, ["--stanza=%s" % stanza, "stanza-create"], check_rc=True)
    if module.params['check']:
        rc, out, err, seconds = pgbackrest(module, ["--stanza=%s" % stanza, "check"])
        if rc != 0:
            message = "pgbackrest check failed (exit %d): %s" % (rc, (err or out).strip())
            if module.params['check_required']:
                module.fail_json(msg="archiving does not work: " + message, **result)
            result["check_error"] = message
            module.warn(message)
        result["check_seconds"] = round(seconds, 2)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
