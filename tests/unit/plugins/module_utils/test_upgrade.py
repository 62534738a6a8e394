import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import rolling, upgrade

SIMULATION = """NOTE: This is only a simulation!
Reading package lists...
Calculating upgrade...
The following packages will be upgraded:
  libpq5 pgbouncer postgresql-15
Inst libpq5 [15.8-0+deb12u1] (15.10-0+deb12u1 Debian-Security:12/stable-security [amd64])
Inst postgresql-15 [15.8-0+deb12u1] (15.10-0+deb12u1 Debian-Security:12/stable-security [amd64]) []
Inst pgbouncer [1.18.0-1] (1.18.0-1+deb12u1 Debian:12.8/stable [amd64])
Inst libfoo1 (2.0-1 Debian:12.8/stable [amd64])
Conf libpq5 (15.10-0+deb12u1 Debian-Security:12/stable-security [amd64])
"""


def test_parse_simulation_reads_upgrades_and_new_packages():
    found = upgrade.parse_simulation(SIMULATION)
    assert [p["name"] for p in found] == ["libpq5", "postgresql-15", "pgbouncer", "libfoo1"]
    assert found[1] == {"name": "postgresql-15", "old": "15.8-0+deb12u1", "new": "15.10-0+deb12u1"}
    assert found[3]["old"] is None


def test_parse_simulation_of_nothing():
    assert upgrade.parse_simulation("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n") == []
    assert upgrade.parse_simulation(None) == []


def test_hold_leaves_pgbouncer_and_only_restricts():
    found = upgrade.parse_simulation(SIMULATION)
    todo, held = upgrade.select_upgrades(found, hold=["pgbouncer"])
    assert [p["name"] for p in held] == ["pgbouncer"] and len(todo) == 3
    todo, held = upgrade.select_upgrades(found, only=["postgresql-*", "libpq*"])
    assert [p["name"] for p in todo] == ["libpq5", "postgresql-15"]
    assert sorted(p["name"] for p in held) == ["libfoo1", "pgbouncer"]
    # An architecture suffix does not hide a held package.
    todo, held = upgrade.select_upgrades([{"name": "pgbouncer:amd64", "old": "1", "new": "2"}], hold=["pgbouncer"])
    assert todo == [] and len(held) == 1


MAPS = """55d0c0a00000-55d0c0a80000 r--p 00000000 fd:01 1234 /usr/lib/postgresql/15/bin/postgres (deleted)
7f0000000000-7f0000100000 r-xp 00000000 fd:01 99 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)
7f0000200000-7f0000300000 rw-s 00000000 00:01 5 /dev/shm/PostgreSQL.12345 (deleted)
7f0000400000-7f0000500000 rw-s 00000000 00:01 6 /SYSV0052e2c1 (deleted)
7f0000600000-7f0000700000 r-xp 00000000 fd:01 100 /usr/lib/x86_64-linux-gnu/libc.so.6
"""


def test_deleted_mappings_names_replaced_binaries_and_libraries_only():
    found = upgrade.deleted_mappings(MAPS, "/usr/lib/postgresql/15/bin/postgres (deleted)")
    assert found == ["/usr/lib/postgresql/15/bin/postgres", "/usr/lib/x86_64-linux-gnu/libssl.so.3"]
    assert upgrade.deleted_mappings("", "/usr/lib/postgresql/15/bin/postgres") == []


def test_needs_reboot_wins_over_restart():
    ups = [{"name": "linux-image-amd64", "old": "1", "new": "2"}]
    needs = upgrade.upgrade_needs(ups, True, ["linux-image-6.1.0-28-amd64"], ["/usr/lib/x/libssl.so.3"], True)
    assert needs["then"] == "reboot" and needs["upgrade"]
    assert "linux-image-amd64 1 -> 2" in needs["reasons"][0] and "linux-image-6.1.0-28-amd64" in needs["reasons"][1]
    needs = upgrade.upgrade_needs([], False, [], ["/usr/lib/x/libssl.so.3"], True)
    assert needs == {"upgrade": False, "then": "restart", "reasons": ["PostgreSQL runs replaced files (/usr/lib/x/libssl.so.3)"]}
    # A server that does not run needs no restart for the files it would map.
    assert upgrade.upgrade_needs([], False, [], ["/x"], False)["then"] == "none"


def test_upgrade_pending_leaves_out_nodes_with_nothing_to_do():
    checks = {
        "pg1": {"needs": {"upgrade": False, "then": "none", "reasons": []}},
        "pg2": {"needs": {"upgrade": True, "then": "none", "reasons": ["upgrade a 1 -> 2"]}},
        "pg3": {"needs": {"upgrade": False, "then": "reboot", "reasons": ["the host asks for a reboot (x)"]}},
        "pg4": None,
    }
    assert upgrade.upgrade_pending(checks) == {"pg2": ["upgrade a 1 -> 2"], "pg3": ["the host asks for a reboot (x)"]}


def test_unattended_guard_blacklists_the_cluster_packages_and_the_reboot():
    text = upgrade.unattended_guard_text()
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in text
    for name in ("postgresql", "libpq", "pgbouncer", "pgbackrest", "patroni", "etcd"):
        assert '"^%s";' % name in text
    assert '"^python3-psycopg";' in text


def _cluster():
    replicas = [{"application_name": h, "state": "streaming", "sync_state": "quorum", "replay_lag_bytes": 0}
                for h in ("pg2", "pg3")]
    return {"pg1": {"up": True, "role": "primary", "replicas": replicas},
            "pg2": {"up": True, "role": "standby"}, "pg3": {"up": True, "role": "standby"}}


def test_rolling_upgrade_does_only_the_nodes_that_need_it():
    plan = rolling.rolling_plan(_cluster(), "pg1", "upgrade", pending={"pg3": ["upgrade a 1 -> 2"]})
    assert plan["standbys"] == ["pg3"] and plan["switchover"] is False
    assert plan["steps"][0].startswith("upgrade pg3 (standby: upgrade a 1 -> 2)")


def test_rolling_upgrade_of_the_primary_switches_over_then_upgrades_it_as_a_standby():
    plan = rolling.rolling_plan(_cluster(), "pg1", "upgrade", pending=dict.fromkeys(("pg1", "pg2", "pg3"), ["upgrade a"]))
    assert plan["standbys"] == ["pg2", "pg3"] and plan["switchover"] and plan["old_primary"] == "pg1"
    assert plan["old_primary_acts"] is True and plan["steps"][-1].startswith("upgrade pg1 (now a standby: upgrade a)")


def test_rolling_upgrade_with_nothing_to_upgrade_does_nothing():
    plan = rolling.rolling_plan(_cluster(), "pg1", "upgrade", pending={})
    assert plan["steps"] == ["nothing to do"] and not plan["switchover"]


def test_rolling_upgrade_never_takes_the_primary_in_place():
    with pytest.raises(rolling.RollingError, match="an upgrade never takes the primary down in place"):
        rolling.rolling_plan(_cluster(), "pg1", "upgrade", pending={"pg1": ["x"]}, primary_first=True)
