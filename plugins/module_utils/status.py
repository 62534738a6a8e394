# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions that turn what the nodes reported into the status report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgha.cluster.plugins.module_utils.archive import describe_gap
from ansible_collections.pgha.cluster.plugins.module_utils.topology import lag_bytes, running_primaries

COLUMNS = ("host", "role", "timeline", "lsn", "lag_bytes", "sync_state", "upstream")


def archive_status(results):
    """Per repository, what pgbackrest_info (on_error=report) said of it: the
    restorable window, its gaps, or why it could not be read."""
    archives = []
    for result in results or []:
        repo = result.get("item", result.get("repo"))
        if result.get("skipped"):
            continue
        if result.get("unreachable") or result.get("failed"):
            archives.append({"repo": repo, "error": result.get("msg") or "the host that reads it cannot be reached"})
            continue
        window = result.get("window")
        archives.append({
            "repo": repo, "error": result.get("error"), "description": result.get("description"),
            "backups": len(result.get("backups") or []),
            "continuous": bool(window and window.get("continuous")),
            "earliest_time": (window or {}).get("earliest_time"), "latest_time": (window or {}).get("latest_time"),
            "latest_lsn": (window or {}).get("latest_lsn"), "gaps": (window or {}).get("gaps") or [],
            "has_window": bool(window and window.get("oldest_backup")),
        })
    return archives


def build_status(nodes, addresses, bouncers, archives=None):
    """Status document from pg_node_info results (host -> node), node addresses
    (host -> address), pgbouncer_info results (host -> info) and, optionally,
    the backup repositories (archive_status)."""
    primaries = running_primaries(nodes)
    primary = nodes[primaries[0]] if len(primaries) == 1 else None
    replicas = dict((r.get("application_name"), r) for r in (primary or {}).get("replicas") or [])
    by_address = dict((a, h) for h, a in addresses.items())
    rows = []
    for host in sorted(nodes):
        node = nodes[host]
        if node.get("unreachable"):
            rows.append({"host": host, "role": "unreachable", "up": False, "timeline": None, "lsn": None,
                         "lag_bytes": None, "sync_state": None, "upstream": None})
            continue
        role = node.get("role") if node.get("up") else "down (%s)" % node.get("role")
        lsn = node.get("current_lsn") or node.get("replay_lsn") or node.get("checkpoint_lsn")
        lag, sync = None, None
        if primary is not None and node.get("role") == "standby":
            replica = replicas.get(host)
            if replica:
                lag = replica.get("replay_lag_bytes")
                sync = replica.get("sync_state")
            elif node.get("replay_lsn"):
                lag = lag_bytes(primary.get("current_lsn"), node.get("replay_lsn"))
        upstream = None
        if node.get("role") == "standby":
            upstream = (node.get("upstream") or {}).get("host") or (node.get("primary_conninfo") or {}).get("host")
        rows.append({
            "host": host, "role": role, "up": bool(node.get("up")), "timeline": node.get("timeline"),
            "lsn": lsn, "lag_bytes": lag, "sync_state": sync,
            "upstream": by_address.get(upstream, upstream) if upstream else None,
            "streaming": (node.get("upstream") or {}).get("status") == "streaming",
        })
    poolers = []
    for host in sorted(bouncers):
        info = bouncers[host] or {}
        target = info.get("target")
        poolers.append({"host": host, "active": bool(info.get("active")),
                        "port": info.get("listen_port"), "target": by_address.get(target, target),
                        "serving": info.get("serving"), "unreachable": bool(info.get("unreachable"))})
    status = {
        "primary": primaries[0] if len(primaries) == 1 else None,
        "primaries": primaries,
        "synchronous_standby_names": (primary or {}).get("synchronous_standby_names"),
        "nodes": rows,
        "poolers": poolers,
        "archives": archives or [],
    }
    status["problems"] = problems(status)
    status["warnings"] = warnings(status)
    status["healthy"] = not status["problems"]
    return status


def problems(status):
    """What makes the cluster unhealthy, one line each (empty when healthy)."""
    found = []
    if len(status["primaries"]) != 1:
        found.append("%d writable primaries (%s)" % (len(status["primaries"]), ", ".join(status["primaries"]) or "none"))
    for pooler in status["poolers"]:
        if pooler.get("unreachable"):
            found.append("PgBouncer %s cannot be reached" % pooler["host"])
        elif not pooler.get("active"):
            found.append("PgBouncer %s is not running" % pooler["host"])
        elif status["primary"] and pooler.get("target") != status["primary"]:
            found.append("PgBouncer %s sends clients to %s, not to the primary %s"
                         % (pooler["host"], pooler.get("target"), status["primary"]))
        elif pooler.get("serving") == "stalled":
            found.append("PgBouncer %s does not answer clients (paused, or its server hangs): resume it with "
                         "psql -h %s -p %s -U ADMIN_USER pgbouncer -c RESUME"
                         % (pooler["host"], pooler["host"], pooler.get("port") or 6432))
        elif pooler.get("serving") in ("read-only", "error"):
            found.append("PgBouncer %s does not route writes (a client sees: %s)" % (pooler["host"], pooler["serving"]))
    for archive in status.get("archives") or []:
        name = "repo%s" % archive["repo"]
        if archive.get("error"):
            found.append("%s cannot be read: %s" % (name, archive["error"]))
            continue
        if not archive.get("backups"):
            found.append("%s holds no backup: nothing can be restored from it" % name)
        elif not archive.get("has_window"):
            found.append("%s: no backup reaches the newest archived WAL without a gap (%s); repair it with "
                         "playbooks/backup.yml -e pgha_archive_repair=true"
                         % (name, "; ".join(describe_gap(g) for g in archive.get("gaps") or []) or "no WAL archived"))
    return found


def warnings(status):
    """What is restorable only in part: gaps that a later backup stepped over
    (targets inside them cannot be restored)."""
    found = []
    for archive in status.get("archives") or []:
        if archive.get("has_window"):
            for gap in archive.get("gaps") or []:
                found.append("repo%s cannot restore targets inside a gap before its current window: %s"
                             % (archive["repo"], describe_gap(gap)))
    return found


def _cell(value):
    return "-" if value is None or value == "" else str(value)


def render_table(status):
    """Plain-text table lines for a status document."""
    header = ("HOST", "ROLE", "TL", "LSN", "LAG(B)", "SYNC", "UPSTREAM")
    rows = [tuple(_cell(r.get(c)) for c in COLUMNS) for r in status["nodes"]]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    lines = [(fmt % header).rstrip()] + [(fmt % r).rstrip() for r in rows]
    lines.append("synchronous_standby_names: %s" % (_cell(status.get("synchronous_standby_names"))))
    for pooler in status["poolers"]:
        lines.append("pgbouncer %s:%s %s -> %s%s" % (pooler["host"], _cell(pooler["port"]),
                                                     "active" if pooler["active"] else "INACTIVE",
                                                     _cell(pooler["target"]),
                                                     " (clients: %s)" % pooler["serving"] if pooler.get("serving")
                                                     else ""))
    for archive in status.get("archives") or []:
        if not archive.get("error"):
            lines.append("backups repo%s: %s" % (archive["repo"], archive.get("description")))
    for warning in status.get("warnings") or []:
        lines.append("WARNING: %s" % warning)
    for problem in status.get("problems") or []:
        lines.append("UNHEALTHY: %s" % problem)
    return lines
