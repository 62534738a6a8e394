# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy in front of Patroni's leader (pgha_failover_mode: automatic): read
which database node it forwards to from its stats socket. No Ansible import."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import socket

PROXY = "pgha_primary"
SOCKET = "/run/haproxy/admin.sock"


def parse_stat(text, proxy=PROXY):
    """Server name -> HAProxy's status (UP, DOWN, MAINT, "UP 1/2"...) from ``show stat`` CSV."""
    lines = text.splitlines()
    if not lines:
        return {}
    header = lines[0].lstrip("# ")
    rows = csv.DictReader(io.StringIO("\n".join([header] + lines[1:])))
    return dict((row["svname"], row["status"]) for row in rows
                if row.get("pxname") == proxy and row.get("svname") not in ("FRONTEND", "BACKEND"))


def routed_to(states):
    """The one server HAProxy forwards to: None when none is up, a list when several are."""
    up = sorted(name for name, state in states.items() if (state or "").split(" ")[0] == "UP")
    if not up:
        return None
    return up[0] if len(up) == 1 else up


def read_stat(path=SOCKET, timeout=2.0):
    """``show stat`` over HAProxy's admin socket (raises OSError when it does not answer)."""
    return command(path, "show stat", timeout)


def force_route(path, target, states, proxy=PROXY, timeout=2.0):
    """Once the target's Patroni answers 200 on /primary (it holds the leader key, so no
    other node can): mark it up and every other server down at once, instead of at
    HAProxy's next checks. The checks go on and keep the last word. Returns the
    servers marked down (first: never two up because of this)."""
    down = sorted(name for name, state in states.items()
                  if name != target and (state or "").split(" ")[0] not in ("DOWN", "MAINT"))
    for name in down:
        command(path, "set server %s/%s health down" % (proxy, name), timeout)
    command(path, "set server %s/%s health up" % (proxy, target), timeout)
    return down


def command(path, line, timeout=2.0):
    """One command over HAProxy's admin socket; its answer (raises OSError when it does not answer)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(line.encode("utf-8") + b"\n")
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    finally:
        sock.close()
    return b"".join(chunks).decode("utf-8", "replace")
