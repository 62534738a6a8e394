# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the tls role: the names a host certificate carries."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pgha.cluster.plugins.module_utils.tls import missing_names, subject_alt_names


class FilterModule(object):
    def filters(self):
        return {
            "tls_subject_alt_names": subject_alt_names,
            "tls_missing_names": missing_names,
        }
