# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter's documentation is in its own file next to this one (NAME.yml).

from ansible_collections.pgha.cluster.plugins.module_utils.alerts import durations, scrape_timeout, thresholds


def alert_thresholds(given):
    return thresholds(given)


def alert_durations(given):
    return durations(given)


class FilterModule(object):
    def filters(self):
        return {
            "alert_thresholds": alert_thresholds,
            "alert_durations": alert_durations,
            "scrape_timeout": scrape_timeout,
        }
