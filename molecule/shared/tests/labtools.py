"""Helpers for the lab verifiers: run SQL on a host, run a playbook, read the lab's settings.

Imported by the conftest of every scenario (molecule/*/tests/conftest.py)."""
import os
import re
import subprocess
import time

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LAB_VARS = os.path.join(ROOT, "inventories", "lab", "group_vars", "all")


def _load(name):
    with open(os.path.join(LAB_VARS, name)) as handle:
        return yaml.safe_load(handle)


def lab_settings():
    """The lab's settings (group_vars, generated and secret ones included) and each host's address."""
    settings = dict(_load("main.yml"))
    settings.update(_load("lab.yml"))
    settings.update(_load("secrets.yml"))
    with open(os.path.join(ROOT, "inventories", "lab", "hosts.yml")) as handle:
        inventory = yaml.safe_load(handle)["pgha_lab"]["children"]
    addresses = {}
    for group in inventory.values():
        for name, hv in group["hosts"].items():
            addresses[name] = hv["ansible_host"]
    settings["addresses"] = addresses
    return settings


@pytest.fixture(scope="session")
def lab():
    return lab_settings()


def lab_host(hostname):
    """A testinfra host of the lab, reached with the lab inventory's SSH settings."""
    import testinfra
    # The lab's own inventory (molecule's generated one lists platform names only).
    inventory = os.path.join(ROOT, "inventories", "lab", "hosts.yml")
    return testinfra.get_host("ansible://%s" % hostname, ansible_inventory=inventory)


@pytest.fixture(scope="session")
def sql():
    def _run(hostname, query, db="postgres"):
        host = lab_host(hostname)
        cmd = host.run("runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s",
                       db, query)
        assert cmd.rc == 0, "%s on %s failed: %s" % (query, hostname, cmd.stderr)
        return cmd.stdout.strip()
    return _run


def playbook(*args, inventory=None, check=False):
    """Run a playbook of this collection against the lab; return (rc, output, recap)."""
    # The project's ansible.cfg, not molecule's environment (its SSH settings differ).
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    cmd = ["ansible-playbook"]
    for inv in inventory or [os.path.join(ROOT, "inventories", "lab", "hosts.yml")]:
        cmd += ["-i", inv]
    if check:
        cmd.append("--check")
    cmd += list(args)
    started = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
    # PGHA_PLAYBOOK_LOG=FILE: one line per playbook run (seconds, rc, arguments), for CI time.
    if os.environ.get("PGHA_PLAYBOOK_LOG"):
        with open(os.environ["PGHA_PLAYBOOK_LOG"], "a") as log:
            log.write("%.1f\t%d\t%s\n" % (time.time() - started, proc.returncode, " ".join(cmd[1:])))
    recap = {}
    for m in re.finditer(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                         proc.stdout, re.M):
        recap[m.group(1)] = {"ok": int(m.group(2)), "changed": int(m.group(3)),
                             "unreachable": int(m.group(4)), "failed": int(m.group(5))}
    return proc.returncode, proc.stdout, recap


def lab_sh(*args):
    """Run lab/lab.sh (fault injection: partition, heal, fence, start)."""
    subprocess.run([os.path.join(ROOT, "lab", "lab.sh")] + list(args), check=True, cwd=ROOT,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def status(inventory=None):
    """The status playbook's JSON report."""
    import json
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        rc, out, dummy = playbook("playbooks/status.yml", "-e", "pgha_status_file=%s" % handle.name,
                                  inventory=inventory)
        assert rc == 0, out[-3000:]
        with open(handle.name) as f:
            return json.load(f)


def restore(report_dir, *extra):
    """Run restore.yml with its reports in report_dir; return (rc, output, the latest report or None)."""
    import json
    latest = os.path.join(report_dir, "latest.json")
    if os.path.exists(latest):
        os.remove(latest)
    rc, out, dummy = playbook("playbooks/restore.yml", "-e", "pgha_restore_report_dir=%s" % report_dir, *extra)
    report = None
    if os.path.exists(latest):
        with open(latest) as handle:
            report = json.load(handle)
    return rc, out, report


def sysid(hostname):
    """The database system identifier of the node's data directory (pg_controldata)."""
    out = subprocess.run(["podman", "exec", hostname, "sh", "-c",
                          "/usr/lib/postgresql/*/bin/pg_controldata /var/lib/postgresql/*/main"],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    return [line.split(":", 1)[1].strip() for line in out.splitlines()
            if line.startswith("Database system identifier")][0]


def current_primary(inventory=None):
    """The primary, asked of the database nodes' containers at once (about 0.3 s, where status.yml
    takes about 5 s). Only a clear answer is taken: exactly one running pg* node out of recovery and
    every other one answering that it is in recovery. Anything else (a node down, paused or
    unreadable, two writable nodes) is status.yml's to judge."""
    names = subprocess.run(["podman", "ps", "--format", "{{.Names}}"], check=True, stdout=subprocess.PIPE,
                           universal_newlines=True).stdout.split()
    nodes = sorted(name for name in names if re.match(r"^pg[0-9]+$", name))
    asks = dict((node, subprocess.Popen(
        ["timeout", "5", "podman", "exec", node, "runuser", "-u", "postgres", "--",
         "psql", "-XAtq", "-c", "SELECT pg_catalog.pg_is_in_recovery()"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)) for node in nodes)
    answers = dict((node, ask.communicate()[0].strip()) for node, ask in asks.items())
    writable = [node for node, answer in answers.items() if answer == "f"]
    if len(writable) == 1 and all(answer in ("t", "f") for answer in answers.values()):
        return writable[0]
    return status(inventory=inventory)["primary"]


def app_role(primary, name="pgha_app"):
    """A login role created on the primary after deploy (as an application's
    would be), allowed to create tables in public; returns its password."""
    import uuid
    password = uuid.uuid4().hex
    # Scenarios that share a lab each ask for it: the second one sets a new password.
    sql = ("DO $$BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{0}') THEN "
           "ALTER ROLE {0} LOGIN PASSWORD '{1}'; ELSE CREATE ROLE {0} LOGIN PASSWORD '{1}'; END IF; END$$; "
           "GRANT CREATE ON SCHEMA public TO {0}").format(name, password)
    subprocess.run(["podman", "exec", primary, "runuser", "-u", "postgres", "--", "psql", "-q", "-c", sql],
                   check=True)
    return password


@pytest.fixture(scope="session")
def pooler_app():
    """A role created after deploy, writing through the lab's dedicated PgBouncer: returns its DSN."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from writer import setup
    password = app_role(current_primary())
    dsn = "host=10.213.77.21 port=6432 dbname=postgres user=pgha_app password=%s" % password
    setup(dsn, "init")
    return dsn


def kill_primary_and_fail_over(dsn, primary, run_failover, tag, settle=1):
    """A client writes through PgBouncer (bench/writer.py), the primary is killed
    (podman kill -s KILL) and failover.yml runs at once through run_failover.
    Returns (writer, kill time, rc, playbook output); the writer is stopped."""
    import sys
    import time
    import uuid
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from writer import Writer
    writer = Writer(dsn, "%s-%s" % (tag, uuid.uuid4().hex[:6]))
    writer.start()
    time.sleep(1)
    subprocess.run(["podman", "kill", "-s", "KILL", primary], check=True, stdout=subprocess.PIPE)
    started = time.time()
    rc, out, dummy = run_failover("playbooks/failover.yml")
    time.sleep(settle)
    writer.stop()
    return writer, started, rc, out
