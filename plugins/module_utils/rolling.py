# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of rolling maintenance (a restart, a reboot, the restart a
changed setting needs): which nodes, in which order, whether a switchover is
needed, and the health gate between two nodes.

The order never stops writes: the standbys one at a time (each must stream
again, and the synchronous set be complete, before the next), then a
switchover to a standby that is already done, then the old primary, now a
standby. Inputs are what pg_node_info reported per host; nothing here touches
a host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgha.cluster.plugins.module_utils.replicas import effective_upstream
from ansible_collections.pgha.cluster.plugins.module_utils.topology import TopologyError, fenced_refusal

ACTIONS = ("restart", "reboot", "upgrade", "pending")

# Settings a hot standby needs at least as high as its primary's (PostgreSQL's
# "Hot Standby" parameters, checked against the primary's values in WAL).
HOT_STANDBY_SETTINGS = ("max_connections", "max_locks_per_transaction", "max_prepared_transactions",
                        "max_wal_senders", "max_worker_processes")

# pg_stat_replication.sync_state of a standby that counts (or can step in) for
# synchronous_standby_names.
_SYNC_CAPABLE = ("sync", "quorum", "potential")
_SYNC_NOW = ("sync", "quorum")


class RollingError(TopologyError):
    """A rolling run that must not start or go on, with the figures that say why."""


def _replicas(primary_node):
    return dict((r.get("application_name"), r) for r in ((primary_node or {}).get("replicas") or []))


def _describe(host, node, replica):
    upstream = (node or {}).get("upstream") or {}
    return "%s (up: %s, role: %s, WAL receiver: %s, on the primary: %s)" % (
        host, (node or {}).get("up"), (node or {}).get("role"), upstream.get("status") or "none",
        (replica or {}).get("state", "not connected"))


def _int_setting(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def pending_restarts(nodes, changed=None):
    """Host -> the settings that wait for a restart there: those this run
    changed (``changed``, host -> names, from the postgresql role's handler),
    and those ``pg_settings.pending_restart`` shows (pg_node_info's
    ``pending_restart``, e.g. left by an earlier run) where systemd runs the
    server. Where Patroni runs it, Patroni reports its own pending restarts
    and sets some of these settings itself: only this run's changes count."""
    nodes, changed = nodes or {}, changed or {}
    pending = {}
    for host in sorted(set(nodes) | set(changed)):
        node = nodes.get(host) or {}
        names = list(node.get("pending_restart") or []) if node.get("supervisor", "systemd") != "patroni" else []
        names += list(changed.get(host) or [])
        if names:
            pending[host] = sorted(set(names))
    return pending


def lowered_hot_standby_settings(desired, running):
    """The hot-standby settings ``desired`` (the configuration about to be
    written) sets below what the primary runs with: name -> (running, desired).
    Lowering one cannot be rolled standbys first (a standby refuses to replay
    WAL from a primary whose value is higher than its own)."""
    lowered = {}
    for name in HOT_STANDBY_SETTINGS:
        want, have = _int_setting((desired or {}).get(name)), _int_setting((running or {}).get(name))
        if want is not None and have is not None and want < have:
            lowered[name] = (have, want)
    return lowered


def rolling_plan(nodes, primary, action, sync_mode="quorum", sync_count=1, pending=None, switchover=True,
                 primary_first=False, upstreams=None, delayed=None):
    """Check the cluster and order a rolling ``action``.

    ``pending`` (actions ``pending`` and ``upgrade``): host -> the settings
    that wait for a restart there, or what the upgrade would do there; only
    those hosts are done. ``switchover``: may
    the primary be switched over so that it can be restarted (site.yml's
    ``pgha_rolling_switchover``); when not, a primary that needs it is left
    and named. ``primary_first``: the primary is restarted in place first
    (PgBouncer paused: writes wait, they do not fail), then the standbys - the
    order a lowered hot-standby setting needs; only a restart can be done so.

    Returns ``{action, primary, in_place, standbys, switchover, old_primary, left, steps}``:
    ``in_place`` the primary when it is restarted in place first (else None),
    ``standbys`` in the order they are done, ``switchover`` whether the primary
    moves, ``old_primary`` the host done last (as a standby) or None, ``left``
    host -> why it is not done, ``sources`` host -> the standby a cascading
    replica (``upstreams``, pgha_upstream) streams from, where its gate is read;
    ``late`` the delayed replicas (``delayed``, pgha_apply_delay): PostgreSQL
    starts their WAL receiver only once recovery asks for more WAL, up to the
    delay after a restart, so one runs as a standby is enough before and after."""
    delayed = delayed or {}
    if action not in ACTIONS:
        raise RollingError("unknown rolling action %r: use one of %s" % (action, ", ".join(ACTIONS[:-1])))
    nodes = nodes or {}
    p = nodes.get(primary) or {}
    if not (p.get("up") and p.get("role") == "primary"):
        raise RollingError("%s is not a running primary (up: %s, role: %s): run failover.yml first"
                           % (primary, p.get("up"), p.get("role")))
    pending = dict((h, sorted(s)) for h, s in (pending or {}).items() if s)
    # A restart or a reboot does every node; the others only those that need it.
    wanted = sorted(nodes) if action in ("restart", "reboot") else sorted(h for h in nodes if h in pending)
    standbys = sorted(h for h in nodes if h != primary)
    replicas = _replicas(p)
    sources = dict((h, effective_upstream(h, primary, upstreams or {}, nodes)) for h in standbys)
    sources = dict((h, s) for h, s in sources.items() if s != primary)

    def streams(h):
        node = nodes.get(h) or {}
        if not (node.get("up") and node.get("role") == "standby"):
            return False
        if h in delayed:
            return True
        if h in sources:
            # A cascading replica: its WAL receiver (the primary does not see it).
            return (node.get("upstream") or {}).get("status") == "streaming"
        return (replicas.get(h) or {}).get("state") == "streaming"
    broken = [_describe(h, nodes.get(h), replicas.get(h)) for h in standbys if not streams(h)]
    if wanted and broken:
        raise RollingError("every standby must stream before a rolling %s, so that the synchronous set holds while "
                           "one node is out; not streaming: %s. Bring it back (rejoin.yml) or take it out of "
                           "the inventory first" % (action, "; ".join(broken)))
    fenced = [h for h in standbys if (nodes.get(h) or {}).get("fenced")]
    if wanted and fenced:
        raise RollingError(fenced_refusal(fenced, "taken through a rolling %s" % action))
    todo = [h for h in standbys if h in wanted]
    sync_on = sync_mode != "off" and sync_count > 0
    # Patroni (automatic mode) names the synchronous standbys itself and replaces one
    # that goes away: every streaming standby can step in.
    patroni = p.get("supervisor") == "patroni"
    if todo and sync_on:
        capable = [h for h in standbys if patroni or (replicas.get(h) or {}).get("sync_state") in _SYNC_CAPABLE]
        if len(capable) - 1 < sync_count:
            raise RollingError(
                "%d standby(s) can be synchronous (%s) and %d must be: with one of them out for the %s, commits "
                "would wait on the primary. Add a standby, or lower pgha_sync_count for the time of the "
                "maintenance" % (len(capable), ", ".join(capable) or "none", sync_count, _verb(action)))
    left, moves = {}, primary in wanted
    if primary_first and action in ("reboot", "upgrade"):
        raise RollingError("a%s never takes the primary down in place: run it without pgha_rolling_primary_first"
                           % {"reboot": " reboot", "upgrade": "n upgrade"}[action])
    if primary_first and moves and p.get("supervisor") == "patroni":
        raise RollingError("Patroni runs %s: it restarts its leader itself (patronictl restart); "
                           "pgha_rolling_primary_first is for manual mode" % primary)
    in_place = primary if (moves and primary_first) else None
    if in_place:
        moves = False
    if moves and not standbys:
        raise RollingError("%s is the only node: it cannot be %s without stopping writes. Add a standby first, "
                           "or restart it yourself in a maintenance window" % (primary, _past(action)))
    if moves and not switchover:
        left[primary] = ("the primary waits for a restart (%s); run playbooks/rolling.yml -e pgha_rolling=restart "
                         "to switch it over and restart it" % ", ".join(pending.get(primary) or [action]))
        moves = False
    steps = []
    if in_place:
        steps.append("restart %s (the primary) in place with every PgBouncer paused (writes wait for the restart), "
                     "then wait until the synchronous set is complete" % primary)
    for host in todo:
        steps.append("%s %s (standby%s), then wait until it streams and the synchronous set is complete"
                     % (_verb(action), host, ": " + "; ".join(pending[host]) if action == "upgrade" else ""))
    if moves:
        steps.append("switch over from %s to a standby already done" % primary)
        if action in ("restart", "pending"):
            steps.append("%s restarts as a standby in the switchover; wait until it streams" % primary)
        else:
            steps.append("%s %s (now a standby%s), then wait until it streams"
                         % (_verb(action), primary, ": " + "; ".join(pending[primary]) if action == "upgrade" else ""))
    for host, why in sorted(left.items()):
        steps.append("%s left: %s" % (host, why))
    return {"action": action, "primary": primary, "in_place": in_place, "standbys": todo, "switchover": moves,
            "old_primary": primary if moves else None,
            "old_primary_acts": bool(moves and action not in ("restart", "pending")),
            "left": left, "pending": pending, "sources": sources, "late": sorted(h for h in todo if h in delayed),
            "steps": steps or ["nothing to do"]}


def _verb(action):
    return {"restart": "restart", "reboot": "reboot", "upgrade": "upgrade", "pending": "restart"}[action]


def _past(action):
    return {"restart": "restarted", "reboot": "rebooted", "upgrade": "upgraded", "pending": "restarted"}[action]


def spare_check(primary_node, standby, sync_mode, sync_count):
    """Before ``standby`` goes out: the others must be enough for the
    synchronous set (under Patroni, which names the synchronous standbys
    itself, any streaming one counts). Returns None, or why not."""
    if sync_mode == "off" or sync_count <= 0:
        return None
    patroni = (primary_node or {}).get("supervisor") == "patroni"
    others = [name for name, r in _replicas(primary_node).items()
              if name != standby and r.get("state") == "streaming" and (patroni or r.get("sync_state") in _SYNC_CAPABLE)]
    if len(others) < sync_count:
        return ("without %s only %d standby(s) can be synchronous (%s), %d must be"
                % (standby, len(others), ", ".join(sorted(others)) or "none", sync_count))
    return None


def gate_check(primary_node, standby, max_lag_bytes, sync_mode, sync_count):
    """After ``standby`` is back: it streams from the primary within
    ``max_lag_bytes`` of replay, and the synchronous set is complete (only the
    latter when ``standby`` is empty: the primary itself was restarted).
    Returns None, or what is still wrong (with the figures)."""
    replicas = _replicas(primary_node)
    problems = []
    r = replicas.get(standby)
    if not standby:
        pass
    elif not r:
        problems.append("%s is not connected to the primary" % standby)
    elif r.get("state") != "streaming":
        problems.append("%s is %s, not streaming" % (standby, r.get("state")))
    elif r.get("replay_lag_bytes") is None or r["replay_lag_bytes"] > max_lag_bytes:
        problems.append("%s replays %s bytes behind the primary (bound %d)" % (standby, r.get("replay_lag_bytes"),
                                                                               max_lag_bytes))
    if sync_mode != "off" and sync_count > 0:
        synchronous = sorted(name for name, rr in replicas.items()
                             if rr.get("state") == "streaming" and rr.get("sync_state") in _SYNC_NOW)
        if len(synchronous) < sync_count:
            problems.append("%d synchronous standby(s) (%s), %d wanted"
                            % (len(synchronous), ", ".join(synchronous) or "none", sync_count))
    return "; ".join(problems) or None
