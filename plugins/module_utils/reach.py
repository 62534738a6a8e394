# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether hosts answer on their SSH port, all at once and within a bound.

A host that is gone (killed, powered off, cut off) makes SSH wait for its
connect timeout or for ARP to give up (about 3 s on Linux); a TCP connect with
a short timeout, to every host in parallel, says the same in a fraction of it.
The discovery reads only the hosts that answer and records the others as
unreachable with the reason. This never decides that a host is safe to ignore:
a failover still fences the failed primary before any promotion.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import threading
import time


def probe(address, port, timeout):
    """None when a TCP connection to address:port opens within timeout seconds, else why not."""
    started = time.monotonic()
    try:
        conn = socket.create_connection((address, int(port)), timeout=timeout)
    except socket.timeout:
        return "no answer on %s:%s within %.1f s" % (address, port, timeout)
    except OSError as exc:
        return "%s:%s: %s after %.1f s" % (address, port, exc.strerror or exc, time.monotonic() - started)
    conn.close()
    return None


def unreachable(targets, timeout, probe_fn=probe):
    """{host: reason} for the hosts of targets ({host: (address, port)}) that do not answer.

    Every host is probed at the same time, so the whole takes at most about timeout seconds.
    """
    results = {}

    def run(host, address, port):
        results[host] = probe_fn(address, port, timeout)

    threads = [threading.Thread(target=run, args=(host, address, port), daemon=True)
               for host, (address, port) in sorted(targets.items())]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 1.0
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return dict((host, results.get(host) or "no answer within %.1f s" % timeout)
                for host in sorted(targets) if host not in results or results[host] is not None)


_PROXY_WORDS = ("proxyjump", "proxycommand", "-j ", "-w ")


def ssh_targets(hosts, hostvars):
    """{host: {address, port}} of the hosts the controller reaches directly over SSH.

    Hosts with another connection (local, podman, ...) or with a jump host or proxy in their
    SSH arguments are left out: a TCP probe from the controller says nothing about them.
    """
    targets = {}
    for host in hosts:
        hv = hostvars[host]
        connection = str(hv.get("ansible_connection") or "ssh")
        if connection not in ("ssh", "ansible.builtin.ssh", "paramiko", "ansible.builtin.paramiko_ssh", "smart"):
            continue
        args = " ".join(str(hv.get(name) or "") for name in (
            "ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args")).lower() + " "
        if any(word in args for word in _PROXY_WORDS):
            continue
        targets[host] = {"address": str(hv.get("ansible_host") or host),
                         "port": int(hv.get("ansible_port") or hv.get("ansible_ssh_port") or 22)}
    return targets


def trusted(probed, unreachable_hosts):
    """The probe's unreachable hosts, or none when no probed host answered.

    Every host silent at once more likely means the controller cannot reach them directly
    (an SSH jump host in ~/.ssh/config) than a cluster that is all down: SSH then decides.
    """
    if probed and len(unreachable_hosts) >= len(probed):
        return {}
    return unreachable_hosts


def reach_results(hosts, hostvars, name, unreachable_hosts):
    """{host: the result registered as name}, with {unreachable, msg} for the probe's unreachable hosts."""
    results = {}
    for host in hosts:
        if host in unreachable_hosts:
            results[host] = {"unreachable": True, "changed": False,
                             "msg": "did not answer the controller's probe: %s" % unreachable_hosts[host]}
        else:
            results[host] = hostvars[host].get(name)
    return results
