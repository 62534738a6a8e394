#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_files
short_description: A role's packages, directories, files and systemd units on a host, in one step
version_added: 0.1.0
description:
  - Brings a host's packages, directories, files and systemd units to what a role asks, in one module
    call instead of a task each (on a re-run with nothing to change, one round trip per host).
  - In this order - files in O(before_packages); missing O(packages) (apt-get without recommended packages;
    the package lists refreshed when older than O(cache_valid_time)); units asked to stop; O(files) (content written atomically, owner and mode
    set); C(systemctl daemon-reload) when a file under C(/etc/systemd) changed; then units enabled,
    started, restarted or reloaded.
  - Files are compared by content, owner, group and mode; a changed file is written to a temporary file
    next to it and renamed over it. C(state=absent) removes a file (never a directory).
  - In check mode reports what it would change (and a diff of every file not marked C(secret)).
extends_documentation_fragment:
  - pgha.cluster.attributes
attributes:
  diff_mode:
    support: full
options:
  packages:
    description: Debian packages that must be installed.
    type: list
    elements: str
    default: []
  cache_valid_time:
    description: Seconds the apt package lists stay fresh; older (or absent) lists are refreshed before installing.
    type: int
    default: 86400
  before_packages:
    description: Files written before the packages are installed (a drop-in that changes what a package does on install).
    type: list
    elements: dict
    default: []
  secret_files:
    description:
      - Files like O(files) whose content is a secret (passwords, keys) - never shown in a diff or in the
        module's output. Written after O(files).
      - Only the content is a secret; the path, owner, group and mode appear in messages like any file's.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file's absolute path.
        type: str
        required: true
      content:
        description: What the file holds.
        type: str
      src:
        description: A file on the host whose bytes the file holds, in place of O(secret_files[].content).
        type: str
      owner:
        description: The file's owner.
        type: str
      group:
        description: The file's group.
        type: str
      mode:
        description: The file's mode, as octal text.
        type: raw
      tag:
        description: A name O(units) and RV(changed_tags) use.
        type: str
      validate:
        description: A check of the new content, as for O(files).
        type: str
  files:
    description:
      - Files and directories. Each has C(path), C(state) (C(file), the default; C(directory); C(absent)),
        C(content) (for a file), C(owner), C(group), C(mode) (octal text), C(secret) (no diff is shown;
        the task should also say no_log) and C(tag), a name that O(units) and the result's RV(changed_tags)
        use.
      - C(src) in place of C(content) is a file on the host whose bytes the file holds (a copy made on the
        host, such as a service's own copy of a key). In check mode a source that does not exist yet (an
        earlier task of the run would write it) makes the file a change, not a failure.
      - C(systemd=true) marks a file outside C(/etc/systemd) that a systemd generator reads (a change
        reloads systemd, as one under C(/etc/systemd) does).
      - C(validate) is a command that checks a file's new content before it replaces the file, the
        word C(%s) standing for the new content's temporary copy next to it (with the file's owner,
        group and mode), as in C(promtool check config %s). It runs only when the content changes;
        when it fails, the file is left as it was and the module fails with its output.
      - C(state=lines_absent) with C(regexp) removes the lines of an existing file that match it (owner
        and mode kept; nothing when the file is not there).
    type: list
    elements: dict
    default: []
  units:
    description:
      - systemd units. Each has C(name), C(started) (true starts, false stops, unset leaves), C(enabled)
        (the same for boot), C(restart_on) and C(reload_on) (tags of O(files); when one of them changed, a
        running unit is restarted or reloaded) and C(restart) or C(reload) (true restarts or reloads it if it
        runs, for a change an earlier step made).
    type: list
    elements: dict
    default: []
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: PgBouncer's files and service
  pgha.cluster.host_files:
    packages: [pgbouncer]
    files:
      - {path: /etc/pgbouncer/pgbouncer.ini, content: "{{ lookup('template', 'pgbouncer.ini.j2') }}",
         owner: root, group: postgres, mode: "0640", tag: config}
    units:
      - {name: pgbouncer.service, started: true, enabled: true, reload_on: [config]}
'''

RETURN = r'''
changed_paths:
  description: The files and directories created, rewritten, re-owned or removed.
  returned: always
  type: list
  elements: str
changed_tags:
  description: The tags of the changed files.
  returned: always
  type: list
  elements: str
installed:
  description: The packages installed.
  returned: always
  type: list
  elements: str
units:
  description: The units this call brought to their asked state (the names of O(units)).
  returned: always
  type: list
  elements: str
unit_actions:
  description: The systemctl commands run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
'''

import grp
import os
import pwd
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.files import (
    changed_tags, file_problems, replace_file, unit_actions, validate_argv, without_lines, write_atomic)

APT_LISTS = "/var/lib/apt/lists"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def _ids(module, spec):
    """(uid, gid) of the spec's owner and group (-1: not asked); None in check mode when one
    does not exist yet (a package installed by this run would create it)."""
    try:
        uid = pwd.getpwnam(spec["owner"]).pw_uid if spec.get("owner") else -1
        gid = grp.getgrnam(spec["group"]).gr_gid if spec.get("group") else -1
    except KeyError as exc:
        if module.check_mode:
            return None
        module.fail_json(msg="host_files: %s: no such user or group on this host: %s" % (spec["path"], exc))
    return uid, gid


def _meta_differs(st, uid, gid, mode):
    return ((uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid)
            or (mode is not None and (st.st_mode & 0o7777) != mode))


def ensure(module, spec, diffs):
    """Bring one path to its spec; True when it changed (or would)."""
    path, state = spec["path"], spec.get("state") or "file"
    mode = int(str(spec["mode"]), 8) if spec.get("mode") is not None else None
    exists = os.path.lexists(path)
    if state == "absent":
        if not exists:
            return False
        if os.path.isdir(path) and not os.path.islink(path):
            module.fail_json(msg="host_files: %s is a directory; pgha removes files only" % path)
        if not module.check_mode:
            os.unlink(path)
        return True
    if state == "lines_absent":
        if not exists:
            return False
        with open(path, "rb") as handle:
            before = handle.read().decode("utf-8", "replace")
        after = without_lines(before, spec["regexp"])
        if after == before:
            return False
        if not module.check_mode:
            write_atomic(path, after)
        return True
    ids = _ids(module, spec)
    if ids is None:
        return True
    uid, gid = ids
    if state == "directory":
        if exists and not os.path.isdir(path):
            module.fail_json(msg="host_files: %s should be a directory but is a file" % path)
        if exists and not _meta_differs(os.stat(path), uid, gid, mode):
            return False
        if not module.check_mode:
            if not exists:
                os.makedirs(path, mode if mode is not None else 0o755)
            os.chown(path, uid, gid)
            if mode is not None:
                os.chmod(path, mode)
        return True
    if spec.get("src"):
        try:
            with open(spec["src"], "rb") as handle:
                content = handle.read()
        except (IOError, OSError) as exc:
            if module.check_mode:
                return True
            module.fail_json(msg="host_files: %s: its source %s cannot be read: %s" % (path, spec["src"], exc))
    else:
        content = spec["content"].encode("utf-8")
    before = None
    if exists:
        if os.path.isdir(path):
            module.fail_json(msg="host_files: %s should be a file but is a directory" % path)
        with open(path, "rb") as handle:
            before = handle.read()
        if before == content and not _meta_differs(os.stat(path), uid, gid, mode):
            return False
    if before != content and not spec.get("secret") and module._diff:
        diffs.append({"before_header": path, "after_header": path,
                      "before": (before or b"").decode("utf-8", "replace"), "after": content.decode("utf-8", "replace")})
    if module.check_mode:
        return True
    if before == content:
        os.chown(path, uid, gid)
        if mode is not None:
            os.chmod(path, mode)
        return True
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        module.fail_json(msg="host_files: %s: its directory %s does not exist (list it first, state=directory)"
                         % (path, directory))
    replace_file(path, content, uid, gid, mode if mode is not None else 0o644, validate=_validator(module, spec))
    return True


def _validator(module, spec):
    """The spec's validate command as replace_file's check of the new content (None without one)."""
    if not spec.get("validate"):
        return None

    def check(candidate):
        argv = validate_argv(spec["validate"], candidate)
        rc, out, err = module.run_command(argv)
        if rc != 0:
            output = (err or out).replace(candidate, spec["path"]).strip()
            module.fail_json(msg="host_files: %s: its new content fails its check (%s, exit %d) and was not written; "
                                 "the file is as it was: %s" % (spec["path"], spec["validate"], rc, output[-2000:]))
    return check


def missing_packages(module, packages):
    if not packages:
        return []
    rc, out, err = module.run_command(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n"] + packages)
    if rc not in (0, 1):
        module.fail_json(msg="host_files: dpkg-query failed (exit %d): %s" % (rc, err.strip()))
    installed = set(line.split()[0] for line in out.splitlines() if line.endswith(" installed"))
    return [name for name in packages if name not in installed]


def install(module, packages):
    try:
        # Minimal images ship without package lists, however fresh their timestamps.
        lists = [os.path.join(APT_LISTS, name) for name in os.listdir(APT_LISTS) if "_Packages" in name]
        fresh = bool(lists) and time.time() - max(os.path.getmtime(path) for path in lists) < module.params['cache_valid_time']
    except OSError:
        fresh = False
    if not fresh:
        rc, out, err = module.run_command(["apt-get", "update", "-q"], environ_update=APT_ENV)
        if rc != 0:
            module.fail_json(msg="host_files: apt-get update failed (exit %d): %s" % (rc, (err or out).strip()[-2000:]))
    rc, out, err = module.run_command(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confdef", "-o",
         "Dpkg::Options::=--force-confold"] + packages, environ_update=APT_ENV)
    if rc != 0:
        module.fail_json(msg="host_files: installing %s failed (exit %d): %s"
                         % (" ".join(packages), rc, (err or out).strip()[-2000:]))


def unit_state(module, name):
    active = module.run_command(["systemctl", "is-active", "--quiet", name])[0] == 0
    out = module.run_command(["systemctl", "is-enabled", name])[1].strip()
    # static, indirect, generated: nothing to enable or disable.
    return {"active": active, "enabled": out in ("enabled", "enabled-runtime", "static", "indirect", "generated", "alias"),
            "disabled": out not in ("enabled", "enabled-runtime")}


def run_units(module, units, tags, actions_done):
    states = dict((unit["name"], unit_state(module, unit["name"])) for unit in units)
    for action in unit_actions(units, tags, states):
        actions_done.append(" ".join(action))
        if module.check_mode:
            continue
        rc, out, err = module.run_command(["systemctl"] + action)
        if rc != 0:
            module.fail_json(msg="host_files: systemctl %s failed (exit %d): %s" % (" ".join(action), rc, (err or out).strip()),
                             unit_actions=actions_done)


# Only a secret file's content is kept out of the output: with the whole list no_log, Ansible masked every
# string in it wherever it appeared (a group named prometheus made /etc/prometheus/x read /etc/********/x).
ARGUMENT_SPEC = dict(
    packages=dict(type='list', elements='str', default=[]),
    cache_valid_time=dict(type='int', default=86400),
    before_packages=dict(type='list', elements='dict', default=[]),
    files=dict(type='list', elements='dict', default=[]),
    secret_files=dict(type='list', elements='dict', default=[], no_log=False, options=dict(
        path=dict(type='str', required=True),
        content=dict(type='str', no_log=True),
        src=dict(type='str'),
        owner=dict(type='str'),
        group=dict(type='str'),
        mode=dict(type='raw'),
        tag=dict(type='str'),
        validate=dict(type='str'),
    )),
    units=dict(type='list', elements='dict', default=[]),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    secret = [dict(spec, secret=True) for spec in p['secret_files']]
    problems = file_problems(p['before_packages'] + p['files'] + secret)
    problems += ["unit %d needs a name" % i for i, unit in enumerate(p['units']) if not unit.get('name')]
    if problems:
        module.fail_json(msg="host_files refused, nothing was changed: " + "; ".join(problems))

    diffs, changed_paths, actions = [], [], []
    for spec in p['before_packages']:
        if ensure(module, spec, diffs):
            changed_paths.append(spec['path'])
    missing = missing_packages(module, p['packages'])
    if missing and not module.check_mode:
        install(module, missing)
    stopping = [unit for unit in p['units'] if unit.get('started') is False]
    run_units(module, stopping, [], actions)
    for spec in p['files'] + secret:
        if ensure(module, spec, diffs):
            changed_paths.append(spec['path'])
    tags = changed_tags(p['before_packages'] + p['files'] + secret, changed_paths)
    systemd_read = set(spec['path'] for spec in p['before_packages'] + p['files'] + secret if spec.get('systemd'))
    if any(path.startswith(("/etc/systemd/", "/lib/systemd/", "/usr/lib/systemd/")) or path in systemd_read
           for path in changed_paths):
        actions.append("daemon-reload")
        if not module.check_mode:
            module.run_command(["systemctl", "daemon-reload"], check_rc=True)
    run_units(module, [unit for unit in p['units'] if unit.get('started') is not False], tags, actions)
    changed = bool(changed_paths or missing or actions)
    module.exit_json(changed=changed, changed_paths=changed_paths, changed_tags=tags, installed=missing,
                     units=[unit['name'] for unit in p['units']], unit_actions=actions, diff=diffs)


if __name__ == '__main__':
    main()
