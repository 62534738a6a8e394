"""Helpers for the operations verifiers, on top of the shared ones."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tests"))
from labtools import ROOT, app_role, kill_primary_and_fail_over, playbook, status  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
from labtools import lab_sh as lab  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


@pytest.fixture(scope="session")
def app():
    """A role created after deploy, writing through PgBouncer: returns its DSN."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from writer import setup
    password = app_role(status()["primary"])
    dsn = "host=10.213.77.21 port=6432 dbname=postgres user=pgha_app password=%s" % password
    setup(dsn, "init")
    return dsn
