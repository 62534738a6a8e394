# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options of the modules that connect to another database node.
    DOCUMENTATION = r'''
options:
  sslmode:
    description:
      - libpq C(sslmode) of every connection to another node (streaming, C(pg_basebackup), C(pg_rewind),
        C(IDENTIFY_SYSTEM)). No mode that would connect without TLS is accepted.
      - C(verify-full) checks that the server's certificate names the address connected to.
    type: str
    choices: [require, verify-ca, verify-full]
    default: verify-full
  sslrootcert:
    description:
      - CA certificate that signs the servers' certificates (written by the pgha.cluster.tls role).
    type: path
    default: /etc/pgha/tls/ca.crt
'''
