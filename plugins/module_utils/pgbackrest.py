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


class PgBackRestError(Exception):
    """A pgBackRest command that failed or printed what cannot be read."""


def _run(module, args, what):
    rc, out, err, dummy = pgbackrest(module, args)
    if rc != 0:
        raise PgBackRestError("pgbackrest %s failed (exit %d): %s" % (what, rc, (err or out).strip()[:500]))
    return out


def info(module, stanza, repo=None, fail=True):
    """`pgbackrest info --output=json` for one stanza (a list of stanza entries).
    Fails the module on an error, or raises PgBackRestError with fail=False."""
    try:
        return _info(module, stanza, repo)
    except PgBackRestError as exc:
        if fail:
            module.fail_json(msg=str(exc))
        raise


def _info(module, stanza, repo=None):
    args = ["--stanza=%s" % stanza, "--output=json"]
    if repo:
        args.append("--repo=%s" % repo)
    out = _run(module, args + ["info"], "info")
    try:
        return json.loads(out or "[]")
    except ValueError:
        raise PgBackRestError("pgbackrest info printed no JSON: %s" % out[:500])


def archive_listing(module, stanza, archive_id, repo=None):
    """Files of one archive id with their sizes and times (repo-ls)."""
    args = ["--stanza=%s" % stanza, "--output=json", "--recurse"]
    if repo:
        args.append("--repo=%s" % repo)
    out = _run(module, args + ["repo-ls", "archive/%s/%s" % (stanza, archive_id)], "repo-ls")
    try:
        return json.loads(out or "{}")
    except ValueError:
        raise PgBackRestError("pgbackrest repo-ls printed no JSON: %s" % out[:500])


def repo_get(module, stanza, path, repo=None):
    """A (small, uncompressed) file of a repository as text, e.g. a timeline history file."""
    args = ["--stanza=%s" % stanza]
    if repo:
        args.append("--repo=%s" % repo)
    return _run(module, args + ["repo-get", path], "repo-get %s" % path)
