import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.pgha.cluster.plugins.filter.topology import FilterModule

F = FilterModule().filters()


@pytest.mark.parametrize("address, hba", [("10.0.0.1", "10.0.0.1/32"), ("fd00::1", "fd00::1/128"),
                                          ("10.0.0.0/24", "10.0.0.0/24"), ("db1.example", "db1.example")])
def test_hba_address(address, hba):
    assert F["hba_address"](address) == hba


def test_pgpass_escape():
    assert F["pgpass_escape"]("a:b\\c") == "a\\:b\\\\c"


def test_node_addresses_prefers_pgha_address():
    hv = {"a": {"pgha_address": "10.1.1.1", "ansible_host": "x"}, "b": {"ansible_host": "10.1.1.2"}, "c": {}}
    assert F["node_addresses"](["a", "b", "c"], hv) == {"a": "10.1.1.1", "b": "10.1.1.2", "c": "c"}


def test_current_primary_raises_filter_error():
    nodes = {"pg1": {"up": True, "role": "primary"}, "pg2": {"up": True, "role": "primary"}}
    with pytest.raises(AnsibleFilterError, match="more than one node accepts writes"):
        F["current_primary"](nodes, "pg1")


def test_node_or_unreachable():
    assert F["node_or_unreachable"]({"unreachable": True, "msg": "ssh"})["unreachable"] is True
    assert F["node_or_unreachable"]({"node": {"up": True}}) == {"up": True}


@pytest.mark.parametrize("given, problem", [
    ({}, ""),
    ({"time": "2026-11-21 10:15:00+00"}, ""),
    ({"target": "latest", "lsn": ""}, ""),
    ({"time": "yesterday-ish"}, "yesterday-ish"),
    ({"lsn": "0/XYZ"}, "not an LSN"),
    ({"target": "earliest"}, "not one of immediate, latest"),
    ({"xid": "42", "name": "before-delete"}, "one recovery target per run, not 2"),
])
def test_restore_target_problem(given, problem):
    from ansible_collections.pgha.cluster.plugins.filter.backup import FilterModule as BackupFilters
    found = BackupFilters().filters()["restore_target_problem"](given)
    assert (found == "") if problem == "" else (problem in found)


def test_backup_timers_write_the_scheduled_and_remove_the_emptied():
    from ansible_collections.pgha.cluster.plugins.filter.backup import backup_timers
    out = backup_timers([{"type": "full", "calendar": "Sun 01:00"}, {"type": "incr", "calendar": ""}],
                        {"full": ["S-full", "T-full"], "incr": ["S-incr", "T-incr"]})
    assert out["files"] == [
        {"path": "/etc/systemd/system/pgha-backup-full.service", "content": "S-full", "owner": "root", "group": "root",
         "mode": "0644"},
        {"path": "/etc/systemd/system/pgha-backup-full.timer", "content": "T-full", "owner": "root", "group": "root",
         "mode": "0644"},
        {"path": "/etc/systemd/system/pgha-backup-incr.service", "state": "absent"},
        {"path": "/etc/systemd/system/pgha-backup-incr.timer", "state": "absent"},
    ]
    assert out["units"] == [{"name": "pgha-backup-full.timer", "started": True, "enabled": True},
                            {"name": "pgha-backup-incr.timer", "started": False, "enabled": False}]


def test_hot_standby_lowered_and_raised():
    from ansible_collections.pgha.cluster.plugins.filter.pg import hot_standby_lowered
    running = {"max_connections": "200", "max_wal_senders": "10"}
    desired = {"max_connections": 150, "max_wal_senders": 12, "work_mem": "4MB"}
    assert hot_standby_lowered(desired, running) == {"max_connections": [200, 150]}
    # Called the other way round: what the new configuration raises ([new, running]).
    assert hot_standby_lowered(dict(running), dict(desired)) == {"max_wal_senders": [12, 10]}


def test_patroni_config_gives_each_version_the_lease_it_runs_with():
    from ansible_collections.pgha.cluster.plugins.filter.patroni import patroni_config
    settings = {"pgha_cluster_name": "main", "pgha_postgresql_port": 5432, "pgha_replication_user": "replicator",
                "pgha_sync_mode": "quorum", "pgha_sync_count": 1}
    members = {"pg1": "10.0.0.11", "pg2": "10.0.0.12", "pg3": "10.0.0.13"}

    def dcs(version_text, timing=None):
        return patroni_config({"name": "pg1", "address": "10.0.0.11"}, settings, {}, members, members,
                              version_text, "x", timing=timing)["bootstrap"]["dcs"]
    assert (dcs("patroni 3.0.2")["ttl"], dcs("patroni 4.0.7")["ttl"]) == (8, 20)
    assert dcs("patroni 4.0.7")["synchronous_mode"] == "quorum"
    assert dcs("patroni 4.0.7", {"ttl": 25})["ttl"] == 25
    with pytest.raises(AnsibleFilterError, match="ttl 8 is below the 20 s that Patroni 4.0 accepts"):
        dcs("patroni 4.0.7", {"ttl": 8})
    with pytest.raises(AnsibleFilterError, match="cannot read a Patroni version"):
        dcs("")
