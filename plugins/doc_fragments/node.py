# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options shared by the modules that act on one local PostgreSQL cluster.
    DOCUMENTATION = r'''
options:
  version:
    description:
      - PostgreSQL major version of the local cluster (Debian layout).
    type: int
    required: true
  cluster:
    description:
      - Name of the local cluster (C(pg_createcluster VERSION NAME)).
    type: str
    default: main
  port:
    description:
      - Port of the local cluster; the module connects over the Unix socket.
    type: int
    default: 5432
  data_dir:
    description:
      - Data directory. Defaults to C(/var/lib/postgresql/VERSION/CLUSTER).
    type: path
  bin_dir:
    description:
      - Directory of the server binaries. Defaults to C(/usr/lib/postgresql/VERSION/bin).
    type: path
notes:
  - Runs as root (or as the postgres OS user); SQL and tools run as postgres over the local socket.
requirements:
  - PostgreSQL server binaries on the managed node.
'''
