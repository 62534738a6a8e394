"""Fixtures for the lab verifiers (the helpers live in labtools.py)."""
import os

from labtools import lab, sql  # noqa: F401  pylint: disable=unused-import

# The default scenario runs four suites on one lab; each leaves the cluster as
# the next expects: the shared checks, then the backups and restores, then
# day-2 operations in manual mode, then the conversion to automatic mode. Molecule passes the files in no
# particular order, so the order is set here (within a file, tests keep theirs).
SUITE_ORDER = ("shared", "backup", "operations", "automatic")


def _suite(item):
    path = str(item.fspath)
    scenario = os.path.basename(os.path.dirname(os.path.dirname(path)))
    return (SUITE_ORDER.index(scenario) if scenario in SUITE_ORDER else len(SUITE_ORDER)), path


def pytest_collection_modifyitems(items):
    items[:] = sorted(items, key=_suite)  # sorted() is stable: tests keep their order inside a file
