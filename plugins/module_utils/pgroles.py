# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a PostgreSQL role already is what the primary role asks of it.

Pure functions over what one catalog query read (pg_authid): the primary role
runs community.postgresql's tasks only for roles that differ, so a re-run with
nothing to change costs one query instead of a module call per role. A False
"matches" only makes the task run (and community.postgresql decide); it never
skips a change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import hmac

# role_attr_flags word -> pg_authid column (as the state query names it).
FLAGS = {
    "LOGIN": "login",
    "REPLICATION": "replication",
    "SUPERUSER": "superuser",
    "CREATEDB": "createdb",
    "CREATEROLE": "createrole",
    "BYPASSRLS": "bypassrls",
}


def scram_matches(verifier, password):
    """True when the SCRAM-SHA-256 verifier was made from password (ASCII passwords only:
    anything else, an MD5 verifier or none, is False and the caller lets the server decide)."""
    if not verifier or password is None or not str(verifier).startswith("SCRAM-SHA-256$"):
        return False
    try:
        password.encode("ascii")
        head, keys = str(verifier)[len("SCRAM-SHA-256$"):].split("$", 1)
        iterations, salt = head.split(":", 1)
        stored_key, server_key = keys.split(":", 1)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), base64.b64decode(salt), int(iterations))
    except (ValueError, UnicodeError, TypeError):
        return False
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    ok_stored = hmac.compare_digest(base64.b64encode(hashlib.sha256(client_key).digest()).decode(), stored_key)
    ok_server = hmac.compare_digest(
        base64.b64encode(hmac.new(salted, b"Server Key", hashlib.sha256).digest()).decode(), server_key)
    return ok_stored and ok_server


def role_matches(state, flags, password=None):
    """True when the role (its pg_authid row as a dict, or None) has every flag of
    role_attr_flags text (LOGIN,NOSUPERUSER,...) and, when given, the password."""
    if not state:
        return False
    for word in [w.strip().upper() for w in str(flags or "").split(",") if w.strip()]:
        wanted = not word.startswith("NO")
        column = FLAGS.get(word[2:] if not wanted else word)
        if column is None or bool(state.get(column)) != wanted:
            return False
    return password is None or scram_matches(state.get("verifier"), password)
