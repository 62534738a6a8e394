# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of a rolling package upgrade (rolling.yml -e pgha_rolling=upgrade):
what apt would upgrade on a node, which of it is held back (PgBouncer on a
pooler host unless its restart is asked for), and what the node needs once
the packages are in: a reboot (the host says so), a restart of PostgreSQL (its
running postmaster maps a file the upgrade replaced), or nothing.

Nothing here touches a host: the module pkg_upgrade reads apt's simulation,
/run/reboot-required and /proc, and acts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import re

# apt-get -s: "Inst name [old] (new release [arch])", "Inst name (new release [arch])" for a new one.
_INST = re.compile(r"^Inst (?P<name>\S+)(?: \[(?P<old>[^\]]+)\])? \((?P<new>\S+)")

# The packages whose upgrade restarts a service clients hold connections to.
POOLER_PACKAGES = ("pgbouncer",)


def parse_simulation(text):
    """apt-get -s dist-upgrade output -> [{name, old, new}] (old None for a package new to the host)."""
    found = []
    for line in (text or "").splitlines():
        match = _INST.match(line.strip())
        if match:
            found.append({"name": match.group("name"), "old": match.group("old"), "new": match.group("new")})
    return found


def select_upgrades(simulated, hold=(), only=()):
    """Split what apt would do into (to_upgrade, held): ``hold`` names (or
    shell patterns) never upgraded by this run; ``only``, when given, the
    names (or patterns) that may be."""
    def matches(name, patterns):
        return any(fnmatch.fnmatchcase(name, p) for p in patterns)
    todo, held = [], []
    for pkg in simulated or []:
        name = pkg["name"].split(":", 1)[0]
        if matches(name, hold) or (only and not matches(name, only)):
            held.append(pkg)
        else:
            todo.append(pkg)
    return todo, held


def deleted_mappings(maps_text, exe_link=""):
    """The files a running process still maps that were replaced or removed
    on disk (``/proc/PID/maps`` lines ending in "(deleted)", and its
    executable): a restart is needed for it to run the new ones."""
    found = set()
    if exe_link.endswith(" (deleted)"):
        found.add(exe_link[:-len(" (deleted)")])
    for line in (maps_text or "").splitlines():
        if not line.endswith(" (deleted)"):
            continue
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/"):
            path = parts[5][:-len(" (deleted)")]
            # Shared memory and memfd segments are "deleted" files by design.
            if not path.startswith(("/dev/shm/", "/memfd:", "/SYSV", "/dev/zero")):
                found.add(path)
    return sorted(found)


def upgrade_needs(upgrades, reboot_required, reboot_packages, stale_files, server_running):
    """What a node needs: ``{"upgrade": bool, "then": "reboot"|"restart"|"none", "reasons": [...]}``.

    A reboot the host asks for (``/run/reboot-required``) wins; else a restart
    when the running postmaster maps a replaced file; else nothing (Debian's
    PostgreSQL packages restart their own clusters when they are upgraded)."""
    reasons = []
    if upgrades:
        reasons.append("upgrade %s" % ", ".join("%s %s -> %s" % (p["name"], p.get("old") or "(new)", p["new"])
                                                for p in upgrades))
    if reboot_required:
        then = "reboot"
        reasons.append("the host asks for a reboot (%s)" % (", ".join(reboot_packages) or "/run/reboot-required"))
    elif server_running and stale_files:
        then = "restart"
        reasons.append("PostgreSQL runs replaced files (%s)" % ", ".join(stale_files[:5]))
    else:
        then = "none"
    return {"upgrade": bool(upgrades), "then": then, "reasons": reasons}


def upgrade_pending(checks):
    """Host -> the reasons to upgrade it (its packages, or a reboot or a restart
    it already waits for), from pkg_upgrade's ``state=check`` result per host;
    hosts with nothing to do are left out."""
    pending = {}
    for host, result in sorted((checks or {}).items()):
        needs = (result or {}).get("needs") or {}
        if needs.get("upgrade") or needs.get("then", "none") != "none":
            pending[host] = list(needs.get("reasons") or [])
    return pending


# Where unattended-upgrades and apt read it (after Debian's 50unattended-upgrades).
UNATTENDED_GUARD_PATH = "/etc/apt/apt.conf.d/52pgha-unattended-upgrades"

# The packages whose unattended upgrade would restart a cluster service in place.
CLUSTER_PACKAGES = ("postgresql", "libpq", "pgbouncer", "pgbackrest", "patroni", "etcd", "python3-psycopg")


def unattended_guard_text(packages=CLUSTER_PACKAGES):
    """The apt.conf drop-in that keeps unattended-upgrades off a cluster node's
    own packages and stops it rebooting the host: those go through
    rolling.yml -e pgha_rolling=upgrade, one node at a time, never the primary
    in place. Its blacklist entries are regular expressions matched at the
    start of a package name."""
    lines = ["// Written by pgha.cluster: this host's cluster packages and its reboots go through",
             "// playbooks/rolling.yml -e pgha_rolling=upgrade (one node at a time, never the primary in place).",
             'Unattended-Upgrade::Automatic-Reboot "false";',
             "Unattended-Upgrade::Package-Blacklist {"]
    lines += ['    "^%s";' % name.replace(".", "\\.") for name in packages]
    lines += ["};", ""]
    return "\n".join(lines)
