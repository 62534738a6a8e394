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


def not_synchronous(delayed=None, upstreams=None):
    """Host -> (kind, setting) of the delayed and cascading replicas: never in
    synchronous_standby_names, never an unnamed switchover or failover target."""
    found = dict((h, ("delayed", "pgha_apply_delay %s" % d)) for h, d in (delayed or {}).items())
    found.update((h, ("cascading", "pgha_upstream %s" % u)) for h, u in (upstreams or {}).items())
    return found


def sync_members(hosts, primary, delayed=None, upstreams=None):
    """The hosts that may be in synchronous_standby_names on ``primary``:
    every other host but the delayed and cascading replicas."""
    excluded = not_synchronous(delayed, upstreams)
    return [h for h in hosts or [] if h != primary and h not in excluded]


# Cascading replicas (host variable pgha_upstream: HOST): a standby that streams
# from another standby (its upstream) instead of the primary, with its slot
# there. It is never synchronous (the primary does not see it) and never chosen
# to be promoted unless named. When its upstream is the primary, or gone (down,
# failed over from), it streams from the primary until the upstream is back.

def upstreams(hosts, hostvars):
    """Host -> its pgha_upstream for the hosts that set one (as written; validation checks them)."""
    found = {}
    for host in hosts or []:
        value = (hostvars.get(host) or {}).get("pgha_upstream")
        if value not in (None, ""):
            found[host] = value
    return found


def upstream_problems(hosts, upstream_of, initial_primary=None, automatic=False):
    """Why the pgha_upstream settings are refused (a list of messages)."""
    problems = []
    hosts = list(hosts or [])
    for host, upstream in sorted((upstream_of or {}).items()):
        if not isinstance(upstream, str) or upstream not in hosts:
            problems.append("%s: pgha_upstream=%r is not a database node of this cluster (%s)"
                            % (host, upstream, ", ".join(hosts)))
        elif upstream == host:
            problems.append("%s: pgha_upstream names the node itself; name another standby" % host)
        elif upstream in upstream_of:
            problems.append("%s: pgha_upstream=%s, which streams from %s itself: cascading is one level deep, "
                            "name a node without pgha_upstream" % (host, upstream, upstream_of[upstream]))
    if initial_primary and initial_primary in (upstream_of or {}):
        problems.append("%s is the initial primary and sets pgha_upstream: a cascading replica is a standby; "
                        "unset one of them" % initial_primary)
    if automatic and upstream_of:
        problems.append("pgha_upstream is set on %s but pgha_failover_mode is automatic: cascading replicas are "
                        "supported in manual mode only (Patroni has its own replicatefrom tag); unset it"
                        % ", ".join(sorted(upstream_of)))
    return problems


def _alive(node):
    return bool(node and node.get("up") and node.get("role") in ("primary", "standby"))


def effective_upstream(host, primary, upstream_of, nodes=None, gone=()):
    """The node ``host`` streams from: its pgha_upstream while that node is a
    running standby or the primary (and not ``gone``: a failed primary), else
    the primary. ``nodes`` (pg_node_info per host) says who runs; without it
    every upstream counts as running."""
    upstream = (upstream_of or {}).get(host)
    if not upstream or upstream in (host, primary) or upstream in gone:
        return primary
    if nodes is not None and not _alive(nodes.get(upstream)):
        return primary
    return upstream


def followers_of(source, primary, hosts, upstream_of, nodes=None, gone=()):
    """The hosts (other than ``source`` and the primary) that stream from ``source``: those it keeps a slot for."""
    return [h for h in hosts or [] if h not in (source, primary) and h not in gone
            and effective_upstream(h, primary, upstream_of, nodes, gone) == source]
