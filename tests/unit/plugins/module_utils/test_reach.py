# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import time

import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import reach


def test_probe_answers_on_a_listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        assert reach.probe("127.0.0.1", server.getsockname()[1], 1.0) is None
    finally:
        server.close()


def test_probe_names_a_refused_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()
    why = reach.probe("127.0.0.1", port, 1.0)
    assert why.startswith("127.0.0.1:%d: " % port)
    assert "refused" in why.lower()


def test_hosts_are_probed_at_once_within_the_bound():
    def slow(address, port, timeout):
        time.sleep(timeout)
        return "no answer on %s:%s within %.1f s" % (address, port, timeout)

    started = time.monotonic()
    result = reach.unreachable(dict(("h%d" % i, ("10.0.0.%d" % i, 22)) for i in range(8)), 0.3, probe_fn=slow)
    assert time.monotonic() - started < 1.0
    assert sorted(result) == ["h%d" % i for i in range(8)]
    assert result["h3"] == "no answer on 10.0.0.3:22 within 0.3 s"


def test_only_silent_hosts_are_reported():
    def probe(address, port, timeout):
        return None if address != "10.0.0.2" else "10.0.0.2:22: No route to host after 0.9 s"

    targets = {"pg1": ("10.0.0.1", 22), "pg2": ("10.0.0.2", 22), "pg3": ("10.0.0.3", 2222)}
    assert reach.unreachable(targets, 1.0, probe_fn=probe) == {"pg2": "10.0.0.2:22: No route to host after 0.9 s"}


def test_a_probe_that_never_returns_counts_as_silent():
    def hang(address, port, timeout):
        time.sleep(5)

    started = time.monotonic()
    assert reach.unreachable({"pg1": ("10.0.0.1", 22)}, 0.1, probe_fn=hang) == {"pg1": "no answer within 0.1 s"}
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("hostvars, expected", [
    ({"ansible_host": "10.0.0.1"}, {"address": "10.0.0.1", "port": 22}),
    ({"ansible_host": "10.0.0.1", "ansible_port": 2222}, {"address": "10.0.0.1", "port": 2222}),
    ({}, {"address": "pg1", "port": 22}),
    ({"ansible_connection": "ssh", "ansible_ssh_common_args": "-o StrictHostKeyChecking=no"},
     {"address": "pg1", "port": 22}),
    ({"ansible_connection": "local"}, None),
    ({"ansible_connection": "containers.podman.podman"}, None),
    ({"ansible_ssh_common_args": "-o ProxyJump=bastion"}, None),
    ({"ansible_ssh_extra_args": "-J bastion"}, None),
    ({"ansible_ssh_common_args": "-o ProxyCommand='ssh -W %h:%p bastion'"}, None),
])
def test_ssh_targets(hostvars, expected):
    assert reach.ssh_targets(["pg1"], {"pg1": hostvars}).get("pg1") == expected


@pytest.mark.parametrize("silent, expected", [
    ({}, {}),
    ({"pg2": "x"}, {"pg2": "x"}),
    ({"pg1": "x", "pg2": "y"}, {"pg1": "x", "pg2": "y"}),
    # Nobody answered: more likely the probe cannot reach them than all down; SSH decides.
    ({"pg1": "x", "pg2": "y", "pg3": "z"}, {}),
])
def test_trusted(silent, expected):
    assert reach.trusted({"pg1": 1, "pg2": 1, "pg3": 1}, silent) == expected


def test_reach_results_stand_in_for_the_hosts_not_read():
    hostvars = {"pg1": {"topology_node_info": {"node": {"up": True}}}, "pg2": {"topology_node_info": {"skipped": True}}}
    result = reach.reach_results(["pg1", "pg2"], hostvars, "topology_node_info", {"pg2": "10.0.0.2:22: No route to host"})
    assert result["pg1"] == {"node": {"up": True}}
    assert result["pg2"]["unreachable"] is True
    assert result["pg2"]["msg"] == "did not answer the controller's probe: 10.0.0.2:22: No route to host"
