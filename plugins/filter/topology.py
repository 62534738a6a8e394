# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter's documentation is in its own file next to this one (NAME.yml).

import re

from ansible.errors import AnsibleFilterError
from ansible_collections.pgha.cluster.plugins.module_utils.operations import fence_confirmed as _fence_confirmed
from ansible_collections.pgha.cluster.plugins.module_utils.replicas import (
    apply_delays as _apply_delays, effective_upstream, followers_of, sync_members as _sync_members,
    upstreams as _upstreams)
from ansible_collections.pgha.cluster.plugins.module_utils.reach import (
    reach_results as _reach_results, ssh_targets as _ssh_targets)
from ansible_collections.pgha.cluster.plugins.module_utils.validate import CLUSTER_WIDE, dcs_members as _dcs_members
from ansible_collections.pgha.cluster.plugins.module_utils.status import archive_status, build_status, render_table
from ansible_collections.pgha.cluster.plugins.module_utils.topology import (
    TopologyError, choose_primary, slot_name, upstream_host)


def apply_delays(hosts, hostvars, raw=False):
    return _apply_delays(hosts, hostvars, raw)


def sync_members(hosts, primary, hostvars):
    return _sync_members(hosts, primary, _apply_delays(hosts, hostvars), _upstreams(hosts, hostvars))


def upstreams(hosts, hostvars):
    return _upstreams(hosts, hostvars)


def replication_source(host, primary, hostvars, nodes=None, gone=None):
    """The node ``host`` streams from (its pgha_upstream, or the primary)."""
    return effective_upstream(host, primary, _upstreams([host], hostvars), nodes, gone or ())


def replication_followers(source, primary, hosts, hostvars, nodes=None, gone=None):
    """The nodes that stream from ``source`` when ``primary`` is the primary: those it keeps a slot for."""
    return followers_of(source, primary, hosts, _upstreams(hosts, hostvars), nodes, gone or ())


def current_primary(nodes, initial_primary):
    try:
        return choose_primary(nodes, initial_primary)
    except TopologyError as exc:
        raise AnsibleFilterError("topology: %s" % exc)


def dcs_members(groups):
    return _dcs_members(groups)


def node_addresses(hosts, hostvars):
    """Host -> address peers use: ``pgha_address``, else ``ansible_host``, else the name."""
    result = {}
    for host in hosts:
        hv = hostvars[host]
        result[host] = str(hv.get("pgha_address") or hv.get("ansible_host") or host)
    return result


def inventory_hosts(hosts, hostvars):
    """Host -> {address, settings}: what validation compares across hosts."""
    addresses = node_addresses(hosts, hostvars)
    return dict((host, {"address": addresses[host],
                        "settings": dict((name, hostvars[host].get(name)) for name in CLUSTER_WIDE)})
                for host in hosts)


def hba_address(address):
    """pg_hba ADDRESS for a host address: /32 or /128 for a bare IP, else as given."""
    text = str(address)
    if "/" in text:
        return text
    if re.match(r"^[0-9.]+$", text):
        return text + "/32"
    if ":" in text:
        return text + "/128"
    return text


def pgpass_escape(value):
    """Escape a field of a .pgpass line (backslash and colon)."""
    return str(value).replace("\\", "\\\\").replace(":", "\\:")


def node_or_unreachable(result):
    """The ``node`` of a registered pg_node_info result, or a stub saying why there is none."""
    if not isinstance(result, dict) or result.get("unreachable") or "node" not in result:
        reason = (result or {}).get("msg") if isinstance(result, dict) else None
        return {"unreachable": True, "up": False, "role": "unknown", "error": reason}
    return result["node"]


def fence_confirmed(plan, fence_result=None, command_rc=None):
    """{ok, how}: whether the failover plan's fence is confirmed (the promotion gate)."""
    ok, how = _fence_confirmed(plan, fence_result if isinstance(fence_result, dict) else {}, command_rc)
    return {"ok": ok, "how": how}


def status_report(nodes, addresses, bouncers=None, archives=None, expect=None):
    return build_status(nodes, addresses, bouncers or {}, archive_status(archives), expect)


def ssh_targets(hosts, hostvars):
    return _ssh_targets(hosts, hostvars)


def reach_results(hosts, hostvars, name, unreachable=None):
    return _reach_results(hosts, hostvars, name, unreachable if isinstance(unreachable, dict) else {})


def status_table(status):
    return render_table(status)


class FilterModule(object):
    def filters(self):
        return {
            "current_primary": current_primary,
            "apply_delays": apply_delays,
            "sync_members": sync_members,
            "upstreams": upstreams,
            "replication_source": replication_source,
            "replication_followers": replication_followers,
            "upstream_host": upstream_host,
            "dcs_members": dcs_members,
            "fence_confirmed": fence_confirmed,
            "node_addresses": node_addresses,
            "inventory_hosts": inventory_hosts,
            "node_or_unreachable": node_or_unreachable,
            "hba_address": hba_address,
            "pgpass_escape": pgpass_escape,
            "reach_results": reach_results,
            "ssh_targets": ssh_targets,
            "slot_name": slot_name,
            "status_report": status_report,
            "status_table": status_table,
        }
