from unittest import mock

import pytest

from ansible_collections.pgha.cluster.plugins.modules import pg_standby

ARGS = {"version": 15, "primary_host": "10.0.0.1", "primary_system_identifier": "42",
        "replication_user": "replicator", "application_name": "pg2", "slot_name": "pg2"}


def node(**kw):
    base = {"up": True, "role": "standby", "data_directory_exists": True, "config_exists": True,
            "data_directory": "/var/lib/postgresql/15/main", "system_identifier": "42",
            "primary_conninfo": {}, "primary_slot_name": None}
    base.update(kw)
    return base


@pytest.fixture
def commands():
    calls = []

    def fake_run_command(self, argv, **kwargs):
        calls.append(argv)
        return 0, "", ""
    with mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", fake_run_command):
        yield calls


def test_check_mode_plans_a_clone_and_runs_nothing(run_module, commands):
    empty = node(data_directory_exists=False, up=False, role="absent", config_exists=False)
    with mock.patch.object(pg_standby, "inspect_node", return_value=empty):
        rc, result = run_module(pg_standby, dict(ARGS, _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and result["changed"] is True and result["action"] == "clone"
    assert result["commands"] == [] and commands == []
    assert "host=10.0.0.1" in result["diff"]["after"] and "application_name=pg2" in result["diff"]["after"]


VERIFIED = {"sslmode": "verify-full", "sslrootcert": "/etc/pgha/tls/ca.crt"}


def test_configured_standby_is_left_alone(run_module, commands):
    current = node(primary_conninfo=dict(VERIFIED, host="10.0.0.1", port="5432", user="replicator",
                                         application_name="pg2"), primary_slot_name="pg2")
    with mock.patch.object(pg_standby, "inspect_node", return_value=current):
        rc, result = run_module(pg_standby, ARGS)
    assert rc == 0 and result["changed"] is False and result["action"] == "none" and commands == []


def test_standby_streaming_without_verified_tls_is_reconfigured(run_module, commands):
    current = node(primary_conninfo={"host": "10.0.0.1", "port": "5432", "user": "replicator",
                                     "application_name": "pg2"}, primary_slot_name="pg2")
    with mock.patch.object(pg_standby, "inspect_node", return_value=current):
        rc, result = run_module(pg_standby, ARGS)
    assert rc == 0 and result["action"] == "configure" and "sslmode" in result["reason"]
    sql = " ".join(argv[-1] for argv in commands)
    assert "sslmode=verify-full" in sql and "sslrootcert=/etc/pgha/tls/ca.crt" in sql


def test_a_mode_without_tls_is_refused(run_module, commands):
    rc, result = run_module(pg_standby, dict(ARGS, sslmode="prefer"))
    assert rc == 1 and "sslmode" in result["msg"] and commands == []


def test_foreign_data_directory_is_refused_before_any_change(run_module, commands):
    with mock.patch.object(pg_standby, "inspect_node", return_value=node(system_identifier="7")):
        rc, result = run_module(pg_standby, ARGS)
    assert rc == 1 and "another database system" in result["msg"] and "7" in result["msg"]
    assert commands == []


def test_repoint_running_standby_uses_alter_system(run_module, commands):
    current = node(primary_conninfo={"host": "10.0.0.9", "port": "5432", "user": "replicator",
                                     "application_name": "pg2"}, primary_slot_name="pg2")
    with mock.patch.object(pg_standby, "inspect_node", return_value=current):
        rc, result = run_module(pg_standby, ARGS)
    assert rc == 0 and result["action"] == "configure" and result["changed"] is True
    sql = [argv[-1] for argv in commands]
    assert any(s.startswith("ALTER SYSTEM SET primary_conninfo = 'host=10.0.0.1") for s in sql)
    assert "SELECT pg_reload_conf()" in sql


def test_unknown_primary_identity_is_refused_outside_check_mode(run_module, commands):
    args = dict(ARGS)
    del args["primary_system_identifier"]
    with mock.patch.object(pg_standby, "inspect_node", return_value=node()):
        rc, result = run_module(pg_standby, args)
    assert rc == 1 and "system identifier is unknown" in result["msg"] and commands == []
