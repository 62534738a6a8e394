"""Helpers for the operations verifiers, on top of the shared ones."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tests"))
from labtools import ROOT, app_role, kill_primary_and_fail_over, playbook, status  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
from labtools import lab_sh as lab  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
from labtools import pooler_app as app  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
