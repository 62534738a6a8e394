# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side helpers shared by the pgha modules: run psql and pg_controldata
as the postgres OS user (argument lists only, never shell strings) and read a
node's state."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import select
import signal
import subprocess
import time

from ansible_collections.pgha.cluster.plugins.module_utils.topology import parse_conninfo, slot_name

# Left in the data directory of a failed primary by pg_fence; removed by pg_rejoin.
FENCED_MARKER = "pgha.fenced"
# In the data directory of a drill host's cluster: drills replace only directories carrying it.
DRILL_MARKER = "pgha.drill"

NODE_QUERY = r"""
SELECT json_build_object(
  'in_recovery', pg_is_in_recovery(),
  'system_identifier', (SELECT system_identifier::text FROM pg_control_system()),
  'server_version_num', current_setting('server_version_num')::int,
  'data_directory', current_setting('data_directory'),
  'current_lsn', CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
  'receive_lsn', pg_last_wal_receive_lsn()::text,
  'replay_lsn', pg_last_wal_replay_lsn()::text,
  'checkpoint_lsn', (SELECT checkpoint_lsn::text FROM pg_control_checkpoint()),
  'timeline', CASE WHEN pg_is_in_recovery()
                THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver),
                              (SELECT timeline_id FROM pg_control_checkpoint()))
                ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
  'primary_conninfo', current_setting('primary_conninfo'),
  'primary_slot_name', current_setting('primary_slot_name'),
  'synchronous_standby_names', current_setting('synchronous_standby_names'),
  'restore_command_overridden', (SELECT coalesce(sourcefile LIKE '%/postgresql.auto.conf'
                                                   OR sourcefile LIKE '%/conf.d/pgha_switch.conf', false)
                                   FROM pg_settings WHERE name = 'restore_command'),
  'archiver', (SELECT row_to_json(a) FROM (
      SELECT current_setting('archive_mode') AS archive_mode, archived_count, last_archived_wal,
             extract(epoch FROM last_archived_time)::bigint AS last_archived_time, failed_count,
             last_failed_wal, extract(epoch FROM last_failed_time)::bigint AS last_failed_time
      FROM pg_stat_archiver) a),
  'upstream', (SELECT row_to_json(r) FROM (
      SELECT status, sender_host AS host, sender_port AS port, slot_name,
             received_tli AS timeline, flushed_lsn::text AS flushed_lsn
      FROM pg_stat_wal_receiver) r),
  'started_at', extract(epoch FROM pg_postmaster_start_time())::float8,
  'pending_restart', (SELECT coalesce(json_agg(name ORDER BY name), '[]'::json) FROM pg_settings WHERE pending_restart),
  'hot_standby_settings', (SELECT json_object_agg(name, setting) FROM pg_settings
      WHERE name IN ('max_connections', 'max_locks_per_transaction', 'max_prepared_transactions',
                     'max_wal_senders', 'max_worker_processes')),
  'replicas', (SELECT coalesce(json_agg(r ORDER BY r.application_name), '[]'::json) FROM (
      SELECT application_name, host(client_addr) AS client_addr, state, sync_state,
             sent_lsn::text AS sent_lsn, write_lsn::text AS write_lsn,
             flush_lsn::text AS flush_lsn, replay_lsn::text AS replay_lsn,
             CASE WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_replay_lsn(), replay_lsn)::bigint
                  ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint END AS replay_lag_bytes
      FROM pg_stat_replication) r)
)
"""


# Every session pgha opens as a superuser: only pg_catalog (and pg_temp, last) is
# searched, so no object a database owner creates can stand in for a built-in
# function or operator (CVE-2018-1058 class).
SAFE_PGOPTIONS = "-c search_path=pg_catalog,pg_temp"


def libpq_env(**extra):
    """The environment of every libpq client pgha runs (psql, pg_rewind...)."""
    env = {"PGOPTIONS": SAFE_PGOPTIONS, "PGAPPNAME": "pgha"}
    env.update(extra)
    return env


def node_argument_spec(**extra):
    """The options every module acting on the local cluster takes (doc fragment
    pgha.cluster.node), plus the module's own."""
    spec = dict(
        version=dict(type='int', required=True),
        cluster=dict(type='str', default='main'),
        port=dict(type='int', default=5432),
        data_dir=dict(type='path'),
        bin_dir=dict(type='path'),
    )
    spec.update(extra)
    return spec


def pg_paths(version, cluster, data_dir=None, conf_dir=None, bin_dir=None):
    """Debian's layout (postgresql-common) for one cluster."""
    return {
        "data_dir": data_dir or "/var/lib/postgresql/%s/%s" % (version, cluster),
        "conf_dir": conf_dir or "/etc/postgresql/%s/%s" % (version, cluster),
        "bin_dir": bin_dir or "/usr/lib/postgresql/%s/bin" % version,
        "service": "postgresql@%s-%s.service" % (version, cluster),
    }


def as_postgres(argv):
    """Prefix an argument list so it runs as the postgres OS user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + list(argv)
    return list(argv)


def run_psql(module, bin_dir, port, sql, database="postgres", socket_dir="/var/run/postgresql",
             check_rc=False, timeout=5):
    """Run one SQL string through psql over the local socket. Returns (rc, out, err)."""
    argv = as_postgres([os.path.join(bin_dir, "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                        "-h", socket_dir, "-p", str(port), "-d", database, "-c", sql])
    env = libpq_env(PGCONNECT_TIMEOUT=str(timeout))
    rc, out, err = module.run_command(argv, cwd="/", environ_update=env, check_rc=check_rc)
    return rc, out, err


class PsqlSession(object):
    """One psql kept open for the queries a module runs in a loop while a switch
    is under way: a fresh psql per query costs a process (and a login, TLS
    included, for a remote server) each time, on hosts that are busy with the
    switch and with clients. ``query`` returns None once the session is gone
    (it could not connect, the server went away, or a query timed out); the
    caller then falls back to a fresh psql."""

    MARK = "__pgha_session_end__"

    def __init__(self, argv, env):
        full_env = dict(os.environ)
        full_env.update(env)
        self._buffer = b""
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         cwd="/", env=full_env)
        except OSError:
            self.proc = None

    def query(self, sql, timeout=5.0):
        """(rc, out): rc 0 with the rows (unaligned, tuples only), 1 when psql reported an error."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        end = (self.MARK + "\n").encode("utf-8")
        try:
            self.proc.stdin.write(("%s;\n\\echo %s\n" % (sql.strip().rstrip(";"), self.MARK)).encode("utf-8"))
            self.proc.stdin.flush()
        except (OSError, ValueError):
            self.close()
            return None
        deadline = time.time() + timeout
        fd = self.proc.stdout.fileno()
        while end not in self._buffer:
            left = deadline - time.time()
            if left <= 0:
                self.close()
                return None
            try:
                ready = select.select([fd], [], [], left)[0]
                chunk = os.read(fd, 65536) if ready else None
            except (OSError, ValueError):
                chunk = b""
            if chunk is None:
                continue
            if not chunk:
                self.close()
                return None
            self._buffer += chunk
        text, dummy, self._buffer = self._buffer.partition(end)
        text = text.decode("utf-8", "replace")
        failed = any(line.startswith(("ERROR:", "FATAL:", "psql:")) for line in text.splitlines())
        return (1 if failed else 0), text

    def close(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None


def local_session(bin_dir, port, database="postgres", socket_dir="/var/run/postgresql", timeout=5):
    """A PsqlSession on the local server over its socket, as run_psql connects."""
    argv = as_postgres([os.path.join(bin_dir, "psql"), "-X", "-A", "-t", "-q", "-h", socket_dir, "-p", str(port),
                        "-d", database])
    return PsqlSession(argv, libpq_env(PGCONNECT_TIMEOUT=str(timeout)))


def session_query(module, session, bin_dir, port, sql, timeout=5):
    """(rc, out, err) for one statement on the local server: over the open session
    (a PsqlSession, or None), or with a fresh psql once the session is gone."""
    answer = session.query(sql, timeout=timeout) if session else None
    if answer is None:
        return run_psql(module, bin_dir, port, sql, timeout=timeout)
    rc, out = answer
    return (0, out, "") if rc == 0 else (rc, "", out)


def create_slots(module, session, bin_dir, port, slots):
    """Create the physical slots of ``slots`` that are missing (WAL reserved at once), in one statement;
    returns the names created."""
    # A name is valid when slot_name (the one rule for slot names) leaves it as it is.
    bad = [name for name in slots if not name or slot_name(name) != name]
    if bad:
        module.fail_json(msg="slots: %s is not a physical slot name (lower-case letters, digits, underscores; "
                             "pgha.cluster.slot_name makes one from a host name)" % ", ".join(bad))
    if not slots:
        return []
    sql = ("SELECT (pg_catalog.pg_create_physical_replication_slot(s, true)).slot_name "
           "FROM pg_catalog.unnest(pg_catalog.string_to_array('%s', ',')) AS s "
           "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots r "
           "WHERE r.slot_name OPERATOR(pg_catalog.=) s)" % ",".join(slots))
    rc, out, err = session_query(module, session, bin_dir, port, sql)
    if rc != 0:
        module.fail_json(msg="could not create the replication slots %s: %s" % (", ".join(slots), err.strip()))
    return [line.strip() for line in out.splitlines() if line.strip()]


ARCHIVE_BACKLOG = """
SELECT CASE WHEN current_setting('archive_mode') = 'off' THEN 0
            ELSE (SELECT count(*) FROM pg_ls_dir('pg_wal/archive_status') f WHERE f LIKE '%.ready') END
"""


def wait_archiver(module, bin_dir, port, deadline, poll=0.05):
    """Wait (until the deadline) for no finished WAL file waiting to be
    archived; returns how many still wait."""
    while True:
        rc, out, dummy = run_psql(module, bin_dir, port, ARCHIVE_BACKLOG)
        backlog = int(out.strip()) if rc == 0 and out.strip().isdigit() else 0
        if backlog == 0 or time.time() >= deadline:
            return backlog
        time.sleep(poll)


def postmaster_pid(data_dir):
    """The postmaster's PID when one runs for this data directory, else None."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as handle:
            pid = int(handle.readline().strip())
    except (IOError, OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def postmaster_running(data_dir):
    return postmaster_pid(data_dir) is not None


# Seconds to wait for an immediate shutdown, for SIGKILL, and for the unit to settle.
IMMEDIATE_WAIT = 10
UNIT_WAIT = 5


def wait_gone(data_dir, seconds):
    deadline = time.time() + seconds
    while postmaster_running(data_dir) and time.time() < deadline:
        time.sleep(0.1)
    return not postmaster_running(data_dir)


def signal_postmaster(data_dir, signum):
    """Send a signal to the postmaster, if one still runs."""
    pid = postmaster_pid(data_dir)
    if pid:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


PATRONI_UNIT = "patroni.service"


def unit_state(module, service):
    return module.run_command(["systemctl", "is-active", service])[1].strip()


# Seconds a clean stop may take before a rejoin, a re-clone or a restore escalates.
STOP_TIMEOUT = 30


def stop_server(module, paths, stop_timeout=STOP_TIMEOUT, result=None, escalate=True):
    """Clean stop, then immediate shutdown, then SIGKILL; never waits on a stop job.

    A clean stop waits for the archiver, which cannot finish while the repository is
    out of reach (a partitioned primary): after stop_timeout the postmaster gets
    SIGQUIT (immediate shutdown), then SIGKILL. With ``escalate=False`` (a switchover
    needs the clean shutdown checkpoint) it only waits; the caller checks whether
    the postmaster is gone.
    """
    result = {} if result is None else result
    data_dir, service = paths['data_dir'], paths['service']
    if unit_state(module, service) in ('active', 'activating', 'deactivating', 'reloading'):
        module.run_command(["systemctl", "stop", "--no-block", service])
    else:
        # Not under its unit (Patroni started it; handback.yml restarts it under systemd):
        # a fast shutdown, as the unit's pg_ctlcluster -m fast stop does.
        signal_postmaster(data_dir, signal.SIGINT)
    if wait_gone(data_dir, stop_timeout):
        result['how'] = 'clean stop'
    elif not escalate:
        result['how'] = None
        return
    else:
        signal_postmaster(data_dir, signal.SIGQUIT)
        if wait_gone(data_dir, IMMEDIATE_WAIT):
            result['how'] = 'immediate shutdown (the clean stop took over %ds)' % stop_timeout
        else:
            module.run_command(["systemctl", "kill", "--signal=SIGKILL", service])
            signal_postmaster(data_dir, signal.SIGKILL)
            wait_gone(data_dir, IMMEDIATE_WAIT)
            result['how'] = 'killed'
            result['killed'] = True
    # The stop job ends once the unit's processes are gone. Some systemd-in-container
    # setups miss the cgroup-empty event and leave the unit "deactivating" for its whole
    # TimeoutStopSec (an hour for PostgreSQL): a daemon-reload makes systemd look again.
    deadline = time.time() + UNIT_WAIT
    while unit_state(module, service) in ('deactivating', 'activating') and time.time() < deadline:
        time.sleep(0.2)
    if unit_state(module, service) in ('deactivating', 'activating'):
        module.run_command(["systemctl", "daemon-reload"])
        result['unit_reloaded'] = True


def parse_controldata(text):
    """Parse pg_controldata output into a dict of label -> value."""
    result = {}
    for line in text.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            result[key.strip()] = value.strip()
    return result


def parse_auto_conf(text):
    """Read key = 'value' lines of postgresql.auto.conf (last one wins)."""
    result = {}
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == "'" and value[-1] == "'":
            value = value[1:-1].replace("''", "'").replace("\\\\", "\\")
        result[key.strip()] = value
    return result


def read_file(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def etcd_health(endpoints, timeout=2.0):
    """endpoint -> True when that etcd member answers healthy (GET /health, this
    host's certificate), else why not. Asked side by side."""
    import threading
    from ansible_collections.pgha.cluster.plugins.module_utils.patroni_api import call
    found = {}

    def ask(endpoint):
        try:
            status, answer = call("https://%s/health" % endpoint, timeout=timeout)
        except Exception as exc:  # pylint: disable=broad-except
            found[endpoint] = "%s: %s" % (type(exc).__name__, exc)
            return
        healthy = status == 200 and isinstance(answer, dict) and str(answer.get("health")) == "true"
        found[endpoint] = True if healthy else "HTTP %s: %s" % (status, answer)

    threads = [threading.Thread(target=ask, args=(e,)) for e in endpoints]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1.0)
    return dict((e, found.get(e, "no answer in %.0f s" % timeout)) for e in endpoints)


def patroni_member(config="/etc/patroni/config.yml"):
    """What this node's Patroni says of itself (GET /patroni): state, role, pause,
    timeline, how long ago it last reached etcd; or an error. Its address and the
    etcd members come from its configuration file; each member's health is asked
    from here too."""
    from ansible_collections.pgha.cluster.plugins.module_utils.patroni_api import call
    try:
        import yaml
        with open(config) as handle:
            settings = yaml.safe_load(handle) or {}
        address = (settings.get("restapi") or {}).get("connect_address")
        status, answer = call("https://%s/patroni" % address, timeout=2.0)
    except Exception as exc:  # pylint: disable=broad-except
        return {"error": "%s: %s" % (type(exc).__name__, exc)}
    if not isinstance(answer, dict):
        return {"error": "HTTP %s: %s" % (status, answer)}
    member = {"state": answer.get("state"), "role": answer.get("role"), "pause": bool(answer.get("pause")),
              "timeline": answer.get("timeline"), "tags": answer.get("tags") or {}}
    if answer.get("dcs_last_seen"):
        member["dcs_seen_ago"] = max(0, int(time.time() - float(answer["dcs_last_seen"])))
    endpoints = (settings.get("etcd3") or settings.get("etcd") or {}).get("hosts") or []
    if isinstance(endpoints, str):
        endpoints = [e.strip() for e in endpoints.split(",") if e.strip()]
    member["etcd"] = etcd_health([str(e) for e in endpoints])
    # Patroni's shared view: in strict synchronous mode only a member recorded as synchronous may be
    # promoted, so a leader with none recorded cannot be failed over from.
    try:
        status, cluster = call("https://%s/cluster" % address, timeout=2.0)
    except Exception:  # pylint: disable=broad-except
        cluster = None
    if isinstance(cluster, dict):
        members = cluster.get("members") or []
        member["leader"] = next((m.get("name") for m in members if m.get("role") == "leader"), None)
        member["synchronous"] = sorted(m.get("name") for m in members
                                       if m.get("role") in ("sync_standby", "quorum_standby")
                                       and m.get("state") in ("running", "streaming"))
        member["quorum"] = any(m.get("role") == "quorum_standby" for m in members)
    return member


def inspect_node(module, version, cluster, port, data_dir=None, bin_dir=None):
    """What one node looks like now: running or not, role, identity, LSNs."""
    paths = pg_paths(version, cluster, data_dir=data_dir, bin_dir=bin_dir)
    data_dir = paths["data_dir"]
    node = {
        "up": False,
        "role": "absent",
        "data_directory": data_dir,
        "data_directory_exists": os.path.isfile(os.path.join(data_dir, "PG_VERSION")),
        "config_exists": os.path.isfile(os.path.join(paths["conf_dir"], "postgresql.conf")),
        # Patroni's configuration is in force (it renamed pgha's postgresql.conf to postgresql.base.conf):
        # handback.yml puts pgha's back.
        "patroni_config": os.path.isfile(os.path.join(paths["conf_dir"], "postgresql.base.conf")),
        "system_identifier": None,
        "timeline": None,
        "current_lsn": None,
        "receive_lsn": None,
        "replay_lsn": None,
        "checkpoint_lsn": None,
        "primary_conninfo": {},
        "primary_slot_name": None,
        "synchronous_standby_names": "",
        "upstream": None,
        "replicas": [],
        "started_at": None,
        "pending_restart": [],
        "hot_standby_settings": {},
        "error": None,
        "fenced": os.path.exists(os.path.join(data_dir, FENCED_MARKER)),
        "drill_marker": os.path.exists(os.path.join(data_dir, DRILL_MARKER)),
        # Who starts and stops the server: Patroni (pgha_failover_mode: automatic) or systemd.
        "supervisor": "patroni" if unit_state(module, PATRONI_UNIT) == "active" else "systemd",
    }
    if node["supervisor"] == "patroni":
        node["patroni"] = patroni_member()
    rc, out, err = run_psql(module, paths["bin_dir"], port, NODE_QUERY) \
        if os.path.isfile(os.path.join(paths["bin_dir"], "psql")) else (1, "", "PostgreSQL is not installed")
    if rc == 0 and out.strip():
        info = json.loads(out.strip())
        node.update({
            "up": True,
            "role": "standby" if info.pop("in_recovery") else "primary",
            "data_directory_exists": True,
        })
        conninfo = info.pop("primary_conninfo") or ""
        node.update(info)
        node["primary_conninfo"] = parse_conninfo(conninfo)
        node["primary_slot_name"] = node.get("primary_slot_name") or None
        return node

    node["error"] = (err or out).strip() or "no answer on port %s" % port
    if not node["data_directory_exists"]:
        return node
    # Stopped: read what the data directory says about itself.
    rc, out, err = module.run_command(as_postgres([os.path.join(paths["bin_dir"], "pg_controldata"), data_dir]),
                                      cwd="/", environ_update={"LC_ALL": "C"})
    if rc == 0:
        control = parse_controldata(out)
        node["system_identifier"] = control.get("Database system identifier")
        node["cluster_state"] = control.get("Database cluster state")
        node["checkpoint_lsn"] = control.get("Latest checkpoint location")
        tli = control.get("Latest checkpoint's TimeLineID")
        node["timeline"] = int(tli) if tli and tli.isdigit() else None
    auto = parse_auto_conf(read_file(os.path.join(data_dir, "postgresql.auto.conf")))
    node["primary_conninfo"] = parse_conninfo(auto.get("primary_conninfo", ""))
    node["primary_slot_name"] = auto.get("primary_slot_name") or None
    if os.path.exists(os.path.join(data_dir, "standby.signal")):
        node["role"] = "standby"
    elif os.path.exists(os.path.join(data_dir, "recovery.signal")):
        node["role"] = "recovering"
    else:
        node["role"] = "primary"
    return node
