# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Automatic failover engine: what pgha tells Patroni and etcd, as pure
functions of the inventory (pgha_failover_mode: automatic).

Patroni elects the leader through etcd; pgha never holds a lease or runs an
election of its own. The inventory still decides everything Patroni is told:
synchronous replication, timeouts, the parameters every node must share.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Patroni's defaults are 30/10/10; these make a failover start about 8 s after
# the leader's last lease renewal. Patroni requires loop_wait + 2 * retry_timeout <= ttl.
TIMING_DEFAULTS = {"ttl": 8, "loop_wait": 1, "retry_timeout": 3}
# Patroni 3.2 and later (Debian 13 has 4.0) raise a ttl below 20 s to 20 s and a
# retry_timeout below 3 s to 3 s, saying so only in their log: there the lease is
# at least 20 s, and a killed leader is replaced about 20 s after its last renewal.
TIMING_FLOORS = ((3, 2), {"ttl": 20, "retry_timeout": 3})
# Parameters Patroni passes on the postmaster's command line from its shared
# (DCS) configuration: values in the local configuration do not count, so
# pgha hands the inventory's values to the shared configuration.
SHARED_PARAMETERS = ("max_connections", "max_locks_per_transaction", "max_worker_processes",
                     "max_prepared_transactions", "wal_level", "track_commit_timestamp", "max_wal_senders",
                     "max_replication_slots", "wal_log_hints", "hot_standby")
# Patroni writes its own default for these after pgha's include: pgha's value goes to it too.
SHADOWED_PARAMETERS = ("wal_keep_size",)
# Set by Patroni itself (scope, listen, synchronous mode): never handed over as parameters.
PATRONI_OWNED = ("listen_addresses", "port", "cluster_name", "synchronous_standby_names", "config_file",
                 "data_directory")
TLS_DIR = "/etc/pgha/tls"
API_PORT = 8008
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380


def patroni_version(version_text):
    """(major, minor) from ``patroni --version`` output (``patroni 3.0.2``), or None."""
    match = re.search(r"(\d+)\.(\d+)", str(version_text or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def timing_floors(version):
    """The lowest timeouts this Patroni ((major, minor)) accepts as they are: {} before 3.2."""
    return dict(TIMING_FLOORS[1]) if version and tuple(version) >= TIMING_FLOORS[0] else {}


def timing_for(version, timing=None):
    """The timeouts pgha gives this Patroni: the inventory's (postgresql_patroni_timing) over
    pgha's defaults, raised to the version's floors (the inventory's own values are not: those
    below a floor are refused by timing_problems)."""
    defaults = dict(TIMING_DEFAULTS)
    for name, floor in timing_floors(version).items():
        defaults[name] = max(defaults[name], floor)
    return dict(defaults, **(timing or {}))


def sync_settings(mode, count, major):
    """Patroni's synchronous replication settings for pgha_sync_mode/pgha_sync_count.

    With synchronous replication on, Patroni never lets a primary run without a
    synchronous standby (``synchronous_mode_strict``) and promotes only a node
    that held every acknowledged commit. Quorum commit (``ANY k``) needs
    Patroni 4; Patroni 3 keeps k named synchronous standbys instead (the same
    guarantee, chosen by Patroni).
    """
    if mode in (None, "", "off", False):
        return {"synchronous_mode": False, "synchronous_mode_strict": False}
    result = {"synchronous_mode": True, "synchronous_mode_strict": True, "synchronous_node_count": int(count)}
    if mode == "quorum" and (major or 0) >= 4:
        result["synchronous_mode"] = "quorum"
    return result


def sync_guarantee(mode, count, major):
    """One sentence: what an acknowledged commit survives, for the README and status."""
    settings = sync_settings(mode, count, major)
    if not settings["synchronous_mode"]:
        return ("asynchronous (pgha_sync_mode: off): a failover can lose the commits the promoted standby "
                "had not received")
    if settings["synchronous_mode"] == "quorum":
        return ("quorum commit: every acknowledged commit is on the primary and at least %d standby(s); Patroni "
                "promotes only a node of the quorum that has them" % int(count))
    return ("Patroni %s: %d named synchronous standby(s), strict: writes wait rather than run unprotected, and "
            "only a synchronous standby is promoted" % (major if major else "3", int(count)))


def dynamic_config(settings, parameters, major, timing=None, maximum_lag=16 * 1024 * 1024):
    """Patroni's shared (DCS) configuration from the inventory."""
    timing = dict(TIMING_DEFAULTS, **(timing or {}))
    shared = dict((k, parameters[k]) for k in SHARED_PARAMETERS + SHADOWED_PARAMETERS if k in parameters)
    config = {
        "ttl": int(timing["ttl"]),
        "loop_wait": int(timing["loop_wait"]),
        "retry_timeout": int(timing["retry_timeout"]),
        # A standby further behind than this is never promoted automatically.
        "maximum_lag_on_failover": int(maximum_lag),
        "postgresql": {
            "use_pg_rewind": True,
            "use_slots": True,
            "parameters": dict((k, str(v)) for k, v in sorted(shared.items())),
        },
    }
    config.update(sync_settings(settings.get("pgha_sync_mode"), settings.get("pgha_sync_count") or 1, major))
    return config


def timing_problems(timing, version=None):
    """Why Patroni (``version``: (major, minor), when known) would refuse or silently change these
    timeouts, or an empty list."""
    timing = timing_for(version, timing)
    errors = []
    try:
        ttl, loop, retry = (int(timing[k]) for k in ("ttl", "loop_wait", "retry_timeout"))
    except (TypeError, ValueError):
        return ["postgresql_patroni_timing values must be whole numbers of seconds, not %r" % (timing,)]
    if min(ttl, loop, retry) < 1:
        errors.append("postgresql_patroni_timing values must be at least 1 s")
    elif loop + 2 * retry > ttl:
        errors.append("postgresql_patroni_timing: loop_wait (%d) + 2 x retry_timeout (%d) must not exceed ttl (%d), "
                      "or a leader could lose its lease while still retrying" % (loop, retry, ttl))
    values = {"ttl": ttl, "loop_wait": loop, "retry_timeout": retry}
    for name, floor in sorted(timing_floors(version).items()):
        if values[name] < floor:
            errors.append("postgresql_patroni_timing: %s %d is below the %d s that Patroni %d.%d accepts (since 3.2 "
                          "it raises a lower value to %d, saying so only in its log): set %d or more, or leave it "
                          "unset" % (name, values[name], floor, version[0], version[1], floor, floor))
    return errors


def endpoint(address, port):
    """host:port, with IPv6 addresses in brackets."""
    address = str(address)
    return "[%s]:%s" % (address, port) if ":" in address else "%s:%s" % (address, port)


def local_config(node, settings, parameters, members, dcs_members, major, replication_password,
                 rewind_user="pgha_rewind", timing=None, paths=None):
    """Patroni's configuration file for one database node.

    ``node`` is {name, address}; ``members``/``dcs_members`` map host -> address
    (database nodes / etcd members); ``parameters`` is the full set of server
    settings pgha renders into conf.d (Patroni includes it through
    postgresql.base.conf)."""
    paths = dict({"data_dir": None, "config_dir": None, "bin_dir": None}, **(paths or {}))
    tls = {"ca": TLS_DIR + "/ca.crt", "cert": TLS_DIR + "/host.crt", "key": TLS_DIR + "/host.key"}
    listen = str(parameters.get("listen_addresses") or node["address"])
    port = int(settings.get("pgha_postgresql_port") or 5432)
    local = dict((k, str(parameters[k])) for k in ("unix_socket_directories",) if k in parameters)
    local.setdefault("unix_socket_directories", "/var/run/postgresql")
    if paths["config_dir"]:
        # Patroni keeps PostgreSQL's files where Debian has them: it renames
        # postgresql.conf to postgresql.base.conf (which includes pgha's conf.d)
        # and writes its own postgresql.conf there, which a server already
        # running reads on the next reload (Patroni adopts running servers).
        local["hba_file"] = paths["config_dir"] + "/pg_hba.conf"
        local["ident_file"] = paths["config_dir"] + "/pg_ident.conf"
    ssl = {"sslmode": "verify-full", "sslrootcert": tls["ca"]}
    return {
        "scope": str(settings["pgha_cluster_name"]),
        "namespace": "/pgha/",
        "name": str(node["name"]),
        "log": {"level": "INFO"},
        # The REST API over TLS; changing requests (switchover, restart,
        # configuration) need a certificate of the cluster CA.
        "restapi": {
            "listen": endpoint(node["address"], API_PORT),
            "connect_address": endpoint(node["address"], API_PORT),
            "certfile": tls["cert"], "keyfile": tls["key"], "cafile": tls["ca"],
            "verify_client": "optional",
        },
        "ctl": {"certfile": tls["cert"], "keyfile": tls["key"], "cacert": tls["ca"], "insecure": False},
        "etcd3": {
            "hosts": [endpoint(dcs_members[h], ETCD_CLIENT_PORT) for h in sorted(dcs_members)],
            "protocol": "https",
            "cacert": tls["ca"], "cert": tls["cert"], "key": tls["key"],
            # The members are the inventory's: Patroni uses this list as it is. Otherwise, once every member
            # failed to answer (a partitioned leader), it asks each again for the member list before its
            # next try, outside its retry_timeout, and the isolated leader's loop, which must end in a
            # demotion before its lease runs out, grows longer (README, "Not done yet").
            "use_proxies": True,
        },
        "bootstrap": {
            "dcs": dynamic_config(settings, parameters, major, timing),
            # pgha creates the cluster (initdb on the initial primary, pg_basebackup
            # for the standbys) before Patroni starts: Patroni must never create one
            # of its own, even with an empty etcd.
            "method": "pgha_never",
            "pgha_never": {"command": "/bin/false", "no_params": True},
        },
        "postgresql": {
            "listen": "%s:%d" % (listen, port),
            "connect_address": endpoint(node["address"], port),
            "data_dir": paths["data_dir"],
            "config_dir": paths["config_dir"],
            "bin_dir": paths["bin_dir"],
            "pgpass": "/var/lib/postgresql/.pgpass_patroni",
            "use_unix_socket": True,
            "use_unix_socket_repl": True,
            "authentication": {
                "superuser": {"username": "postgres"},
                "replication": dict(ssl, username=str(settings["pgha_replication_user"]),
                                    password=replication_password),
                "rewind": dict(ssl, username=rewind_user, sslcert=tls["cert"], sslkey=tls["key"]),
            },
            "parameters": local,
            "create_replica_methods": ["basebackup"],
            "basebackup": {"checkpoint": "fast"},
            # Never delete data: a node that cannot rewind stays down for a person to look at.
            "remove_data_directory_on_rewind_failure": False,
            "remove_data_directory_on_diverged_timelines": False,
        },
        "watchdog": {"mode": "automatic"},
    }


def etcd_environment(name, address, members, cluster_token, data_dir, key_file):
    """/etc/default/etcd for one etcd member: TLS for peers and clients with the
    cluster CA, client certificates required on both."""
    peers = ",".join("%s=https://%s" % (h, endpoint(members[h], ETCD_PEER_PORT)) for h in sorted(members))
    tls = {"ca": TLS_DIR + "/ca.crt", "cert": TLS_DIR + "/host.crt"}
    return {
        "ETCD_NAME": str(name),
        "ETCD_DATA_DIR": data_dir,
        "ETCD_LISTEN_PEER_URLS": "https://" + endpoint(address, ETCD_PEER_PORT),
        "ETCD_LISTEN_CLIENT_URLS": "https://" + endpoint(address, ETCD_CLIENT_PORT),
        "ETCD_ADVERTISE_CLIENT_URLS": "https://" + endpoint(address, ETCD_CLIENT_PORT),
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": "https://" + endpoint(address, ETCD_PEER_PORT),
        "ETCD_INITIAL_CLUSTER": peers,
        "ETCD_INITIAL_CLUSTER_STATE": "new",
        "ETCD_INITIAL_CLUSTER_TOKEN": str(cluster_token),
        "ETCD_CERT_FILE": tls["cert"],
        "ETCD_KEY_FILE": key_file,
        "ETCD_TRUSTED_CA_FILE": tls["ca"],
        "ETCD_CLIENT_CERT_AUTH": "true",
        "ETCD_PEER_CERT_FILE": tls["cert"],
        "ETCD_PEER_KEY_FILE": key_file,
        "ETCD_PEER_TRUSTED_CA_FILE": tls["ca"],
        "ETCD_PEER_CLIENT_CERT_AUTH": "true",
        # A member cut off and then healed must not force a new etcd election (etcd 3.4 defaults to false):
        # the leader would lose etcd for the election's length and Patroni demote it.
        "ETCD_PRE_VOTE": "true",
        "ETCD_HEARTBEAT_INTERVAL": "100",
        "ETCD_ELECTION_TIMEOUT": "1000",
    }
