# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter's documentation is in its own file next to this one (NAME.yml).

from ansible_collections.pgha.cluster.plugins.module_utils.pgroles import role_matches
from ansible_collections.pgha.cluster.plugins.module_utils.rolling import lowered_hot_standby_settings, pending_restarts
from ansible_collections.pgha.cluster.plugins.module_utils.upgrade import upgrade_pending, unattended_guard_text, UNATTENDED_GUARD_PATH


def pg_role_matches(state, flags, password=None):
    return role_matches(state, flags, password)


def unattended_guard(enabled):
    """The apt.conf drop-in keeping unattended-upgrades off the cluster's packages and reboots, as a
    pgha.cluster.host_files file entry: written when ``enabled``, removed when not."""
    if not enabled:
        return {"path": UNATTENDED_GUARD_PATH, "state": "absent"}
    return {"path": UNATTENDED_GUARD_PATH, "owner": "root", "group": "root", "mode": "0644",
            "content": unattended_guard_text()}


def hot_standby_lowered(desired, running):
    return dict((name, list(values)) for name, values in lowered_hot_standby_settings(desired, running).items())


class FilterModule(object):
    def filters(self):
        return {
            "pg_role_matches": pg_role_matches,
            "hot_standby_lowered": hot_standby_lowered,
            "rolling_pending": pending_restarts,
            "upgrade_pending": upgrade_pending,
            "unattended_guard": unattended_guard,
        }
