"""The three-node layout's client, for the tests of this directory."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from colocatedtools import multi_host_app  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def app():
    """A role writing through the PgBouncers: a libpq multi-host DSN listing all three nodes."""
    return multi_host_app()
