"""Patroni and etcd configuration from the inventory (pgha_failover_mode: automatic)."""
import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import patroni

SETTINGS = {"pgha_cluster_name": "main", "pgha_postgresql_port": 5432, "pgha_replication_user": "replicator",
            "pgha_sync_mode": "quorum", "pgha_sync_count": 1}
PARAMETERS = {"max_connections": "200", "max_wal_senders": 10, "wal_keep_size": "256MB", "listen_addresses": "*",
              "port": 5432, "archive_command": "/usr/local/sbin/pgha-archive x", "wal_level": "replica"}
MEMBERS = {"pg1": "10.0.0.11", "pg2": "10.0.0.12", "pg3": "10.0.0.13"}


PATHS = {"data_dir": "/var/lib/postgresql/15/main", "config_dir": "/etc/postgresql/15/main",
         "bin_dir": "/usr/lib/postgresql/15/bin"}


def config(major=3):
    return patroni.local_config({"name": "pg2", "address": "10.0.0.12"}, SETTINGS, PARAMETERS, MEMBERS, MEMBERS,
                                major, "s3cret", paths=PATHS)


@pytest.mark.parametrize("text,version", [("patroni 3.0.2", (3, 0)), ("patroni 4.1.0\n", (4, 1)), ("", None),
                                          (None, None)])
def test_patroni_version(text, version):
    assert patroni.patroni_version(text) == version


@pytest.mark.parametrize("version,ttl", [((3, 0), 8), ((3, 1), 8), ((3, 2), 20), ((4, 0), 20), (None, 8)])
def test_the_default_lease_is_the_versions_floor_where_it_has_one(version, ttl):
    """Patroni 3.2 and later raise a ttl below 20 s to 20 s (Debian 13's 4.0.7 logs "ttl=8 can't be
    smaller than 20, adjusting..."): pgha gives it 20, so that what it configures is what runs."""
    assert patroni.timing_for(version) == {"ttl": ttl, "loop_wait": 1, "retry_timeout": 3}
    assert patroni.timing_problems(None, version) == []
    # The inventory's values win over the defaults.
    assert patroni.timing_for(version, {"ttl": 30})["ttl"] == 30


def test_timeouts_below_the_versions_floor_are_refused_not_raised():
    problems = patroni.timing_problems({"ttl": 8}, (4, 0))
    assert problems == ["postgresql_patroni_timing: ttl 8 is below the 20 s that Patroni 4.0 accepts (since 3.2 it "
                        "raises a lower value to 20, saying so only in its log): set 20 or more, or leave it unset"]
    assert any(p.startswith("postgresql_patroni_timing: retry_timeout 2 is below the 3 s")
               for p in patroni.timing_problems({"ttl": 20, "retry_timeout": 2}, (3, 2)))
    # Patroni 3.0 takes them as they are.
    assert patroni.timing_problems({"ttl": 8, "retry_timeout": 2}, (3, 0)) == []


def test_quorum_needs_patroni_4():
    quorum = {"synchronous_mode": "quorum", "synchronous_mode_strict": True, "synchronous_node_count": 1}
    assert patroni.sync_settings("quorum", 1, 4) == quorum
    # Patroni 3: k named synchronous standbys, never running unprotected.
    named = {"synchronous_mode": True, "synchronous_mode_strict": True, "synchronous_node_count": 2}
    assert patroni.sync_settings("quorum", 2, 3) == named
    assert patroni.sync_settings("priority", 1, 4)["synchronous_mode"] is True
    assert patroni.sync_settings("off", 1, 4) == {"synchronous_mode": False, "synchronous_mode_strict": False}


def test_guarantee_is_stated_per_version():
    assert "quorum commit" in patroni.sync_guarantee("quorum", 1, 4)
    assert "named synchronous standby" in patroni.sync_guarantee("quorum", 1, 3)
    assert "can lose" in patroni.sync_guarantee("off", 1, 3)


def test_shared_configuration_carries_the_parameters_every_node_must_share():
    dcs = config()["bootstrap"]["dcs"]
    assert dcs["postgresql"]["parameters"] == {"max_connections": "200", "max_wal_senders": "10",
                                               "wal_keep_size": "256MB", "wal_level": "replica"}
    assert dcs["postgresql"]["use_pg_rewind"] and dcs["postgresql"]["use_slots"]
    assert (dcs["ttl"], dcs["loop_wait"], dcs["retry_timeout"]) == (8, 1, 3)
    assert dcs["synchronous_mode_strict"] is True


def test_local_configuration():
    c = config()
    assert c["scope"] == "main" and c["name"] == "pg2"
    assert c["postgresql"]["listen"] == "*:5432"
    assert c["postgresql"]["connect_address"] == "10.0.0.12:5432"
    assert c["restapi"]["listen"] == "10.0.0.12:8008"
    assert c["restapi"]["verify_client"] == "optional"
    assert c["etcd3"]["hosts"] == ["10.0.0.11:2379", "10.0.0.12:2379", "10.0.0.13:2379"]
    assert c["etcd3"]["protocol"] == "https"
    # The inventory's member list as it is: no member-list queries outside Patroni's retry_timeout.
    assert c["etcd3"]["use_proxies"] is True
    repl = c["postgresql"]["authentication"]["replication"]
    assert repl == {"username": "replicator", "password": "s3cret", "sslmode": "verify-full",
                    "sslrootcert": "/etc/pgha/tls/ca.crt"}
    rewind = c["postgresql"]["authentication"]["rewind"]
    assert rewind["username"] == "pgha_rewind" and "password" not in rewind and rewind["sslcert"]
    # Never delete data, never create a cluster of Patroni's own.
    assert c["postgresql"]["remove_data_directory_on_rewind_failure"] is False
    assert c["postgresql"]["remove_data_directory_on_diverged_timelines"] is False
    assert c["bootstrap"]["method"] == "pgha_never"
    assert c["bootstrap"]["pgha_never"]["command"] == "/bin/false"
    # Patroni's postgresql.conf is where Debian's was (a running server reads it on reload).
    assert c["postgresql"]["config_dir"] == "/etc/postgresql/15/main"
    assert c["postgresql"]["parameters"]["hba_file"] == "/etc/postgresql/15/main/pg_hba.conf"
    assert c["postgresql"]["parameters"]["ident_file"] == "/etc/postgresql/15/main/pg_ident.conf"
    # Patroni sets these itself.
    for name in patroni.PATRONI_OWNED:
        assert name not in c["postgresql"]["parameters"]
        assert name not in c["bootstrap"]["dcs"]["postgresql"]["parameters"]


def test_ipv6_addresses_are_bracketed():
    c = patroni.local_config({"name": "pg1", "address": "fd00::11"}, SETTINGS, {}, {"pg1": "fd00::11"},
                             {"pg1": "fd00::11"}, 3, "x")
    assert c["restapi"]["listen"] == "[fd00::11]:8008"
    assert c["etcd3"]["hosts"] == ["[fd00::11]:2379"]


@pytest.mark.parametrize("timing,fragment", [
    ({"ttl": 10, "loop_wait": 4, "retry_timeout": 4}, "must not exceed ttl (10)"),
    ({"ttl": 0}, "at least 1 s"),
    ({"ttl": "ten"}, "whole numbers"),
])
def test_inconsistent_timeouts_are_refused(timing, fragment):
    assert any(fragment in e for e in patroni.timing_problems(timing))


def test_default_timeouts_are_consistent():
    assert patroni.timing_problems(None) == []


def test_etcd_environment():
    env = patroni.etcd_environment("pg1", "10.0.0.11", MEMBERS, "pgha-main", "/var/lib/etcd/pgha-main",
                                   "/etc/pgha/etcd/host.key")
    assert env["ETCD_INITIAL_CLUSTER"] == ("pg1=https://10.0.0.11:2380,pg2=https://10.0.0.12:2380,"
                                           "pg3=https://10.0.0.13:2380")
    assert env["ETCD_LISTEN_CLIENT_URLS"] == "https://10.0.0.11:2379"
    assert env["ETCD_CLIENT_CERT_AUTH"] == "true" and env["ETCD_PEER_CLIENT_CERT_AUTH"] == "true"
    assert env["ETCD_KEY_FILE"] == "/etc/pgha/etcd/host.key"
    # A healed member must not force an election that would cost the leader its lock.
    assert env["ETCD_PRE_VOTE"] == "true"
