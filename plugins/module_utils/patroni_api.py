# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Patroni's REST API over TLS (the cluster CA; the host's certificate for the
calls Patroni only takes from a client with one). The decisions
(switchover_problems, leader_of) import nothing from Ansible."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

TLS = {"ca": "/etc/pgha/tls/ca.crt", "cert": "/etc/pgha/tls/host.crt", "key": "/etc/pgha/tls/host.key"}


def call(url, method="GET", body=None, tls=None, timeout=2.0):
    """(HTTP status, decoded JSON or text). Raises OSError when nobody answers."""
    from ansible.module_utils.urls import open_url
    from ansible.module_utils.six.moves.urllib.error import HTTPError
    tls = dict(TLS, **(tls or {}))
    data = json.dumps(body) if body is not None else None
    try:
        resp = open_url(url, data=data, method=method, headers={"Content-Type": "application/json"},
                        timeout=timeout, validate_certs=True, ca_path=tls["ca"], client_cert=tls.get("cert"),
                        client_key=tls.get("key"))
        status, raw = resp.getcode(), resp.read()
    except HTTPError as exc:
        status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text.strip() else {}
    except ValueError:
        return status, text.strip()


def leader_of(cluster):
    """The member /cluster calls the leader (None when none)."""
    for member in (cluster or {}).get("members") or []:
        if member.get("role") == "leader":
            return member.get("name")
    return None


def candidate_problems(cluster, candidate, expected="streaming"):
    """Why Patroni would not take ``candidate`` (GET /cluster): not a member, not
    running, or tagged nofailover. ``expected`` names the state the message asks for."""
    members = dict((m.get("name"), m) for m in (cluster or {}).get("members") or [])
    member = members.get(candidate)
    if member is None:
        return ["%s is not a member of Patroni's cluster (members: %s)" % (candidate, ", ".join(sorted(members)))]
    if member.get("state") not in ("running", "streaming"):
        return ["%s is %s in Patroni, not %s" % (candidate, member.get("state"), expected)]
    if (member.get("tags") or {}).get("nofailover"):
        return ["%s has the nofailover tag" % candidate]
    return []


def switchover_problems(cluster, leader, candidate):
    """Why Patroni would refuse (or should not be asked) to switch ``leader``
    over to ``candidate``, from GET /cluster (empty when it may)."""
    found = []
    if (cluster or {}).get("pause"):
        found.append("Patroni is paused (maintenance mode): run patronictl -c /etc/patroni/config.yml resume first")
    actual = leader_of(cluster)
    if actual != leader:
        found.append("Patroni's leader is %s, not %s" % (actual or "nobody", leader))
    return found + candidate_problems(cluster, candidate)


def failover_problems(cluster, failed, candidate):
    """Why Patroni should not be asked to fail over to ``candidate`` (empty when
    it may): another member leads (nothing failed), or the candidate is not a
    running member. A paused Patroni takes a failover to a named candidate."""
    found = []
    actual = leader_of(cluster)
    if actual and actual != failed:
        found.append("Patroni's leader is %s, which runs: nothing to fail over (switchover.yml for a planned change)"
                     % actual)
    return found + candidate_problems(cluster, candidate, expected="running")
