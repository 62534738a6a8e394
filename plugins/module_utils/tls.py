# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS for the connections pgha opens between hosts: where the tls role puts
the cluster CA and each host's certificate, and the libpq parameters of a
verified connection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Written by the tls role (roles/tls) on every host.
TLS_DIR = "/etc/pgha/tls"
CA_FILE = TLS_DIR + "/ca.crt"
CERT_FILE = TLS_DIR + "/host.crt"
KEY_FILE = TLS_DIR + "/host.key"

# No mode that lets a connection go without TLS (disable, allow, prefer).
SSLMODES = ("require", "verify-ca", "verify-full")


def tls_argument_spec():
    """Options of the modules that connect to another node (doc fragment pgha.cluster.tls)."""
    return dict(
        sslmode=dict(type='str', default='verify-full', choices=list(SSLMODES)),
        sslrootcert=dict(type='path', default=CA_FILE),
    )


def client_tls(p, client_cert=False):
    """libpq parameters for a TLS connection to another node. ``p`` holds
    sslmode and sslrootcert; ``client_cert`` adds this host's certificate
    (authentication by certificate, e.g. pg_rewind's role)."""
    sslmode = p.get("sslmode") or "verify-full"
    if sslmode not in SSLMODES:
        raise ValueError("sslmode %r is not one of %s" % (sslmode, ", ".join(SSLMODES)))
    params = {"sslmode": sslmode, "sslrootcert": p.get("sslrootcert") or CA_FILE}
    if client_cert:
        params.update(sslcert=CERT_FILE, sslkey=KEY_FILE)
    return params
