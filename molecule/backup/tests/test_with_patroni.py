"""Last in the backup scenario (it converts the lab to automatic mode): the
in-place restore through Patroni."""
import json
import time

from conftest import current_primary, lab_host, playbook, psql, restore, status, sysid


def patroni_members(hostname):
    out = lab_host(hostname).check_output("patronictl -c /etc/patroni/config.yml list -f json")
    return dict((m["Member"], m) for m in json.loads(out))


def test_inplace_restore_through_patroni(report_dir):
    """Automatic mode: restore.yml pauses and stops Patroni with each server, forgets its state in etcd (the
    restored cluster is behind the last LSN Patroni saw), rebuilds the cluster, and Patroni takes it over."""
    rc, out, recap = playbook("playbooks/site.yml", "-e", "pgha_failover_mode=automatic")
    assert rc == 0, out[-3000:]
    leader = current_primary()
    assert sorted(patroni_members(leader)) == ["pg1", "pg2", "pg3"]
    psql(leader, "CREATE TABLE patroni_probe (n int); INSERT INTO patroni_probe SELECT generate_series(1, 10)")
    time.sleep(1.5)
    point = psql(leader, "SELECT now()")
    time.sleep(1.5)
    psql(leader, "INSERT INTO patroni_probe SELECT generate_series(11, 15)")
    confirm = sysid(leader)
    target = ["-e", "pgha_restore_mode=inplace", "-e", "pgha_restore_confirm=%s" % confirm,
              "-e", json.dumps({"pgha_restore_target_time": point})]
    # An inventory still in manual mode would rebuild a manual cluster behind Patroni: refused, nothing changed.
    rc, out, report = restore(report_dir, *target)
    assert rc != 0 and "but pgha_failover_mode is manual" in out, out[-3000:]
    assert psql(leader, "SELECT count(*) FROM patroni_probe") == "15"
    rc, out, report = restore(report_dir, *(target + ["-e", "pgha_failover_mode=automatic"]))
    assert rc == 0, out[-4000:]
    assert report["passed"], json.dumps(report, indent=1)[:3000]
    members = patroni_members("pg1")
    # The restore host leads; Patroni runs everywhere again, not paused, with a synchronous standby recorded.
    assert members["pg1"]["Role"] == "Leader", members
    assert all(m["State"] in ("running", "streaming") for m in members.values()), members
    deadline = time.time() + 30
    while not any(m["Role"] == "Sync Standby" for m in members.values()) and time.time() < deadline:
        time.sleep(1)
        members = patroni_members("pg1")
    assert any(m["Role"] == "Sync Standby" for m in members.values()), members
    assert "paused" not in lab_host("pg1").check_output("patronictl -c /etc/patroni/config.yml list").lower()
    assert psql("pg1", "SELECT count(*) FROM patroni_probe") == "10"
    assert psql("pg2", "SELECT count(*) FROM patroni_probe") == "10"
    st = status()
    assert st["primary"] == "pg1" and st["verdict"] == "healthy", st["reasons"]
