# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgha.cluster.plugins.callback import preload


class Loader(object):
    """A plugin loader that records what it was asked for; names in ``broken`` fail to load."""

    def __init__(self, asked, broken=()):
        self.asked, self.broken = asked, broken

    def get(self, name, **kwargs):
        self.asked.append(name)
        if name in self.broken:
            raise ImportError("no module named %s" % name)
        return object()

    def all(self):
        self.asked.append("all")
        return iter([])


class Loaders(object):
    def __init__(self, broken=()):
        self.asked = []
        for kind in ("filter", "test", "lookup", "action", "connection", "shell"):
            setattr(self, kind + "_loader", Loader(self.asked, broken))


def test_it_loads_pgha_filters_lookups_actions_and_the_connection():
    loaders = Loaders()
    loaded, failed = preload.preload(loaders)
    assert failed == []
    assert loaders.asked[0] == "pgha.cluster.node_addresses"
    for name in ("ansible.builtin.template", "ansible.builtin.normal", "pgha.cluster.cluster_validate",
                 "ansible.builtin.ssh", "ansible.builtin.sh"):
        assert name in loaded


def test_a_plugin_that_fails_to_load_is_left_to_the_workers():
    loaders = Loaders(broken=("pgha.cluster.node_addresses", "ansible.builtin.ssh"))
    loaded, failed = preload.preload(loaders)
    assert failed == ["pgha.cluster.node_addresses", "ansible.builtin.ssh"]
    # The rest is loaded all the same.
    assert "ansible.builtin.sh" in loaded and "ansible.builtin.template" in loaded


SCRIPT = """
import sys
from ansible.plugins import loader
loader.init_plugin_loader([sys.argv[1]])
from ansible_collections.pgha.cluster.plugins.callback import preload
loaded, failed = preload.preload()
print("failed:", failed)
print("imported:", "ansible_collections.pgha.cluster.plugins.filter.topology" in sys.modules)
"""


def test_with_ansible_s_loaders_pgha_s_filters_are_imported_in_this_process():
    """In a process of its own, as ansible-playbook's: the collection found through Ansible's collection loader."""
    import os
    import subprocess
    import sys
    root = [p for p in sys.path if os.path.isdir(os.path.join(p, "ansible_collections", "pgha", "cluster"))][0]
    out = subprocess.run([sys.executable, "-c", SCRIPT, root], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=True, cwd="/").stdout
    assert "failed: []" in out and "imported: True" in out, out
