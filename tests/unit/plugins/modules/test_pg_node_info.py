import json
from unittest import mock

from ansible_collections.pgha.cluster.plugins.module_utils import pg
from ansible_collections.pgha.cluster.plugins.modules import pg_node_info as mod

RUNNING = {"in_recovery": True, "system_identifier": "42", "server_version_num": 150000,
           "data_directory": "/var/lib/postgresql/15/main", "current_lsn": None, "receive_lsn": "0/5000000",
           "replay_lsn": "0/5000000", "checkpoint_lsn": "0/4000000", "timeline": 1,
           "primary_conninfo": "user=replicator password=hunter2 host=10.0.0.1 port=5432 application_name=pg2",
           "primary_slot_name": "pg2", "synchronous_standby_names": "",
           "upstream": {"status": "streaming", "host": "10.0.0.1", "port": 5432, "slot_name": "pg2"},
           "replicas": []}


def test_running_standby_reported_without_password(run_module):
    with mock.patch.object(pg, "run_psql", return_value=(0, json.dumps(RUNNING), "")), \
            mock.patch.object(pg.os.path, "isfile", return_value=True):
        rc, result = run_module(mod, {"version": 15, "_ansible_check_mode": True})
    node = result["node"]
    assert rc == 0 and result["changed"] is False
    assert node["role"] == "standby" and node["up"] is True and node["timeline"] == 1
    assert node["primary_conninfo"]["host"] == "10.0.0.1" and "password" not in node["primary_conninfo"]
    assert "hunter2" not in json.dumps(result)


def test_no_data_directory_is_absent(run_module):
    with mock.patch.object(pg, "run_psql", return_value=(2, "", "connection refused")), \
            mock.patch.object(pg.os.path, "isfile", return_value=False):
        rc, result = run_module(mod, {"version": 15})
    assert rc == 0 and result["node"]["role"] == "absent" and result["node"]["up"] is False


def test_wait_streaming_fails_with_what_it_saw(run_module):
    stopped = dict(RUNNING, upstream=None)
    with mock.patch.object(pg, "run_psql", return_value=(0, json.dumps(stopped), "")), \
            mock.patch.object(pg.os.path, "isfile", return_value=True), \
            mock.patch.object(mod.time, "sleep"):
        rc, result = run_module(mod, {"version": 15, "wait_streaming": 1})
    assert rc == 1
    assert "not streaming after 1 s: role standby" in result["msg"]
    assert "WAL receiver not running (from -), configured upstream 10.0.0.1:5432 (slot pg2)" in result["msg"]


def test_wait_streaming_returns_once_streaming(run_module):
    with mock.patch.object(pg, "run_psql", return_value=(0, json.dumps(RUNNING), "")), \
            mock.patch.object(pg.os.path, "isfile", return_value=True):
        rc, result = run_module(mod, {"version": 15, "wait_streaming": 30})
    assert rc == 0 and result["node"]["upstream"]["status"] == "streaming"
