# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups and restores with pgBackRest: read what a repository holds (the
output of `pgbackrest info --output=json` and `repo-ls`), compute the
restorable window, validate a recovery target against it and choose the
backup set. Pure functions, no Ansible import."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.pgha.cluster.plugins.module_utils.archive import (
    WAL_SEGMENT_SIZE, continuity, describe_gap, replay_gap)
from ansible_collections.pgha.cluster.plugins.module_utils.operations import OperationError, engine_of
from ansible_collections.pgha.cluster.plugins.module_utils.topology import TopologyError, format_lsn, parse_lsn

TARGET_KINDS = ("time", "lsn", "xid", "name", "immediate", "latest")
_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
    r"\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)


class RestoreError(TopologyError):
    """A target or repository state that forbids the restore; the message
    carries the figures (window, sets) and what to do."""


def parse_time(text):
    """A recovery target time with an explicit offset, as an aware datetime.
    Accepts 'YYYY-MM-DD HH:MM[:SS[.ffffff]]' followed by Z, UTC, +HH, +HHMM
    or +HH:MM (the T separator of ISO 8601 too)."""
    match = _TIME.match((text or "").strip())
    if not match:
        raise RestoreError(
            "recovery target time %r is not understood: give a date, a time and an offset, "
            "e.g. '2026-11-21 10:15:00+00' or '2026-11-21T10:15:00.250+01:00'" % (text,))
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone.upper() in ("Z", "UTC"):
        offset = datetime.timedelta(0)
    else:
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if zone[0] == "-":
            offset = -offset
    try:
        return datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                                 int((fraction or "0").ljust(6, "0")), tzinfo=datetime.timezone(offset))
    except ValueError as exc:
        raise RestoreError("recovery target time %r is not a valid date or time: %s" % (text, exc))


def format_time(moment):
    """UTC, microseconds, an explicit offset: what PostgreSQL parses the same way
    whatever its TimeZone setting."""
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f+00")


def epoch_time(seconds):
    return datetime.datetime.fromtimestamp(int(seconds), tz=datetime.timezone.utc)


def parse_target(target=None, time=None, lsn=None, xid=None, name=None):
    """One recovery target from the playbook's variables (at most one given;
    none means latest). Returns {'kind', 'value'} with the value normalised."""
    given = [(kind, value) for kind, value in (("time", time), ("lsn", lsn), ("xid", xid), ("name", name))
             if value not in (None, "")]
    if target not in (None, ""):
        if target not in ("immediate", "latest"):
            raise RestoreError("recovery target %r is not one of immediate, latest (for a time, an LSN, "
                               "an xid or a restore point use pgha_restore_target_time, _lsn, _xid or _name)"
                               % (target,))
        given.append((target, None))
    if len(given) > 1:
        raise RestoreError("give one recovery target per run, not %d (%s)"
                           % (len(given), ", ".join(item[0] for item in given)))
    if not given:
        return {"kind": "latest", "value": None}
    kind, value = given[0]
    if kind == "time":
        return {"kind": kind, "value": format_time(parse_time(str(value)))}
    if kind == "lsn":
        text = str(value).strip().upper()
        if not re.match(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$", text):
            raise RestoreError("recovery target LSN %r is not an LSN such as 0/3000060" % (value,))
        return {"kind": kind, "value": format_lsn(parse_lsn(text))}
    if kind == "xid":
        text = str(value).strip()
        if not text.isdigit() or int(text) < 3 or int(text) >= 2 ** 64:
            raise RestoreError("recovery target xid %r is not a transaction id (an integer of 3 or more)"
                               % (value,))
        return {"kind": kind, "value": str(int(text))}
    if kind == "name":
        text = str(value)
        if len(text.encode("utf-8")) > 63 or not text.strip():
            raise RestoreError("restore point name %r must be 1 to 63 bytes" % (value,))
        if any(c in text for c in "'\"\\") or any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise RestoreError("restore point name %r holds a quote, a backslash or a control character: "
                               "give the name as pg_create_restore_point() made it, without those" % (value,))
        return {"kind": kind, "value": text}
    return {"kind": kind, "value": None}


def stanza_entry(info, stanza):
    """The stanza's entry in `pgbackrest info --output=json`, or None."""
    for entry in info or []:
        if entry.get("name") == stanza:
            return entry
    return None


def backups_of(entry, repo=None):
    """The stanza's backups (optionally of one repository), oldest first, as
    small dicts."""
    result = []
    for backup in (entry or {}).get("backup", []):
        key = (backup.get("database") or {}).get("repo-key")
        if repo is not None and key is not None and int(key) != int(repo):
            continue
        if backup.get("error"):
            continue
        result.append({
            "label": backup["label"],
            "type": backup.get("type"),
            "repo": key,
            "start_time": backup["timestamp"]["start"],
            "stop_time": backup["timestamp"]["stop"],
            "start_lsn": (backup.get("lsn") or {}).get("start"),
            "stop_lsn": (backup.get("lsn") or {}).get("stop"),
            "wal_start": (backup.get("archive") or {}).get("start"),
            "wal_stop": (backup.get("archive") or {}).get("stop"),
            "size": (backup.get("info") or {}).get("size"),
            "db_id": (backup.get("database") or {}).get("id"),
            "repo_size": ((backup.get("info") or {}).get("repository") or {}).get("delta"),
            "timeline": int(backup["archive"]["start"][:8], 16) if (backup.get("archive") or {}).get("start")
            else None,
        })
    result.sort(key=lambda b: (b["stop_time"], b["label"]))
    return result


def restorable_window(backups, index, history=None, timeline=None, segment_size=WAL_SEGMENT_SIZE):
    """The continuous restorable window: from the end of the oldest backup
    whose WAL reaches the newest archived segment without a gap, to the end
    of that segment, along ``timeline`` (the newest one by default). Older
    stretches cut off by a gap are in ``runs``, the gaps in ``gaps``.
    None without any backup."""
    if not backups:
        return None
    found = continuity(backups, index or {}, timeline, history, segment_size)
    current = found["current"]
    newest_tl = max(found["path"], key=lambda step: step["timeline"])["timeline"] if found["path"] else None
    window = {
        "backups": len(found["usable"]),
        "oldest_backup": None, "newest_backup": None, "earliest_time": None, "earliest_lsn": None,
        "latest_time": None, "latest_lsn": None, "latest_timeline": newest_tl,
        "timelines": sorted(set(list((index or {}).get("segments", {})) + list((index or {}).get("history", {})))),
        "path": found["path"], "gaps": found["gaps"], "runs": [], "unusable": found["unusable"],
        "continuous": bool(current) and not found["gaps"] and not found["missing_history"],
        "last_segment": found["last_segment"], "missing_history": found["missing_history"],
    }
    if found["missing_history"]:
        # A gap of its own: repair pushes the file from a node's pg_wal.
        window["gaps"] = [{"history": found["missing_history"], "missing": [], "segments": 0,
                           "first_missing": found["missing_history"], "last_missing": found["missing_history"],
                           "from_lsn": None, "to_lsn": None, "timeline": found["timeline"],
                           "after_segment": None}] + window["gaps"]
    for run in found["runs"]:
        window["runs"].append(dict(run, earliest_time=format_time(epoch_time(run["earliest_stop_time"])),
                                   latest_time=format_time(epoch_time(run["latest_archived"]))
                                   if run.get("latest_archived") else None))
    if current:
        run = window["runs"][-1]
        window.update(oldest_backup=run["oldest_backup"], newest_backup=run["newest_backup"],
                      earliest_time=run["earliest_time"], earliest_lsn=run["earliest_lsn"],
                      latest_time=run["latest_time"], latest_lsn=run["latest_lsn"],
                      latest_timeline=run["latest_timeline"], backups=len(run["backups"]))
    return window


def describe_run(run):
    return ("%s (end of backup %s, LSN %s) to %s (%s, LSN %s, timeline %s)"
            % (run["earliest_time"], run["oldest_backup"], run["earliest_lsn"], run["latest_time"] or "?",
               "WAL archived up to a gap" if run.get("gap") else "newest archived WAL", run["latest_lsn"],
               run["latest_timeline"]))


def describe_window(window):
    if not window:
        return "the repository holds no backup"
    parts = []
    if window.get("oldest_backup"):
        parts.append("restorable window: %s to %s (newest archived WAL, LSN %s, timeline %s); %d backup(s)"
                     % (window["earliest_time"], window["latest_time"] or "?", window["latest_lsn"] or "?",
                        window["latest_timeline"] or "?", window["backups"]))
    else:
        parts.append("no continuous restorable window reaches the newest archived WAL (%s)"
                     % (window.get("last_segment") or "none archived"))
    for run in window.get("runs", []):
        if run.get("gap"):
            parts.append("earlier window %s" % describe_run(run))
    for gap in window.get("gaps", []):
        parts.append("gap: %s" % describe_gap(gap))
    if not window.get("gaps"):
        parts.append("no gap")
    return "; ".join(parts)


def _refuse_beyond(run, what, window):
    if run.get("gap"):
        raise RestoreError("target %s falls in or after a gap in the archived WAL: %s; from backup %s the WAL is "
                           "continuous only to LSN %s (archived by %s). Repair the archive (playbooks/backup.yml "
                           "-e pgha_archive_repair=true) or choose an earlier target; %s"
                           % (what, describe_gap(run["gap"]), run["newest_backup"], run["latest_lsn"],
                              run["latest_time"] or "?", describe_window(window)))
    raise RestoreError("target %s is later than the newest archived WAL; %s" % (what, describe_window(window)))


def choose_backup(backups, target, archive, window, timeline=None, backup_set=None):
    """Validate the target against the repository's continuous windows and
    pick the backup set to restore from. Raises RestoreError with the window
    (and any gap) when the target is out of reach. Returns the plan."""
    if not backups:
        raise RestoreError("nothing to restore: the repository holds no backup; take one first "
                           "(playbooks/backup.yml)")
    kind, value = target["kind"], target["value"]
    known_timelines = window["timelines"]
    if timeline not in (None, "", "latest", "current"):
        if not str(timeline).isdigit():
            raise RestoreError("target timeline %r is not a number, 'current' or 'latest'" % (timeline,))
        if int(timeline) not in known_timelines:
            raise RestoreError("timeline %s is not in the repository's archive (timelines %s); %s"
                               % (timeline, known_timelines or "none", describe_window(window)))
    runs = window.get("runs", [])
    usable = dict((label, run) for run in runs for label in run["backups"])
    if backup_set:
        chosen = [b for b in backups if b["label"] == backup_set]
        if not chosen:
            raise RestoreError("backup set %s is not in the repository (sets: %s)"
                               % (backup_set, ", ".join(b["label"] for b in backups)))
        if backup_set not in usable:
            why = [u["why"] for u in window.get("unusable", []) if u["label"] == backup_set]
            raise RestoreError("backup set %s cannot be restored along timeline %s: %s; %s"
                               % (backup_set, window.get("latest_timeline"), "; ".join(why) or "its WAL is not archived",
                                  describe_window(window)))
        candidates = chosen
    else:
        candidates = [b for b in backups if b["label"] in usable]
    if not candidates:
        why = "; ".join("%s: %s" % (u["label"], u["why"]) for u in window.get("unusable", []))
        raise RestoreError("no backup can be restored along timeline %s: %s; %s"
                           % (window.get("latest_timeline"), why, describe_window(window)))

    def last_before(predicate):
        found = [b for b in candidates if predicate(b)]
        return found[-1] if found else None

    warnings = []
    if kind == "time":
        moment = parse_time(value)
        earliest = min(epoch_time(b["stop_time"]) for b in backups if b["label"] in usable)
        if moment < earliest:
            raise RestoreError("target time %s is earlier than the end of the oldest backup; %s"
                               % (value, describe_window(window)))
        chosen = last_before(lambda b: epoch_time(b["stop_time"]) <= moment)
        if chosen is None:
            raise RestoreError("backup set %s ended after the target time %s; %s"
                               % (backup_set, value, describe_window(window)))
        run = usable[chosen["label"]]
        if run["latest_time"] and moment > parse_time(run["latest_time"]):
            _refuse_beyond(run, "time %s" % value, window)
        if run.get("gap"):
            warnings.append("the WAL after backup %s stops at a gap (%s): a target later than the last commit "
                            "before it fails the restore's checks" % (chosen["label"], describe_gap(run["gap"])))
    elif kind == "lsn":
        lsn = parse_lsn(value)
        if lsn < min(parse_lsn(b["stop_lsn"]) for b in backups if b["label"] in usable):
            raise RestoreError("target LSN %s is before the end of the oldest backup; %s"
                               % (value, describe_window(window)))
        chosen = last_before(lambda b: parse_lsn(b["stop_lsn"]) <= lsn)
        if chosen is None:
            raise RestoreError("backup set %s ended after the target LSN %s; %s"
                               % (backup_set, value, describe_window(window)))
        run = usable[chosen["label"]]
        if lsn > parse_lsn(run["latest_lsn"]):
            if run.get("gap"):
                _refuse_beyond(run, "LSN %s" % value, window)
            raise RestoreError("target LSN %s is after the end of the newest archived WAL; %s"
                               % (value, describe_window(window)))
    else:
        # immediate, latest, xid, name: the newest set (or the one given).
        # An xid or a restore point cannot be placed from the repository's
        # metadata; PostgreSQL refuses one it does not reach, and an older
        # set can be chosen with pgha_restore_set.
        chosen = candidates[-1]
        run = usable[chosen["label"]]
        if run.get("gap") and kind == "latest":
            raise RestoreError("the latest state is out of reach from backup %s: %s. Repair the archive "
                               "(playbooks/backup.yml -e pgha_archive_repair=true), take a new backup, or give a "
                               "target before the gap; %s"
                               % (chosen["label"], describe_gap(run["gap"]), describe_window(window)))
        if run.get("gap") and kind in ("xid", "name"):
            warnings.append("the WAL after backup %s stops at a gap (%s): a target after it fails the restore"
                            % (chosen["label"], describe_gap(run["gap"])))
    return {"target": target, "set": chosen["label"], "backup": chosen, "window": window, "run": run,
            "warnings": warnings, "timeline": None if timeline in (None, "") else str(timeline),
            "set_given": bool(backup_set)}


def restore_options(stanza, plan, repo=None, delta=True, archive_mode="preserve", target_action="promote",
                    process_max=None):
    """pgbackrest restore options for a plan (an argument list)."""
    target = plan["target"]
    kind, value = target["kind"], target["value"]
    argv = ["--stanza=%s" % stanza, "--set=%s" % plan["set"]]
    if repo:
        argv.append("--repo=%s" % repo)
    if delta:
        argv.append("--delta")
    if kind == "latest":
        argv.append("--type=default")
    elif kind == "immediate":
        argv.extend(["--type=immediate", "--target-action=%s" % target_action])
    else:
        argv.extend(["--type=%s" % kind, "--target=%s" % value, "--target-action=%s" % target_action])
    if plan.get("timeline") and kind != "immediate":
        argv.append("--target-timeline=%s" % plan["timeline"])
    if archive_mode != "preserve":
        argv.append("--archive-mode=%s" % archive_mode)
    if process_max:
        argv.append("--process-max=%s" % process_max)
    argv.append("restore")
    return argv


_STOP = re.compile(r"recovery stopping (before|after) (commit|abort) of transaction (\d+), time (.+)$")
_STOP_LSN = re.compile(r"recovery stopping (before|after) WAL location \(LSN\) \"([0-9A-F]+/[0-9A-F]+)\"")
_STOP_NAME = re.compile(r"recovery stopping at restore point \"(.*)\", time (.+)$")
_REDO_DONE = re.compile(r"redo done at ([0-9A-F]+/[0-9A-F]+)")
_REDO_START = re.compile(r"redo starts at ([0-9A-F]+/[0-9A-F]+)")
_LAST_TX = re.compile(r"last completed transaction was at log time (.+)$")
_CONSISTENT = re.compile(r"consistent recovery state reached at ([0-9A-F]+/[0-9A-F]+)")
_TIMELINE = re.compile(r"selected new timeline ID: (\d+)")
_NOT_REACHED = re.compile(r"(recovery ended before configured recovery target was reached|"
                          r"requested recovery stop point is before consistent recovery point)")


def parse_recovery_log(text):
    """What a server's log says about its archive recovery."""
    result = {"stop": None, "redo_start": None, "redo_done": None, "last_transaction_time": None,
              "consistent_at": None, "new_timeline": None, "error": None}
    for raw in (text or "").splitlines():
        line = raw.strip()
        match = _STOP.search(line)
        if match:
            result["stop"] = {"how": match.group(1), "what": match.group(2), "xid": match.group(3),
                              "time": match.group(4).strip()}
        match = _STOP_LSN.search(line)
        if match:
            result["stop"] = {"how": match.group(1), "what": "lsn", "lsn": match.group(2)}
        match = _STOP_NAME.search(line)
        if match:
            result["stop"] = {"how": "at", "what": "restore point", "name": match.group(1),
                              "time": match.group(2).strip()}
        for key, pattern in (("redo_start", _REDO_START), ("redo_done", _REDO_DONE),
                             ("consistent_at", _CONSISTENT)):
            match = pattern.search(line)
            if match:
                result[key] = match.group(1)
        match = _LAST_TX.search(line)
        if match:
            result["last_transaction_time"] = match.group(1).strip()
        match = _TIMELINE.search(line)
        if match:
            result["new_timeline"] = int(match.group(1))
        match = _NOT_REACHED.search(line)
        if match:
            result["error"] = line
    return result


def _pg_time(text):
    """A timestamp as PostgreSQL logs it ('2026-11-21 10:15:00.123456+00')."""
    try:
        return parse_time(text.replace(" UTC", "+00"))
    except RestoreError:
        return None


def past_last_commit(target, recovery, run=None):
    """PostgreSQL refuses to end recovery before a time or LSN target it did
    not pass ("recovery ended before configured recovery target was
    reached"). Only when replay got to the end of the archived WAL (the last
    segment of the plan's continuous stretch, and no gap after it) and the
    last commit replayed is not later than the target is that end the state
    at the target (nothing committed in between): safe to replay to the end.
    Replay that stopped earlier stopped at missing WAL: never a success."""
    if not recovery.get("error") or "recovery ended before configured recovery target" not in recovery["error"]:
        return False
    if not run or run.get("gap") or replay_gap(recovery.get("redo_done"), run) is not None:
        return False
    if target["kind"] == "time":
        last = _pg_time(recovery["last_transaction_time"]) if recovery.get("last_transaction_time") else None
        return last is not None and last <= parse_time(target["value"])
    if target["kind"] == "lsn":
        done = recovery.get("redo_done")
        return done is not None and parse_lsn(done) <= parse_lsn(target["value"])
    return False


def short_of_target(recovery, run):
    """A check when replay ended short of what the plan said the archive
    holds: the first missing segment, and the LSN and time reached."""
    gap = replay_gap(recovery.get("redo_done"), run) if run else None
    if gap is None and run and run.get("gap") and recovery.get("error"):
        gap = {"first_missing": run["gap"]["first_missing"], "why": describe_gap(run["gap"])}
    if gap is None:
        return None
    return {"name": "WAL continuous to the target", "ok": False,
            "detail": "replay ended at LSN %s (last replayed commit %s) before the target: first missing WAL "
                      "segment %s; %s" % (recovery.get("redo_done"), recovery.get("last_transaction_time") or "none",
                                          gap["first_missing"], gap["why"])}


def older_set_hint(plan, recovery):
    """An xid or a restore point cannot be placed from the repository's metadata, so the plan restores from
    the newest set; when recovery did not reach such a target from it, the target may be older than that set
    (a backup taken since, a scheduled one for instance). The sentence naming the older sets to try, or
    None."""
    target = plan.get("target") or {}
    if plan.get("set_given") or target.get("kind") not in ("xid", "name"):
        return None
    if "recovery ended before configured recovery target" not in (recovery.get("error") or ""):
        return None
    chosen = (plan.get("backup") or {}).get("label")
    runs = (plan.get("window") or {}).get("runs") or []
    labels = [label for run in runs for label in run["backups"]]
    older = labels[:labels.index(chosen)] if chosen in labels else []
    what = "xid %s" % target["value"] if target["kind"] == "xid" else "restore point %r" % target["value"]
    if not older:
        return ("the %s was not reached from backup %s, the oldest restorable set: it is older than every "
                "backup in the repository, or it never committed" % (what, chosen))
    return ("the %s was not reached from backup %s, the newest set: it may be older than that backup (pgBackRest "
            "cannot place an xid or a restore point); restore from an older set with -e pgha_restore_set=%s "
            "(older sets, newest first: %s)" % (what, chosen, older[-1], ", ".join(reversed(older))))


def target_checks(target, recovery, reached_lsn, after_last_commit=False, run=None):
    """Does what recovery reached match the target? A list of checks
    {name, ok, detail}. ``run`` is the plan's continuous stretch: replay that
    ended before its last segment (or at a gap) fails, naming the first
    missing segment."""
    checks = []
    kind, value = target["kind"], target["value"]
    stop = recovery.get("stop") or {}
    short = None
    if not stop and not after_last_commit and kind != "immediate":
        short = short_of_target(recovery, run)
    if short:
        checks.append(short)
    if recovery.get("error"):
        checks.append({"name": "target reached", "ok": False, "detail": recovery["error"]})
        return checks
    if kind == "time":
        moment = parse_time(value)
        last = _pg_time(recovery["last_transaction_time"]) if recovery.get("last_transaction_time") else None
        stopped = _pg_time(stop["time"]) if stop.get("time") else None
        ok = last is None or last <= moment
        detail = "last replayed commit %s <= target %s" % (recovery.get("last_transaction_time"), value)
        if stopped is not None and stop.get("how") == "before":
            ok = ok and stopped > moment
            detail += "; stopped before the commit of xid %s at %s" % (stop.get("xid"), stop.get("time"))
        elif stop:
            detail += "; %s" % stop
        elif after_last_commit:
            detail += "; no commit after the target in the archived WAL: replayed to its end"
        else:
            detail += "; replay ended at the end of the archived WAL without passing the target"
        checks.append({"name": "reached time matches the target", "ok": ok, "detail": detail})
    elif kind == "lsn":
        done = recovery.get("redo_done") or reached_lsn
        ok = done is not None and (parse_lsn(done) >= parse_lsn(value) or after_last_commit)
        checks.append({"name": "reached LSN matches the target", "ok": ok,
                       "detail": "replay reached %s, target %s (%s)" % (
                           done, value, stop or ("the end of the archived WAL, before the target"
                                                 if after_last_commit else "no stop record"))})
    elif kind == "xid":
        ok = stop.get("xid") is not None
        checks.append({"name": "stopped at the target transaction", "ok": ok,
                       "detail": "stop record: %s, target xid %s" % (stop or "none", value)})
    elif kind == "name":
        ok = stop.get("name") == value
        checks.append({"name": "stopped at the restore point", "ok": ok,
                       "detail": "stop record: %s, target %r" % (stop or "none", value)})
    elif kind == "immediate":
        ok = recovery.get("consistent_at") is not None
        checks.append({"name": "stopped once consistent (end of backup)", "ok": ok,
                       "detail": "consistent at %s" % recovery.get("consistent_at")})
    else:
        ok = recovery.get("redo_done") is not None or reached_lsn is not None
        checks.append({"name": "replayed to the end of the archive", "ok": ok,
                       "detail": "redo done at %s" % (recovery.get("redo_done") or reached_lsn)})
    return checks


def wal_replayed(recovery, backup):
    """Bytes of WAL replayed: from the backup's start LSN to where redo ended."""
    start = recovery.get("redo_start") or (backup or {}).get("start_lsn")
    end = recovery.get("redo_done")
    if not start or not end:
        return None
    return max(0, parse_lsn(end) - parse_lsn(start))


def probe_checks(probes, results):
    """User probes [{name, sql, expect}] against what the queries returned."""
    checks = []
    for probe, got in zip(probes, results):
        expect = probe.get("expect")
        ok = got.get("error") is None and (expect is None or str(got.get("value")) == str(expect))
        checks.append({"name": "probe: %s" % probe.get("name", probe["sql"]), "ok": ok,
                       "detail": got.get("error") or "returned %r, expected %r" % (got.get("value"), expect)})
    return checks


def render_report(report):
    """A restore report as Markdown."""
    lines = ["# pgha restore %s: %s" % (report.get("mode", "drill"), "PASS" if report.get("passed") else "FAIL"),
             "",
             "| | |", "|---|---|"]
    target = report.get("target") or {}
    backup = report.get("backup") or {}
    rows = [
        ("cluster / stanza", report.get("stanza")),
        ("restored on", report.get("host")),
        ("started", report.get("started")),
        ("target", "%s %s" % (target.get("kind"), target.get("value") or "")),
        ("repository", report.get("repo")),
        ("backup used", "%s (%s, ended %s, stop LSN %s)" % (
            backup.get("label"), backup.get("type"), backup.get("stop_time_text"), backup.get("stop_lsn"))),
        ("reached LSN", report.get("reached_lsn")),
        ("reached time (last replayed commit)", report.get("reached_time")),
        ("WAL replayed", "%s bytes" % report.get("wal_replayed_bytes")),
        ("restored size", "%s bytes" % report.get("restored_bytes")),
        ("total duration", "%.1f s" % report.get("duration_s", 0)),
    ]
    for label, value in rows:
        lines.append("| %s | %s |" % (label, str(value).replace("|", "\\|")))
    lines += ["", "## Phases", "", "| phase | seconds |", "|---|---|"]
    for phase in report.get("phases", []):
        lines.append("| %s | %.2f |" % (phase["name"], phase["seconds"]))
    lines += ["", "## Checks", "", "| check | result | detail |", "|---|---|---|"]
    for check in report.get("checks", []):
        detail = str(check.get("detail", "")).replace("|", "\\|").replace("\n", " ")
        lines.append("| %s | %s | %s |" % (check["name"], "pass" if check["ok"] else "FAIL", detail))
    if report.get("untouched"):
        lines += ["", "Running cluster untouched: %s" % report["untouched"]]
    return "\n".join(lines) + "\n"


def cluster_fingerprint(nodes):
    """What a drill must not change in the running cluster: per node its
    role, timeline, system identifier and upstream."""
    result = {}
    for host, node in sorted((nodes or {}).items()):
        node = node or {}
        upstream = node.get("upstream") or {}
        result[host] = {
            "up": bool(node.get("up")),
            "role": node.get("role"),
            "timeline": node.get("timeline"),
            "system_identifier": node.get("system_identifier"),
            "upstream": upstream.get("host"),
        }
    return result


def cluster_changes(before, after):
    """Differences between two fingerprints, as sentences (empty: untouched)."""
    changes = []
    for host in sorted(set(before) | set(after)):
        old, new = before.get(host, {}), after.get(host, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changes.append("%s: %s was %r, now %r" % (host, key, old.get(key), new.get(key)))
    return changes


def backup_summary(backup):
    """One line for a backup set."""
    if not backup:
        return "no backup"
    return ("repo%s %s backup %s: %s to %s, %.1f MiB of data, %.1f MiB in the repository, LSN %s to %s"
            % (backup.get("repo"), backup.get("type"), backup.get("label"),
               format_time(epoch_time(backup["start_time"])), format_time(epoch_time(backup["stop_time"])),
               (backup.get("size") or 0) / 1048576.0, (backup.get("repo_size") or 0) / 1048576.0,
               backup.get("start_lsn"), backup.get("stop_lsn")))


def system_identifier_of(entry, db_id=None):
    """The database system identifier the stanza's backups belong to (of ``db_id``,
    else the newest), as text, or None."""
    dbs = [d for d in (entry or {}).get("db") or [] if db_id is None or d.get("id") == db_id]
    return str(dbs[-1]["system-id"]) if dbs and dbs[-1].get("system-id") is not None else None


def drill_host_problem(host, node, cluster_sysids):
    """Why a drill must not touch ``host`` (pg_node_info result ``node``), or None.

    A drill replaces the data directory of its scratch host. It must never be a
    cluster member (same system identifier as the cluster, or a streaming standby),
    a server taking writes for someone, or a data directory pgha did not make
    for drills (no ``pgha.drill`` marker)."""
    if not node or node.get("unreachable"):
        return "%s cannot be reached to check it" % host
    marker = bool(node.get("drill_marker"))
    sysid = node.get("system_identifier")
    upstream = node.get("upstream") or {}
    if sysid and str(sysid) in cluster_sysids and not marker:
        return ("%s holds a data directory of this cluster (system identifier %s) without pgha's drill marker: "
                "it looks like a database node (check its ansible_host/pgha_address)" % (host, sysid))
    if node.get("up") and node.get("role") == "standby" and upstream.get("status") == "streaming":
        return ("%s runs a standby streaming from %s: it serves someone; a drill needs a scratch host"
                % (host, upstream.get("host")))
    if node.get("up") and node.get("role") == "primary" and not marker:
        return ("%s runs a writable server (system identifier %s) that no drill made: a drill needs a scratch host; "
                "remove it from pgha_drill or stop and move that cluster away" % (host, sysid))
    if node.get("data_directory_exists") and not marker:
        return ("%s has a data directory (%s, system identifier %s) that no drill made (no pgha.drill marker): "
                "it is never overwritten; move it away, or use another scratch host"
                % (host, node.get("data_directory"), sysid))
    return None


def inplace_confirmation_problem(confirm, nodes, repository_sysid):
    """An in-place restore replaces the whole cluster: it is confirmed with the
    cluster's system identifier. Returns (problem or None, the identifier).
    Where Patroni runs it must run on every node that is up (restore.yml pauses
    and stops it, forgets its state in etcd and lets it take the restored
    cluster over again); half-way through a change of mode is refused."""
    try:
        engine_of(nodes)
    except OperationError as exc:
        return "in-place restore refused: %s" % exc, None
    sysids = {}
    for host in sorted(nodes):
        sysid = (nodes[host] or {}).get("system_identifier")
        if sysid:
            sysids.setdefault(str(sysid), []).append(host)
    known = repository_sysid or (max(sysids, key=lambda k: len(sysids[k])) if sysids else None)
    if known is None:
        return ("no node and no repository tells the cluster's system identifier: nothing to confirm against",
                None)
    if str(confirm or "").strip() != known:
        where = "; ".join("%s on %s" % (k, ", ".join(v)) for k, v in sorted(sysids.items())) or "no node answers"
        return ("an in-place restore replaces every database node's data (kept aside, not deleted) and the "
                "running cluster with the backup's. Confirm with -e pgha_restore_confirm=%s (the system identifier "
                "of the backups; the nodes report: %s)" % (known, where), known)
    return None, known
