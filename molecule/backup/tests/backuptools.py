"""Helpers for the backup verifiers (molecule/backup/tests), on top of the shared ones. A module of
its own, not conftest.py: several conftest.py files load in one pytest session."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tests"))
from labtools import ROOT, current_primary, lab_host, playbook, restore, status, sysid  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


def psql(hostname, query, db="postgres"):
    host = lab_host(hostname)
    cmd = host.run("runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s", db, query)
    assert cmd.rc == 0, "%s on %s failed: %s" % (query, hostname, cmd.stderr)
    return cmd.stdout.strip()


def probes(rows_md5):
    return json.dumps({"pgha_restore_probes": [
        # Probes run as the superuser with search_path = pg_catalog, pg_temp: tables are schema-qualified.
        {"name": "rows of orders", "sql": "SELECT md5(string_agg(id || ':' || note, ',' ORDER BY id)) FROM public.orders",
         "expect": rows_md5},
    ]})
