# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter's documentation is in its own file next to this one (NAME.yml).

from ansible_collections.pgha.cluster.plugins.module_utils.archive import archive_check, repair_plan
from ansible_collections.pgha.cluster.plugins.module_utils.backup import (
    RestoreError, backup_summary, cluster_changes, cluster_fingerprint, drill_host_problem, inplace_confirmation_problem,
    parse_target, render_report)


def s3_repos_public(repos):
    """pgha_backup_s3_repos without the keys: key and key_secret become
    whether they are set (for validation output that must not carry secrets)."""
    if not isinstance(repos, list):
        return repos
    result = []
    for repo in repos:
        if isinstance(repo, dict):
            repo = dict(repo, key=bool(repo.get("key")), key_secret=bool(repo.get("key_secret")))
        result.append(repo)
    return result


def backup_timers(schedules, texts):
    """host_files' files and units of the backup timers.

    schedules: [{type, calendar}]; texts: type -> [service text, timer text]. A type with a
    calendar gets its service and timer, the timer started and enabled; one without has its
    timer stopped and disabled and both units removed.
    """
    files, units = [], []
    for schedule in schedules:
        name = "pgha-backup-%s" % schedule["type"]
        service, timer = texts[schedule["type"]]
        scheduled = bool(schedule.get("calendar"))
        for suffix, text in (("service", service), ("timer", timer)):
            path = "/etc/systemd/system/%s.%s" % (name, suffix)
            if scheduled:
                files.append({"path": path, "content": text, "owner": "root", "group": "root", "mode": "0644"})
            else:
                files.append({"path": path, "state": "absent"})
        units.append({"name": name + ".timer", "started": scheduled, "enabled": scheduled})
    return {"files": files, "units": units}


def restore_target_problem(given):
    """What is wrong with the form of a restore request's target ('' when
    nothing is): given is a dict of target, time, lsn, xid, name."""
    try:
        parse_target(**{key: given.get(key) for key in ("target", "time", "lsn", "xid", "name")})
    except RestoreError as exc:
        return str(exc)
    return ""


def drill_host_problems(drill_nodes, cluster_nodes):
    """Why drills must not touch some pgha_drill hosts (a list, empty when all are scratch hosts)."""
    sysids = set(str(n.get("system_identifier")) for n in (cluster_nodes or {}).values()
                 if isinstance(n, dict) and n.get("system_identifier"))
    problems = []
    for host in sorted(drill_nodes or {}):
        problem = drill_host_problem(host, drill_nodes[host], sysids)
        if problem:
            problems.append(problem)
    return problems


def inplace_confirmation(confirm, nodes, repository_sysid=None):
    """'' when the in-place restore is confirmed with the cluster's system identifier, else the refusal."""
    problem, dummy = inplace_confirmation_problem(confirm, nodes or {}, repository_sysid)
    return problem or ""


def archive_repair_plan(read_results, found_results):
    """From pgbackrest_info results (one per repository, loop item = repo) and
    pg_wal_push results (host -> result): who pushes which segment."""
    gaps = dict((r.get("item"), ((r.get("window") or {}).get("gaps") or [])) for r in read_results or [])
    found = dict((host, (r or {}).get("found") or []) for host, r in (found_results or {}).items())
    return repair_plan(gaps, found)


class FilterModule(object):
    def filters(self):
        return {
            "restore_report_markdown": render_report,
            "backup_summary": backup_summary,
            "backup_timers": backup_timers,
            "archive_check": archive_check,
            "s3_repos_public": s3_repos_public,
            "cluster_fingerprint": cluster_fingerprint,
            "cluster_changes": cluster_changes,
            "restore_target_problem": restore_target_problem,
            "drill_host_problems": drill_host_problems,
            "inplace_confirmation": inplace_confirmation,
            "archive_repair_plan": archive_repair_plan,
        }
