# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure validation of the cluster-wide inputs, run before any host is touched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.pgha.cluster.plugins.module_utils.alerts import threshold_problems
from ansible_collections.pgha.cluster.plugins.module_utils.replicas import delay_ms, delay_problem, upstream_problems

SUPPORTED_VERSIONS = (14, 15, 16, 17, 18)
SYNC_MODES = ("off", "quorum", "priority")
DB_GROUP = "pgha_postgresql"
POOLER_GROUP = "pgha_pgbouncer"
# Automatic failover: Patroni on the database nodes, its consensus store (etcd)
# on the hosts of this group, or on the database nodes when it is absent.
DCS_GROUP = "pgha_dcs"
FAILOVER_MODES = ("manual", "automatic")
# Prometheus and Alertmanager (pgha.cluster.monitoring).
MONITOR_GROUP = "pgha_monitor"
ALERT_RECEIVERS = ("none", "webhook", "email")

# What must be chosen: the rest of the cluster-wide settings have defaults.
REQUIRED_SETTINGS = (
    "pgha_cluster_name",
    "pgha_postgresql_version",
)
# Defaults of the cluster-wide settings left unset (effective_settings applies
# them; validate.yml hands the result to every host).
SETTING_DEFAULTS = {
    "pgha_postgresql_port": 5432,
    "pgha_replication_user": "replicator",
    "pgha_sync_mode": "quorum",
    "pgha_sync_count": 1,
    "pgha_pgbouncer_auth_user": "pgbouncer_auth",
    "pgha_admin_user": "pgha_admin",
    "pgha_failover_mode": "manual",
    # Automatic mode: PgBouncer reaches the primary through HAProxy on its own
    # host, at this port, under this name (a name in every database node's
    # certificate, resolved to the loopback address on the PgBouncer hosts).
    "pgha_router_port": 5000,
    # The pg_monitor role the PostgreSQL exporter logs in as (pgha.cluster.monitoring).
    "pgha_monitor_user": "pgha_monitor",
}
# Secrets by the component that uses them: only deployed components need theirs.
DATABASE_SECRETS = ("pgha_replication_password",)
POOLER_SECRETS = ("pgha_pgbouncer_auth_password", "pgha_admin_password")
REQUIRED_SECRETS = DATABASE_SECRETS + POOLER_SECRETS
# Read-only playbooks (status) need no secret; everything else needs those of
# the components in the inventory.
PURPOSES = ("change", "read")
# Groups a host may share: PgBouncer on a database node (the three-node layout).
SHARED_GROUPS = frozenset((DB_GROUP, POOLER_GROUP))
# Groups whose hosts keep their other role: etcd runs next to anything.
ADDON_GROUPS = frozenset((DCS_GROUP,))


def dcs_members(groups):
    """The hosts that run etcd: the pgha_dcs group, or the database nodes."""
    return list(groups.get(DCS_GROUP) or groups.get(DB_GROUP) or [])


def failover_mode_problems(groups, settings):
    """Errors in the automatic-failover inputs (pgha_failover_mode, pgha_dcs)."""
    errors = []
    mode = settings.get("pgha_failover_mode")
    if mode not in FAILOVER_MODES:
        return ["pgha_failover_mode must be one of %s, not %r" % (", ".join(FAILOVER_MODES), mode)]
    dcs = list(groups.get(DCS_GROUP) or [])
    if mode == "manual":
        if dcs:
            errors.append("%s has hosts (%s) but pgha_failover_mode is manual: etcd is only deployed for "
                          "pgha_failover_mode: automatic; set it or empty the group" % (DCS_GROUP, ", ".join(dcs)))
        return errors
    db_hosts = list(groups.get(DB_GROUP) or [])
    if len(db_hosts) < 2:
        errors.append("pgha_failover_mode is automatic but the cluster has %d database node(s): automatic "
                      "failover needs a standby to promote; add one or keep pgha_failover_mode: manual"
                      % len(db_hosts))
    members = dcs_members(groups)
    if members and len(members) % 2 == 0:
        errors.append("etcd would run on %d hosts (%s): an even number tolerates no more failures than one fewer "
                      "and can split its votes; use an odd number (list them in %s)"
                      % (len(members), ", ".join(members), DCS_GROUP))
    elif len(members) == 1:
        errors.append("etcd would run on one host (%s): losing it stops every failover and demotes the primary; "
                      "use three (list them in %s)" % (members[0], DCS_GROUP))
    return errors


def effective_settings(settings, db_count, monitor_count=0):
    """The cluster-wide settings with defaults for the unset ones. A single
    database node has no standby to wait for: synchronous replication then
    defaults to off. The exporters are deployed when a monitor host is there
    (pgha_exporters: true deploys them for a Prometheus of your own)."""
    result = dict(settings or {})
    if result.get("pgha_exporters") in (None, ""):
        result["pgha_exporters"] = monitor_count > 0
    for name, default in SETTING_DEFAULTS.items():
        if result.get(name) in (None, ""):
            result[name] = default
    if (settings or {}).get("pgha_sync_mode") in (None, "") and db_count < 2:
        result["pgha_sync_mode"] = "off"
    if result.get("pgha_router_name") in (None, "") and result.get("pgha_cluster_name"):
        result["pgha_router_name"] = router_name(result["pgha_cluster_name"])
    result["pgha_router_address"] = ROUTER_ADDRESS
    return result


# Where HAProxy listens on each PgBouncer host in automatic mode, and what PgBouncer
# connects to: every database node's certificate carries it, so PgBouncer's verify-full
# holds through HAProxy. An address, not a name: a name in /etc/hosts is lost where
# something rewrites that file at start (podman, cloud-init's manage_etc_hosts).
ROUTER_ADDRESS = "127.0.0.1"


def router_name(cluster):
    """The name PgBouncer gives the primary in automatic mode (HAProxy on its
    host routes it to Patroni's leader). ".internal" is reserved for private use."""
    return "%s-primary.pgha.internal" % cluster.lower().replace("_", "-")


def required_secrets(groups, purpose="change"):
    """Names of the secrets the deployed components need for ``purpose``."""
    if purpose == "read":
        return ()
    names = DATABASE_SECRETS if groups.get(DB_GROUP) else ()
    if groups.get(POOLER_GROUP):
        names += POOLER_SECRETS
    return names


def _as_int(value):
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def validate_inputs(groups, initial_primaries, settings, secrets, purpose="change", apply_delays=None, upstreams=None):
    """Return a list of error messages (empty when the inputs are usable).

    ``groups`` maps role group name -> list of hosts; ``initial_primaries`` is
    the list of hosts that set ``pgha_initial_primary: true``; ``settings`` and
    ``secrets`` map variable name -> value (None when unset); unset settings
    that have a default take it (``effective_settings``). ``purpose`` is
    ``read`` for playbooks that change nothing (no secret needed).
    ``apply_delays``: host -> its pgha_apply_delay as written (delayed replicas);
    ``upstreams``: host -> its pgha_upstream as written (cascading replicas).
    """
    errors = []
    settings = effective_settings(settings, len(groups.get(DB_GROUP) or []))
    db_hosts = list(groups.get(DB_GROUP) or [])
    poolers = list(groups.get(POOLER_GROUP) or [])

    if not db_hosts:
        errors.append("no database nodes: put at least one host in the inventory group %s" % DB_GROUP)
    if poolers and not db_hosts:
        errors.append("PgBouncer host(s) %s have no database node to point at: add hosts to %s"
                      % (", ".join(poolers), DB_GROUP))

    # A host has one role, except PgBouncer on a database node.
    owners = {}
    for group in sorted(groups):
        for host in groups.get(group) or []:
            owners.setdefault(host, []).append(group)
    for host in sorted(owners):
        roles = set(owners[host]) - ADDON_GROUPS
        if len(roles) > 1 and not roles <= SHARED_GROUPS:
            errors.append("%s is in two roles (%s): a host is a database node (which may also run "
                          "PgBouncer), a pooler, a backup host, a drill host or a monitor host; remove it from all "
                          "but one group" % (host, " and ".join(sorted(roles))))

    if not initial_primaries:
        if db_hosts:
            errors.append("no initial primary: set pgha_initial_primary: true on exactly one "
                          "host of %s (e.g. %s)" % (DB_GROUP, db_hosts[0]))
    elif len(initial_primaries) > 1:
        errors.append("%d initial primaries (%s): set pgha_initial_primary: true on exactly one host"
                      % (len(initial_primaries), ", ".join(sorted(initial_primaries))))
    else:
        if initial_primaries[0] not in db_hosts:
            errors.append("the initial primary %s is not in %s: add it there or mark a database node"
                          % (initial_primaries[0], DB_GROUP))

    missing = [name for name in REQUIRED_SETTINGS if settings.get(name) in (None, "")]
    if missing:
        errors.append("missing required settings: %s (see inventories/example/group_vars/all.yml)"
                      % ", ".join(missing))

    version = settings.get("pgha_postgresql_version")
    if version not in (None, ""):
        number = _as_int(version)
        if number not in SUPPORTED_VERSIONS:
            errors.append("PostgreSQL version %s is not supported: set pgha_postgresql_version to one "
                          "of %s" % (version, ", ".join(str(v) for v in SUPPORTED_VERSIONS)))

    port = settings.get("pgha_postgresql_port")
    if port not in (None, "") and not (_as_int(port) and 1 <= _as_int(port) <= 65535):
        errors.append("pgha_postgresql_port must be a TCP port (1-65535), not %r" % (port,))
    router = settings.get("pgha_router_port")
    if router not in (None, ""):
        if not (_as_int(router) and 1 <= _as_int(router) <= 65535):
            errors.append("pgha_router_port must be a TCP port (1-65535), not %r" % (router,))
        elif _as_int(router) in (_as_int(port) or 5432, 6432):
            errors.append("pgha_router_port %s is PostgreSQL's or PgBouncer's port: HAProxy listens on it next to "
                          "PgBouncer (and PostgreSQL on a three-node layout); choose another, e.g. 5000" % router)

    # Delayed replicas (pgha_apply_delay): valid durations, never the initial primary, manual mode only.
    delayed = []
    for host, value in sorted((apply_delays or {}).items()):
        problem = delay_problem(host, value)
        if problem:
            errors.append(problem)
        elif delay_ms(value):
            delayed.append(host)
    if delayed and initial_primaries and initial_primaries[0] in delayed:
        errors.append("%s is the initial primary and sets pgha_apply_delay: a delayed replica is a standby; "
                      "unset one of them" % initial_primaries[0])
    errors += upstream_problems(db_hosts, upstreams or {}, initial_primaries[0] if len(initial_primaries or []) == 1 else None,
                                settings.get("pgha_failover_mode") == "automatic")
    # Neither a delayed nor a cascading replica is ever synchronous.
    not_sync = sorted(set(delayed) | set(upstreams or {}))
    if delayed and settings.get("pgha_failover_mode") == "automatic":
        errors.append("pgha_apply_delay is set on %s but pgha_failover_mode is automatic: delayed replicas are "
                      "supported in manual mode only (Patroni would need its nofailover and nosync tags); unset it"
                      % ", ".join(delayed))

    mode = settings.get("pgha_sync_mode")
    if mode is False or (isinstance(mode, str) and mode.lower() == "false"):
        errors.append("pgha_sync_mode is false: YAML reads a bare off as false; write it quoted, "
                      "pgha_sync_mode: 'off'")
    elif mode not in (None, "") and mode not in SYNC_MODES:
        errors.append("pgha_sync_mode must be one of %s, not %r" % (", ".join(SYNC_MODES), mode))
    count = settings.get("pgha_sync_count")
    if count not in (None, ""):
        k = _as_int(count)
        standbys = max(len(db_hosts) - 1 - len(not_sync), 0)
        if k is None or k < 1:
            errors.append("pgha_sync_count must be a whole number of at least 1, not %r" % (count,))
        elif mode in ("quorum", "priority") and k > standbys:
            errors.append("pgha_sync_count is %d but the cluster has %d standby(s) that can be synchronous (%d database "
                          "nodes minus the primary%s): set pgha_sync_count to at most %d, add "
                          "standbys, or set pgha_sync_mode: off"
                          % (k, standbys, len(db_hosts),
                             (" and %d delayed or cascading replica(s)" % len(not_sync)) if not_sync else "",
                             standbys))

    errors += failover_mode_problems(groups, settings)

    if purpose not in PURPOSES:
        errors.append("unknown validation purpose %r (one of %s)" % (purpose, ", ".join(PURPOSES)))
    absent = [name for name in required_secrets(groups, purpose) if not secrets.get(name)]
    if absent:
        errors.append("missing required secrets: %s. Set them in the inventory, ideally encrypted "
                      "with ansible-vault (the lab generates them with make lab-up)" % ", ".join(absent))
    return errors


BACKUP_GROUP = "pgha_backup"
DRILL_GROUP = "pgha_drill"
S3_REQUIRED = ("endpoint", "bucket", "key", "key_secret")


def validate_backup(groups, s3_repos, cipher, cipher_pass_set):
    """Errors in the backup inputs. ``s3_repos`` are the pgha_backup_s3_repos
    entries with key and key_secret replaced by whether they are set."""
    errors = []
    backup_hosts = list(groups.get(BACKUP_GROUP) or [])
    if len(backup_hosts) > 1:
        errors.append("%s has %d hosts (%s): pgBackRest uses one repository host; keep one, or add the "
                      "others' storage as object storage" % (BACKUP_GROUP, len(backup_hosts), ", ".join(backup_hosts)))
    if not isinstance(s3_repos, list):
        errors.append("pgha_backup_s3_repos must be a list of repositories, not %r" % (type(s3_repos).__name__,))
        s3_repos = []
    for index, repo in enumerate(s3_repos):
        name = "pgha_backup_s3_repos[%d]" % index
        if not isinstance(repo, dict):
            errors.append("%s must be a mapping (endpoint, bucket, region, key, key_secret...)" % name)
            continue
        missing = [key for key in S3_REQUIRED if not repo.get(key)]
        if missing:
            errors.append("%s lacks %s" % (name, ", ".join(missing)))
        endpoint = str(repo.get("endpoint") or "")
        if "://" in endpoint or "/" in endpoint:
            errors.append("%s endpoint %r must be a host name only (no scheme, no path): e.g. "
                          "ACCOUNT.r2.cloudflarestorage.com; pgBackRest always uses HTTPS" % (name, endpoint))
        if repo.get("uri_style") not in (None, "", "host", "path"):
            errors.append("%s uri_style must be host or path, not %r" % (name, repo.get("uri_style")))
        port = repo.get("port")
        if port not in (None, "") and not (_as_int(port) and 1 <= _as_int(port) <= 65535):
            errors.append("%s port must be a TCP port, not %r" % (name, port))
    errors.extend(s3_text_problems(s3_repos))
    has_repo = bool(backup_hosts) or bool(s3_repos)
    drills = list(groups.get(DRILL_GROUP) or [])
    if drills and not has_repo:
        errors.append("%s hosts (%s) have no repository to restore from: add a %s host or pgha_backup_s3_repos"
                      % (DRILL_GROUP, ", ".join(drills), BACKUP_GROUP))
    if has_repo and cipher and not cipher_pass_set:
        errors.append("the repositories are encrypted (pgbackrest_cipher) but pgha_backup_cipher_pass is not set: "
                      "set it (a long random secret, in the vault) or set pgbackrest_cipher: false")
    return errors


# --- Inputs that would break pgha's guarantees ------------------------------------------------

# Settings every host of the cluster must see with the same value.
CLUSTER_WIDE = ("pgha_cluster_name", "pgha_postgresql_version", "pgha_postgresql_port", "pgha_replication_user",
                "pgha_sync_mode", "pgha_sync_count", "pgha_pgbouncer_auth_user", "pgha_admin_user",
                "pgha_failover_mode", "pgha_router_port", "pgha_router_name")
ROLE_SETTINGS = ("pgha_replication_user", "pgha_pgbouncer_auth_user", "pgha_admin_user")
HBA_KEYWORDS = ("all", "sameuser", "samerole", "samegroup", "replication", "samehost", "samenet")
NAME_BYTES = 63
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$.-]*$")
# (parameter, bad values, what it breaks, when it matters)
UNSAFE_PARAMETERS = (
    ("synchronous_commit", ("off", "local", "remote_write", "false", "no", "0"),
     "commits would be acknowledged before the synchronous standbys hold them (a failover loses them)", "sync"),
    ("wal_level", ("minimal",), "no streaming replication, no archiving", None),
    ("ssl", ("off", "false", "no", "0"), "replication and client passwords cross the network in clear", None),
    ("password_encryption", ("md5",), "md5 verifiers are replayable; pgha uses scram-sha-256 only", None),
    ("archive_mode", ("off", "false", "no", "0"),
     "no WAL reaches the backup repositories (no point-in-time restore)", "archiving"),
    ("fsync", ("off", "false", "no", "0"), "a crash can corrupt the cluster", None),
    ("full_page_writes", ("off", "false", "no", "0"), "a crash can corrupt the cluster; pg_rewind needs them",
     None),
)


def _text(value):
    return "" if value is None else str(value)


def _has_control(text):
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def network_problem(network):
    """Why a client network/address may not go into pg_hba.conf, or None."""
    text = _text(network)
    if _has_control(text) or " " in text or not text:
        return "%r holds spaces or control characters" % (network,)
    if text.lower() in ("all", "samenet", "samehost") or text.startswith(("+", "@")):
        return "%r is a pg_hba keyword, not a network" % (network,)
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return "%r is not an address or a network in CIDR form (e.g. 10.0.5.0/24)" % (network,)
    if net.prefixlen == 0:
        return "%r opens the cluster to every address" % (network,)
    return None


def role_name_problem(name):
    text = _text(name)
    if not text:
        return None
    if text.lower() in HBA_KEYWORDS or text.startswith(("+", "@")):
        return "%r is a pg_hba keyword (or a group/file reference)" % (name,)
    if not _ROLE_NAME.match(text) or len(text.encode("utf-8")) > NAME_BYTES:
        return ("%r must be a plain identifier of at most 63 bytes (letters, digits, _ . - $; no spaces, quotes "
                "or newlines)" % (name,))
    return None


def role_setting_problems(setting, name):
    """Errors for a role name set in the inventory (it lands in pg_hba.conf and pgbouncer_hba.conf)."""
    problem = role_name_problem(name)
    if problem:
        return ["%s: %s; pick another role name" % (setting, problem)]
    if _text(name) == "postgres":
        return ["%s is postgres: pgha never hands out the superuser; use a dedicated role" % setting]
    return []


def validate_safety(hosts, groups, parameters=None, client_networks=None, archiving=False, allow_unsafe=()):
    """Errors that would let a run break pgha's guarantees. ``hosts`` maps every
    inventory host to {address, settings (the cluster-wide ones as that host sees
    them)}; ``parameters`` is postgresql_parameters; ``allow_unsafe`` names the
    parameters the user explicitly accepts (pgha_allow_unsafe_parameters)."""
    errors = []
    db_hosts = list(groups.get(DB_GROUP) or [])
    members = set(h for group in groups.values() for h in (group or []))

    # One address, one host: destructive steps act on addresses, not names.
    by_address = {}
    for host in sorted(hosts):
        if host not in members:
            continue
        address = _text(hosts[host].get("address")).strip().lower()
        if address:
            by_address.setdefault(address, []).append(host)
    for address in sorted(by_address):
        if len(by_address[address]) > 1:
            errors.append("%s share the address %s (ansible_host or pgha_address): every host needs its own, or a "
                          "drill or a fence could act on the wrong machine"
                          % (" and ".join(by_address[address]), address))

    # Slot and application names come from the inventory names.
    slots = {}
    for host in db_hosts:
        if len(_text(host).encode("utf-8")) > NAME_BYTES:
            errors.append("database node name %s is longer than 63 bytes: PostgreSQL truncates slot and "
                          "application names; use a shorter inventory name (pgha_address keeps the address)" % host)
        if _has_control(_text(host)) or any(c in _text(host) for c in "'\" ,"):
            errors.append("database node name %r holds quotes, commas, spaces or control characters: it becomes "
                          "an application_name in synchronous_standby_names; rename it" % (host,))
        slots.setdefault(re.sub(r"[^a-z0-9_]", "_", _text(host).lower())[:NAME_BYTES], []).append(host)
    for slot in sorted(slots):
        if len(slots[slot]) > 1:
            errors.append("%s map to the same replication slot %s (names are lower-cased and '-'/'.' become '_'): "
                          "rename one" % (", ".join(slots[slot]), slot))

    # Cluster-wide settings must not differ per host.
    for name in CLUSTER_WIDE:
        values = {}
        for host in sorted(hosts):
            if host in members:
                value = (hosts[host].get("settings") or {}).get(name)
                values.setdefault(_text(value), []).append(host)
        if len(values) > 1:
            errors.append("%s is cluster-wide but differs between hosts (%s): set it once for the whole cluster "
                          "(group_vars/all), not per host"
                          % (name, "; ".join("%s on %s" % (v or "(unset)", ", ".join(h))
                                             for v, h in sorted(values.items()))))

    settings = {}
    for host in db_hosts[:1]:
        settings = hosts.get(host, {}).get("settings") or {}
    settings = effective_settings(settings, len(db_hosts))
    name = _text(settings.get("pgha_cluster_name"))
    if name and (not _CLUSTER_NAME.match(name) or len(name) > NAME_BYTES):
        errors.append("pgha_cluster_name %r must be letters, digits, '_' and '-' (it names directories, a "
                      "systemd unit and the pgBackRest stanza): no '/', '..', ';' or spaces" % (name,))
    for role in ROLE_SETTINGS:
        errors += role_setting_problems(role, settings.get(role))
    replication = _text(settings.get("pgha_replication_user"))
    if replication and replication == _text(settings.get("pgha_pgbouncer_auth_user")):
        errors.append("pgha_replication_user and pgha_pgbouncer_auth_user are both %r: the lookup role must not "
                      "be able to stream or rewind; use two roles" % replication)

    for network in client_networks or []:
        problem = network_problem(network)
        if problem:
            errors.append("postgresql_hba_client_networks: %s; list the client networks, e.g. 10.0.5.0/24" % problem)

    parameters = parameters or {}
    if not isinstance(parameters, dict):
        errors.append("postgresql_parameters must be a mapping of setting -> value")
        parameters = {}
    sync_on = _text(settings.get("pgha_sync_mode")) in ("quorum", "priority")
    for key, value in sorted(parameters.items()):
        if _has_control(_text(key)) or _has_control(_text(value)):
            errors.append("postgresql_parameters %r holds a newline or a control character" % (key,))
    for param, bad, breaks, when in UNSAFE_PARAMETERS:
        if param not in parameters or param in (allow_unsafe or ()):
            continue
        if when == "sync" and not sync_on:
            continue
        if when == "archiving" and not archiving:
            continue
        if _text(parameters[param]).strip().lower() in bad:
            errors.append("postgresql_parameters sets %s = %s: %s. Remove it, or accept it explicitly with "
                          "pgha_allow_unsafe_parameters: [%s]" % (param, parameters[param], breaks, param))
    return errors


def s3_text_problems(s3_repos):
    """S3 fields with newlines or control characters (they end up in pgbackrest.conf)."""
    errors = []
    for index, repo in enumerate(s3_repos if isinstance(s3_repos, list) else []):
        if not isinstance(repo, dict):
            continue
        for key in sorted(repo):
            if isinstance(repo[key], str) and _has_control(repo[key]):
                errors.append("pgha_backup_s3_repos[%d].%s holds a newline or a control character" % (index, key))
    return errors


# systemd OnCalendar: weekdays, dates, times, ranges, lists, repetitions (no
# newline, quote, ';' or '%', which systemd or the unit file would read).
_CALENDAR = re.compile(r"^[A-Za-z0-9*,./:~ +-]+$")
# Paths written into pgbackrest.conf, units and pgha's programs' configuration.
_PATH = re.compile(r"^/[A-Za-z0-9_./@+-]*$")
_PGBOUNCER_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")


def monitoring_problems(groups, monitoring):
    """Errors in the monitoring inputs: thresholds and durations (the same for
    the alert rules and status.yml), and where Alertmanager sends alerts."""
    monitoring = monitoring or {}
    errors = threshold_problems(monitoring.get("thresholds"), monitoring.get("durations"))
    receiver = _text(monitoring.get("receiver") or "none")
    monitors = list(groups.get(MONITOR_GROUP) or [])
    if receiver not in ALERT_RECEIVERS:
        errors.append("monitoring_alert_receiver must be one of %s, not %r" % (", ".join(ALERT_RECEIVERS), receiver))
    elif receiver == "webhook" and not re.match(r"^https?://[^\s'\"]+$", _text(monitoring.get("webhook_url"))):
        errors.append("monitoring_alert_receiver is webhook: set monitoring_alert_webhook_url to the http(s):// URL "
                      "Alertmanager posts to (no spaces or quotes)")
    elif receiver == "email":
        for name in ("email_to", "email_from", "email_smarthost"):
            if not _text(monitoring.get(name)) or _has_control(_text(monitoring.get(name))):
                errors.append("monitoring_alert_receiver is email: set monitoring_alert_%s (one line)" % name)
        if _text(monitoring.get("email_smarthost")) and not re.match(r"^[^\s:]+:[0-9]+$",
                                                                     _text(monitoring.get("email_smarthost"))):
            errors.append("monitoring_alert_email_smarthost must be host:port, not %r" % monitoring.get("email_smarthost"))
    if receiver != "none" and not monitors:
        errors.append("monitoring_alert_receiver is %s but the inventory has no %s host to run Alertmanager: add one "
                      "or set monitoring_alert_receiver: none" % (receiver, MONITOR_GROUP))
    return errors


def config_text_problems(schedules=None, paths=None, roles=None, pgbouncer_parameters=None, secrets=None):
    """Inventory values that land in a configuration file or a systemd unit
    and could break out of it (a newline starts a new setting, a quote ends a
    value). Each argument maps the variable's name to its value; unset (None
    or empty) values are skipped, the defaults are safe."""
    errors = []
    for name, value in sorted((schedules or {}).items()):
        text = _text(value)
        if text and text.lower() != "off" and not _CALENDAR.match(text):
            errors.append("%s %r is not a systemd calendar expression (e.g. 'Sun *-*-* 01:00:00'): no quotes, "
                          "';', '%%' or newlines" % (name, value))
    for name, value in sorted((paths or {}).items()):
        text = _text(value)
        if not text:
            continue
        if not _PATH.match(text) or "/../" in text + "/" or text.endswith("/..") or len(text) > 255:
            errors.append("%s %r must be an absolute path of letters, digits and _ . / @ + - (no '..', spaces, "
                          "quotes or newlines)" % (name, value))
    for name, value in sorted((roles or {}).items()):
        errors += role_setting_problems(name, value)
    params = pgbouncer_parameters or {}
    if not isinstance(params, dict):
        errors.append("pgbouncer_parameters must be a mapping of setting -> value")
        params = {}
    for key, value in sorted(params.items(), key=lambda kv: _text(kv[0])):
        if not _PGBOUNCER_KEY.match(_text(key)) or _has_control(_text(value)):
            errors.append("pgbouncer_parameters %r: a setting is lower-case letters, digits and '_', its value "
                          "has no newline or control character" % (key,))
    for name, value in sorted((secrets or {}).items()):
        if _has_control(_text(value)):
            # The value itself is never shown.
            errors.append("%s holds a newline or a control character: it would break the file it is written to "
                          "(.pgpass, userlist.txt, pgbackrest.conf); choose another" % name)
    return errors
