# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of the day-2 operations: switchover target checks, failover
candidate choice (and whether it may miss acknowledged commits), rejoin checks.

Inputs are what pg_node_info reported per host; nothing here touches a host.
Every plan has one shape (see ``plan_of``): the operation, the engine that
acts (pgha's modules or Patroni), the primary it starts from, the target that
is the primary when it is done, the nodes that end up following the target,
and the steps in words; each operation adds its own figures.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgha.cluster.plugins.module_utils.topology import (
    TopologyError, fenced_refusal, format_lsn, lag_bytes, parse_lsn, running_primaries, synchronous_standby_names)
from ansible_collections.pgha.cluster.plugins.module_utils.replicas import (
    effective_upstream, followers_of, not_synchronous)


class OperationError(TopologyError):
    """An operation that must not go ahead, with the figures that say why."""


def plan_of(operation, engine, primary, target, repoint, steps, **figures):
    """The plan every day-2 playbook passes to its role: ``primary`` is the
    primary the operation starts from (the running one, or the failed one for a
    failover), ``target`` the primary when it is done (the same node for a
    rejoin), ``repoint`` the nodes that end up following ``target``."""
    plan = dict(figures)
    plan.update({"operation": operation, "engine": engine, "primary": primary, "target": target,
                 "repoint": list(repoint), "steps": list(steps)})
    return plan


def patroni_nodes(nodes):
    """The database nodes where Patroni is running (pg_node_info's ``supervisor``)."""
    return sorted(h for h, n in (nodes or {}).items() if (n or {}).get("supervisor") == "patroni")


def engine_of(nodes, ignore=()):
    """Which engine promotes and demotes: ``patroni`` where Patroni runs on
    every database node that is up (``ignore``: nodes an operation replaces,
    such as the failed primary), ``pgha`` where it runs on none. A cluster
    half-way through a change of mode is refused: two engines deciding who is
    primary could leave two primaries."""
    managed = patroni_nodes(nodes)
    if not managed:
        return "pgha"
    unmanaged = sorted(h for h, n in (nodes or {}).items()
                       if (n or {}).get("up") and h not in managed and h not in ignore)
    if unmanaged:
        raise OperationError("Patroni runs on %s but not on %s (whose PostgreSQL is up): finish the change of mode "
                             "with site.yml first" % (", ".join(managed), ", ".join(unmanaged)))
    return "patroni"


def patroni_switchover_check(plan, nodes, primary, sync_mode):
    """Patroni switches over only to a synchronous (or quorum) standby when
    synchronous replication is on: refuse any other target, naming them."""
    if sync_mode in (None, "", "off"):
        return plan
    if plan.get("sync_state") in ("sync", "quorum"):
        return plan
    synchronous = sorted(r.get("application_name") for r in (nodes.get(primary) or {}).get("replicas") or []
                         if r.get("sync_state") in ("sync", "quorum"))
    raise OperationError("%s is not a synchronous standby (sync_state %s) and Patroni switches over only to one: "
                         "choose %s, or leave pgha_target unset" % (plan.get("target"), plan.get("sync_state"),
                                                                    " or ".join(synchronous) or "one once it streams"))


def wal_position(node):
    """The furthest WAL position a node holds (int), or None."""
    positions = [parse_lsn(node.get(k)) for k in ("current_lsn", "receive_lsn", "replay_lsn")
                 if node.get(k)]
    if not positions and node.get("checkpoint_lsn"):
        positions = [parse_lsn(node["checkpoint_lsn"])]
    return max(positions) if positions else None


def _replicas(primary_node):
    return dict((r.get("application_name"), r) for r in (primary_node.get("replicas") or []))


def switchover_check(nodes, primary, target, max_lag_bytes):
    """Refuse a switchover to ``target`` unless it is a healthy streaming standby
    of ``primary`` within ``max_lag_bytes``. Returns the figures."""
    p = nodes.get(primary) or {}
    if not (p.get("up") and p.get("role") == "primary"):
        raise OperationError("%s is not a running primary (up: %s, role: %s); use failover.yml when the "
                             "primary is down" % (primary, p.get("up"), p.get("role")))
    if target == primary:
        raise OperationError("%s is already the primary" % target)
    if target not in nodes:
        raise OperationError("%s is not a database node of this cluster (known: %s)"
                             % (target, ", ".join(sorted(nodes))))
    t = nodes[target]
    if not t.get("up") or t.get("role") != "standby":
        raise OperationError("%s is not a running standby (up: %s, role: %s)" % (target, t.get("up"), t.get("role")))
    if t.get("fenced"):
        raise OperationError(fenced_refusal([target], "switched over to"))
    if t.get("system_identifier") != p.get("system_identifier"):
        raise OperationError("%s belongs to another database system (%s, the primary's is %s)"
                             % (target, t.get("system_identifier"), p.get("system_identifier")))
    replica = _replicas(p).get(target)
    if not replica or replica.get("state") != "streaming":
        raise OperationError("%s does not stream from %s (state on the primary: %s)"
                             % (target, primary, (replica or {}).get("state", "not connected")))
    if t.get("timeline") is not None and p.get("timeline") is not None and t["timeline"] != p["timeline"]:
        raise OperationError("%s is on timeline %s, the primary on %s" % (target, t["timeline"], p["timeline"]))
    lag = lag_bytes(p.get("current_lsn"), t.get("replay_lsn"))
    if lag is None or lag > max_lag_bytes:
        raise OperationError(
            "%s lags %s bytes behind %s (primary at %s, %s replayed %s); the bound is %d bytes. Wait for it "
            "to catch up or raise the bound" % (target, lag, primary, p.get("current_lsn"), target,
                                                t.get("replay_lsn"), max_lag_bytes))
    return {"primary": primary, "target": target, "lag_bytes": lag, "timeline": p.get("timeline"),
            "primary_lsn": p.get("current_lsn"), "target_replay_lsn": t.get("replay_lsn"),
            "sync_state": replica.get("sync_state")}


def choose_switchover_target(nodes, primary, max_lag_bytes, excluded=None):
    """The best standby to switch over to: synchronous/quorum members first,
    then the least lag, then the name; never a delayed or cascading replica
    (``excluded``, replicas.not_synchronous). Raises OperationError listing
    why each standby was refused when none qualifies."""
    ranked, refusals = [], []
    for host in sorted(nodes):
        if host == primary:
            continue
        if host in (excluded or {}):
            refusals.append("%s is a %s replica (%s)" % ((host,) + excluded[host]))
            continue
        try:
            figures = switchover_check(nodes, primary, host, max_lag_bytes)
        except OperationError as exc:
            refusals.append(str(exc))
            continue
        sync_rank = 0 if figures["sync_state"] in ("sync", "quorum") else 1
        ranked.append((sync_rank, figures["lag_bytes"], host, figures))
    if not ranked:
        raise OperationError("no standby can take over: " + "; ".join(refusals or ["there are no standbys"]))
    ranked.sort(key=lambda r: (r[0], r[1], r[2]))
    return ranked[0][3]


def failover_candidate(nodes, old_primary, sync_mode, sync_count, members, excluded=None, named=None):
    """Choose the standby to promote when ``old_primary`` is gone.

    ``members`` are the standbys named in synchronous replication. A commit
    acknowledged under quorum ``ANY k`` (or ``FIRST k``) of ``n`` members is on
    at least k of them, so when at least ``n - k + 1`` members are visible the
    most advanced visible one holds every acknowledged commit. Fewer visible
    members (or asynchronous replication) means the best candidate may lack
    some: ``may_miss_commits`` is then True and the caller must refuse unless
    the user accepts that risk.

    A delayed or cascading replica (``excluded``, replicas.not_synchronous) is
    never chosen unless it is ``named`` (pgha_target): a delayed one's
    promotion ends the delay and applies all it received.
    """
    sysid = (nodes.get(old_primary) or {}).get("system_identifier")
    visible, skipped = [], []
    for host in sorted(nodes):
        node = nodes[host]
        if host == old_primary or not node.get("up") or node.get("role") != "standby":
            continue
        if sysid and node.get("system_identifier") and node["system_identifier"] != sysid:
            continue
        position = wal_position(node)
        if position is None:
            continue
        if host in (excluded or {}) and host != named:
            skipped.append(host)
            continue
        visible.append({"host": host, "position": position, "lsn": format_lsn(position),
                        "timeline": node.get("timeline"), "member": host in members})
    if not visible and skipped:
        raise OperationError("only delayed or cascading replicas are left to promote (%s): name one with "
                             "-e pgha_target=HOST to promote it (a delayed one applies all the WAL it received "
                             "first, ending its delay)" % "; ".join("%s, %s" % (h, excluded[h][1]) for h in skipped))
    if not visible:
        raise OperationError("no running standby to promote (nodes: %s)" % ", ".join(
            "%s %s" % (h, "up" if nodes[h].get("up") else "down") for h in sorted(nodes)))
    # Highest WAL position wins; synchronous members win ties; then the name.
    visible.sort(key=lambda v: (-v["position"], 0 if v["member"] else 1, v["host"]))
    best = visible[0]
    visible_members = [v["host"] for v in visible if v["member"]]
    if sync_mode == "off":
        may_miss, why = True, "replication is asynchronous: commits were acknowledged without any standby"
    else:
        needed = len(members) - sync_count + 1
        may_miss = len(visible_members) < needed
        why = ("%d of %d synchronous members visible (%s); %d needed to be sure the most advanced one has "
               "every commit acknowledged under %s %d"
               % (len(visible_members), len(members), ", ".join(visible_members) or "none", needed,
                  "ANY" if sync_mode == "quorum" else "FIRST", sync_count))
    return {"candidate": best["host"], "lsn": best["lsn"], "timeline": best["timeline"],
            "may_miss_commits": may_miss, "reason": why,
            "ranking": [dict((k, v[k]) for k in ("host", "lsn", "timeline", "member")) for v in visible]}


def rejoin_check(nodes, node_name, primary, pooler_targets, allow_stray=False):
    """Refuse to rejoin the current primary, or any node PgBouncer sends clients to."""
    node = nodes.get(node_name)
    if node is None:
        raise OperationError("%s is not a database node of this cluster" % node_name)
    if node_name == primary:
        raise OperationError("%s is the current primary; rejoin makes a node a standby of it. Use "
                             "switchover.yml to move the primary first" % node_name)
    if node_name in pooler_targets:
        raise OperationError("PgBouncer (%s) still sends clients to %s; re-point it first"
                             % (", ".join(sorted(pooler_targets[node_name])), node_name))
    stray = bool(node.get("up") and node.get("role") == "primary")
    if stray and not allow_stray:
        raise OperationError("%s still runs as a writable primary (timeline %s, LSN %s); fence it (stop it) "
                             "before rejoining" % (node_name, node.get("timeline"), node.get("current_lsn")))
    return {"stray_primary": stray, "node": node_name, "primary": primary, "role": node.get("role"), "up": node.get("up"),
            "timeline": node.get("timeline"), "primary_timeline": (nodes.get(primary) or {}).get("timeline")}


def describe_topology(nodes):
    """One line per node for refusals: role, timeline, LSN, upstream."""
    parts = []
    for host in sorted(nodes):
        node = nodes[host] or {}
        if node.get("unreachable"):
            parts.append("%s unreachable" % host)
            continue
        if not node.get("up"):
            parts.append("%s down (%s data directory, timeline %s, checkpoint %s)"
                         % (host, node.get("role") or "no", node.get("timeline"), node.get("checkpoint_lsn")))
            continue
        lsn = node.get("current_lsn") or node.get("receive_lsn") or node.get("replay_lsn")
        text = "%s %s timeline %s LSN %s" % (host, node.get("role"), node.get("timeline"), lsn)
        upstream = node.get("upstream") or {}
        if node.get("role") == "standby":
            text += " (%s from %s)" % (upstream.get("status") or "not streaming", upstream.get("host") or "nobody")
        parts.append(text)
    return "; ".join(parts)


def _deduced_primary(nodes, addresses, pooler_targets):
    """The node PgBouncer points at, else the one the standbys follow (None when unclear)."""
    by_address = dict((a, h) for h, a in addresses.items())
    pointed = set(by_address.get(t, t) for t in pooler_targets if t)
    followed = set(by_address.get((n.get("primary_conninfo") or {}).get("host"))
                   for n in nodes.values() if n.get("role") == "standby")
    for candidates in (pointed, followed):
        candidates = set(c for c in candidates if c in nodes)
        if len(candidates) == 1:
            return candidates.pop(), pointed, followed
    return None, pointed, followed


def failed_primary(nodes, addresses, pooler_targets, force=False, named=None):
    """Which node failed, or a refusal.

    Never two writable primaries: while any node other than the failed one
    answers as a writable primary, nothing is promoted, whatever the flags.
    The failed node itself may be a running primary only with ``force`` (its
    fence must then be confirmed before the promotion). ``named`` (the user's
    pgha_failed) must be the primary: a running standby is refused, and so is a
    name other than the node PgBouncer and the standbys use.
    """
    running = running_primaries(nodes)
    topology = describe_topology(nodes)
    if named is not None and named not in nodes:
        raise OperationError("pgha_failed=%s is not a database node of this cluster (known: %s)"
                             % (named, ", ".join(sorted(nodes))))
    others = [h for h in running if h != named] if named else running
    if named and others:
        raise OperationError(
            "%s %s a running writable primary, not %s: promoting a standby now would make two primaries. "
            "Use switchover.yml for a planned change; name the real primary with -e pgha_failed=%s (and "
            "-e pgha_force=true) only if it must be replaced. Topology: %s"
            % (", ".join(others), "is" if len(others) == 1 else "are", named, others[0], topology))
    if len(running) > 1:
        raise OperationError("%d nodes answer as writable primaries (%s): fence the stray one and rejoin it "
                             "first. Topology: %s" % (len(running), ", ".join(running), topology))
    if running:
        if force:
            return running[0]
        raise OperationError(
            "%s is a running primary (timeline %s, LSN %s): failover refused. Use switchover.yml for a planned "
            "change, or -e pgha_force=true if that primary must be replaced anyway (it is fenced first). "
            "Topology: %s" % (running[0], nodes[running[0]].get("timeline"), nodes[running[0]].get("current_lsn"),
                              topology))
    deduced, pointed, followed = _deduced_primary(nodes, addresses, pooler_targets)
    if named:
        node = nodes[named] or {}
        if node.get("up") and node.get("role") == "standby":
            raise OperationError("pgha_failed=%s names a running standby, not the failed primary: nothing to fail "
                                 "over from. Topology: %s" % (named, topology))
        if deduced and deduced != named:
            raise OperationError("pgha_failed=%s is not the primary: PgBouncer and the standbys use %s. Name %s, or "
                                 "fix the topology first. Topology: %s" % (named, deduced, deduced, topology))
        return named
    if deduced:
        return deduced
    raise OperationError("cannot tell which node was the primary (PgBouncer points at %s, standbys follow %s): "
                         "name it with -e pgha_failed=HOST. Topology: %s"
                         % (", ".join(sorted(pointed)) or "nothing",
                            ", ".join(sorted(h for h in followed if h)) or "nothing", topology))


def synchronous_set_after_failover(nodes, failed, candidate, sync_mode, sync_count, excluded=()):
    """The new primary's synchronous set: only members that are alive (running
    standbys of the same system, not delayed or cascading replicas), k capped to how many
    there are. Returns (standbys, count, warnings); count 0 means synchronous
    replication off."""
    sysid = (nodes.get(candidate) or {}).get("system_identifier")
    live = sorted(h for h, n in nodes.items()
                  if h not in (failed, candidate) and h not in excluded and n.get("up") and n.get("role") == "standby"
                  and (not sysid or not n.get("system_identifier") or n["system_identifier"] == sysid))
    warnings = []
    if sync_mode == "off":
        return live, 0, warnings
    count = min(int(sync_count), len(live))
    if count < int(sync_count):
        warnings.append("only %d live standby(s) (%s) besides the new primary %s: synchronous replication runs "
                        "with %s until the others are back (pgha_sync_count is %s); rejoin.yml restores it"
                        % (len(live), ", ".join(live) or "none", candidate,
                           "k=%d" % count if count else "no synchronous standby", sync_count))
    return live, count, warnings


def switchover_plan(nodes, primary, target, max_lag_bytes, sync_mode, sync_count, delayed=None, upstreams=None):
    """The switchover plan: the target checked (or the best one chosen), and
    how each engine switches. Where Patroni runs (pgha_failover_mode:
    automatic) it switches over and pgha pauses PgBouncer around it.
    ``delayed``: host -> pgha_apply_delay of the delayed replicas, never
    chosen nor synchronous; one named as the target is refused (it would
    replay the old primary's last commits only after its delay).
    ``upstreams``: host -> pgha_upstream of the cascading replicas, never
    chosen nor synchronous; one keeps streaming from its upstream through the
    switch (from the old primary, a standby after it: cascading follows the
    new timeline), and only the nodes that will stream from the target are
    re-pointed and get a slot there."""
    engine = engine_of(nodes)
    delayed, upstreams = delayed or {}, upstreams or {}
    excluded = not_synchronous(delayed, upstreams)
    if target and target in delayed:
        raise OperationError("%s is a delayed replica (pgha_apply_delay %s): a switchover waits until the target "
                             "replayed the old primary's last commit, which it does only after its delay. Take the "
                             "delay off first (pgha_apply_delay unset, site.yml), or use failover.yml -e pgha_target=%s "
                             "when the primary is lost" % (target, delayed[target], target))
    if target:
        checked = switchover_check(nodes, primary, target, max_lag_bytes)
    else:
        checked = choose_switchover_target(nodes, primary, max_lag_bytes, excluded)
    if engine == "patroni":
        checked = patroni_switchover_check(checked, nodes, primary, sync_mode)
    target = checked.pop("target")
    checked.pop("primary", None)
    if engine == "patroni":
        # Asynchronous standbys stream from the target before the switch (Patroni's replicatefrom tag), so
        # that the new primary finds a synchronous standby at once. Synchronous ones stay on the leader.
        recorded = patroni_synchronous(nodes)
        cascade = [] if recorded is None else sorted(
            h for h, n in nodes.items()
            if h not in (primary, target) and h not in recorded
            and (n or {}).get("up") and (n or {}).get("role") == "standby")
        # The target promotes, and the cascading standbys follow its new timeline, without a repository
        # round trip for each history file.
        streaming_only = [target] + cascade
        steps = (["stream %s from %s until the switch (Patroni's replicatefrom tag)" % (", ".join(cascade), target)]
                 if cascade else []) + [
            "restore_command off on %s until the switch is over" % ", ".join(streaming_only),
            "CHECKPOINT %s, PAUSE PgBouncer" % primary,
            "ask Patroni (POST /switchover) to switch over from %s to %s: it stops %s, promotes %s and restarts %s "
            "as its standby" % (primary, target, primary, target, primary),
            "RESUME each PgBouncer once its HAProxy forwards to %s" % target,
        ] + (["remove the tag from %s" % ", ".join(cascade)] if cascade else [])
        # Patroni re-points the standbys itself.
        return plan_of("switchover", engine, primary, target, [], steps, cascade=cascade,
                       streaming_only=streaming_only, synchronous_standby_names=None, **checked)
    hosts = sorted(nodes)
    others = [h for h in hosts if h not in (primary, target)
              and effective_upstream(h, target, upstreams, nodes) == target]
    fenced = [h for h in others if (nodes[h] or {}).get("fenced")]
    if fenced:
        raise OperationError(fenced_refusal(fenced, "re-pointed to %s" % target))
    slots = followers_of(target, target, hosts, upstreams, nodes)
    followers = [h for h in hosts if h != target and h not in excluded]
    names = synchronous_standby_names(sync_mode, min(sync_count, len(followers)), followers) if followers else ""
    # A delayed replica's WAL receiver takes a new upstream only once it applied the WAL it holds (up to its
    # delay): it is re-pointed, not waited for.
    late = [h for h in others if h in delayed]
    steps = [
        "create slots %s on %s and preset synchronous_standby_names = '%s' there" % (", ".join(slots), target, names),
        "re-point %s to %s (cascading until the switch)%s"
        % (", ".join(others) or "no other standby", target,
           "; %s streams from it once it applied the WAL it holds (its delay)" % ", ".join(late) if late else ""),
        "CHECKPOINT %s, PAUSE PgBouncer, stop %s cleanly" % (primary, primary),
        "promote %s once it replayed %s's shutdown checkpoint" % (target, primary),
        "re-point PgBouncer to %s, RELOAD, RESUME" % target,
        "restart %s as a standby of %s" % (primary, target),
    ]
    return plan_of("switchover", engine, primary, target, others, steps, cascade=[], streaming_only=others,
                   synchronous_standby_names=names, delayed=late, slots=slots,
                   cascading=[h for h in hosts if h in upstreams and h not in others], **checked)


def failover_plan(nodes, failed, sync_mode, sync_count, fence_command=False, accept_unfenced=False,
                  accept_data_loss=False, delayed=None, target=None, upstreams=None):
    """The failover decision: fencing method, candidate, engine, and refusals with figures.

    Where Patroni runs (engine ``patroni``) pgha still chooses the candidate and
    fences the failed primary; Patroni promotes the candidate (POST /failover)
    and re-points the other standbys itself."""
    engine = engine_of(nodes, ignore=(failed,))
    delayed, upstreams = delayed or {}, upstreams or {}
    # Neither a delayed nor a cascading replica is a synchronous member or an unnamed candidate.
    not_sync = not_synchronous(delayed, upstreams)
    others = [h for h in running_primaries(nodes) if h != failed]
    if others:
        # No flag ever gets past this: the invariant is one writable primary.
        raise OperationError("%s answer(s) as a writable primary besides %s: refused. Topology: %s"
                             % (", ".join(others), failed, describe_topology(nodes)))
    members = sorted(h for h in nodes if h != failed and h not in not_sync)
    recorded = patroni_synchronous(nodes) if engine == "patroni" and sync_mode != "off" else None
    if recorded:
        # Patroni 3 (strict, named): every acknowledged commit is on each standby its /sync key names, so one
        # of them visible is enough; the most advanced visible standby is at least as far.
        choice = failover_candidate(nodes, failed, "priority", len(recorded), recorded, not_sync, target)
        choice["reason"] = "Patroni recorded %s as synchronous; %s" % (", ".join(recorded), choice["reason"])
    else:
        choice = failover_candidate(nodes, failed, sync_mode, sync_count, members, not_sync, target)
    if choice["may_miss_commits"] and not accept_data_loss:
        raise OperationError("the best candidate %s (LSN %s) may be missing acknowledged commits: %s. Bring the "
                             "missing standbys back, or accept the loss with -e pgha_accept_data_loss=true"
                             % (choice["candidate"], choice["lsn"], choice["reason"]))
    old = nodes.get(failed) or {}
    if not old.get("unreachable"):
        fence = "stop"
    elif fence_command:
        fence = "command"
    elif accept_unfenced:
        fence = "none"
    else:
        raise OperationError("%s cannot be reached to stop it and no fencing command is configured "
                             "(pgha_fence_command): promoting now could leave two primaries. Configure one, "
                             "or accept the risk with -e pgha_accept_unfenced=true (the candidate then refuses "
                             "to promote while %s's PostgreSQL still answers it)" % (failed, failed))
    candidate = choice.pop("candidate")
    if engine == "patroni":
        patroni_candidate_check(nodes, candidate)
    sync_standbys, count, warnings = synchronous_set_after_failover(nodes, failed, candidate, sync_mode, sync_count,
                                                                    not_sync)
    mode = sync_mode if count else "off"
    # Patroni re-points the running standbys only (a stopped one follows when its Patroni starts it).
    # A cascading replica whose upstream runs keeps streaming from it; one whose upstream failed follows
    # the new primary (it gets a slot there) until site.yml moves it back.
    repoint = [h for h in sorted(nodes) if h not in (failed, candidate)
               and (engine == "pgha" or (nodes.get(h) or {}).get("up"))
               and effective_upstream(h, candidate, upstreams, nodes, (failed,)) == candidate]
    slots = [failed] + followers_of(candidate, candidate, sorted(nodes), upstreams, nodes, (failed,))
    steps = [
        "fence %s: %s" % (failed, {"stop": "stop it over SSH (pg_fence)", "command": "run pgha_fence_command",
                                   "none": "not fenced (pgha_accept_unfenced): the candidate refuses while it answers"}[fence]),
        "promote %s at %s (%s)%s" % (candidate, choice["lsn"], choice["reason"],
                                     ", through Patroni (POST /failover)" if engine == "patroni" else ""),
        "ranking: %s" % ", ".join("%s %s" % (r["host"], r["lsn"]) for r in choice["ranking"]),
        "re-point %s and PgBouncer" % (", ".join(repoint) or "no other standby"),
        "synchronous replication on the new primary: %s %s of %s" % (mode, count, ", ".join(sync_standbys) or "none"),
    ]
    return plan_of("failover", engine, failed, candidate, repoint, steps, fence=fence,
                   delayed=[h for h in repoint if h in delayed], slots=sorted(slots),
                   cascading=sorted(h for h in upstreams if h not in repoint and h not in (failed, candidate)),
                   followers=[h for h in sorted(nodes) if h != candidate], sync_standbys=sync_standbys,
                   sync_count=count, sync_mode=mode, warnings=warnings, **choice)


def patroni_synchronous(nodes):
    """The standbys Patroni's /sync key names (strict, named synchronous
    replication: each holds every acknowledged commit), as any node that
    answered reports them; None when no node did, or under quorum commit
    (Patroni 4), where pgha's own quorum rule applies."""
    for host in sorted(nodes):
        view = (nodes[host] or {}).get("patroni") or {}
        if "synchronous" in view:
            return None if view.get("quorum") else sorted(view["synchronous"] or [])
    return None


def patroni_candidate_check(nodes, candidate):
    """Patroni promotes only a member it knows that runs: refuse a candidate
    whose Patroni does not answer, or has the nofailover tag."""
    member = (nodes.get(candidate) or {}).get("patroni") or {}
    if not member or member.get("error"):
        raise OperationError("%s is the most advanced standby but its Patroni does not answer (%s; systemctl status "
                             "patroni on %s): Patroni cannot promote it"
                             % (candidate, member.get("error") or "no answer", candidate))
    if (member.get("tags") or {}).get("nofailover"):
        raise OperationError("%s is the most advanced standby but has Patroni's nofailover tag: remove the tag, or "
                             "bring a standby without it up to date" % candidate)
    if member.get("state") not in ("running", "streaming"):
        raise OperationError("%s is the most advanced standby but Patroni reports it %s, not running"
                             % (candidate, member.get("state")))


def fence_confirmed(plan, fence_result, command_rc):
    """Whether the failed primary is known fenced: stopped by pg_fence (which says
    so), or the fencing command exited 0, or no fencing was accepted for an
    unreachable node. Returns (ok, how)."""
    fence = plan.get("fence")
    if fence == "stop":
        result = fence_result or {}
        if result.get("fenced") is True:
            return True, "stopped over SSH (%s)" % (result.get("how") or "was not running")
        return False, "pg_fence on %s did not confirm the fence (%s)" % (
            plan.get("primary"), result.get("msg") or ("unreachable" if result.get("unreachable") else "no result"))
    if fence == "command":
        if command_rc == 0:
            return True, "fencing command exited 0"
        return False, "the fencing command for %s %s" % (
            plan.get("primary"), "exited %s" % command_rc if command_rc is not None else "did not run")
    if fence == "none":
        return True, "not fenced (accepted with pgha_accept_unfenced; the candidate checks it does not answer)"
    return False, "unknown fencing method %r" % (fence,)


def rejoin_plan(nodes, addresses, pooler_targets, target=None):
    """Which node(s) to bring back as standbys of the single running primary.

    Where Patroni runs (engine ``patroni``) a node is rejoined by starting its
    Patroni, which rewinds it and follows the leader."""
    engine = engine_of(nodes)
    paused = sorted(h for h, n in nodes.items() if ((n or {}).get("patroni") or {}).get("pause"))
    if engine == "patroni" and paused:
        raise OperationError("Patroni is paused (maintenance mode, as %s report): it starts no server while paused, "
                             "so it cannot rejoin a node. Resume it first (patronictl -c /etc/patroni/config.yml "
                             "resume); Patroni then rejoins a node whose Patroni runs by itself, and rejoin.yml "
                             "brings back a fenced one" % ", ".join(paused))
    running = running_primaries(nodes)
    by_address = dict((a, h) for h, a in addresses.items())
    pointed, own = {}, []
    for pooler, address in pooler_targets.items():
        if not address:
            continue
        host = by_address.get(address, address)
        # A PgBouncer on a database node that still points at that node after it
        # lost the primary role (the three-node layout): no client writes through
        # it (the node is down or read-only), so it does not block the rejoin; it
        # is sent to the primary first.
        if host == pooler and host in nodes and host not in running:
            own.append(pooler)
            continue
        pointed.setdefault(host, []).append(pooler)
    if len(running) > 1:
        # A fenced primary powered on again runs writable: the current primary is the one
        # PgBouncer sends clients to; the stray one may be rejoined (it is stopped first).
        used = [h for h in running if h in pointed]
        if len(used) != 1:
            raise OperationError("%d writable primaries (%s) and PgBouncer uses %s: fence the wrong one first"
                                 % (len(running), ", ".join(running), ", ".join(used) or "none of them"))
        running = used
    if len(running) != 1:
        raise OperationError("rejoin needs a running primary, found none")
    primary = running[0]
    primary_address = addresses.get(primary)
    if target:
        targets = [target]
    else:
        targets = []
        for host in sorted(nodes):
            node = nodes[host]
            if host == primary or node.get("unreachable"):
                continue
            upstream = node.get("upstream") or {}
            # A node the boot guard fenced may stream at once (its old primary_conninfo names the new
            # primary): it is rejoined anyway, so that its obsolete fenced marker is cleared.
            if node.get("fenced") or not (node.get("up") and node.get("role") == "standby"
                                          and upstream.get("status") == "streaming"
                                          and upstream.get("host") == primary_address):
                targets.append(host)
    # A writable primary that PgBouncer does not use (a fenced node powered on again) is
    # stopped and rewound; its writes after the failover were never acknowledged through PgBouncer.
    checks = [rejoin_check(nodes, host, primary, pointed, allow_stray=True) for host in targets]
    stray = [c["node"] for c in checks if c["stray_primary"]]
    steps = ["rejoin %s as standby of %s" % (", ".join(targets) or "nothing", primary)] + [
        "stop %s first: it runs as a writable primary PgBouncer does not use" % h for h in stray]
    return plan_of("rejoin", engine, primary, primary, targets, steps, checks=checks, stray=stray,
                   repoint_poolers=sorted(own))


# pg_rewind failures a fresh clone can fix (the rewind itself is impossible), and
# failures it cannot (the source is out of reach: a clone would fail too, after
# the old data was moved away). Anything else leaves the data in place.
_REWIND_CONNECTION = ("could not connect", "connection to server", "password authentication failed",
                      "no pg_hba.conf entry", "timeout expired", "connection refused", "could not translate host",
                      "no route to host", "server closed the connection", "ssl", "network is unreachable",
                      "the database system is starting up", "the database system is shutting down",
                      "source server must not be in recovery mode")
_REWIND_CLONE_FIXES = ("could not find previous wal record", "could not open file", "could not find common ancestor",
                       "has already been removed", "could not find wal", "requested wal segment",
                       "target server needs to use either data checksums or", "wal_log_hints",
                       "could not read file", "unexpected page address", "invalid record length",
                       "record with incorrect prev-link", "could not seek in file")


def rewind_failure(output):
    """What a failed pg_rewind means: ``connection`` (nothing was changed; fix the
    connection and run again), ``clone`` (the rewind is impossible: a clone fixes it)
    or ``unknown`` (left as it is for a person to look at)."""
    text = (output or "").lower()
    if any(k in text for k in _REWIND_CONNECTION):
        return "connection"
    if any(k in text for k in _REWIND_CLONE_FIXES):
        return "clone"
    return "unknown"


def remove_plan(nodes, primary, target, addresses, pooler_targets, sync_mode, sync_count, poolers=(),
                upstreams=None, delayed=None):
    """Take ``target`` (a standby) out of the cluster: refused for the primary, a
    node PgBouncer sends clients to, a node that is also a PgBouncer host, or
    when fewer than ``sync_count`` streaming standbys would remain for the
    synchronous set (delayed and cascading replicas do not count), or for the
    upstream of a cascading replica (``upstreams``). Returns the plan: the
    standbys that remain and the steps."""
    upstreams = upstreams or {}
    excluded = not_synchronous(delayed, upstreams)
    if target not in nodes:
        raise OperationError("%s is not a database node of this inventory (known: %s)"
                             % (target, ", ".join(sorted(nodes))))
    if target == primary:
        raise OperationError("%s is the primary: switch over first (switchover.yml), then remove it" % target)
    if engine_of(nodes) == "patroni":
        raise OperationError("Patroni runs this cluster (automatic mode): removing a node is not supported there yet")
    if target in poolers:
        raise OperationError("%s is also a PgBouncer host (the three-node layout): removing a node with its "
                             "PgBouncer is not supported; move the clients first" % target)
    children = sorted(h for h, u in upstreams.items() if u == target and h != target)
    if children:
        raise OperationError("%s streams WAL to %s (pgha_upstream: %s): change their pgha_upstream and run site.yml "
                             "first, then remove it" % (target, ", ".join(children), target))
    address = addresses.get(target)
    users = sorted(p for p, t in (pooler_targets or {}).items() if t and t in (target, address))
    if users:
        raise OperationError("PgBouncer %s sends clients to %s: re-point it first (site.yml)" % (", ".join(users), target))
    p = nodes.get(primary) or {}
    replicas = _replicas(p)
    remaining = sorted(h for h in nodes if h not in (primary, target))
    streaming = [h for h in remaining if (replicas.get(h) or {}).get("state") == "streaming"
                 and h not in excluded]
    if sync_mode != "off" and sync_count > 0 and len(streaming) < sync_count:
        raise OperationError("without %s, %d standby(s) stream from %s (%s) and pgha_sync_count is %d: commits would "
                             "wait. Add a standby first, or lower pgha_sync_count"
                             % (target, len(streaming), primary, ", ".join(streaming) or "none", sync_count))
    node = nodes.get(target) or {}
    steps = ["take %s out of synchronous_standby_names on %s (the standbys that remain: %s)"
             % (target, primary, ", ".join(remaining) or "none"),
             "stop %s and disable its server at boot; its data directory stays" % target,
             "drop its replication slot on %s" % ", ".join([primary] + remaining),
             "remove its pg_hba lines on %s" % ", ".join([primary] + remaining),
             "then remove %s from the inventory and run site.yml" % target]
    return plan_of("remove", engine_of(nodes), primary, primary, remaining, steps, node=target,
                   address=address, up=bool(node.get("up")), role=node.get("role"),
                   streaming=bool((replicas.get(target) or {}).get("state") == "streaming"))


def handback_plan(nodes, mode):
    """How to hand a cluster Patroni runs back to pgha's manual mode (handback.yml).

    Patroni is paused first (it then neither promotes nor stops a server), so the
    nodes are handed back one at a time with their servers running: the standbys
    first, each restarted under systemd with pgha's own configuration and still
    streaming; then PgBouncer goes straight to the primary instead of through
    HAProxy (which follows Patroni's leader key, and Patroni is about to stop);
    the primary last, restarted in place with PgBouncer paused (clients wait,
    none fails). A node is handed back while Patroni runs there or Patroni's
    configuration is still in force (a run cut short half-way is resumed).
    Refused unless the inventory says manual, every node is up, exactly one
    primary runs and every standby streams."""
    if mode != "manual":
        raise OperationError("handback.yml hands the cluster to pgha's manual mode, but pgha_failover_mode is %s: set "
                             "pgha_failover_mode: manual in the inventory first (site.yml would otherwise hand it to "
                             "Patroni again)" % mode)
    nodes = nodes or {}
    down = sorted("%s (%s)" % (h, "unreachable" if (n or {}).get("unreachable") else "PostgreSQL down")
                  for h, n in nodes.items() if not (n or {}).get("up"))
    if down:
        raise OperationError("every database node must be up to be handed back, and %s %s not: start it (Patroni "
                             "brings it back) or remove it from the inventory first"
                             % (", ".join(down), "is" if len(down) == 1 else "are"))
    fenced = sorted(h for h, n in nodes.items() if n.get("fenced"))
    if fenced:
        raise OperationError("%s %s fenced (pgha.fenced): rejoin it first (rejoin.yml)"
                             % (", ".join(fenced), "is" if len(fenced) == 1 else "are"))
    running = running_primaries(nodes)
    if len(running) != 1:
        raise OperationError("a handback needs exactly one running primary, found %d (%s)"
                             % (len(running), ", ".join(running) or "none"))
    primary = running[0]
    idle = sorted("%s (%s)" % (h, ((n.get("upstream") or {}).get("status") or "no WAL receiver"))
                  for h, n in nodes.items() if h != primary and (n.get("upstream") or {}).get("status") != "streaming")
    if idle:
        raise OperationError("every standby must stream before the handback, and %s %s not: wait for it or see "
                             "status.yml" % (", ".join(idle), "does" if len(idle) == 1 else "do"))
    patroni = patroni_nodes(nodes)
    pending = sorted(h for h, n in nodes.items() if h in patroni or n.get("patroni_config"))
    order = [h for h in pending if h != primary] + ([primary] if primary in pending else [])
    steps = []
    if patroni:
        steps.append("pause Patroni (%s)" % ", ".join(patroni))
    steps += ["hand %s back to systemd (a standby, restarted)" % h for h in order if h != primary]
    if primary in order:
        steps += ["PgBouncer straight to %s instead of through HAProxy" % primary,
                  "hand %s back to systemd (the primary, restarted with PgBouncer paused)" % primary]
    if order:
        steps.append("forget Patroni's state of the cluster in etcd, stop etcd")
    steps.append("site.yml in manual mode")
    return plan_of("handback", "patroni" if patroni else "pgha", primary, primary, [h for h in order if h != primary],
                   steps, order=order, patroni=patroni, pause=bool(patroni))
