import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import topology as t


@pytest.mark.parametrize("text, value", [
    ("0/0", 0),
    ("0/3000060", 0x3000060),
    ("1/0", 1 << 32),
    ("A/FFFFFFFF", (0xA << 32) | 0xFFFFFFFF),
    ("16/B374D848", (0x16 << 32) | 0xB374D848),
])
def test_parse_and_format_lsn(text, value):
    assert t.parse_lsn(text) == value
    assert t.format_lsn(value) == text.upper()


@pytest.mark.parametrize("bad", ["", "0", "0/", "G/0", "0/123456789", "1/2/3"])
def test_parse_lsn_rejects(bad):
    with pytest.raises(ValueError):
        t.parse_lsn(bad)


def test_lag_bytes():
    assert t.lag_bytes("0/3000100", "0/3000060") == 0xA0
    assert t.lag_bytes("1/0", "0/FFFFFFFF") == 1
    assert t.lag_bytes("0/10", "0/20") == 0
    assert t.lag_bytes(None, "0/20") is None


@pytest.mark.parametrize("host, slot", [("pg2", "pg2"), ("db-2.example.com", "db_2_example_com"),
                                        ("PG3", "pg3"), ("x" * 80, "x" * 63)])
def test_slot_name(host, slot):
    assert t.slot_name(host) == slot


@pytest.mark.parametrize("mode, count, names, value", [
    ("off", 1, ["pg2", "pg3"], ""),
    ("quorum", 1, ["pg2", "pg3"], 'ANY 1 ("pg2", "pg3")'),
    ("quorum", 2, ["pg2", "pg3"], 'ANY 2 ("pg2", "pg3")'),
    ("quorum", 1, ["pg3", "pg2"], 'ANY 1 ("pg2", "pg3")'),
    ("priority", 1, ["pg3", "pg2"], 'FIRST 1 ("pg3", "pg2")'),
    ("quorum", 1, ['we"ird'], 'ANY 1 ("we""ird")'),
])
def test_synchronous_standby_names(mode, count, names, value):
    assert t.synchronous_standby_names(mode, count, names) == value


@pytest.mark.parametrize("mode, count, names, fragment", [
    ("quorum", 3, ["pg2", "pg3"], "larger than the 2 standby"),
    ("quorum", 0, ["pg2"], "at least 1"),
    ("sometimes", 1, ["pg2"], "off, quorum or priority"),
])
def test_synchronous_standby_names_rejects(mode, count, names, fragment):
    with pytest.raises(ValueError, match=fragment):
        t.synchronous_standby_names(mode, count, names)


def test_sync_decision_waits_for_enough_streaming():
    d = t.sync_enable_decision("quorum", 2, ["pg2", "pg3"], ["pg2"])
    assert d["ready"] is False and d["missing"] == ["pg3"] and d["streaming"] == ["pg2"]
    d = t.sync_enable_decision("quorum", 1, ["pg2", "pg3"], ["pg3", "other"])
    assert d["ready"] is True and d["value"] == 'ANY 1 ("pg2", "pg3")'
    assert t.sync_enable_decision("off", 1, ["pg2"], [])["ready"] is True


def node(**kw):
    base = {"up": True, "role": "standby", "data_directory_exists": True, "system_identifier": "42",
            "timeline": 1}
    base.update(kw)
    return base


def test_choose_primary_fresh_cluster_uses_initial():
    nodes = {h: {"up": False, "role": "absent", "data_directory_exists": False} for h in ("pg1", "pg2")}
    d = t.choose_primary(nodes, "pg1")
    assert d["primary"] == "pg1" and d["fresh"] is True


def test_choose_primary_follows_real_primary_not_inventory():
    nodes = {"pg1": node(), "pg2": node(role="primary", current_lsn="0/5000000"), "pg3": node()}
    d = t.choose_primary(nodes, "pg1")
    assert d["primary"] == "pg2" and d["fresh"] is False


def test_choose_primary_refuses_two_primaries():
    nodes = {"pg1": node(role="primary", current_lsn="0/5"), "pg2": node(role="primary", timeline=2,
                                                                         current_lsn="0/9")}
    with pytest.raises(t.TopologyError, match=r"pg1 timeline 1 LSN 0/5; pg2 timeline 2 LSN 0/9"):
        t.choose_primary(nodes, "pg1")


def test_choose_primary_restarts_a_stopped_primary_its_standbys_follow():
    nodes = {"pg1": node(up=False, role="primary"), "pg2": node(), "pg3": node()}
    d = t.choose_primary(nodes, "pg1")
    assert d["primary"] == "pg1" and "holds a primary data directory" in d["reason"]


def test_choose_primary_refuses_when_only_standbys_run():
    nodes = {"pg1": node(up=False, role="standby"), "pg2": node(), "pg3": node()}
    with pytest.raises(t.TopologyError, match="standbys up: pg2, pg3"):
        t.choose_primary(nodes, "pg1")


def test_choose_primary_refuses_two_stopped_primaries():
    nodes = {"pg1": node(up=False, role="primary"), "pg2": node(up=False, role="primary"), "pg3": node()}
    with pytest.raises(t.TopologyError, match="no primary is running"):
        t.choose_primary(nodes, "pg1")


def test_choose_primary_refuses_mixed_database_systems():
    nodes = {"pg1": node(up=False, role="primary"), "pg2": node(system_identifier="7")}
    with pytest.raises(t.TopologyError):
        t.choose_primary(nodes, "pg1")


def test_choose_primary_all_stopped_picks_the_primary_data_directory():
    nodes = {"pg1": node(up=False, role="primary"), "pg2": node(up=False), "pg3": node(up=False)}
    assert t.choose_primary(nodes, "pg1")["primary"] == "pg1"


def test_choose_primary_refuses_unreachable():
    nodes = {"pg1": node(role="primary"), "pg2": {"unreachable": True}}
    with pytest.raises(t.TopologyError, match="pg2 cannot be inspected"):
        t.choose_primary(nodes, "pg1")


DESIRED = {"host": "10.0.0.1", "port": "5432", "user": "replicator", "application_name": "pg2",
           "slot_name": "pg2"}


def test_standby_action_clone_when_empty():
    assert t.standby_action({"data_directory_exists": False}, {}, DESIRED)["action"] == "clone"


def test_standby_action_leaves_configured_standby_alone():
    n = node(primary_conninfo={"host": "10.0.0.1", "port": "5432", "user": "replicator",
                               "application_name": "pg2", "passfile": "/x"}, primary_slot_name="pg2")
    assert t.standby_action(n, {"system_identifier": "42"}, DESIRED)["action"] == "none"


def test_standby_action_repoints_when_upstream_differs():
    n = node(primary_conninfo={"host": "10.0.0.9", "port": "5432", "user": "replicator",
                               "application_name": "pg2"}, primary_slot_name="pg2")
    d = t.standby_action(n, {"system_identifier": "42"}, DESIRED)
    assert d["action"] == "configure" and "10.0.0.9" in d["reason"]


def test_standby_action_never_wipes_foreign_data():
    n = node(system_identifier="7", data_directory="/var/lib/postgresql/15/main")
    with pytest.raises(t.TopologyError, match="another database system .*7.*42.*standby_reclone"):
        t.standby_action(n, {"system_identifier": "42"}, DESIRED)
    assert t.standby_action(n, {"system_identifier": "42"}, DESIRED, reclone=True)["action"] == "clone"


def test_standby_action_refuses_a_former_primary():
    n = node(role="primary", up=False, checkpoint_lsn="0/7000028")
    with pytest.raises(t.TopologyError, match="rejoin"):
        t.standby_action(n, {"system_identifier": "42"}, DESIRED)


def test_merge_auto_conf_replaces_appends_and_removes():
    text = ("# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n"
            "work_mem = '4MB'\nprimary_conninfo = 'host=old'\nprimary_conninfo = 'host=dup'\n")
    out = t.merge_auto_conf(text, {"primary_conninfo": "host=new user='x'", "primary_slot_name": "pg2",
                                   "work_mem": None})
    assert out.splitlines() == [
        "# Do not edit this file manually!",
        "# It will be overwritten by the ALTER SYSTEM command.",
        "primary_conninfo = 'host=new user=''x'''",
        "primary_slot_name = 'pg2'",
    ]


def test_merge_auto_conf_on_empty_file_adds_header():
    assert t.merge_auto_conf("", {"a": "1"}).splitlines()[-1] == "a = '1'"


@pytest.mark.parametrize("params", [
    {"host": "10.0.0.1", "port": "5432", "application_name": "pg2"},
    {"host": "h", "password": "it's a secret", "options": "-c x=1"},
    {"passfile": "/var/lib/postgresql/.pgpass", "empty": ""},
])
def test_conninfo_round_trip(params):
    assert t.parse_conninfo(t.build_conninfo(params)) == params


def test_parse_conninfo_real_world():
    text = "user=replicator passfile='/var/lib/postgresql/.pgpass' host=10.213.77.11 port=5432 sslmode=prefer"
    assert t.parse_conninfo(text)["passfile"] == "/var/lib/postgresql/.pgpass"
    assert t.parse_conninfo(text)["host"] == "10.213.77.11"
    with pytest.raises(ValueError):
        t.parse_conninfo("nonsense")


def test_standby_action_refuses_a_fenced_node():
    n = node(up=False, fenced=True, checkpoint_lsn="0/7000028")
    with pytest.raises(t.TopologyError, match="fenced as a failed primary.*rejoin.yml"):
        t.standby_action(n, {"system_identifier": "42"}, DESIRED)


def test_standby_action_lets_a_clean_former_primary_follow():
    n = node(up=False, role="primary", cluster_state="shut down", checkpoint_lsn="0/7000028")
    assert t.standby_action(n, {"system_identifier": "42"}, DESIRED, clean_switchover_lsn="0/07000028")["action"] \
        == "configure"
    with pytest.raises(t.TopologyError, match="rejoin"):
        t.standby_action(n, {"system_identifier": "42"}, DESIRED, clean_switchover_lsn="0/7000099")


def test_upstream_host_names_the_node_a_standby_streams_from():
    from ansible_collections.pgha.cluster.plugins.module_utils.topology import upstream_host
    addresses = {"pg1": "10.0.0.1", "pg2": "10.0.0.2"}
    assert upstream_host({"upstream": {"host": "10.0.0.2"}, "primary_conninfo": {"host": "10.0.0.1"}}, addresses) == "pg2"
    assert upstream_host({"upstream": {}, "primary_conninfo": {"host": "10.0.0.1"}}, addresses) == "pg1"
    assert upstream_host({"primary_conninfo": {"host": "10.9.9.9"}}, addresses) == "10.9.9.9"
    assert upstream_host({"upstream": None, "primary_conninfo": None}, addresses) is None
