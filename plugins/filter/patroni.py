# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter's documentation is in its own file next to this one (NAME.yml).

from ansible.errors import AnsibleFilterError
from ansible_collections.pgha.cluster.plugins.module_utils.patroni import (
    etcd_environment, local_config, patroni_version, timing_for, timing_problems)
from ansible_collections.pgha.cluster.plugins.module_utils.operations import OperationError, handback_plan as _handback_plan, patroni_nodes


def patroni_config(node, settings, parameters, members, dcs_members, version_text, replication_password,
                   rewind_user="pgha_rewind", timing=None, paths=None):
    version = patroni_version(version_text)
    if version is None:
        raise AnsibleFilterError("patroni_config: cannot read a Patroni version from %r" % (version_text,))
    problems = timing_problems(timing, version)
    if problems:
        raise AnsibleFilterError("; ".join(problems))
    return local_config(node, settings, parameters, members, dcs_members, version[0], replication_password,
                        rewind_user=rewind_user, timing=timing_for(version, timing), paths=paths)


def etcd_env(name, address, members, cluster_token, data_dir, key_file):
    return etcd_environment(name, address, members, cluster_token, data_dir, key_file)


def handback_plan(nodes, mode):
    """The handback plan, or {refused: why} (handback.yml refuses with it before anything changes)."""
    try:
        return _handback_plan(nodes, mode)
    except OperationError as exc:
        return {"refused": str(exc)}


class FilterModule(object):
    def filters(self):
        return {"patroni_config": patroni_config, "etcd_env": etcd_env, "patroni_nodes": patroni_nodes,
                "handback_plan": handback_plan}
