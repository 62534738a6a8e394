"""Helpers for the operations verifiers, on top of the shared ones."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tests"))
from labtools import ROOT, playbook  # noqa: E402  pylint: disable=wrong-import-position


def lab(*args):
    """Run lab/lab.sh (fault injection: partition, heal, fence, start)."""
    subprocess.run([os.path.join(ROOT, "lab", "lab.sh")] + list(args), check=True, cwd=ROOT,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def status():
    """The status playbook's JSON report."""
    import json
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        rc, out, recap = playbook("playbooks/status.yml", "-e", "pgha_status_file=%s" % handle.name)
        assert rc == 0, out[-3000:]
        with open(handle.name) as f:
            return json.load(f)


@pytest.fixture(scope="session")
def app():
    """A role created after deploy, writing through PgBouncer: returns its DSN."""
    import sys
    import uuid
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from writer import setup
    password = uuid.uuid4().hex
    primary = status()["primary"]
    subprocess.run(["podman", "exec", primary, "runuser", "-u", "postgres", "--", "psql", "-q", "-c",
                    "CREATE ROLE pgha_app LOGIN PASSWORD '%s'; GRANT CREATE ON SCHEMA public TO pgha_app" % password],
                   check=True)
    dsn = "host=10.213.77.21 port=6432 dbname=postgres user=pgha_app password=%s" % password
    setup(dsn, "init")
    return dsn
