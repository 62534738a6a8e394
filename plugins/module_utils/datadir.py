# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data directories pgha replaces are moved aside, never deleted.

A copy is kept next to the data directory as ``DATADIR.pgha-aside-TIME-REASON``
(a rename on the same file system: instant, and the old data stays whole).
Before a move the file system must hold the new copy (a clone or a restore of
about the same size). Removing copies is a separate, explicit step
(``pg_data_aside`` with ``action=prune``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

ASIDE = ".pgha-aside-"
# Also matches DATADIR.pre-restore-EPOCH, the copies in-place restores made before this naming.
_NAME = re.compile(r"^(?P<base>.+?)(?:\.pgha-aside-(?P<stamp>\d{8}T\d{6}Z)-(?P<reason>[a-z0-9-]+)"
                   r"|\.pre-restore-(?P<epoch>\d+))$")
# Room left free on top of the new copy.
MARGIN_BYTES = 256 * 1024 * 1024


def aside_path(data_dir, reason, now):
    """Where ``data_dir`` goes aside (``now`` is an epoch time)."""
    reason = re.sub(r"[^a-z0-9-]+", "-", str(reason).lower()).strip("-") or "replaced"
    return "%s%s%s-%s" % (data_dir.rstrip("/"), ASIDE, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)), reason)


def parse_aside(name):
    """{base, created (epoch), reason} for a copy's name, or None."""
    match = _NAME.match(os.path.basename(name.rstrip("/")))
    if not match:
        return None
    if match.group("stamp"):
        created = int(time.mktime(time.strptime(match.group("stamp"), "%Y%m%dT%H%M%SZ")) - time.timezone)
        reason = match.group("reason")
    else:
        created, reason = int(match.group("epoch")), "pre-restore"
    return {"base": match.group("base"), "created": created, "reason": reason}


def space_problem(free_bytes, needed_bytes, path):
    """A refusal when ``path``'s file system cannot hold ``needed_bytes`` more, else None."""
    if needed_bytes is None:
        return None
    want = int(needed_bytes) + MARGIN_BYTES
    if free_bytes < want:
        return ("%s has %d MiB free; the new copy needs about %d MiB (plus %d MiB margin) while the old one is "
                "kept aside. Free space (or prune older copies with playbooks/aside.yml -e pgha_aside_prune=true) "
                "and run again" % (path, free_bytes >> 20, int(needed_bytes) >> 20, MARGIN_BYTES >> 20))
    return None


def prune_choice(entries, keep):
    """Which copies to remove: all but the ``keep`` newest of each data directory."""
    if keep is None or keep < 0:
        raise ValueError("keep must be a whole number of at least 0")
    by_base = {}
    for entry in entries:
        by_base.setdefault(entry["base"], []).append(entry)
    remove = []
    for base in sorted(by_base):
        ordered = sorted(by_base[base], key=lambda e: (e["created"], e["path"]), reverse=True)
        remove.extend(ordered[keep:])
    return sorted(remove, key=lambda e: e["path"])


# Host side ---------------------------------------------------------------------------------

def free_bytes(path):
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path or "/")
    return st.f_bavail * st.f_frsize


def tree_bytes(path):
    """Bytes under ``path`` (files only; what a new copy of it needs, about)."""
    total = 0
    for root, dummy, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def list_aside(data_dir):
    """Copies of ``data_dir`` kept aside: [{path, base, created, reason}]."""
    parent, base = os.path.split(data_dir.rstrip("/"))
    entries = []
    if not os.path.isdir(parent):
        return entries
    for name in sorted(os.listdir(parent)):
        if not name.startswith(base + ".") or not os.path.isdir(os.path.join(parent, name)):
            continue
        info = parse_aside(name)
        if info and info["base"] == base:
            info["path"] = os.path.join(parent, name)
            info["base"] = data_dir.rstrip("/")
            entries.append(info)
    return entries


def room_problem(data_dir, needed_bytes=None):
    """Whether the file system of ``data_dir`` can hold a new copy of ``needed_bytes``
    (default: the size of ``data_dir`` itself) while it is kept aside: a refusal or None."""
    if needed_bytes is None:
        needed_bytes = tree_bytes(data_dir)
    return space_problem(free_bytes(os.path.dirname(data_dir.rstrip("/"))), needed_bytes, data_dir)


def move_aside(module, data_dir, reason, needed_bytes=None, commands=None):
    """Rename ``data_dir`` aside after the room check (``room_problem``). Fails the
    module (nothing moved) when there is no room. Returns the new path."""
    problem = room_problem(data_dir, needed_bytes)
    if problem:
        module.fail_json(msg="%s is left in place: %s" % (data_dir, problem))
    target = aside_path(data_dir, reason, time.time())
    suffix = 1
    while os.path.exists(target):
        target = "%s-%d" % (aside_path(data_dir, reason, time.time()), suffix)
        suffix += 1
    if commands is not None:
        commands.append(["mv", data_dir, target])
    os.rename(data_dir, target)
    return target
