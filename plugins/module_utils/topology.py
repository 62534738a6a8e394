# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decision functions about a replication topology.

Nothing here imports Ansible or touches a host: every function takes plain data
(what pg_node_info reported) and returns a decision, so plain pytest covers it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_LSN_RE = re.compile(r"^\s*([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})\s*$")


class TopologyError(Exception):
    """A topology that no automatic decision may act on."""


def parse_lsn(text):
    """Return the integer position of an LSN written as ``XXXXXXXX/YYYYYYYY``."""
    if text is None:
        return None
    match = _LSN_RE.match(str(text))
    if not match:
        raise ValueError("not an LSN: %r (expected hex 'X/Y', e.g. 0/3000060)" % (text,))
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value):
    """Return the ``X/Y`` text of an integer LSN."""
    if value is None:
        return None
    if value < 0 or value >= 1 << 64:
        raise ValueError("LSN out of range: %r" % (value,))
    return "%X/%X" % (value >> 32, value & 0xFFFFFFFF)


def lag_bytes(ahead, behind):
    """Bytes between two LSNs (text or int); None when either is unknown."""
    a = parse_lsn(ahead) if not isinstance(ahead, int) else ahead
    b = parse_lsn(behind) if not isinstance(behind, int) else behind
    if a is None or b is None:
        return None
    return max(a - b, 0)


def upstream_host(node, addresses):
    """The node a standby streams from (its WAL receiver's sender, else its
    primary_conninfo host): the inventory name where ``addresses`` (host ->
    address) knows the address, else the address; None when it follows nobody."""
    node = node or {}
    address = (node.get("upstream") or {}).get("host") or (node.get("primary_conninfo") or {}).get("host")
    if not address:
        return None
    return dict((a, h) for h, a in (addresses or {}).items()).get(address, address)


def slot_name(host):
    """Physical replication slot name for an inventory host name.

    Slot names allow only lower-case letters, digits and underscores (at most
    63 characters), so ``db-2.example.com`` becomes ``db_2_example_com``.
    """
    name = re.sub(r"[^a-z0-9_]", "_", str(host).lower())
    if not name:
        raise ValueError("cannot derive a slot name from an empty host name")
    return name[:63]


def quote_ident(name):
    """Double-quote a name for synchronous_standby_names."""
    return '"%s"' % str(name).replace('"', '""')


def synchronous_standby_names(mode, count, standbys):
    """The value of ``synchronous_standby_names`` for a set of standby names.

    ``mode`` is ``off``, ``quorum`` (``ANY k (...)``, names sorted) or
    ``priority`` (``FIRST k (...)``, in the order given).
    """
    if mode == "off":
        return ""
    if mode not in ("quorum", "priority"):
        raise ValueError("synchronous mode must be off, quorum or priority, not %r" % (mode,))
    # Quorum does not depend on order: sort so the value is stable across runs.
    names = sorted(standbys) if mode == "quorum" else list(standbys)
    if count < 1:
        raise ValueError("synchronous count must be at least 1, got %d" % count)
    if count > len(names):
        raise ValueError(
            "synchronous count %d is larger than the %d standby(s) %s"
            % (count, len(names), ", ".join(names) or "(none)"))
    keyword = "ANY" if mode == "quorum" else "FIRST"
    return "%s %d (%s)" % (keyword, count, ", ".join(quote_ident(n) for n in names))


def sync_enable_decision(mode, count, standbys, streaming):
    """Decide whether synchronous replication may be switched on now.

    Returns a dict: ``value`` (what to set), ``ready`` (enough standbys stream),
    ``streaming`` and ``missing`` (names). Turning it on with fewer streaming
    standbys than ``count`` would make every write on the primary wait.
    """
    value = synchronous_standby_names(mode, count, standbys)
    members = [s for s in standbys if s in set(streaming)]
    missing = [s for s in standbys if s not in set(streaming)]
    ready = mode == "off" or len(members) >= count
    return {"value": value, "ready": ready, "streaming": members, "missing": missing}


def _describe(host, node):
    parts = [host]
    if node.get("timeline") is not None:
        parts.append("timeline %s" % node["timeline"])
    lsn = node.get("current_lsn") or node.get("receive_lsn") or node.get("checkpoint_lsn")
    if lsn:
        parts.append("LSN %s" % lsn)
    return " ".join(parts)


def running_primaries(nodes):
    """Nodes that answer as writable primaries, sorted."""
    return sorted(h for h, n in nodes.items() if n.get("up") and n.get("role") == "primary")


def choose_primary(nodes, initial_primary):
    """Find the current primary from what every database node reported.

    ``nodes`` maps host -> pg_node_info result (``up``, ``role``,
    ``data_directory_exists``, ``system_identifier``, ...). Returns a dict with
    ``primary``, ``reason`` and ``fresh`` (no node has data yet: bootstrap from
    ``initial_primary``). Raises TopologyError when no automatic choice is safe.
    """
    if not nodes:
        raise TopologyError("no database nodes to inspect")
    unreachable = sorted(h for h, n in nodes.items() if n.get("unreachable"))
    if unreachable:
        raise TopologyError(
            "cannot decide the topology while %s cannot be inspected; fix the "
            "connection or run failover.yml if the primary is gone" % ", ".join(unreachable))

    sysids = {}
    for host, node in nodes.items():
        if node.get("system_identifier"):
            sysids.setdefault(str(node["system_identifier"]), []).append(host)

    running = running_primaries(nodes)
    if len(running) > 1:
        raise TopologyError(
            "more than one node accepts writes: %s. Stop the stale one and bring it "
            "back with rejoin.yml before running site.yml"
            % "; ".join(_describe(h, nodes[h]) for h in running))
    if running:
        primary = running[0]
        return {"primary": primary, "fresh": False,
                "reason": "%s is the running primary" % _describe(primary, nodes[primary])}

    with_data = sorted(h for h, n in nodes.items() if n.get("data_directory_exists"))
    if not with_data:
        if initial_primary not in nodes:
            raise TopologyError("the initial primary %r is not a database node" % (initial_primary,))
        return {"primary": initial_primary, "fresh": True,
                "reason": "no node has data yet: bootstrapping %s" % initial_primary}

    if len(sysids) == 1:
        # No primary runs: a single node whose data directory is a primary's
        # (no standby.signal) is the one the others follow; it gets started.
        offline_primaries = sorted(h for h in with_data
                                   if nodes[h].get("role") == "primary")
        if len(offline_primaries) == 1:
            primary = offline_primaries[0]
            return {"primary": primary, "fresh": False,
                    "reason": "no primary runs; %s holds a primary data directory" % primary}

    running_standbys = sorted(h for h, n in nodes.items() if n.get("up") and n.get("role") == "standby")
    raise TopologyError(
        "no primary is running (standbys up: %s; nodes with data: %s). Start the "
        "primary, or run failover.yml to promote a standby"
        % (", ".join(running_standbys) or "none", ", ".join(with_data)))


CONNINFO_KEYS = ("host", "port", "user", "application_name", "sslmode", "sslrootcert")


def conninfo_differences(current, desired):
    """Keys of ``desired`` (host, port, user, application_name, slot) that differ."""
    diffs = []
    for key in CONNINFO_KEYS:
        if str(current.get(key, "")) != str(desired.get(key, "")):
            diffs.append(key)
    if str(current.get("slot_name") or "") != str(desired.get("slot_name") or ""):
        diffs.append("slot_name")
    return diffs


def fenced_refusal(hosts, what):
    """The refusal for nodes that carry pgha's fenced marker (pg_fence, or the boot guard)."""
    return ("%s %s fenced as a former primary (pgha.fenced) and cannot be %s: a fenced node may hold writes the "
            "primary lacks until rejoin.yml checks it with pg_rewind (even when its WAL receiver streams). Nothing "
            "was changed: run rejoin.yml -e pgha_target=%s first"
            % (", ".join(hosts), "is" if len(hosts) == 1 else "are", what, hosts[0]))


def standby_action(node, primary, desired, reclone=False, clean_switchover_lsn=None):
    """What to do on a node that must become (or stay) a standby of ``primary``.

    ``node`` and ``primary`` are pg_node_info results; ``desired`` holds the
    upstream settings the node should have (host, port, user,
    application_name, slot_name). Returns a dict with ``action`` (``none``,
    ``configure`` or ``clone``) and ``reason``. Raises TopologyError where
    acting could lose data.
    """
    if not node.get("data_directory_exists"):
        return {"action": "clone", "reason": "no data directory yet"}

    sysid, primary_sysid = node.get("system_identifier"), primary.get("system_identifier")
    if sysid and primary_sysid and str(sysid) != str(primary_sysid):
        if reclone:
            return {"action": "clone",
                    "reason": "data directory belongs to database system %s, not %s; "
                              "re-clone requested" % (sysid, primary_sysid)}
        raise TopologyError(
            "the data directory %s belongs to another database system (system "
            "identifier %s, the primary's is %s); it is left untouched. Set "
            "standby_reclone=true to replace it with a fresh clone"
            % (node.get("data_directory"), sysid, primary_sysid))

    if node.get("fenced"):
        raise TopologyError(
            "this node was fenced as a failed primary (timeline %s, last checkpoint %s): it may hold writes "
            "the current primary lacks. Bring it back with rejoin.yml (pg_rewind)"
            % (node.get("timeline"), node.get("checkpoint_lsn")))
    if node.get("role") == "primary" and clean_switchover_lsn and not node.get("up") \
            and node.get("cluster_state") == "shut down" and node.get("checkpoint_lsn") \
            and parse_lsn(node["checkpoint_lsn"]) == parse_lsn(clean_switchover_lsn):
        return {"action": "configure",
                "reason": "former primary shut down cleanly at %s, which the new primary replayed before its "
                          "promotion: it follows without a rewind" % clean_switchover_lsn}
    if node.get("role") == "primary":
        raise TopologyError(
            "this node holds a primary data directory of the same cluster (timeline %s, "
            "LSN %s) while %s is the primary; it may hold writes the primary lacks. "
            "Bring it back with rejoin.yml (pg_rewind) instead"
            % (node.get("timeline"), node.get("current_lsn") or node.get("checkpoint_lsn"),
               desired.get("host")))

    current = dict(node.get("primary_conninfo") or {})
    current["slot_name"] = node.get("primary_slot_name")
    diffs = conninfo_differences(current, desired)
    if not diffs:
        return {"action": "none", "reason": "standby of %s:%s already"
                % (desired.get("host"), desired.get("port"))}
    return {"action": "configure",
            "reason": "upstream settings differ (%s): now host=%s, want host=%s"
                      % (", ".join(diffs), current.get("host") or "(none)", desired.get("host"))}


_AUTO_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=")


def quote_setting(value):
    """Quote a value for postgresql.auto.conf."""
    return "'%s'" % str(value).replace("\\", "\\\\").replace("'", "''")


def merge_auto_conf(text, settings):
    """Return postgresql.auto.conf ``text`` with ``settings`` set (None removes).

    Keeps every other line and its order, replaces the first occurrence of a
    key, drops later duplicates, and appends new keys, as ALTER SYSTEM does.
    """
    lines = text.splitlines() if text else []
    out, seen = [], set()
    for line in lines:
        match = _AUTO_LINE.match(line)
        key = match.group(1) if match else None
        if key in settings:
            if key in seen:
                continue
            seen.add(key)
            if settings[key] is not None:
                out.append("%s = %s" % (key, quote_setting(settings[key])))
            continue
        out.append(line)
    if not any(line.startswith("# Do not edit this file manually") for line in out):
        out.insert(0, "# Do not edit this file manually!")
        out.insert(1, "# It will be overwritten by the ALTER SYSTEM command.")
    for key in settings:
        if key not in seen and settings[key] is not None:
            out.append("%s = %s" % (key, quote_setting(settings[key])))
    return "\n".join(out) + "\n"


def parse_conninfo(conninfo):
    """Parse a libpq key=value connection string into a dict."""
    result = {}
    if not conninfo:
        return result
    pos, text = 0, conninfo
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        eq = text.find("=", pos)
        if eq < 0:
            raise ValueError("malformed conninfo near %r" % text[pos:])
        key = text[pos:eq].strip()
        pos = eq + 1
        while pos < len(text) and text[pos].isspace():
            pos += 1
        value = []
        if pos < len(text) and text[pos] == "'":
            pos += 1
            while pos < len(text) and text[pos] != "'":
                if text[pos] == "\\" and pos + 1 < len(text):
                    pos += 1
                value.append(text[pos])
                pos += 1
            pos += 1
        else:
            while pos < len(text) and not text[pos].isspace():
                if text[pos] == "\\" and pos + 1 < len(text):
                    pos += 1
                value.append(text[pos])
                pos += 1
        result[key] = "".join(value)
    return result


def build_conninfo(params):
    """Build a libpq connection string (values quoted when needed)."""
    parts = []
    for key, value in params.items():
        value = str(value)
        if value == "" or re.search(r"[\s'\\]", value):
            value = "'%s'" % value.replace("\\", "\\\\").replace("'", "\\'")
        parts.append("%s=%s" % (key, value))
    return " ".join(parts)
