import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import validate
from ansible_collections.pgha.cluster.plugins.module_utils.validate import validate_inputs

GOOD_SETTINGS = {
    "pgha_cluster_name": "main", "pgha_postgresql_version": 15, "pgha_postgresql_port": 5432,
    "pgha_replication_user": "replicator", "pgha_sync_mode": "quorum", "pgha_sync_count": 1,
    "pgha_pgbouncer_auth_user": "pgbouncer_auth", "pgha_admin_user": "pgha_admin",
    "pgha_failover_mode": "manual", "pgha_router_port": 5000, "pgha_router_name": "main-primary.pgha.internal",
    "pgha_monitor_user": "pgha_monitor", "pgha_exporters": False,
}
GOOD_SECRETS = {"pgha_replication_password": "a", "pgha_pgbouncer_auth_password": "b",
                "pgha_admin_password": "c"}
GROUPS = {"pgha_postgresql": ["pg1", "pg2", "pg3"], "pgha_pgbouncer": ["pooler1"]}


def run(groups=None, primaries=("pg1",), settings=None, secrets=None):
    s = dict(GOOD_SETTINGS, **(settings or {}))
    return validate_inputs(groups or GROUPS, list(primaries), s, dict(GOOD_SECRETS, **(secrets or {})))


def test_valid_inputs():
    assert run() == []


@pytest.mark.parametrize("kwargs, fragment", [
    ({"primaries": ()}, "no initial primary: set pgha_initial_primary: true on exactly one host"),
    ({"primaries": ("pg1", "pg2")}, "2 initial primaries (pg1, pg2)"),
    ({"primaries": ("pooler1",)}, "the initial primary pooler1 is not in pgha_postgresql"),
    ({"settings": {"pgha_sync_count": 3}},
     "pgha_sync_count is 3 but the cluster has 2 standby(s)"),
    ({"settings": {"pgha_sync_count": 0}}, "at least 1"),
    ({"settings": {"pgha_sync_mode": "sometimes"}}, "pgha_sync_mode must be one of off, quorum, priority"),
    ({"settings": {"pgha_sync_mode": False}}, "write it quoted, pgha_sync_mode: 'off'"),
    ({"settings": {"pgha_postgresql_version": 12}}, "PostgreSQL version 12 is not supported"),
    ({"settings": {"pgha_postgresql_version": "latest"}}, "PostgreSQL version latest is not supported"),
    ({"settings": {"pgha_postgresql_port": 70000}}, "TCP port"),
    ({"settings": {"pgha_cluster_name": None}}, "missing required settings: pgha_cluster_name"),
    ({"secrets": {"pgha_replication_password": None, "pgha_admin_password": ""}},
     "missing required secrets: pgha_replication_password, pgha_admin_password"),
    ({"groups": {"pgha_postgresql": ["pg1", "pg2"], "pgha_backup": ["pg2"]}},
     "pg2 is in two roles (pgha_backup and pgha_postgresql)"),
    ({"groups": {"pgha_postgresql": ["pg1", "pg2"], "pgha_pgbouncer": ["pooler1"], "pgha_drill": ["pooler1"]}},
     "pooler1 is in two roles (pgha_drill and pgha_pgbouncer)"),
    ({"settings": {"pgha_postgresql_version": 13}}, "PostgreSQL version 13 is not supported"),
    ({"settings": {"pgha_postgresql_version": None}}, "missing required settings: pgha_postgresql_version"),
    ({"groups": {"pgha_postgresql": [], "pgha_pgbouncer": ["pooler1"]}, "primaries": ()},
     "PgBouncer host(s) pooler1 have no database node to point at"),
])
def test_each_bad_input_is_named(kwargs, fragment):
    errors = run(**kwargs)
    assert any(fragment in e for e in errors), errors


def test_pgbouncer_on_each_database_node_is_a_layout():
    groups = {"pgha_postgresql": ["pg1", "pg2", "pg3"], "pgha_pgbouncer": ["pg1", "pg2", "pg3"]}
    assert run(groups=groups) == []


def test_obvious_settings_have_defaults():
    unset = dict((name, None) for name in validate.SETTING_DEFAULTS)
    assert run(settings=unset) == []
    effective = validate.effective_settings(dict(GOOD_SETTINGS, **unset), 3)
    assert effective == dict(GOOD_SETTINGS, pgha_router_address="127.0.0.1")
    # A given value wins over the default.
    assert validate.effective_settings({"pgha_postgresql_port": 5433}, 3)["pgha_postgresql_port"] == 5433


def test_a_single_node_defaults_to_no_synchronous_replication():
    groups = {"pgha_postgresql": ["pg1"]}
    assert validate.effective_settings({}, 1)["pgha_sync_mode"] == "off"
    assert run(groups=groups, settings={"pgha_sync_mode": None, "pgha_sync_count": None}) == []
    # Asked for explicitly, it is still refused.
    assert "pgha_sync_count is 1 but the cluster has 0 standby(s)" in run(groups=groups)[0]


def test_pooler_secrets_only_with_a_pooler():
    no_pooler = {"pgha_postgresql": ["pg1", "pg2"]}
    assert validate_inputs(no_pooler, ["pg1"], GOOD_SETTINGS, {"pgha_replication_password": "a"}) == []
    errors = validate_inputs(GROUPS, ["pg1"], GOOD_SETTINGS, {"pgha_replication_password": "a"})
    assert errors == ["missing required secrets: pgha_pgbouncer_auth_password, pgha_admin_password. Set them in the "
                      "inventory, ideally encrypted with ansible-vault (the lab generates them with make lab-up)"]


def test_read_only_playbooks_need_no_secret():
    assert validate_inputs(GROUPS, ["pg1"], GOOD_SETTINGS, {}, purpose="read") == []
    errors = validate_inputs(GROUPS, ["pg1"], GOOD_SETTINGS, GOOD_SECRETS, purpose="write")
    assert "unknown validation purpose 'write'" in errors[0]


def test_sync_count_ignored_when_sync_off():
    assert run(settings={"pgha_sync_mode": "off", "pgha_sync_count": 5}) == []


def test_all_problems_reported_at_once():
    errors = run(primaries=(), settings={"pgha_postgresql_version": 9}, secrets={"pgha_admin_password": None})
    assert len(errors) == 3


GOOD_S3 = {"endpoint": "acct.r2.cloudflarestorage.com", "bucket": "b", "region": "auto", "uri_style": "path",
           "key": True, "key_secret": True}


@pytest.mark.parametrize("groups, repos, cipher, pass_set, fragment", [
    ({"pgha_backup": ["b1", "b2"]}, [], False, False, "pgha_backup has 2 hosts (b1, b2)"),
    ({}, [dict(GOOD_S3, endpoint="https://acct.r2.cloudflarestorage.com")], False, False,
     "must be a host name only (no scheme, no path)"),
    ({}, [dict(GOOD_S3, key=False)], False, False, "pgha_backup_s3_repos[0] lacks key"),
    ({}, [dict(GOOD_S3, uri_style="virtual")], False, False, "uri_style must be host or path"),
    ({}, [dict(GOOD_S3, port="http")], False, False, "port must be a TCP port"),
    ({}, ["acct.r2.cloudflarestorage.com"], False, False, "must be a mapping"),
    ({}, {"endpoint": "x"}, False, False, "must be a list of repositories"),
    ({"pgha_drill": ["d1"]}, [], False, False, "pgha_drill hosts (d1) have no repository to restore from"),
    ({"pgha_backup": ["b1"]}, [], True, False, "pgha_backup_cipher_pass is not set"),
])
def test_backup_inputs(groups, repos, cipher, pass_set, fragment):
    errors = validate.validate_backup(groups, repos, cipher, pass_set)
    assert any(fragment in e for e in errors), errors


def test_good_backup_inputs():
    assert validate.validate_backup({"pgha_backup": ["b1"], "pgha_drill": ["d1"]}, [GOOD_S3], True, True) == []
    assert validate.validate_backup({}, [], True, False) == []  # no repository: nothing to encrypt


# --- Inputs that would break the guarantees ----------------------------------------------------

SAFE_HOSTS = dict((h, {"address": "10.0.0.%d" % i, "settings": dict(GOOD_SETTINGS)})
                  for i, h in enumerate(["pg1", "pg2", "pg3", "pooler1"], 11))


def safety(hosts=None, groups=None, parameters=None, networks=None, archiving=True, allow=(), settings=None):
    hosts = dict((h, dict(v, settings=dict(v["settings"], **(settings or {})))) for h, v in (hosts or SAFE_HOSTS).items())
    return validate.validate_safety(hosts, groups or GROUPS, parameters, networks, archiving, allow)


def test_safe_inputs():
    assert safety(parameters={"work_mem": "16MB", "synchronous_commit": "on"}, networks=["10.0.5.0/24"]) == []


def _over(host, **kw):
    hosts = dict(SAFE_HOSTS)
    hosts[host] = dict(hosts[host], **kw)
    return hosts


@pytest.mark.parametrize("kwargs, fragment", [
    ({"hosts": _over("pooler1", address="10.0.0.12")}, "pg2 and pooler1 share the address 10.0.0.12"),
    ({"hosts": _over("pg3", settings=dict(GOOD_SETTINGS, pgha_postgresql_port=5433))},
     "pgha_postgresql_port is cluster-wide but differs between hosts (5432 on pg1, pg2, pooler1; 5433 on pg3)"),
    ({"hosts": _over("pg2", settings=dict(GOOD_SETTINGS, pgha_postgresql_version=16))},
     "pgha_postgresql_version is cluster-wide"),
    ({"hosts": _over("pg1", settings=dict(GOOD_SETTINGS, pgha_cluster_name="other"))},
     "pgha_cluster_name is cluster-wide"),
    ({"groups": {"pgha_postgresql": ["db-1", "db_1", "DB-1"]},
      "hosts": dict((h, {"address": h, "settings": dict(GOOD_SETTINGS)}) for h in ["db-1", "db_1", "DB-1"])},
     "db-1, db_1, DB-1 map to the same replication slot db_1"),
    ({"groups": {"pgha_postgresql": ["pg1", "x" * 64]},
      "hosts": dict((h, {"address": h, "settings": dict(GOOD_SETTINGS)}) for h in ["pg1", "x" * 64])},
     "longer than 63 bytes"),
    ({"settings": {"pgha_pgbouncer_auth_user": "replicator"}},
     "pgha_replication_user and pgha_pgbouncer_auth_user are both 'replicator'"),
    ({"settings": {"pgha_replication_user": "postgres"}}, "pgha_replication_user is postgres"),
    ({"settings": {"pgha_admin_user": "all"}}, "pgha_admin_user: 'all' is a pg_hba keyword"),
    ({"settings": {"pgha_replication_user": "replication"}}, "'replication' is a pg_hba keyword"),
    ({"settings": {"pgha_pgbouncer_auth_user": "+admins"}}, "'+admins' is a pg_hba keyword"),
    ({"settings": {"pgha_pgbouncer_auth_user": "@users"}}, "'@users' is a pg_hba keyword"),
    ({"settings": {"pgha_replication_user": "rep user"}}, "must be a plain identifier"),
    ({"settings": {"pgha_replication_user": "rep\"x"}}, "must be a plain identifier"),
    ({"settings": {"pgha_replication_user": "rep\nhost all all 0.0.0.0/0 trust"}}, "must be a plain identifier"),
    ({"networks": ["0.0.0.0/0"]}, "'0.0.0.0/0' opens the cluster to every address"),
    ({"networks": ["::/0"]}, "'::/0' opens the cluster to every address"),
    ({"networks": ["all"]}, "'all' is a pg_hba keyword"),
    ({"networks": ["samenet"]}, "'samenet' is a pg_hba keyword"),
    ({"networks": ["10.0.0.0/8\nhost all all 0.0.0.0/0 trust"]}, "holds spaces or control characters"),
    ({"networks": ["clients.example"]}, "is not an address or a network"),
    ({"settings": {"pgha_cluster_name": "../etc"}}, "pgha_cluster_name '../etc' must be letters"),
    ({"settings": {"pgha_cluster_name": "a;b"}}, "no '/', '..', ';' or spaces"),
    ({"settings": {"pgha_cluster_name": "my cluster"}}, "must be letters"),
    ({"parameters": {"synchronous_commit": "local"}}, "synchronous_commit = local"),
    ({"parameters": {"synchronous_commit": "off"}}, "pgha_allow_unsafe_parameters: [synchronous_commit]"),
    ({"parameters": {"wal_level": "minimal"}}, "wal_level = minimal"),
    ({"parameters": {"ssl": "off"}}, "ssl = off"),
    ({"parameters": {"password_encryption": "md5"}}, "password_encryption = md5"),
    ({"parameters": {"archive_mode": "off"}}, "archive_mode = off"),
    ({"parameters": {"fsync": "off"}}, "fsync = off"),
    ({"parameters": {"work_mem": "1MB\nssl = off"}}, "holds a newline"),
])
def test_safety_refusals_name_the_fix(kwargs, fragment):
    errors = safety(**kwargs)
    assert any(fragment in e for e in errors), errors


@pytest.mark.parametrize("kwargs", [
    {"parameters": {"synchronous_commit": "off"}, "allow": ["synchronous_commit"]},
    {"parameters": {"synchronous_commit": "local"}, "settings": {"pgha_sync_mode": "off"}},
    {"parameters": {"archive_mode": "off"}, "archiving": False},
    {"parameters": {"ssl": "off"}, "allow": ["ssl"]},
])
def test_safety_accepts_what_is_explicitly_allowed_or_harmless(kwargs):
    assert safety(**kwargs) == []


def test_s3_fields_with_newlines_are_refused():
    errors = validate.validate_backup({"pgha_backup": ["b1"]}, [
        {"endpoint": "s3.example", "bucket": "b\n[global]", "key": True, "key_secret": True}], False, False)
    assert any("pgha_backup_s3_repos[0].bucket holds a newline" in e for e in errors), errors


@pytest.mark.parametrize("kwargs, fragment", [
    ({"schedules": {"pgbackrest_schedule_full": "Sun *-*-* 01:00:00\nExecStart=/bin/sh"}},
     "pgbackrest_schedule_full"),
    ({"schedules": {"pgha_drill_schedule": "daily; rm -rf /"}}, "not a systemd calendar"),
    ({"paths": {"pgbackrest_logical_dir": "/var/backups/../../etc"}}, "no '..'"),
    ({"paths": {"pgbackrest_repo_path": "relative/path"}}, "absolute path"),
    ({"paths": {"tls_ca_dir": "/tmp/ca dir"}}, "tls_ca_dir"),
    ({"roles": {"pgha_dump_user": "all"}}, "pg_hba keyword"),
    ({"roles": {"pgha_rewind_user": "postgres"}}, "never hands out the superuser"),
    ({"roles": {"pgha_rewind_user": "rw\nhost all all 0.0.0.0/0 trust"}}, "plain identifier"),
    ({"pgbouncer_parameters": {"auth_type": "trust\nadmin_users = x"}}, "pgbouncer_parameters 'auth_type'"),
    ({"pgbouncer_parameters": {"Bad Key": "1"}}, "lower-case"),
    ({"secrets": {"pgha_admin_password": "pw\nwith newline"}}, "pgha_admin_password holds a newline"),
])
def test_values_that_could_break_out_of_a_configuration_file_are_refused(kwargs, fragment):
    errors = validate.config_text_problems(**kwargs)
    assert len(errors) == 1 and fragment in errors[0], errors
    # A secret's value is never echoed.
    assert "with newline" not in errors[0]


def test_safe_values_and_unset_ones_pass():
    assert validate.config_text_problems(
        schedules={"pgbackrest_schedule_full": "Sun *-*-* 01:00:00", "pgbackrest_schedule_incr": "*-*-* 07,13,19:00:00",
                   "pgbackrest_schedule_diff": "Mon..Sat *-*-* 01:00:00", "pgha_drill_schedule": "off",
                   "pgbackrest_logical_schedule": None},
        paths={"pgbackrest_repo_path": "/var/lib/pgbackrest", "tls_ca_dir": "/root/.pgha/ca/main",
               "pgbackrest_logical_dir": ""},
        roles={"pgha_rewind_user": "pgha_rewind", "pgha_dump_user": None},
        pgbouncer_parameters={"query_wait_timeout": 60},
        secrets={"pgha_admin_password": "s3cr3t:with\\odd'\"chars"}) == []


def test_automatic_failover_on_the_database_nodes():
    assert run(settings={"pgha_failover_mode": "automatic"}) == []


def test_failover_mode_is_manual_or_automatic():
    errors = run(settings={"pgha_failover_mode": "auto"})
    assert any("pgha_failover_mode must be one of manual, automatic, not 'auto'" in e for e in errors), errors


def test_automatic_failover_needs_a_standby():
    groups = {"pgha_postgresql": ["pg1"]}
    errors = run(groups=groups, settings={"pgha_failover_mode": "automatic", "pgha_sync_mode": "off"})
    assert any("needs a standby to promote" in e for e in errors), errors


def test_etcd_needs_an_odd_number_of_members():
    groups = {"pgha_postgresql": ["pg1", "pg2"], "pgha_pgbouncer": ["pooler1"]}
    errors = run(groups=groups, settings={"pgha_failover_mode": "automatic"})
    assert any("etcd would run on 2 hosts (pg1, pg2)" in e and "pgha_dcs" in e for e in errors), errors
    # A third etcd member elsewhere (here on the pooler) makes it odd.
    groups["pgha_dcs"] = ["pg1", "pg2", "pooler1"]
    assert run(groups=groups, settings={"pgha_failover_mode": "automatic"}) == []


def test_a_single_etcd_member_is_refused():
    groups = dict(GROUPS, pgha_dcs=["pooler1"])
    errors = run(groups=groups, settings={"pgha_failover_mode": "automatic"})
    assert any("etcd would run on one host (pooler1)" in e for e in errors), errors


def test_etcd_hosts_without_automatic_mode_are_refused():
    groups = dict(GROUPS, pgha_dcs=["pg1", "pg2", "pg3"])
    errors = run(groups=groups)
    assert any("pgha_failover_mode is manual" in e for e in errors), errors


def test_an_etcd_member_keeps_its_other_role():
    # etcd next to a database node or a pooler is not a second role.
    groups = dict(GROUPS, pgha_dcs=["pg1", "pg2", "pooler1"])
    assert run(groups=groups, settings={"pgha_failover_mode": "automatic"}) == []


@pytest.mark.parametrize("port, fragment", [
    (70000, "pgha_router_port must be a TCP port"),
    (5432, "pgha_router_port 5432 is PostgreSQL's or PgBouncer's port"),
    (6432, "pgha_router_port 6432 is PostgreSQL's or PgBouncer's port"),
])
def test_router_port_is_refused_when_it_clashes(port, fragment):
    errors = run(settings={"pgha_router_port": port})
    assert any(fragment in e for e in errors), errors


def test_pgbouncer_reaches_haproxy_at_an_address_not_a_name_in_etc_hosts():
    # Every host gets it (validate.yml), so the node certificates (tls), HAProxy's bind and
    # PgBouncer's target agree. A loopback address: HAProxy must not listen on the network.
    effective = validate.effective_settings(dict(GOOD_SETTINGS, pgha_failover_mode="automatic"), 3)
    assert effective["pgha_router_address"] == "127.0.0.1"


def test_router_name_is_a_dns_name_derived_from_the_cluster():
    effective = validate.effective_settings(dict(GOOD_SETTINGS, pgha_cluster_name="Sales_EU", pgha_router_name=None), 3)
    assert effective["pgha_router_name"] == "sales-eu-primary.pgha.internal"


def test_exporters_default_to_whether_a_monitor_host_is_there():
    assert validate.effective_settings({}, 3, 1)["pgha_exporters"] is True
    assert validate.effective_settings({}, 3, 0)["pgha_exporters"] is False
    # Exporters only, for a Prometheus of your own.
    assert validate.effective_settings({"pgha_exporters": True}, 3, 0)["pgha_exporters"] is True


@pytest.mark.parametrize("monitoring, groups, fragment", [
    ({"thresholds": {"lag_byte": 1}}, {}, "pgha_alert_thresholds.lag_byte is not a threshold"),
    ({"thresholds": {"lag_bytes": "much"}}, {}, "pgha_alert_thresholds.lag_bytes must be a number"),
    ({"thresholds": {"connections_ratio": 1.5}}, {}, "between 0 and 1"),
    ({"thresholds": {"lag_seconds": 0}}, {}, "above 0"),
    ({"durations": {"down": "soon"}}, {}, "pgha_alert_durations.down must be a Prometheus duration"),
    ({"receiver": "pager"}, {"pgha_monitor": ["m1"]}, "monitoring_alert_receiver must be one of"),
    ({"receiver": "webhook", "webhook_url": "ftp://x"}, {"pgha_monitor": ["m1"]}, "monitoring_alert_webhook_url"),
    ({"receiver": "email", "email_to": "a@b"}, {"pgha_monitor": ["m1"]}, "monitoring_alert_email_from"),
    ({"receiver": "email", "email_to": "a@b", "email_from": "c@d", "email_smarthost": "mail"},
     {"pgha_monitor": ["m1"]}, "must be host:port"),
    ({"receiver": "webhook", "webhook_url": "http://x/"}, {}, "no pgha_monitor host"),
])
def test_monitoring_inputs_are_refused_with_the_fix(monitoring, groups, fragment):
    errors = validate.monitoring_problems(groups, monitoring)
    assert any(fragment in e for e in errors), errors


def test_good_monitoring_inputs_pass():
    assert validate.monitoring_problems({"pgha_monitor": ["m1"]}, {
        "thresholds": {"lag_bytes": 1048576, "connections_ratio": 0.9}, "durations": {"down": "30s", "lag": "5m"},
        "receiver": "email", "email_to": "dba@example.org", "email_from": "pgha@example.org",
        "email_smarthost": "mail.example.org:587"}) == []
    assert validate.monitoring_problems({}, {}) == []


def test_a_monitor_host_has_no_other_role():
    groups = dict(GROUPS, pgha_monitor=["pg1"])
    assert any("a monitor host" in e for e in run(groups=groups))
