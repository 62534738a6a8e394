"""The example inventory loads as Ansible reads it and passes validation."""
import json
import os
import subprocess
import sys

from ansible_collections.pgha.cluster.plugins.module_utils.validate import validate_inputs, effective_settings

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def inventory(path):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    tool = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    out = subprocess.run([tool if os.path.exists(tool) else "ansible-inventory", "-i", path, "--list"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def test_three_node_example_with_its_vault_layout():
    data = inventory(os.path.join(ROOT, "inventories", "example"))
    hostvars = data["_meta"]["hostvars"]
    groups = {g: sorted(data[g]["hosts"]) for g in ("pgha_postgresql", "pgha_pgbouncer", "pgha_backup", "pgha_drill")}
    assert groups["pgha_pgbouncer"] == groups["pgha_postgresql"] == ["db1", "db2", "db3"]
    # group_vars/all/main.yml is read (a vault.yml next to it would be too).
    db1 = hostvars["db1"]
    assert db1["pgha_cluster_name"] == "main" and db1["ansible_become"] is True
    settings = dict((k, db1.get(k)) for k in ("pgha_cluster_name", "pgha_postgresql_version", "pgha_postgresql_port",
                                              "pgha_replication_user", "pgha_sync_mode", "pgha_sync_count",
                                              "pgha_pgbouncer_auth_user", "pgha_admin_user"))
    primaries = [h for h, hv in hostvars.items() if hv.get("pgha_initial_primary")]
    secrets = {"pgha_replication_password": "x", "pgha_pgbouncer_auth_password": "y", "pgha_admin_password": "z"}
    assert validate_inputs(groups, primaries, settings, secrets) == []
    assert effective_settings(settings, 3)["pgha_sync_mode"] == "quorum"
    # Without the vault file, the missing secrets are named.
    assert "missing required secrets" in validate_inputs(groups, primaries, settings, {})[0]


def test_the_lab_in_the_three_node_layout():
    data = inventory(os.path.join(ROOT, "inventories", "lab", "colocated.yml"))
    assert sorted(data["pgha_pgbouncer"]["hosts"]) == sorted(data["pgha_postgresql"]["hosts"])
