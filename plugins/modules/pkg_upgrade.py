#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pkg_upgrade
short_description: What a package upgrade would change on a database node, and the upgrade itself
version_added: 0.1.0
description:
  - The step of a rolling upgrade (C(rolling.yml -e pgha_rolling=upgrade)) on one node. With I(state=check)
    reads what C(apt-get dist-upgrade) would upgrade (a simulation, no lock taken) and what the node
    would need then; with I(state=latest) upgrades those packages (keeping the configuration files
    pgha manages) and says whether the host must reboot (C(/run/reboot-required)) or PostgreSQL
    restart (its running postmaster maps a file the upgrade replaced).
  - Packages in I(hold) are never upgraded by it (PgBouncer on a pooler host, unless its restart is
    asked for; restarting it drops its clients' connections).
  - It never restarts or reboots anything itself; the rolling order does, one node at a time.
extends_documentation_fragment:
  - pgha.cluster.attributes
  - pgha.cluster.node
options:
  state:
    description: C(check) (read only) or C(latest) (upgrade).
    type: str
    choices: [check, latest]
    default: check
  update_cache:
    description: Run C(apt-get update) first (not in check mode).
    type: bool
    default: true
  hold:
    description: Package names (or shell patterns) this run never upgrades.
    type: list
    elements: str
    default: []
  only:
    description: When given, the only package names (or shell patterns) this run upgrades.
    type: list
    elements: str
    default: []
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: What would an upgrade change here
  pgha.cluster.pkg_upgrade:
    version: 15
    state: check
    hold: [pgbouncer]
'''

RETURN = r'''
upgrades:
  description: The packages upgraded (state=latest) or that would be (name, old, new).
  returned: always
  type: list
  elements: dict
held:
  description: The packages apt would upgrade that this run leaves (I(hold), I(only)).
  returned: always
  type: list
  elements: dict
needs:
  description: >-
    C(upgrade) (packages to upgrade), C(then) (C(reboot), C(restart) or C(none)) and C(reasons),
    sentences with the packages and versions.
  returned: always
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.pg import node_argument_spec, pg_paths, postmaster_pid
from ansible_collections.pgha.cluster.plugins.module_utils.upgrade import (
    deleted_mappings, parse_simulation, select_upgrades, upgrade_needs)

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LANG": "C", "LC_ALL": "C"}
REBOOT_FLAG = "/run/reboot-required"


def apt(module, argv, what):
    rc, out, err = module.run_command(["apt-get"] + argv, environ_update=APT_ENV)
    if rc != 0:
        module.fail_json(msg="%s failed (apt-get %s, rc %d): %s" % (what, " ".join(argv), rc, (err or out).strip()[-2000:]))
    return out


def simulate(module, p):
    out = apt(module, ["-s", "-q", "-o", "Debug::NoLocking=1", "dist-upgrade"], "the upgrade simulation")
    return select_upgrades(parse_simulation(out), hold=p['hold'], only=p['only'])


def read(path, default=""):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return default


def stale_files(data_dir):
    """The replaced files the running postmaster maps, or None when no server runs."""
    pid = postmaster_pid(data_dir)
    if pid is None:
        return None
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        exe = ""
    return deleted_mappings(read("/proc/%d/maps" % pid), exe)


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            state=dict(type='str', choices=['check', 'latest'], default='check'),
            update_cache=dict(type='bool', default=True),
            hold=dict(type='list', elements='str', default=[]),
            only=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    if p['update_cache'] and not module.check_mode:
        apt(module, ["update", "-q"], "apt-get update")
    todo, held = simulate(module, p)
    result = dict(changed=False, upgrades=todo, held=held)
    if p['state'] == 'latest' and todo and not module.check_mode:
        names = [pkg["name"] for pkg in todo if pkg.get("old")]
        apt(module, ["install", "-y", "-q", "--only-upgrade", "-o", "Dpkg::Options::=--force-confdef",
                     "-o", "Dpkg::Options::=--force-confold"] + names, "the upgrade")
        result['changed'] = True
        left, held = simulate(module, p)
        result['held'] = held
        if left:
            module.fail_json(msg="apt still has upgrades for %s after the upgrade: see apt's log"
                                 % ", ".join("%s %s" % (x["name"], x["new"]) for x in left), **result)
    stale = stale_files(paths['data_dir'])
    reboot_packages = [line.strip() for line in read(REBOOT_FLAG + ".pkgs").splitlines() if line.strip()]
    result['needs'] = upgrade_needs(todo, os.path.exists(REBOOT_FLAG), reboot_packages, stale or [],
                                    stale is not None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
