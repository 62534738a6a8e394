# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alert thresholds, one set for the shipped Prometheus rules and for
status.yml's verdict (so that both judge the same facts the same way), and
the checks of the values a user gives."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# name -> (default, what it means). Sizes in bytes, ages in seconds unless named.
THRESHOLDS = {
    "lag_bytes": (64 * 1024 * 1024, "WAL a standby has not replayed yet (bytes), above which it lags"),
    "lag_seconds": (300, "replay lag of a standby (seconds), above which it lags"),
    "slot_retained_bytes": (1024 * 1024 * 1024, "WAL one replication slot keeps on a node (bytes)"),
    "archive_ready_seconds": (900, "age of the oldest WAL segment waiting to be archived (seconds)"),
    "connections_ratio": (0.8, "connections in use / max_connections, above which the node is near its limit"),
    "backup_max_age_hours": (36, "hours since the newest successful backup of a repository (any type)"),
    "drill_max_age_days": (8, "days since the latest restore drill"),
    "disk_free_ratio": (0.1, "free / size of a filesystem, below which it is filling"),
    "pgbouncer_wait_seconds": (5, "longest wait of a PgBouncer client for a server connection (seconds)"),
}

# How long a condition must hold before its alert fires (Prometheus durations).
DURATIONS = {
    "down": "1m",
    "lag": "2m",
    "sync": "1m",
    "archive": "2m",
    "pgbouncer": "1m",
    "primary": "30s",
    "other": "5m",
}

# Prometheus' duration units, in seconds.
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION_UNITS = tuple(_SECONDS)
# One number and unit of a duration (ms before m and s).
_DURATION_PART = re.compile(r"(\d+)(%s)" % "|".join(sorted(_SECONDS, key=len, reverse=True)))


def _number(value):
    if isinstance(value, bool):
        raise ValueError("not a number")
    return float(value)


def is_duration(text):
    """A Prometheus duration with one unit (30s, 2m, 1h)."""
    text = str(text or "")
    for unit in sorted(_DURATION_UNITS, key=len, reverse=True):
        if text.endswith(unit) and text[:-len(unit)].isdigit():
            return int(text[:-len(unit)]) > 0 or unit == "s"
    return False


# Prometheus' default scrape timeout; it refuses a configuration whose timeout exceeds the interval.
SCRAPE_TIMEOUT = "10s"


def duration_seconds(text):
    """A Prometheus duration (30s, 1m30s, 500ms) in seconds, or None when it is not one."""
    text = str(text or "").strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(int(n) * _SECONDS[u] for n, u in parts)


def scrape_timeout(interval):
    """Prometheus' 10 s scrape timeout, or the interval when that is shorter."""
    seconds = duration_seconds(interval)
    return str(interval).strip() if seconds is not None and seconds < 10 else SCRAPE_TIMEOUT


def threshold_problems(given, durations=None):
    """What is wrong with pgha_alert_thresholds / pgha_alert_durations (empty when valid)."""
    found = []
    if not isinstance(given or {}, dict):
        return ["pgha_alert_thresholds must be a mapping of %s" % ", ".join(sorted(THRESHOLDS))]
    for name, value in sorted((given or {}).items()):
        if name not in THRESHOLDS:
            found.append("pgha_alert_thresholds.%s is not a threshold pgha knows (%s)"
                         % (name, ", ".join(sorted(THRESHOLDS))))
            continue
        try:
            number = _number(value)
        except (TypeError, ValueError):
            found.append("pgha_alert_thresholds.%s must be a number, not %r" % (name, value))
            continue
        if number <= 0 or (name.endswith("_ratio") and number >= 1):
            found.append("pgha_alert_thresholds.%s must be %s, not %s"
                         % (name, "between 0 and 1" if name.endswith("_ratio") else "above 0", value))
    if not isinstance(durations or {}, dict):
        return found + ["pgha_alert_durations must be a mapping of %s" % ", ".join(sorted(DURATIONS))]
    for name, value in sorted((durations or {}).items()):
        if name not in DURATIONS:
            found.append("pgha_alert_durations.%s is not one pgha knows (%s)" % (name, ", ".join(sorted(DURATIONS))))
        elif not is_duration(value):
            found.append("pgha_alert_durations.%s must be a Prometheus duration such as 30s, 2m or 1h, not %r"
                         % (name, value))
    return found


def thresholds(given=None):
    """The thresholds in force: the defaults, with the user's values over them."""
    merged = dict((name, default) for name, (default, _why) in THRESHOLDS.items())
    for name, value in (given or {}).items():
        if name in merged and value is not None:
            merged[name] = _number(value)
    for name, value in merged.items():
        if float(value).is_integer() and not name.endswith("_ratio"):
            merged[name] = int(value)
    return merged


def durations(given=None):
    merged = dict(DURATIONS)
    merged.update(dict((k, str(v)) for k, v in (given or {}).items() if k in DURATIONS))
    return merged
