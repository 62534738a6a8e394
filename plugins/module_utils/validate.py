# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure validation of the cluster-wide inputs, run before any host is touched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SUPPORTED_VERSIONS = (13, 14, 15, 16, 17, 18)
SYNC_MODES = ("off", "quorum", "priority")
DB_GROUP = "pgha_postgresql"
POOLER_GROUP = "pgha_pgbouncer"

REQUIRED_SETTINGS = (
    "pgha_cluster_name",
    "pgha_postgresql_version",
    "pgha_postgresql_port",
    "pgha_replication_user",
    "pgha_sync_mode",
    "pgha_sync_count",
    "pgha_pgbouncer_auth_user",
    "pgha_admin_user",
)
REQUIRED_SECRETS = (
    "pgha_replication_password",
    "pgha_pgbouncer_auth_password",
    "pgha_admin_password",
)


def _as_int(value):
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def validate_inputs(groups, initial_primaries, settings, secrets):
    """Return a list of error messages (empty when the inputs are usable).

    ``groups`` maps role group name -> list of hosts; ``initial_primaries`` is
    the list of hosts that set ``pgha_initial_primary: true``; ``settings`` and
    ``secrets`` map variable name -> value (None when unset).
    """
    errors = []
    db_hosts = list(groups.get(DB_GROUP) or [])
    poolers = list(groups.get(POOLER_GROUP) or [])

    if not db_hosts:
        errors.append("no database nodes: put at least one host in the inventory group %s" % DB_GROUP)
    if poolers and not db_hosts:
        errors.append("PgBouncer host(s) %s have no database node to point at: add hosts to %s"
                      % (", ".join(poolers), DB_GROUP))

    # A host has one role.
    owners = {}
    for group in sorted(groups):
        for host in groups.get(group) or []:
            owners.setdefault(host, []).append(group)
    for host in sorted(owners):
        if len(owners[host]) > 1:
            errors.append("%s is in two roles (%s): a host is either a database node or a "
                          "pooler (or a backup host); remove it from all but one group"
                          % (host, " and ".join(owners[host])))

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

    mode = settings.get("pgha_sync_mode")
    if mode is False or (isinstance(mode, str) and mode.lower() == "false"):
        errors.append("pgha_sync_mode is false: YAML reads a bare off as false; write it quoted, "
                      "pgha_sync_mode: 'off'")
    elif mode not in (None, "") and mode not in SYNC_MODES:
        errors.append("pgha_sync_mode must be one of %s, not %r" % (", ".join(SYNC_MODES), mode))
    count = settings.get("pgha_sync_count")
    if count not in (None, ""):
        k = _as_int(count)
        standbys = max(len(db_hosts) - 1, 0)
        if k is None or k < 1:
            errors.append("pgha_sync_count must be a whole number of at least 1, not %r" % (count,))
        elif mode in ("quorum", "priority") and k > standbys:
            errors.append("pgha_sync_count is %d but the cluster has %d standby(s) (%d database "
                          "nodes minus the primary): set pgha_sync_count to at most %d, add "
                          "standbys, or set pgha_sync_mode: off" % (k, standbys, len(db_hosts), standbys))

    absent = [name for name in REQUIRED_SECRETS if not secrets.get(name)]
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
    has_repo = bool(backup_hosts) or bool(s3_repos)
    drills = list(groups.get(DRILL_GROUP) or [])
    if drills and not has_repo:
        errors.append("%s hosts (%s) have no repository to restore from: add a %s host or pgha_backup_s3_repos"
                      % (DRILL_GROUP, ", ".join(drills), BACKUP_GROUP))
    if has_repo and cipher and not cipher_pass_set:
        errors.append("the repositories are encrypted (pgbackrest_cipher) but pgha_backup_cipher_pass is not set: "
                      "set it (a long random secret, in the vault) or set pgbackrest_cipher: false")
    return errors
