# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Delayed replicas (host variable pgha_apply_delay): a standby that applies
WAL only after a delay (recovery_min_apply_delay), kept as a way back from a
mistake (a dropped table is still there for the delay). It streams from the
primary with its own slot like any standby, but it is never a member of
synchronous_standby_names (its acknowledgement would say nothing about what
it applied) and never chosen to be promoted (its data is behind by design)
unless named. Pure functions: the inventory's values in, decisions out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# PostgreSQL's time units for recovery_min_apply_delay (a bare number is milliseconds).
_DELAY = re.compile(r"^\s*(\d+)\s*(ms|s|min|h|d)?\s*$")
_MS = {None: 1, "ms": 1, "s": 1000, "min": 60000, "h": 3600000, "d": 86400000}


def delay_ms(value):
    """A pgha_apply_delay value in milliseconds (0 for none), or None when it is not a duration."""
    if value is None or value == "" or value is False:
        return 0
    if isinstance(value, bool):
        return None
    match = _DELAY.match(str(value))
    if not match:
        return None
    return int(match.group(1)) * _MS[match.group(2)]


def delay_problem(host, value):
    """Why a pgha_apply_delay is refused, or None."""
    ms = delay_ms(value)
    if ms is None:
        return ("%s: pgha_apply_delay=%r is not a duration: write it as PostgreSQL does, e.g. '30min', '1h', "
                "'3600s' (a bare number is milliseconds)" % (host, value))
    if ms >= 2 ** 31:
        return "%s: pgha_apply_delay=%r is longer than PostgreSQL allows (about 24 days)" % (host, value)
    return None


def apply_delays(hosts, hostvars, raw=False):
    """Host -> its pgha_apply_delay (as written) for the hosts that set one
    (not 0); with ``raw``, every value set, as it is (for validation)."""
    delays = {}
    for host in hosts or []:
        value = (hostvars.get(host) or {}).get("pgha_apply_delay")
        if raw and value not in (None, ""):
            delays[host] = value
        elif not raw and delay_ms(value):
            delays[host] = str(value).strip()
    return delays


def sync_members(hosts, primary, delayed):
    """The hosts that may be in synchronous_standby_names on ``primary``:
    every other host but the delayed replicas."""
    return [h for h in hosts or [] if h != primary and h not in (delayed or {})]
