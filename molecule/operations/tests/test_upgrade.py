"""A rolling package upgrade on the lab, run the way a schedule runs it: the
service upgrade_schedule.yml writes, its command run under pgbench (4 clients
at 100 tps through PgBouncer) plus the accounting writer. The package is a
canary built here and published in a local apt repository on each node (the
lab reaches no mirror): version 1.1 asks for a reboot, as a kernel does. Each
node is upgraded as a standby and rebooted (the lab's reboot command), the
primary switched over first; a second run finds nothing and touches nothing.
Also: unattended-upgrades is kept off the cluster's packages and reboots."""
import hashlib
import os
import shlex
import subprocess

from labtools import ROOT, current_primary, playbook, status
from test_rolling import NODES, assert_clients_saw_nothing, boot_id, healthy, started_at, under_load
# The module-scoped pgbench fixture (pytest finds it by name in this module).
from test_rolling import bench_conn  # noqa: F401  pylint: disable=unused-import

CANARY = "pgha-lab-canary"
REPO = "/srv/pgha-lab-apt"
LIST = "/etc/apt/sources.list.d/pgha-lab.list"
POSTINST = """#!/bin/sh
set -e
# Like a kernel package: the host must reboot to run what was installed.
if [ "$1" = configure ]; then
    touch /run/reboot-required
    echo %s >> /run/reboot-required.pkgs
fi
""" % CANARY


def on(host, *argv, check=True):
    return subprocess.run(["podman", "exec", host] + list(argv), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)


def build(workdir, version, reboot):
    root = os.path.join(workdir, "%s-%s" % (CANARY, version))
    os.makedirs(os.path.join(root, "DEBIAN"))
    os.makedirs(os.path.join(root, "usr", "share", CANARY))
    with open(os.path.join(root, "usr", "share", CANARY, "VERSION"), "w") as handle:
        handle.write(version + "\n")
    with open(os.path.join(root, "DEBIAN", "control"), "w") as handle:
        handle.write("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: pgha lab <lab@pgha.invalid>\n"
                     "Description: pgha lab upgrade canary\n" % (CANARY, version))
    if reboot:
        path = os.path.join(root, "DEBIAN", "postinst")
        with open(path, "w") as handle:
            handle.write(POSTINST)
        os.chmod(path, 0o755)
    deb = os.path.join(workdir, "%s_%s_all.deb" % (CANARY, version))
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", root, deb], check=True, stdout=subprocess.PIPE)
    return deb


def packages_index(deb, version):
    with open(deb, "rb") as handle:
        data = handle.read()
    return ("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: pgha lab <lab@pgha.invalid>\n"
            "Filename: ./%s\nSize: %d\nSHA256: %s\nDescription: pgha lab upgrade canary\n\n"
            % (CANARY, version, os.path.basename(deb), len(data), hashlib.sha256(data).hexdigest()))


def publish(host, deb, version):
    """The local repository on ``host`` offers ``deb``; apt reads only that list again."""
    on(host, "mkdir", "-p", REPO)
    subprocess.run(["podman", "cp", deb, "%s:%s/" % (host, REPO)], check=True)
    index = packages_index(deb, version)
    subprocess.run(["podman", "exec", "-i", host, "sh", "-c", "cat > %s/Packages" % REPO], input=index, check=True,
                   universal_newlines=True)
    on(host, "sh", "-c", "echo 'deb [trusted=yes] file:%s ./' > %s" % (REPO, LIST))
    on(host, "apt-get", "update", "-q", "-o", "Dir::Etc::sourcelist=%s" % LIST, "-o", "Dir::Etc::sourceparts=-",
       "-o", "APT::Get::List-Cleanup=0")


def installed(host):
    out = on(host, "dpkg-query", "-W", "-f", "${Version}", CANARY, check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def test_unattended_upgrades_leave_the_cluster_packages_and_reboots_to_pgha():
    for host in NODES + ("pooler1",):
        dump = on(host, "apt-config", "dump").stdout
        assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump, host
        for name in ("postgresql", "libpq", "pgbouncer", "pgbackrest"):
            assert 'Unattended-Upgrade::Package-Blacklist:: "^%s";' % name in dump, (host, dump)


def test_scheduled_rolling_upgrade_reboots_each_node_as_a_standby_under_load(app, bench_conn, tmp_path):
    workdir = str(tmp_path / "canary")
    os.mkdir(workdir)
    old, new = build(workdir, "1.0", reboot=False), build(workdir, "1.1", reboot=True)
    try:
        for host in NODES:
            subprocess.run(["podman", "cp", old, "%s:/tmp/" % host], check=True)
            on(host, "dpkg", "-i", "/tmp/" + os.path.basename(old))
            publish(host, new, "1.1")
        # The timer's service, as upgrade_schedule.yml writes it (run here by hand: the lab's
        # controller runs no systemd). Only the canary: the lab's images may lag their mirror.
        units = tmp_path / "units"
        units.mkdir()
        extra = '{"pgha_upgrade_extra_args": ["-e", "pgha_upgrade_update_cache=false", "-e", "{\\"pgha_upgrade_only\\": [\\"%s\\"]}"]}' % CANARY
        rc, out, dummy = playbook("playbooks/upgrade_schedule.yml", "-e", "pgha_upgrade_unit_dir=%s" % units,
                                  "-e", "pgha_upgrade_user=nobody", "-e", extra)
        assert rc == 0, out[-3000:]
        service = (units / "pgha-upgrade.service").read_text()
        assert "User=nobody" in service
        command = shlex.split([line.split("=", 1)[1] for line in service.splitlines() if line.startswith("ExecStart=")][0])
        assert command[-6:-4] == ["-e", "pgha_rolling=upgrade"], command
        assert "OnCalendar=Tue *-*-* 03:00:00" in (units / "pgha-upgrade.timer").read_text()

        # --check prints the plan: every node, the primary last, and changes nothing.
        args = command[command.index(os.path.join(ROOT, "playbooks", "rolling.yml")):]
        primary = current_primary()
        rc, out, dummy = playbook(*(args + ["--check"]))
        assert rc == 0 and "upgrade %s (now a standby" % primary in out and "1.0 -> 1.1" in out, out[-3000:]
        assert all(installed(h) == "1.0" for h in NODES)

        booted = dict((h, boot_id(h)) for h in NODES)
        rc, out, figures, writer = under_load(app, bench_conn, *args)
        assert rc == 0, out[-4000:]
        assert all(installed(h) == "1.1" for h in NODES), dict((h, installed(h)) for h in NODES)
        # Each asked for a reboot and got one; none waits for one now.
        assert all(boot_id(h) != booted[h] for h in NODES)
        assert all(on(h, "test", "-e", "/run/reboot-required", check=False).returncode != 0 for h in NODES)
        st = status()
        assert healthy(st) and st["primary"] != primary, st
        assert_clients_saw_nothing(app, figures, writer, 2.0)

        # Nothing left to upgrade: nothing restarted, no switchover.
        before = dict((h, started_at(h)) for h in NODES)
        rc, out, dummy = playbook(*args)
        assert rc == 0 and "nothing to do" in out, out[-3000:]
        assert dict((h, started_at(h)) for h in NODES) == before and current_primary() == st["primary"]
    finally:
        for host in NODES:
            on(host, "sh", "-c", "dpkg --purge %s; rm -rf %s %s /tmp/%s_*.deb /run/reboot-required*"
               % (CANARY, REPO, LIST, CANARY), check=False)


def pgbouncer_pid(host):
    return on(host, "systemctl", "show", "-p", "MainPID", "--value", "pgbouncer").stdout.strip()


def test_pooler_restart_is_an_opt_in_step_that_names_the_client_impact(app):
    """rolling.yml -e pgha_rolling_poolers=only: the PgBouncer host restarts its PgBouncer, after saying how many
    client connections drop; it sends clients to the primary again, and no acknowledged write is lost."""
    import uuid
    from writer import Writer  # noqa: E402  pylint: disable=import-error
    primary = current_primary()
    before = pgbouncer_pid("pooler1")
    writer = Writer(app, "pooler-%s" % uuid.uuid4().hex[:6])
    writer.start()
    try:
        rc, out, dummy = playbook("playbooks/rolling.yml", "-e", "pgha_rolling=restart", "-e", "pgha_rolling_poolers=only")
    finally:
        writer.stop()
    assert rc == 0, out[-4000:]
    import re
    said = re.search(r"restart PgBouncer on pooler1 - its (\d+) client connection\(s\)\s+drop and must reconnect", out)
    # The writer holds one through it at least.
    assert said and int(said.group(1)) >= 1, out[-3000:]
    assert pgbouncer_pid("pooler1") != before
    st = status()
    assert st["primary"] == primary and healthy(st), st
    # The database nodes were not touched.
    assert "rolling restart done" not in out
    assert writer.lost(app) == []
