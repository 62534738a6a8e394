# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: preload
type: aggregate
short_description: Loads the plugins pgha's roles use once, in ansible-playbook's main process
version_added: 0.1.0
description:
  - Ansible forks a worker process for every task on every host, and a worker loads the plugins its task
    needs. A worker that meets a C(pgha.cluster) filter imports every filter file of the collection, and
    the module_utils they use, compiling their source each time. Loaded once in the main process when
    the playbook starts, they are inherited by every worker instead.
  - It loads pgha's filters, Ansible's own filters and tests, the lookups and action plugins pgha's roles
    use, the C(ssh) connection and the C(sh) shell. It prints nothing and changes no result; a plugin that cannot be
    loaded here is left to load as it would without it.
  - Measured on the lab, an idempotent C(site.yml) spent about 15% less controller CPU with it.
requirements:
  - enabled in C(callbacks_enabled) (this repository's C(ansible.cfg) and molecule scenarios enable it)
author:
  - pgha maintainers (@pgha)
'''

import os

from ansible.plugins.callback import CallbackBase

# Any one of pgha's filters: finding it loads every filter file of the collection.
PGHA_FILTER = "pgha.cluster.node_addresses"
LOOKUPS = ("template", "file", "env", "vars", "fileglob", "pipe")
BUILTIN_ACTIONS = ("normal", "command", "set_fact", "assert", "debug", "copy", "template", "fail", "uri")


def actions():
    """Ansible's actions the roles use, and every action plugin of this collection (plugins/action)."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "action")
    own = sorted(name[:-3] for name in os.listdir(here) if name.endswith(".py") and not name.startswith("_"))
    return ["ansible.builtin." + name for name in BUILTIN_ACTIONS] + ["pgha.cluster." + name for name in own]


def preload(loaders=None):
    """Load the plugins into this process (the names loaded, the names that failed)."""
    if loaders is None:
        from ansible.plugins import loader as loaders
    loaded, failed = [], []

    def attempt(name, load):
        try:
            load()
            loaded.append(name)
        except Exception:  # pylint: disable=broad-except
            # Left to the worker that needs it: it loads it, or reports why, as it would have.
            failed.append(name)

    attempt(PGHA_FILTER, lambda: loaders.filter_loader.get(PGHA_FILTER))
    attempt("filters", lambda: list(loaders.filter_loader.all()))
    attempt("tests", lambda: list(loaders.test_loader.all()))
    for name in LOOKUPS:
        attempt("ansible.builtin." + name, lambda name=name: loaders.lookup_loader.get("ansible.builtin." + name))
    for name in actions():
        attempt(name, lambda name=name: loaders.action_loader.get(name, class_only=True))
    attempt("ansible.builtin.ssh", lambda: loaders.connection_loader.get("ansible.builtin.ssh", class_only=True))
    attempt("ansible.builtin.sh", lambda: loaders.shell_loader.get("ansible.builtin.sh"))
    return loaded, failed


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'pgha.cluster.preload'
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        dummy, failed = preload()
        if failed:
            self._display.vvv("pgha.cluster.preload: left to the workers: %s" % ", ".join(failed))
