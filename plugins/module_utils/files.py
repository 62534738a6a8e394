# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a host's files: one atomic replace for every module, and the pure
decisions of host_files (spec problems, changed tags, unit actions)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shlex
import tempfile


def replace_file(path, data, uid, gid, mode, validate=None):
    """Write data (bytes) to a temporary file next to path, flushed to disk, with its owner
    and mode set, then rename it over path: a reader sees the old file or the new one.
    ``validate``, when given, is called with the temporary file's path before the rename;
    when it raises (or exits), path is left as it was and the temporary file is removed."""
    fd, tmp = tempfile.mkstemp(prefix=".pgha.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        if validate is not None:
            validate(tmp)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path, text):
    """Replace an existing file's content atomically, keeping its mode and owner."""
    st = os.stat(path)
    replace_file(path, text.encode("utf-8"), st.st_uid, st.st_gid, st.st_mode & 0o7777)


def file_problems(specs):
    """What is wrong with host_files' file specs (path, state, content or src, owner, group, mode)."""
    problems = []
    for index, spec in enumerate(specs):
        path = spec.get("path")
        where = "file %d (%s)" % (index, path or "no path")
        if not path or not str(path).startswith("/"):
            problems.append("%s: path must be absolute" % where)
        state = spec.get("state") or "file"
        if state not in ("file", "directory", "absent", "lines_absent"):
            problems.append("%s: state must be file, directory, absent or lines_absent, not %r" % (where, state))
        if state == "lines_absent":
            try:
                re.compile(spec.get("regexp") or "")
            except re.error as exc:
                problems.append("%s: regexp does not compile: %s" % (where, exc))
            if not spec.get("regexp"):
                problems.append("%s: lines_absent needs a regexp" % where)
        if state == "file" and spec.get("content") is None and not spec.get("src"):
            problems.append("%s: a file needs content" % where)
        if spec.get("src") is not None:
            if spec.get("content") is not None:
                problems.append("%s: content or src, not both" % where)
            if not str(spec["src"]).startswith("/"):
                problems.append("%s: src must be an absolute path on the host" % where)
        if spec.get("validate") is not None:
            if state != "file":
                problems.append("%s: validate is for a file's content" % where)
            elif "%s" not in validate_argv(spec["validate"], "%s"):
                problems.append("%s: validate must name the file to check as a word %%s, as in 'promtool check config %%s'"
                                % where)
        mode = spec.get("mode")
        if mode is not None and not _is_mode(mode):
            problems.append("%s: mode must be octal text such as '0644', not %r" % (where, mode))
    return problems


def validate_argv(command, candidate):
    """The words of a file's validate command, each word %s replaced by the candidate's path."""
    try:
        words = shlex.split(str(command))
    except ValueError:
        return []
    return [candidate if word == "%s" else word for word in words]


def _is_mode(mode):
    try:
        return 0 <= int(str(mode), 8) <= 0o7777
    except ValueError:
        return False


def changed_tags(specs, changed_paths):
    """The tags of the specs whose path changed (sorted, each once)."""
    changed = set(changed_paths)
    return sorted(set(spec["tag"] for spec in specs if spec.get("tag") and spec["path"] in changed))


def unit_actions(units, changed_tags_, states):
    """systemctl commands that bring units to what they ask, given their states.

    units: [{name, started, enabled, restart_on, reload_on}]; states: name -> {active, enabled,
    disabled} (booleans; a static unit is both). A unit started here is not restarted again for a
    changed file.
    """
    actions = []
    tags = set(changed_tags_)
    for unit in units:
        name = unit["name"]
        state = states.get(name) or {"active": False, "enabled": False, "disabled": True}
        started, enabled = unit.get("started"), unit.get("enabled")
        if enabled is True and not state["enabled"]:
            actions.append(["enable", name])
        elif enabled is False and not state.get("disabled", not state["enabled"]):
            actions.append(["disable", name])
        if started is True and not state["active"]:
            actions.append(["start", name])
        elif started is False and state["active"]:
            actions.append(["stop", name])
        elif state["active"] and started is not False:
            if unit.get("restart") or tags & set(unit.get("restart_on") or []):
                actions.append(["restart", name])
            elif unit.get("reload") or tags & set(unit.get("reload_on") or []):
                actions.append(["reload", name])
    return actions


def without_lines(text, regexp):
    """text without the lines regexp finds (re.search), keeping the others as they are."""
    pattern = re.compile(regexp)
    return "".join(line for line in text.splitlines(True) if not pattern.search(line.rstrip("\n")))
