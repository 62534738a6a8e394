# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions that turn what the nodes reported into the status report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time

from ansible_collections.pgha.cluster.plugins.module_utils.alerts import THRESHOLDS
from ansible_collections.pgha.cluster.plugins.module_utils.archive import describe_gap
from ansible_collections.pgha.cluster.plugins.module_utils.topology import lag_bytes, running_primaries, upstream_host

COLUMNS = ("host", "role", "timeline", "lsn", "lag_bytes", "sync_state", "upstream")
VERDICTS = ("healthy", "degraded", "down")
# What status expects when the caller says nothing (status.yml passes the
# inventory's pgha_sync_* and pgha_status_* settings).
EXPECT_DEFAULTS = {
    "sync_mode": "off",
    "sync_count": 0,
    # The alert rules' thresholds (pgha_alert_thresholds): the newest backup of each
    # repository, the newest restore drill (its report on the controller), a
    # standby's replay lag in bytes.
    "backup_max_age_hours": THRESHOLDS["backup_max_age_hours"][0],
    "drill_max_age_days": THRESHOLDS["drill_max_age_days"][0],
    "lag_bytes": THRESHOLDS["lag_bytes"][0],
    # Delayed replicas (their replay lag is by design).
    "delayed": [],
    # Alerts Prometheus reports firing (None: no monitor host, or not asked).
    "alerts": None,
    "drill": None,
    "drill_hosts": False,
    "now": None,
}


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
            "latest_backup": _latest_backup(result.get("backups") or []),
        })
    return archives


def _latest_backup(backups):
    """Label, type and stop time (epoch seconds) of the newest backup set."""
    done = [b for b in backups if b.get("stop_time") is not None]
    if not done:
        return None
    newest = max(done, key=lambda b: b["stop_time"])
    return {"label": newest.get("label"), "type": newest.get("type"), "stop_time": newest["stop_time"]}


# Patroni reaches etcd every loop (1 s here); longer than this without it, a node can neither hold nor take the
# leader key.
DCS_UNSEEN_SECONDS = 10


def etcd_view(views, by_address):
    """etcd as the Patroni nodes see it (``views``: host -> its Patroni's view):
    each member healthy when any node saw it answer healthy (a node cut off sees
    none), else the first reason given. None when no node asked."""
    members = {}
    for host in sorted(views):
        for endpoint, health in sorted((views[host].get("etcd") or {}).items()):
            name = by_address.get(endpoint.rsplit(":", 1)[0].strip("[]"), endpoint)
            if health is True:
                members[name] = True
            else:
                members.setdefault(name, "%s (from %s)" % (health, host))
    if not members:
        return None
    return {"members": members, "healthy": sum(1 for v in members.values() if v is True), "total": len(members)}


def build_status(nodes, addresses, bouncers, archives=None, expect=None):
    """Status document from pg_node_info results (host -> node), node addresses
    (host -> address), pgbouncer_info results (host -> info) and, optionally,
    the backup repositories (archive_status) and what the cluster is expected
    to have (``expect``: see EXPECT_DEFAULTS). Its ``verdict`` is healthy,
    degraded or down, with the ``reasons``."""
    expect = dict(EXPECT_DEFAULTS, **dict((k, v) for k, v in (expect or {}).items() if v is not None))
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
        rows.append({
            "host": host, "role": role, "up": bool(node.get("up")), "timeline": node.get("timeline"),
            "lsn": lsn, "lag_bytes": lag, "sync_state": sync,
            "upstream": upstream_host(node, addresses) if node.get("role") == "standby" else None,
            "streaming": (node.get("upstream") or {}).get("status") == "streaming",
            "archiver": node.get("archiver") if node.get("role") == "primary" else None,
            "fenced": bool(node.get("fenced")),
        })
    poolers = []
    for host in sorted(bouncers):
        info = bouncers[host] or {}
        target = info.get("target")
        router = info.get("router")
        if router and target not in by_address:
            # Through HAProxy (automatic mode): where it forwards is where clients go.
            target = router.get("routed_to")
            if isinstance(target, list):
                target = ",".join(by_address.get(t, t) for t in target)
        poolers.append({"host": host, "active": bool(info.get("active")),
                        "port": info.get("listen_port"), "target": by_address.get(target, target),
                        "via": "haproxy" if router and info.get("target") not in by_address else None,
                        "serving": info.get("serving"), "unreachable": bool(info.get("unreachable"))})
    # Who fails over: Patroni where it runs (pgha_failover_mode: automatic), else an operator.
    patroni = sorted(h for h in nodes if (nodes[h] or {}).get("supervisor") == "patroni")
    # Each Patroni's own view (pg_node_info's patroni_member).
    views = dict((h, (nodes[h] or {}).get("patroni") or {}) for h in patroni)
    paused = sorted(h for h in patroni if views[h].get("pause"))
    # What the leader's Patroni records as synchronous (None when no node reported Patroni's shared view).
    shared = [views[h] for h in patroni if "synchronous" in views[h]]
    recorded = shared[0]["synchronous"] if shared else None
    status = {
        "failover": {"mode": "automatic" if patroni else "manual", "patroni": patroni, "paused": paused,
                     "synchronous": recorded, "etcd": etcd_view(views, by_address),
                     "dcs_unseen": dict((h, views[h]["dcs_seen_ago"]) for h in patroni
                                        if (views[h].get("dcs_seen_ago") or 0) > DCS_UNSEEN_SECONDS)},
        "primary": primaries[0] if len(primaries) == 1 else None,
        "primaries": primaries,
        "synchronous_standby_names": (primary or {}).get("synchronous_standby_names"),
        "nodes": rows,
        "poolers": poolers,
        "archives": archives or [],
        "expect": expect,
    }
    now = expect.get("now")
    status["problems"] = problems(status) + expectation_problems(status, time.time() if now is None else now)
    status["warnings"] = warnings(status)
    status["verdict"], status["reasons"] = verdict(status)
    status["healthy"] = status["verdict"] == "healthy"
    alerts = expect.get("alerts")
    status["alerts"] = firing_alerts(alerts) if alerts is not None else None
    disagreement = alert_disagreement(status)
    if disagreement:
        status["warnings"].append(disagreement)
    return status


def verdict(status):
    """(verdict, reasons): down when clients cannot write (no single writable
    primary, or no PgBouncer that routes writes), degraded on any other
    problem, healthy otherwise."""
    reasons = list(status["problems"])
    down = len(status["primaries"]) != 1
    poolers = status["poolers"]
    if status["primary"] and poolers and all(pooler_problem(p, status["primary"]) for p in poolers):
        down = True
        reasons.insert(0, "no PgBouncer routes writes to the primary %s: clients cannot write" % status["primary"])
    if down:
        return "down", reasons
    return ("degraded" if reasons else "healthy"), reasons


def report_epoch(report):
    """Epoch seconds of a restore report's start ('YYYY-MM-DD HH:MM:SS.ffffff+00', UTC)."""
    text = str((report or {}).get("started") or "")
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            moment = datetime.datetime.strptime(text.split("+", maxsplit=1)[0].strip(), fmt)
        except ValueError:
            continue
        return (moment - datetime.datetime(1970, 1, 1)).total_seconds()
    return None


def _age(now, then):
    return None if then is None else max(0.0, float(now) - float(then))


def _hours(seconds):
    return "%.1f h" % (seconds / 3600.0)


def expectation_problems(status, now):
    """What falls short of the expected: standbys that do not stream, fewer
    synchronous standbys than k, archiving that fails, a newest backup or
    restore drill that is too old or failed."""
    expect = status["expect"]
    found = []
    primary = status["primary"]
    for row in status["nodes"]:
        # pgha.fenced: a failed primary fenced by failover.yml or by the boot guard. Nothing re-points it
        # until rejoin.yml has checked it with pg_rewind and cleared the marker.
        if row.get("fenced"):
            found.append("%s is fenced as a former primary (pgha.fenced, timeline %s): site.yml, switchover.yml and "
                         "rolling.yml refuse to re-point it until it is rejoined: run rejoin.yml -e pgha_target=%s"
                         % (row["host"], row.get("timeline"), row["host"]))
    if primary:
        for row in status["nodes"]:
            if row["host"] == primary:
                continue
            if row["role"] == "unreachable":
                found.append("database node %s cannot be reached" % row["host"])
            elif not row["up"]:
                found.append("standby %s is not running (%s)" % (row["host"], row["role"]))
            elif row["role"] == "standby" and not row.get("streaming"):
                found.append("standby %s does not stream (its WAL receiver is not streaming; upstream %s)"
                             % (row["host"], row.get("upstream") or "none"))
        limit = expect.get("lag_bytes")
        for row in status["nodes"]:
            if (limit and row["role"] == "standby" and row.get("lag_bytes") is not None
                    and row["lag_bytes"] > float(limit) and row["host"] not in (expect.get("delayed") or [])):
                found.append("standby %s has %d bytes of WAL not replayed, more than %d (pgha_alert_thresholds.lag_bytes)"
                             % (row["host"], row["lag_bytes"], int(float(limit))))
        mode = str(expect.get("sync_mode") or "off")
        k = int(expect.get("sync_count") or 0)
        if mode in ("quorum", "priority") and k > 0:
            sync = [r["host"] for r in status["nodes"] if r.get("sync_state") in ("sync", "quorum")]
            if len(sync) < k:
                found.append("%d synchronous standby(s) (%s) where %s needs %d: commits wait until %d confirm"
                             % (len(sync), ", ".join(sync) or "none", mode, k, k))
        for row in status["nodes"]:
            archiver = row.get("archiver") or {}
            if row["host"] != primary or archiver.get("archive_mode") in (None, "off"):
                continue
            failed, archived = archiver.get("last_failed_time"), archiver.get("last_archived_time")
            if failed is not None and (archived is None or failed >= archived):
                found.append("archiving fails on %s: WAL %s failed %s ago (last success: %s); WAL piles up in "
                             "pg_wal until it works again"
                             % (primary, archiver.get("last_failed_wal") or "?", _hours(_age(now, failed)),
                                "%s, %s ago" % (archiver.get("last_archived_wal"), _hours(_age(now, archived)))
                                if archived is not None else "never"))
    max_backup = float(expect.get("backup_max_age_hours") or 0) * 3600
    for archive in status.get("archives") or []:
        latest = archive.get("latest_backup")
        if archive.get("error") or not latest or not max_backup:
            continue
        age = _age(now, latest["stop_time"])
        if age > max_backup:
            found.append("repo%s: the newest backup (%s, %s) is %s old, more than %s: check the backup timers "
                         "(pgha-backup-*.timer on the repository host) or run playbooks/backup.yml"
                         % (archive["repo"], latest["label"], latest["type"], _hours(age), _hours(max_backup)))
    drill = expect.get("drill")
    if drill:
        started = report_epoch(drill)
        if not drill.get("passed"):
            found.append("the latest restore drill (%s on %s) failed: see its report"
                         % (drill.get("started"), drill.get("host")))
        elif started is not None and expect.get("drill_max_age_days"):
            age = _age(now, started)
            if age > float(expect["drill_max_age_days"]) * 86400:
                days = (drill.get("started"), age / 86400.0, expect["drill_max_age_days"])
                found.append("the latest restore drill (%s) is %.1f days old, more than %s: run playbooks/restore.yml "
                             "-e pgha_restore_mode=drill" % days)
    return found


def pooler_problem(pooler, primary):
    """Why a PgBouncer does not send clients' writes to the primary (None when it does)."""
    if pooler.get("unreachable"):
        return "PgBouncer %s cannot be reached" % pooler["host"]
    if not pooler.get("active"):
        return "PgBouncer %s is not running" % pooler["host"]
    if primary and pooler.get("target") != primary:
        return "PgBouncer %s sends clients to %s, not to the primary %s" % (pooler["host"], pooler.get("target"), primary)
    if pooler.get("serving") == "stalled":
        return ("PgBouncer %s does not answer clients (paused, or its server hangs): resume it with "
                "psql -h %s -p %s -U ADMIN_USER pgbouncer -c RESUME"
                % (pooler["host"], pooler["host"], pooler.get("port") or 6432))
    if pooler.get("serving") in ("read-only", "error"):
        return "PgBouncer %s does not route writes (a client sees: %s)" % (pooler["host"], pooler["serving"])
    return None


def problems(status):
    """What makes the cluster unhealthy, one line each (empty when healthy)."""
    found = []
    if len(status["primaries"]) != 1:
        found.append("%d writable primaries (%s)" % (len(status["primaries"]), ", ".join(status["primaries"]) or "none"))
    failover = status.get("failover") or {}
    if failover.get("patroni"):
        # A running server Patroni does not watch is never failed over to nor from.
        unwatched = [r["host"] for r in status["nodes"] if r["up"] and r["host"] not in failover["patroni"]]
        if unwatched:
            found.append("Patroni does not run on %s (it runs on %s): those nodes are outside automatic failover; "
                         "run site.yml" % (", ".join(unwatched), ", ".join(failover["patroni"])))
        etcd = failover.get("etcd")
        if etcd and etcd["healthy"] < etcd["total"]:
            sick = ", ".join("%s: %s" % (name, why) for name, why in sorted(etcd["members"].items()) if why is not True)
            if etcd["healthy"] <= etcd["total"] // 2:
                found.append("etcd has lost its quorum: %d of %d members answer healthy (%s). Patroni can neither "
                             "keep nor take the leader key: the leader stops accepting writes within Patroni's ttl "
                             "and nothing fails over until a majority is back" % (etcd["healthy"], etcd["total"], sick))
            else:
                found.append("etcd: %d of %d members answer healthy (%s); one more loss and Patroni demotes the "
                             "leader (no etcd majority, no leader key): start it again"
                             % (etcd["healthy"], etcd["total"], sick))
        for host, seconds in sorted((failover.get("dcs_unseen") or {}).items()):
            found.append("Patroni on %s last reached etcd %d s ago: from there it can neither hold nor take the "
                         "leader key (network to the etcd members, or etcd itself)" % (host, seconds))
        if failover.get("paused"):
            found.append("Patroni is paused (maintenance mode, seen on %s): nothing fails over by itself; resume "
                         "it with patronictl -c /etc/patroni/config.yml resume" % ", ".join(failover["paused"]))
        elif status["primary"] and status.get("synchronous_standby_names") and failover.get("synchronous") == []:
            # Strict synchronous mode: only a recorded synchronous standby may be promoted.
            found.append("Patroni records no synchronous standby that streams from %s (synchronous_standby_names = "
                         "%s): if %s failed now nothing would be promoted automatically; see which standby "
                         "does not stream" % (status["primary"], status["synchronous_standby_names"],
                                              status["primary"]))
    for pooler in status["poolers"]:
        problem = pooler_problem(pooler, status["primary"])
        if problem:
            found.append(problem)
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


def firing_alerts(alerts):
    """Prometheus' /api/v1/alerts answer (its data.alerts) as sorted lines: the
    pgha alerts that fire, with the host or standby they name."""
    lines = []
    for alert in alerts or []:
        labels = alert.get("labels") or {}
        if alert.get("state") != "firing" or not str(labels.get("alertname", "")).startswith("Pgha"):
            continue
        where = ", ".join("%s=%s" % (k, labels[k]) for k in ("instance", "standby", "slot", "repo", "database") if k in labels)
        summary = (alert.get("annotations") or {}).get("summary", "")
        lines.append("%s (%s%s): %s" % (labels["alertname"], labels.get("severity", "?"),
                                        ", " + where if where else "", summary))
    return sorted(set(lines))


def alert_disagreement(status):
    """Where the verdict and Prometheus' critical alerts disagree (None when they agree, or no alerts were read).
    Both judge the same facts with the same thresholds; they can differ for a scrape interval or an alert's
    duration, or when Prometheus cannot reach a host this run reached (or the other way round)."""
    if status.get("alerts") is None:
        return None
    critical = [a for a in status["alerts"] if "(critical" in a]
    if status.get("verdict") == "healthy" and critical:
        return "status says healthy but Prometheus fires %s" % "; ".join(critical)
    if status.get("verdict") == "down" and not critical:
        return "status says down but Prometheus fires no critical pgha alert (yet: alerts wait their duration)"
    return None


def warnings(status):
    """What is restorable only in part: gaps that a later backup stepped over
    (targets inside them cannot be restored); a cluster with drill hosts but
    no restore drill on record."""
    found = []
    expect = status.get("expect") or {}
    if expect.get("drill_hosts") and not expect.get("drill") and status.get("archives"):
        found.append("no restore drill on record: an untested backup is a hope; run playbooks/restore.yml "
                     "-e pgha_restore_mode=drill (or schedule it with playbooks/drill_schedule.yml)")
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
    failover = status.get("failover") or {}
    if failover.get("patroni"):
        paused = ", PAUSED" if failover.get("paused") else ""
        lines.append("failover: automatic (Patroni runs on %s)%s" % (", ".join(failover["patroni"]), paused))
        etcd = failover.get("etcd")
        if etcd:
            lines.append("etcd: %d of %d members healthy%s" % (
                etcd["healthy"], etcd["total"], "".join(" (%s DOWN)" % name for name, why
                                                        in sorted(etcd["members"].items()) if why is not True)))
    else:
        lines.append("failover: manual (playbooks/failover.yml)")
    for pooler in status["poolers"]:
        lines.append("pgbouncer %s:%s %s -> %s%s" % (pooler["host"], _cell(pooler["port"]),
                                                     "active" if pooler["active"] else "INACTIVE",
                                                     _cell(pooler["target"])
                                                     + (" via HAProxy" if pooler.get("via") else ""),
                                                     " (clients: %s)" % pooler["serving"] if pooler.get("serving")
                                                     else ""))
    for archive in status.get("archives") or []:
        if not archive.get("error"):
            lines.append("backups repo%s: %s" % (archive["repo"], archive.get("description")))
    if status.get("alerts") is not None:
        lines.append("prometheus: %s" % ("%d pgha alert(s) firing" % len(status["alerts"]) if status["alerts"]
                                         else "no pgha alert firing"))
        lines.extend("  ALERT %s" % alert for alert in status["alerts"])
    for warning in status.get("warnings") or []:
        lines.append("WARNING: %s" % warning)
    verdict_ = status.get("verdict") or ("healthy" if not status.get("problems") else "degraded")
    reasons = status.get("reasons", status.get("problems")) or []
    lines.append("verdict: %s%s" % (verdict_.upper() if verdict_ != "healthy" else verdict_,
                                    " (%d reason%s)" % (len(reasons), "" if len(reasons) == 1 else "s")
                                    if reasons else ""))
    for reason in reasons:
        lines.append("%s: %s" % (verdict_.upper(), reason))
    return lines
