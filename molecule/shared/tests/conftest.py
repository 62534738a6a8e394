"""Fixtures for the lab verifiers (the helpers live in labtools.py)."""
import os

from labtools import lab, sql  # noqa: F401  pylint: disable=unused-import

# The default scenario runs four suites on one lab; each leaves the cluster as
# the next expects: the shared checks, then the backups and restores, then
# day-2 operations in manual mode, then the conversion to automatic mode. Molecule passes the files in no
# particular order, so the order is set here (within a file, tests keep theirs).
SUITE_ORDER = ("shared", "backup", "operations", "automatic")


def _suite(item):
    path = str(item.fspath)
    scenario = os.path.basename(os.path.dirname(os.path.dirname(path)))
    return (SUITE_ORDER.index(scenario) if scenario in SUITE_ORDER else len(SUITE_ORDER)), path


def pytest_collection_modifyitems(items):
    items[:] = sorted(items, key=_suite)  # sorted() is stable: tests keep their order inside a file


# What the database nodes' services were doing when the first test failed (later failures are mostly its
# consequences). PGHA_FAILURE_DIGEST=FILE: tests/molecule.sh prints it, since CI keeps only the end of
# its output and the lab is gone by then. Per node: whether each service runs, what listens on the
# PostgreSQL, Patroni and etcd ports, and the service's last log lines that are not Patroni's routine.
DIGEST_COMMAND = (
    "for u in $(systemctl list-units --all --plain --no-legend 'postgresql@*' patroni.service etcd.service "
    "pgha-handover.service 2>/dev/null | awk '{print $1}'); do printf '%s=%s ' \"$u\" \"$(systemctl is-active $u)\"; "
    "done; echo; echo \"listening: $(ss -Hltn 2>/dev/null | awk '{print $4}' | grep -E ':(5432|8008|2379)$' | tr '\\n' ' ')\"; "
    "for f in /var/lib/postgresql/*/main/pgha.fenced; do [ -e \"$f\" ] && echo \"$f: $(cat \"$f\")\"; done; "
    "journalctl --no-pager -o short-precise -u patroni -u etcd -u 'postgresql@*' -n 400 2>/dev/null "
    "| grep -vE 'no action|Lock owner|Loop time exceeded|^-- ' | tail -n 4")


def _digest(path, title):
    import subprocess
    lines = [title]
    for host in ("pg1", "pg2", "pg3", "pg4"):
        try:
            out = subprocess.run(["podman", "exec", host, "sh", "-c", DIGEST_COMMAND], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, universal_newlines=True, timeout=15, check=False)
        except subprocess.TimeoutExpired:
            lines.append("%s: no answer within 15 s" % host)
            continue
        if out.returncode == 0:
            lines += ["%s: %s" % (host, line[:300]) for line in out.stdout.splitlines() if line.strip()]
        elif "no such container" not in out.stdout:
            lines.append("%s: %s" % (host, (out.stdout.strip().splitlines() or ["podman exec failed"])[-1][:300]))
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


class _FailureDigest:
    """A plugin, not a conftest hook: pytest calls a conftest's runtest hooks only for the tests under its
    own directory, and the other suites' tests live in theirs."""

    @staticmethod
    def pytest_runtest_logreport(report):
        path = os.environ.get("PGHA_FAILURE_DIGEST")
        if path and report.failed and not os.path.exists(path):
            _digest(path, "first failure: %s (%s)" % (report.nodeid.split("::")[-1], report.when))


def pytest_configure(config):
    config.pluginmanager.register(_FailureDigest(), "pgha-failure-digest")
