# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Continuity of a WAL archive: which segments a restore along a timeline
reads, which of them the repository holds, the gaps, and the continuous
restorable windows they leave. Pure functions, no Ansible import.

A restore along timeline N reads, for each segment number, the file of the
newest timeline of N's history that had begun by then: the segment holding a
switch point is read from the newer timeline (it carries the older one's WAL
up to the switch). A missing file on that path stops recovery there."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.pgha.cluster.plugins.module_utils.topology import format_lsn, parse_lsn

WAL_SEGMENT_SIZE = 16 * 1024 * 1024
SEGMENTS_PER_LOG = 0x100000000 // WAL_SEGMENT_SIZE
_WAL_NAME = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?(-[0-9a-f]{40})?(\.\w+)?$")
_HISTORY = re.compile(r"^([0-9A-F]{8})\.history$")


def wal_segment(name, segment_size=WAL_SEGMENT_SIZE):
    """(timeline, segment number) of a WAL file name in a repository listing;
    None for anything else."""
    match = _WAL_NAME.match(name.rsplit("/", 1)[-1])
    if not match:
        return None
    timeline, log, seg = (int(part, 16) for part in match.groups()[:3])
    return timeline, log * (0x100000000 // segment_size) + seg


def segment_name(timeline, number, segment_size=WAL_SEGMENT_SIZE):
    per_log = 0x100000000 // segment_size
    return "%08X%08X%08X" % (timeline, number // per_log, number % per_log)


def segment_of(lsn, segment_size=WAL_SEGMENT_SIZE):
    """Segment number holding an LSN (text or int)."""
    value = parse_lsn(lsn) if not isinstance(lsn, int) else lsn
    return value // segment_size


def parse_history(text):
    """A timeline history file: [{parent, switch_lsn}] oldest first."""
    result = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit() and re.match(r"^[0-9A-Fa-f]+/[0-9A-Fa-f]+$", parts[1]):
            result.append({"parent": int(parts[0]), "switch_lsn": parse_lsn(parts[1].upper())})
    return result


def archive_index(listing, segment_size=WAL_SEGMENT_SIZE):
    """A `repo-ls --recurse --output=json` of one archive id: {segments:
    {timeline: {number: archive time}}, history: {timeline: time}}. Partial
    segments and backup history files are not restorable WAL."""
    segments, history = {}, {}
    for path, entry in (listing or {}).items():
        base = path.rsplit("/", 1)[-1]
        if (entry or {}).get("type", "file") != "file":
            continue
        hist = _HISTORY.match(base)
        if hist:
            history[int(hist.group(1), 16)] = entry.get("time")
            continue
        if ".partial" in base or base.endswith(".backup"):
            continue
        parsed = wal_segment(base, segment_size)
        if parsed is None:
            continue
        timeline, number = parsed
        known = segments.setdefault(timeline, {})
        known[number] = max(known.get(number) or 0, entry.get("time") or 0) or None
    return {"segments": segments, "history": history}


def merge_index(first, second):
    """Two archive ids' indexes (a stanza upgraded keeps the older one)."""
    result = {"segments": {}, "history": dict(first.get("history", {}))}
    for index in (first, second):
        for timeline, numbers in index.get("segments", {}).items():
            result["segments"].setdefault(timeline, {}).update(numbers)
    result["history"].update(second.get("history", {}))
    return result


def newest_timeline(index):
    timelines = list(index.get("segments", {})) + list(index.get("history", {}))
    return max(timelines) if timelines else None


def timeline_path(timeline, history):
    """The timelines a restore along ``timeline`` follows, oldest first:
    [{timeline, begin, end}] with LSNs as integers (end None: open)."""
    entries = parse_history(history) if isinstance(history, str) else list(history or [])
    path, begin = [], 0
    for entry in entries:
        path.append({"timeline": entry["parent"], "begin": begin, "end": entry["switch_lsn"]})
        begin = entry["switch_lsn"]
    path.append({"timeline": int(timeline), "begin": begin, "end": None})
    return path


def path_timeline(path, number, segment_size=WAL_SEGMENT_SIZE):
    """Timeline whose file of segment ``number`` a restore along the path reads."""
    chosen = path[0]["timeline"]
    for step in path:
        if step["begin"] // segment_size <= number:
            chosen = step["timeline"]
    return chosen


def on_path(path, timeline, lsn):
    """Does (timeline, lsn) lie on the path (WAL a restore along it replays)?"""
    for step in path:
        if step["timeline"] == timeline:
            return lsn >= step["begin"] and (step["end"] is None or lsn < step["end"])
    return False


MISSING_LISTED = 4096


def _gap(path, first, last, segments, segment_size):
    before = first - 1
    tl_before = path_timeline(path, before, segment_size)
    return {
        "missing": [segment_name(path_timeline(path, n, segment_size), n, segment_size)
                    for n in range(first, min(last, first + MISSING_LISTED - 1) + 1)],
        "first_missing": segment_name(path_timeline(path, first, segment_size), first, segment_size),
        "last_missing": segment_name(path_timeline(path, last, segment_size), last, segment_size),
        "segments": last - first + 1,
        "from_lsn": format_lsn(first * segment_size),
        "to_lsn": format_lsn((last + 1) * segment_size),
        "timeline": path_timeline(path, first, segment_size),
        "after_segment": segment_name(tl_before, before, segment_size),
        "after_segment_archived": segments.get(tl_before, {}).get(before),
    }


def continuity(backups, index, timeline=None, history=None, segment_size=WAL_SEGMENT_SIZE):
    """Gaps and continuous windows of the archive along a timeline path.

    ``backups`` as backup.backups_of returns them (oldest first), ``index``
    from archive_index, ``history`` the text (or parsed list) of the target
    timeline's history file. Returns {timeline, path, usable, unusable, gaps,
    runs, current}: runs are the gap-free stretches that start at a backup,
    oldest first; ``current`` is the one that reaches the newest archived
    WAL (None when a gap or no backup stands before it)."""
    segments = index.get("segments", {})
    timeline = int(timeline) if timeline else newest_timeline(index)
    result = {"timeline": timeline, "path": [], "usable": [], "unusable": [], "gaps": [], "runs": [],
              "current": None, "last_segment": None, "missing_history": None}
    if timeline is None:
        return result
    if timeline > 1 and not history:
        # Without its history file a restore cannot follow this timeline back to the backups.
        result["missing_history"] = "%08X.history" % timeline
    path = timeline_path(timeline, history)
    result["path"] = [{"timeline": s["timeline"], "begin_lsn": format_lsn(s["begin"]),
                       "end_lsn": format_lsn(s["end"]) if s["end"] is not None else None} for s in path]

    def present(number):
        return number in segments.get(path_timeline(path, number, segment_size), {})

    on = [b for b in backups if b.get("timeline") and b.get("start_lsn") and b.get("stop_lsn") and
          on_path(path, b["timeline"], parse_lsn(b["start_lsn"]))]
    result["unusable"] = [{"label": b["label"], "why": "on timeline %s, not on the path of timeline %s"
                           % (b.get("timeline"), timeline)} for b in backups if b not in on]
    archived = [n for step in path for n in segments.get(step["timeline"], {})
                if path_timeline(path, n, segment_size) == step["timeline"]]
    if not on or not archived:
        result["unusable"] += [{"label": b["label"], "why": "no archived WAL on the path"} for b in on] \
            if not archived else []
        return result
    first = min(segment_of(b["start_lsn"], segment_size) for b in on)
    last = max(archived)
    if len(path) > 1:
        # The older timelines' WAL up to the newest switch point is due even
        # before the new timeline's first segment is archived: missing, it is a gap.
        last = max(last, path[-1]["begin"] // segment_size - 1)
    result["last_segment"] = segment_name(path_timeline(path, last, segment_size), last, segment_size)
    missing = [n for n in range(first, last + 1) if not present(n)]
    gaps, start = [], None
    for position, number in enumerate(missing):
        if start is None:
            start = number
        if position + 1 == len(missing) or missing[position + 1] != number + 1:
            gaps.append(_gap(path, start, number, segments, segment_size))
            start = None
    result["gaps"] = gaps
    # Gap-free stretches [a, b] between the gaps, and the backups inside each.
    bounds, cursor = [], first
    for gap in gaps:
        gap_first = segment_of(gap["from_lsn"], segment_size)
        if gap_first > cursor:
            bounds.append((cursor, gap_first - 1, gap))
        cursor = segment_of(gap["to_lsn"], segment_size)
    if cursor <= last:
        bounds.append((cursor, last, None))
    for low, high, gap in bounds:
        inside = [b for b in on if low <= segment_of(b["start_lsn"], segment_size) and
                  segment_of(b["stop_lsn"], segment_size) <= high]
        for b in on:
            if low <= segment_of(b["start_lsn"], segment_size) <= high and b not in inside:
                result["unusable"].append({"label": b["label"], "why": "a gap in its own WAL (%s)" % (
                    gap["first_missing"] if gap else "not archived yet")})
        if not inside:
            continue
        end_tl = path_timeline(path, high, segment_size)
        run = {
            "backups": [b["label"] for b in inside],
            "oldest_backup": inside[0]["label"],
            "newest_backup": inside[-1]["label"],
            "earliest_stop_time": inside[0]["stop_time"],
            "earliest_lsn": inside[0]["stop_lsn"],
            "latest_lsn": format_lsn((high + 1) * segment_size),
            "latest_archived": segments.get(end_tl, {}).get(high),
            "latest_timeline": end_tl,
            "last_segment": segment_name(end_tl, high, segment_size),
            "ends_at": "gap" if gap else "end of archive",
            "gap": gap,
        }
        result["runs"].append(run)
    result["usable"] = [label for run in result["runs"] for label in run["backups"]]
    if result["runs"] and result["runs"][-1]["gap"] is None:
        result["current"] = result["runs"][-1]
    return result


def describe_gap(gap):
    if gap.get("history"):
        return ("timeline history file %s missing (a restore cannot follow timeline %s back to the backups)"
                % (gap["history"], gap.get("timeline")))
    return ("WAL %s%s missing (LSN %s to %s, %d segment(s), after %s)"
            % (gap["first_missing"], " to %s" % gap["last_missing"] if gap["segments"] > 1 else "",
               gap["from_lsn"], gap["to_lsn"], gap["segments"], gap["after_segment"]))


def replay_gap(reached_lsn, run, segment_size=WAL_SEGMENT_SIZE):
    """Did a replay that ended at ``reached_lsn`` stop short of the WAL the
    plan's stretch holds? Returns None (it reached the stretch's last
    segment) or the first segment it did not read and why."""
    if not run or not reached_lsn:
        return None
    reached = segment_of(reached_lsn, segment_size)
    last = segment_of(run["latest_lsn"], segment_size) - 1
    # "redo done at" is where the last replayed record starts: one that
    # spans into the last segment starts in the one before.
    if reached >= last - 1:
        if run.get("gap"):
            return {"first_missing": run["gap"]["first_missing"], "why": "the archive has a gap there: %s"
                    % describe_gap(run["gap"])}
        return None
    return {"first_missing": segment_name(run["latest_timeline"], reached + 1, segment_size),
            "why": "replay stopped at LSN %s although the repository held WAL up to %s (segment %s) when the "
                   "restore was planned" % (reached_lsn, run["latest_lsn"], run["last_segment"])}


def repair_plan(gaps_by_repo, found_by_host):
    """Who pushes which missing segment. ``gaps_by_repo``: repo -> gaps (with
    ``missing`` names); ``found_by_host``: host -> names its pg_wal holds.
    Each segment is pushed once, by the first host (in name order) holding it;
    pgBackRest writes it to every repository that lacks it. Returns {push:
    host -> names, nowhere: repo -> names}."""
    wanted = []
    for repo in sorted(gaps_by_repo):
        for gap in gaps_by_repo[repo] or []:
            if gap.get("history") and gap["history"] not in wanted:
                wanted.append(gap["history"])
            for name in gap.get("missing") or []:
                if name not in wanted:
                    wanted.append(name)
    push, placed = {}, set()
    for name in sorted(wanted):
        for host in sorted(found_by_host):
            if name in (found_by_host[host] or []):
                push.setdefault(host, []).append(name)
                placed.add(name)
                break
    nowhere = {}
    for repo in sorted(gaps_by_repo):
        lost = [n for gap in gaps_by_repo[repo] or [] for n in ([gap["history"]] if gap.get("history") else []) +
                (gap.get("missing") or []) if n not in placed]
        if lost:
            nowhere[repo] = lost
    return {"push": push, "nowhere": nowhere, "wanted": sorted(wanted)}


def archive_check(archiver, forced=False, stanza_created=False, conf_changed=(), pg_changed=()):
    """Whether site.yml runs `pgbackrest check` (a WAL switch archived to every repository).

    archiver: the primary's pg_stat_archiver as pg_node_info reads it (times in epoch seconds),
    or None. Returns {reasons, summary}: the reasons to run it (none: it is skipped) and one line
    on what the archiver says, shown instead when it is skipped.
    """
    archiver = archiver or {}
    archived, failed = archiver.get("last_archived_time"), archiver.get("last_failed_time")
    reasons = []
    if forced:
        reasons.append("asked for (pgbackrest_check)")
    if stanza_created:
        reasons.append("the stanza was created")
    if conf_changed:
        reasons.append("pgbackrest.conf changed on " + ", ".join(conf_changed))
    if pg_changed:
        reasons.append("PostgreSQL configuration changed on " + ", ".join(pg_changed))
    if not archived:
        reasons.append("the primary archived nothing yet")
    if (failed or 0) > (archived or 0):
        reasons.append("the primary failed to archive %s after it last succeeded" % archiver.get("last_failed_wal"))
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(archived)) if archived else "-"
    summary = "the primary last archived %s at %s (%s failures since the statistics were reset)" % (
        archiver.get("last_archived_wal") or "-", when, archiver.get("failed_count") or 0)
    return {"reasons": reasons, "summary": summary}
