# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter's documentation is in its own file next to this one (NAME.yml).

from ansible_collections.pgha.cluster.plugins.module_utils.pgroles import role_matches
from ansible_collections.pgha.cluster.plugins.module_utils.rolling import lowered_hot_standby_settings, pending_restarts


def pg_role_matches(state, flags, password=None):
    return role_matches(state, flags, password)


def hot_standby_lowered(desired, running):
    return dict((name, list(values)) for name, values in lowered_hot_standby_settings(desired, running).items())


class FilterModule(object):
    def filters(self):
        return {
            "pg_role_matches": pg_role_matches,
            "hot_standby_lowered": hot_standby_lowered,
            "rolling_pending": pending_restarts,
        }
