"""Helpers for the three-node layout's verifiers, on top of the shared ones (a module of its own,
not conftest: in the default scenario, where these tests run after the other suites, "conftest"
names the shared one)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tests"))
import labtools  # noqa: E402  pylint: disable=wrong-import-position
from labtools import ROOT, app_role, playbook  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

INVENTORY = os.path.join(ROOT, "inventories", "lab", "colocated.yml")
NODES = {"pg1": "10.213.77.11", "pg2": "10.213.77.12", "pg3": "10.213.77.13"}


def run(*args, check=False):
    """A playbook against the three-node layout."""
    return playbook(*args, inventory=[INVENTORY], check=check)


def status():
    return labtools.status(inventory=[INVENTORY])


def current_primary():
    return labtools.current_primary(inventory=[INVENTORY])


def multi_host_app():
    """A role writing through the PgBouncers: a libpq multi-host DSN listing all three nodes."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from writer import setup
    password = app_role(current_primary())
    ca = os.path.join(os.path.expanduser("~"), ".pgha", "ca", "main", "ca.crt")
    dsn = ("host=%s port=6432 dbname=postgres user=pgha_app password=%s sslmode=verify-full sslrootcert=%s "
           "target_session_attrs=read-write connect_timeout=3" % (",".join(NODES.values()), password, ca))
    setup(dsn, "init")
    return dsn
