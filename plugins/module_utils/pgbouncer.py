# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PgBouncer helpers: the admin console through psql (password in the
environment, never in argv) and the wildcard database line of pgbouncer.ini."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import subprocess

from ansible_collections.pgha.cluster.plugins.module_utils.tls import tls_env
from ansible_collections.pgha.cluster.plugins.module_utils.topology import build_conninfo, parse_conninfo

_DB_LINE = re.compile(r"^(\s*\*\s*=\s*)(.*)$")


def wildcard_target(ini_text):
    """Connection settings of the ``*`` entry in [databases] (dict), or None."""
    section = None
    for line in ini_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip().lower()
            continue
        if section == "databases":
            match = _DB_LINE.match(line)
            if match:
                return parse_conninfo(match.group(2))
    return None


def repoint_ini(ini_text, host, port):
    """Return ini text whose ``*`` entry points at host:port (other keys kept)."""
    out, section, done = [], None, False
    for line in ini_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip().lower()
        elif section == "databases" and not done:
            match = _DB_LINE.match(line)
            if match:
                params = parse_conninfo(match.group(2))
                params["host"], params["port"] = str(host), str(port)
                line = match.group(1) + build_conninfo(params)
                done = True
        out.append(line)
    if not done:
        raise ValueError("no '*' entry in the [databases] section")
    return "\n".join(out) + "\n"


def admin(module, sql, user, password, port=6432, host="127.0.0.1", check_rc=True, timeout=5):
    """Run one admin console command; returns (rc, out, err)."""
    argv = ["psql", "-X", "-A", "-t", "-q", "-h", host, "-p", str(port), "-U", user, "-d", "pgbouncer", "-c", sql]
    env = dict(tls_env(host), PGPASSWORD=password, PGCONNECT_TIMEOUT=str(timeout), PGAPPNAME="pgha")
    rc, out, err = module.run_command(argv, cwd="/", environ_update=env)
    if rc != 0 and check_rc:
        module.fail_json(msg="PgBouncer admin console %s:%s refused %s: %s" % (host, port, sql, (err or out).strip()))
    return rc, out, err


class OpenConsole(object):
    """A psql session to the admin console opened ahead of time (connected, TLS and
    login done), so that the commands it is kept for run the moment they are due:
    a fresh psql takes about a tenth of a second to get there. ``run`` returns
    None when the session is gone; the caller then falls back to ``admin``."""

    def __init__(self, module, user, password, port=6432, host="127.0.0.1", timeout=5):
        argv = [module.get_bin_path("psql", required=True), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", host, "-p", str(port), "-U", user, "-d", "pgbouncer"]
        env = dict(os.environ, **tls_env(host))
        env.update(PGPASSWORD=password, PGCONNECT_TIMEOUT=str(timeout), PGAPPNAME="pgha")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd="/", env=env)

    def run(self, *commands):
        """Send the commands and end the session: (rc, out, err), or None when it had already ended."""
        if self.proc.poll() is not None:
            self.close()
            return None
        script = "".join("%s;\n" % command for command in commands)
        try:
            out, err = self.proc.communicate(script.encode("utf-8"), timeout=10)
        except subprocess.TimeoutExpired:
            self.close()
            return None
        return self.proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def _pooler(pooler):
    return pooler if isinstance(pooler, dict) else {"host": str(pooler)}


def open_consoles(module, poolers, user, password, timeout=5):
    """An admin console session to every PgBouncer given, opened now (they connect side
    by side) for pause_all to PAUSE over once the switch is due."""
    poolers = [_pooler(pooler) for pooler in poolers]
    return [OpenConsole(module, user, password, port=pooler.get("port", 6432), host=pooler["host"], timeout=timeout)
            for pooler in poolers]


def pause_all(module, poolers, user, password, timeout=5, consoles=None):
    """PAUSE every PgBouncer given (an address, or a dict with host and optional
    port), over the sessions open_consoles opened (in the same order) where they
    still run, else with a fresh psql. Returns (paused, None), or ([], (host,
    error)) once one refuses: every PgBouncer paused here is then resumed, so
    none is left paused."""
    paused = []
    for index, pooler in enumerate(poolers):
        pooler = _pooler(pooler)
        answer = consoles[index].run("PAUSE") if consoles else None
        if answer is None:
            answer = admin(module, "PAUSE", user, password, port=pooler.get("port", 6432), host=pooler["host"],
                           check_rc=False, timeout=timeout)
        rc, out, err = answer
        if rc != 0 and "already" not in (err or out).lower():
            for console in (consoles or [])[index + 1:]:
                console.close()
            resume_all(module, paused, user, password)
            return [], (pooler["host"], (err or out).strip())
        paused.append(pooler)
    return paused, None


def resume_all(module, paused, user, password):
    """RESUME every PgBouncer pause_all paused (failures are not fatal: each is tried)."""
    for pooler in paused:
        admin(module, "RESUME", user, password, port=pooler.get("port", 6432), host=pooler["host"], check_rc=False)


def pool_clients(show_pools):
    """Client connections (active and waiting) over every pool but the admin
    console's, from SHOW POOLS as psql -A -t prints it (database|user|cl_active|cl_waiting|...)."""
    total = 0
    for line in (show_pools or "").splitlines():
        fields = line.split("|")
        if len(fields) < 4 or fields[0] == "pgbouncer":
            continue
        try:
            total += int(fields[2]) + int(fields[3])
        except ValueError:
            continue
    return total
