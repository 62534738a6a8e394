#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tls_host_cert
short_description: Read a host's certificate and check it against the cluster CA and its key
version_added: 0.1.0
description:
  - Reads the host certificate the tls role wrote, in one step - whether it exists, whether it is due
    for renewal, whether the CA verifies it (C(openssl verify)), whether it was made for the private key
    next to it, and the names it carries. The tls role decides from this whether to sign a new one.
  - Changes nothing; the same in check mode. Needs python3-cryptography (the tls role installs it).
extends_documentation_fragment:
  - pgha.cluster.attributes
options:
  path:
    description: The certificate.
    type: path
    default: /etc/pgha/tls/host.crt
  ca:
    description: The CA certificate it must be signed by.
    type: path
    default: /etc/pgha/tls/ca.crt
  key:
    description: The private key it must be made for.
    type: path
    default: /etc/pgha/tls/host.key
  renew_days:
    description: Due for renewal when it expires within this many days.
    type: int
    default: 30
  key_user:
    description: The user and group the private key belongs to.
    type: str
    default: postgres
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Read this host's certificate
  pgha.cluster.tls_host_cert:
    renew_days: 30
  register: cert
'''

RETURN = r'''
exists:
  description: The certificate file exists.
  returned: always
  type: bool
renew_due:
  description: It expires within I(renew_days) days (or has expired).
  returned: when it exists
  type: bool
not_after:
  description: When it expires (UTC, ISO 8601).
  returned: when it exists
  type: str
verified:
  description: The CA verifies it (C(openssl verify -CAfile CA CERT) exits 0).
  returned: when it exists
  type: bool
verify_error:
  description: What C(openssl verify) said when it did not verify.
  returned: when it exists
  type: str
key_matches:
  description: Its public key is the one of I(key).
  returned: when it exists
  type: bool
key_ok:
  description:
    - I(key) exists as the tls role makes it - an EC key on curve secp256r1, owned by I(key_user), mode 0600.
      When false the role creates it (community.crypto.openssl_privatekey).
  returned: always
  type: bool
subject_alt_name:
  description: Its subject alternative names, as C(DNS:name) and C(IP:address).
  returned: when it exists
  type: list
  elements: str
'''

import datetime
import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - the tls role installs it first
    HAS_CRYPTOGRAPHY = False


def _public(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _names(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return (["DNS:%s" % name for name in ext.get_values_for_type(x509.DNSName)]
            + ["IP:%s" % address for address in ext.get_values_for_type(x509.IPAddress)])


def load_key(path, owner):
    """(the private key or None, whether it is as the tls role makes it)."""
    if not os.path.exists(path):
        return None, False
    with open(path, 'rb') as handle:
        try:
            key = serialization.load_pem_private_key(handle.read(), password=None)
        except (ValueError, TypeError):
            return None, False
    st = os.stat(path)
    try:
        ids = (pwd.getpwnam(owner).pw_uid, grp.getgrnam(owner).gr_gid)
    except KeyError:
        ids = None
    shaped = isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == 'secp256r1'
    return key, bool(shaped and (st.st_uid, st.st_gid) == ids and (st.st_mode & 0o7777) == 0o600)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default='/etc/pgha/tls/host.crt'),
            ca=dict(type='path', default='/etc/pgha/tls/ca.crt'),
            key=dict(type='path', default='/etc/pgha/tls/host.key'),
            renew_days=dict(type='int', default=30),
            key_user=dict(type='str', default='postgres', no_log=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not HAS_CRYPTOGRAPHY:
        if module.check_mode:
            # A new host in check mode: the tls role has not installed it yet.
            module.exit_json(changed=False, exists=False, key_ok=False)
        module.fail_json(msg=missing_required_lib('cryptography (python3-cryptography)'))
    key, key_ok = load_key(p['key'], p['key_user'])
    if not os.path.exists(p['path']):
        module.exit_json(changed=False, exists=False, key_ok=key_ok)
    with open(p['path'], 'rb') as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    not_after = getattr(cert, 'not_valid_after_utc', None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    key_matches = key is not None and _public(key.public_key()) == _public(cert.public_key())
    rc, out, err = module.run_command(['openssl', 'verify', '-CAfile', p['ca'], p['path']])
    module.exit_json(changed=False, exists=True, not_after=not_after.isoformat(),
                     renew_due=not_after - now < datetime.timedelta(days=p['renew_days']),
                     verified=rc == 0, verify_error=(out + err).strip() if rc != 0 else '',
                     key_matches=key_matches, key_ok=key_ok, subject_alt_name=_names(cert))


if __name__ == '__main__':
    main()
