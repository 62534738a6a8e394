# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side helpers: run pgBackRest as the postgres OS user (argument lists,
never shell strings) and read its JSON output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.pgha.cluster.plugins.module_utils.pg import as_postgres


def pgbackrest(module, args, check_rc=False):
    """Run `pgbackrest ARGS` as postgres. Returns (rc, out, err, seconds)."""
    argv = as_postgres([module.get_bin_path("pgbackrest", required=True)] + list(args))
    started = time.monotonic()
    rc, out, err = module.run_command(argv, cwd="/", environ_update={"LC_ALL": "C"})
    seconds = time.monotonic() - started
    if check_rc and rc != 0:
        module.fail_json(msg="pgbackrest %s failed (exit %d): %s" % (" ".join(args), rc, (err or out).strip()),
                         rc=rc, stdout=out, stderr=err, cmd=argv)
    return rc, out, err, seconds


def info(module, stanza, repo=None):
    """`pgbackrest info --output=json` for one stanza (a list of stanza entries)."""
    args = ["--stanza=%s" % stanza, "--output=json"]
    if repo:
        args.append("--repo=%s" % repo)
    rc, out, err, dummy = pgbackrest(module, args + ["info"], check_rc=True)
    try:
        return json.loads(out or "[]")
    except ValueError:
        module.fail_json(msg="pgbackrest info printed no JSON: %s" % (out or err)[:500])


def archive_listing(module, stanza, archive_id, repo=None):
    """Files of one archive id with their sizes and times (repo-ls)."""
    args = ["--stanza=%s" % stanza, "--output=json", "--recurse"]
    if repo:
        args.append("--repo=%s" % repo)
    rc, out, err, dummy = pgbackrest(module, args + ["repo-ls", "archive/%s/%s" % (stanza, archive_id)],
                                     check_rc=True)
    try:
        return json.loads(out or "{}")
    except ValueError:
        module.fail_json(msg="pgbackrest repo-ls printed no JSON: %s" % (out or err)[:500])
