# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PgBouncer's admin console as Prometheus metrics (installed by pgha.cluster.monitoring).

Debian's prometheus-pgbouncer-exporter (1.7) reports neither whether a
database is paused nor where PgBouncer sends its clients, and keeps one
connection for its whole life. This one connects for each scrape over the
local socket (peer authentication, a stats-only user), so a restarted
PgBouncer is read again at the next scrape and one that does not answer
reports pgbouncer_up 0. It serves HTTPS with the host's certificate when
given one.

  pgha_pgbouncer_exporter.py --listen ADDR:PORT [--port 6432] [--user NAME]
                             [--cert FILE --key FILE]
"""

from __future__ import absolute_import, division, print_function

import argparse
import ssl
import sys
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

# (metric, SHOW command, column, help); one sample per row, labelled by the row's keys.
DATABASE_METRICS = (
    ("pgbouncer_database_paused", "paused", "1 when PAUSE holds this database's clients"),
    ("pgbouncer_database_disabled", "disabled", "1 when DISABLE refuses new clients"),
    ("pgbouncer_database_current_connections", "current_connections", "Server connections open for the database"),
)
POOL_METRICS = (
    ("pgbouncer_pool_client_active", "cl_active", "Clients linked to a server connection"),
    ("pgbouncer_pool_client_waiting", "cl_waiting", "Clients waiting for a server connection"),
    ("pgbouncer_pool_server_active", "sv_active", "Server connections linked to a client"),
    ("pgbouncer_pool_server_idle", "sv_idle", "Server connections free for a client"),
)


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample(name, labels, value):
    text = ",".join('%s="%s"' % (k, _escape(v)) for k, v in sorted(labels.items()))
    return "%s{%s} %s" % (name, text, value) if text else "%s %s" % (name, value)


def render(databases, pools, up=True, scrape_seconds=0.0, state=None):
    """The exposition text for SHOW DATABASES and SHOW POOLS rows (lists of dicts) and SHOW STATE
    (key -> value; PgBouncer 1.21 and later: a global PAUSE shows only there)."""
    lines = ["# HELP pgbouncer_up 1 when PgBouncer's admin console answered this scrape",
             "# TYPE pgbouncer_up gauge", _sample("pgbouncer_up", {}, 1 if up else 0),
             "# HELP pgbouncer_scrape_seconds How long the admin console took to answer",
             "# TYPE pgbouncer_scrape_seconds gauge", _sample("pgbouncer_scrape_seconds", {}, round(scrape_seconds, 6))]
    if not up:
        return "\n".join(lines) + "\n"
    if state:
        for key in ("paused", "suspended"):
            if key in state:
                lines += ["# HELP pgbouncer_%s 1 when PgBouncer is %s as a whole (SHOW STATE)" % (key, key),
                          "# TYPE pgbouncer_%s gauge" % key,
                          _sample("pgbouncer_%s" % key, {}, 1 if str(state[key]).lower() in ("yes", "true", "1") else 0)]
    # The admin console itself is no database clients use.
    databases = [row for row in databases if row.get("name") != "pgbouncer"]
    pools = [row for row in pools if row.get("database") != "pgbouncer"]
    for name, column, text in DATABASE_METRICS:
        lines += ["# HELP %s %s" % (name, text), "# TYPE %s gauge" % name]
        for row in databases:
            lines.append(_sample(name, {"database": row.get("name")}, int(row.get(column) or 0)))
    lines += ["# HELP pgbouncer_database_target Where PgBouncer sends this database's clients (1 per entry)",
              "# TYPE pgbouncer_database_target gauge"]
    for row in databases:
        lines.append(_sample("pgbouncer_database_target",
                             {"database": row.get("name"), "host": row.get("host") or "", "port": row.get("port") or ""}, 1))
    for name, column, text in POOL_METRICS:
        lines += ["# HELP %s %s" % (name, text), "# TYPE %s gauge" % name]
        for row in pools:
            lines.append(_sample(name, {"database": row.get("database"), "user": row.get("user")}, int(row.get(column) or 0)))
    lines += ["# HELP pgbouncer_pool_maxwait_seconds Longest wait of a client of this pool",
              "# TYPE pgbouncer_pool_maxwait_seconds gauge"]
    for row in pools:
        wait = float(row.get("maxwait") or 0) + float(row.get("maxwait_us") or 0) / 1e6
        lines.append(_sample("pgbouncer_pool_maxwait_seconds", {"database": row.get("database"), "user": row.get("user")},
                             round(wait, 6)))
    return "\n".join(lines) + "\n"


def read_console(port, user):
    """SHOW DATABASES, SHOW POOLS and (where PgBouncer has it) SHOW STATE over the local socket (psycopg2)."""
    import psycopg2  # pylint: disable=import-outside-toplevel
    conn = psycopg2.connect(dbname="pgbouncer", user=user, host="/var/run/postgresql", port=port, connect_timeout=3)
    try:
        conn.autocommit = True
        result = []
        for command in ("SHOW DATABASES", "SHOW POOLS"):
            with conn.cursor() as cur:
                cur.execute(command)
                names = [column[0] for column in cur.description]
                result.append([dict(zip(names, row)) for row in cur.fetchall()])
        state = None
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW STATE")
                state = dict((str(row[0]).lower(), row[1]) for row in cur.fetchall() if len(row) >= 2)
        except psycopg2.Error:
            # Before PgBouncer 1.21: a global PAUSE is seen only through the clients it holds.
            state = None
        return result + [state]
    finally:
        conn.close()


def make_app(port, user, reader=read_console):
    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"see /metrics\n"]
        started = time.time()
        try:
            databases, pools, state = reader(port, user)
            body = render(databases, pools, True, time.time() - started, state)
        except Exception as exc:  # pylint: disable=broad-except
            sys.stderr.write("pgbouncer did not answer: %s\n" % exc)
            body = render([], [], False, time.time() - started)
        start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
        return [body.encode("utf-8")]
    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description="PgBouncer metrics for Prometheus")
    parser.add_argument("--listen", required=True, help="ADDR:PORT to serve /metrics on")
    parser.add_argument("--port", type=int, default=6432, help="PgBouncer's port")
    parser.add_argument("--user", default="prometheus", help="stats user (peer authentication on the local socket)")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args(argv)
    address, _sep, port = args.listen.rpartition(":")
    httpd = make_server(address.strip("[]"), int(port), make_app(args.port, args.user), handler_class=_QuietHandler)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(args.cert, args.key)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
