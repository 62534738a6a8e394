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


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def tls_env(host):
    """libpq environment of a psql call to PgBouncer or a database node at
    ``host``: TLS, the server's certificate verified against the cluster CA.
    Nothing for loopback (a certificate names the host's own addresses only)."""
    if str(host) in LOOPBACK or str(host).startswith("/"):
        return {}
    return {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": CA_FILE}


def _is_ip(name):
    import socket
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, name)
            return True
        except (OSError, ValueError):
            continue
    return False


def subject_alt_names(names):
    """subjectAltName entries for a host certificate. An address is both an
    IP and a DNS entry: libpq and PgBouncer match IP entries, pgBackRest (up
    to 2.5x) only DNS ones."""
    sans = []
    for name in names:
        name = str(name).strip()
        if not name:
            continue
        entries = ["IP:" + name, "DNS:" + name] if _is_ip(name) else ["DNS:" + name]
        for entry in entries:
            if entry not in sans:
                sans.append(entry)
    return sans


def missing_names(current, desired):
    """Entries of ``desired`` a certificate's subjectAltName (``current``, as
    community.crypto.x509_certificate_info reports it) lacks."""
    have = set(str(entry).replace("IP Address:", "IP:") for entry in (current or []))
    return [entry for entry in desired if entry not in have]
