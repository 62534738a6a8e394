# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pgha.cluster.plugins.module_utils.pgroles import role_matches, scram_matches

# Made by PostgreSQL 15: CREATE ROLE ... PASSWORD 'correct horse' (password_encryption scram-sha-256).
VERIFIER = ("SCRAM-SHA-256$4096:hRPJ11smSv5MnJL9KcQf9g==$yZVnwbusuLjbYUFMtmKzVxbDSgiRbDVG7Jq66hW/n1U="
            ":L2Hcr8tZeUQRJWZZOfvqWgRECDB2CVv3rw6ZQlCTtbg=")


@pytest.mark.parametrize("verifier, password, expected", [
    (VERIFIER, "correct horse", True),
    (VERIFIER, "correct horse ", False),
    (VERIFIER, "", False),
    ("md5" + "0" * 32, "correct horse", False),
    (None, "correct horse", False),
    ("SCRAM-SHA-256$garbage", "correct horse", False),
    (VERIFIER, "corréct horse", False),
])
def test_scram_matches(verifier, password, expected):
    assert scram_matches(verifier, password) is expected


REPLICATOR = {"login": True, "replication": True, "superuser": False, "createdb": False, "createrole": False,
              "bypassrls": False, "verifier": VERIFIER}


@pytest.mark.parametrize("state, flags, password, expected", [
    (REPLICATOR, "REPLICATION,LOGIN,NOSUPERUSER,NOCREATEDB,NOCREATEROLE", "correct horse", True),
    (REPLICATOR, "REPLICATION,LOGIN,NOSUPERUSER,NOCREATEDB,NOCREATEROLE", "new password", False),
    (REPLICATOR, "LOGIN,NOREPLICATION", None, False),
    (dict(REPLICATOR, superuser=True), "LOGIN,NOSUPERUSER", None, False),
    (REPLICATOR, "LOGIN,NOBYPASSRLS", None, True),
    (None, "LOGIN", None, False),
    (REPLICATOR, "LOGIN,INHERIT", None, False),
])
def test_role_matches(state, flags, password, expected):
    assert role_matches(state, flags, password) is expected
