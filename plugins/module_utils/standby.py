# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side steps that make a node a standby: clone with pg_basebackup,
register with postgresql-common, point at an upstream. Shared by pg_standby
and pg_rejoin."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.pgha.cluster.plugins.module_utils.datadir import move_aside
from ansible_collections.pgha.cluster.plugins.module_utils.pg import (
    as_postgres, postmaster_running, read_file, run_psql, stop_server)
from ansible_collections.pgha.cluster.plugins.module_utils.tls import client_tls
from ansible_collections.pgha.cluster.plugins.module_utils.topology import build_conninfo, merge_auto_conf, quote_setting


def desired_upstream(p):
    desired = {
        "host": p["primary_host"],
        "port": str(p["primary_port"]),
        "user": p["replication_user"],
        "application_name": p["application_name"],
        "slot_name": p["slot_name"],
        "passfile": p["passfile"],
    }
    desired.update(client_tls(p))
    return desired


def conninfo_text(desired):
    """primary_conninfo (and pg_basebackup's): TLS with the server's certificate verified."""
    return build_conninfo({
        "host": desired["host"], "port": desired["port"], "user": desired["user"],
        "application_name": desired["application_name"], "passfile": desired["passfile"],
        "sslmode": desired["sslmode"], "sslrootcert": desired["sslrootcert"],
        "connect_timeout": "5",
    })


def write_auto_conf(module, path, settings):
    """Merge settings into postgresql.auto.conf atomically, owned by postgres."""
    text = merge_auto_conf(read_file(path) or "", settings)
    tmp = path + ".pgha.tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("postgres")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    module.atomic_move(tmp, path)


def touch_signal(path):
    if not os.path.exists(path):
        with open(path, "w"):
            pass
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)


def run(module, argv, commands):
    commands.append(argv)
    rc, out, err = module.run_command(argv, cwd="/", environ_update={"LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg="command failed (rc=%d): %s: %s" % (rc, " ".join(argv), (err or out).strip()),
                         commands=commands)
    return out


def clone(module, p, paths, node, desired, commands, reason="reclone"):
    """A fresh pg_basebackup clone. An existing data directory (re-clone of a
    foreign system, rejoin fallback) is stopped and moved aside, never removed.
    Returns (seconds, path of the copy kept aside or None)."""
    data_dir = paths["data_dir"]
    kept = None
    if os.path.exists(os.path.join(data_dir, "PG_VERSION")):
        commands.append(["systemctl", "stop", "--no-block", paths["service"]])
        stop_server(module, paths)
        if postmaster_running(data_dir):
            module.fail_json(msg="could not stop the server of %s; it was not moved aside" % data_dir)
        kept = move_aside(module, data_dir, reason, commands=commands)
    parent = os.path.dirname(data_dir)
    run(module, ["install", "-d", "-o", "postgres", "-g", "postgres", "-m", "0755", parent], commands)
    if os.path.isdir(data_dir) and os.listdir(data_dir):
        module.fail_json(msg="%s is not empty but holds no cluster (no PG_VERSION); it is left untouched: "
                             "inspect and empty it, then run again" % data_dir)
    start = time.time()
    run(module, as_postgres([
        os.path.join(paths["bin_dir"], "pg_basebackup"),
        "--pgdata", data_dir,
        "--dbname", conninfo_text(desired),
        "--wal-method", "stream",
        "--checkpoint", "fast",
        "--slot", desired["slot_name"],
        "--no-password",
        "--manifest-checksums", "CRC32C",
    ]), commands)
    verify = os.path.join(paths["bin_dir"], "pg_verifybackup")
    if os.path.exists(verify):
        run(module, as_postgres([verify, "--no-parse-wal", "--quiet", data_dir]), commands)
    touch_signal(os.path.join(data_dir, "standby.signal"))
    write_auto_conf(module, os.path.join(data_dir, "postgresql.auto.conf"), {
        "primary_conninfo": conninfo_text(desired),
        "primary_slot_name": desired["slot_name"],
    })
    return round(time.time() - start, 2), kept


# The first line of the postgresql.conf pgha writes in the data directory in automatic mode
# (roles/postgresql/tasks/patroni.yml): it only includes /etc's, for Patroni's single-user recovery.
PATRONI_SHIM_MARK = "# Managed by pgha.cluster.postgresql: the server runs with "


def is_patroni_shim(path):
    """Whether path is pgha's postgresql.conf for Patroni's single-user recovery (nothing else)."""
    try:
        with open(path) as handle:
            return handle.readline().startswith(PATRONI_SHIM_MARK)
    except (IOError, OSError):
        return False


def register(module, p, paths, commands):
    """Register a cloned data directory with postgresql-common.

    pg_createcluster adopts an existing data directory by moving its
    postgresql.conf, pg_hba.conf and pg_ident.conf to /etc; a clone of a
    Debian primary has none (they live in /etc there), so empty ones are
    created first. The configure step of the postgresql role fills them.
    A clone of a node that runs (or ran) under Patroni carries pgha's one-line
    postgresql.conf that includes /etc's: moved to /etc it would include itself
    (PostgreSQL then refuses to start: configuration file recursion), so it is
    emptied first (automatic mode writes it again).
    A host whose configuration is still there (its data directory was moved
    aside, e.g. by an in-place restore) needs nothing.
    """
    if os.path.isfile(os.path.join(paths["conf_dir"], "postgresql.conf")):
        return
    shim = os.path.join(paths["data_dir"], "postgresql.conf")
    if is_patroni_shim(shim):
        commands.append(["truncate", "-s", "0", shim])
        with open(shim, "w"):
            pass
    for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
        path = os.path.join(paths["data_dir"], name)
        if not os.path.exists(path):
            run(module, as_postgres(["touch", path]), commands)
    run(module, ["pg_createcluster", "--port", str(p["port"]), str(p["version"]), p["cluster"]], commands)


def configure(module, p, paths, node, desired, commands):
    settings = {"primary_conninfo": conninfo_text(desired), "primary_slot_name": desired["slot_name"]}
    if node["up"]:
        for key, value in settings.items():
            sql = "ALTER SYSTEM SET %s = %s" % (key, quote_setting(value))
            commands.append(["psql", "-c", sql])
            rc, out, err = run_psql(module, paths["bin_dir"], p["port"], sql)
            if rc != 0:
                module.fail_json(msg="could not set %s: %s" % (key, err.strip()), commands=commands)
        commands.append(["psql", "-c", "SELECT pg_reload_conf()"])
        run_psql(module, paths["bin_dir"], p["port"], "SELECT pg_reload_conf()", check_rc=True)
    else:
        write_auto_conf(module, os.path.join(paths["data_dir"], "postgresql.auto.conf"), settings)
        touch_signal(os.path.join(paths["data_dir"], "standby.signal"))
