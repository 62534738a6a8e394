"""Fixtures for the backup verifiers (the default scenario runs them after the shared checks;
their helpers live in backuptools.py)."""
import tempfile

import pytest


@pytest.fixture(scope="session")
def report_dir():
    with tempfile.TemporaryDirectory(prefix="pgha-restore-reports-") as path:
        yield path
