"""Fixtures for the lab verifiers (the helpers live in labtools.py)."""
from labtools import lab, sql  # noqa: F401  pylint: disable=unused-import
