"""Every SQL session pgha opens as a superuser searches pg_catalog only, so an
object a database owner creates (public.obj_description, an operator...) can
never stand in for a built-in (issue 10). These checks read the collection's
own files: a new task or call without the safe search_path fails here."""
import os
import re

import yaml

from ansible_collections.pgha.cluster.plugins.module_utils import pg

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAFE = "-c search_path=pg_catalog,pg_temp"


def yaml_files():
    for top in ("roles", "playbooks"):
        for base, dummy, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith((".yml", ".yaml")):
                    yield os.path.join(base, name)


def tasks_in(node, inherited=None):
    """(task, module_defaults in force) for every task in a loaded YAML document."""
    if isinstance(node, list):
        for item in node:
            yield from tasks_in(item, inherited)
    elif isinstance(node, dict):
        defaults = dict(inherited or {})
        defaults.update(node.get("module_defaults") or {})
        yield node, defaults
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            if key in node:
                yield from tasks_in(node[key], defaults)


def safe_options(args):
    return SAFE in str(((args or {}).get("connect_params") or {}).get("options", ""))


def included_with_defaults(docs):
    """Task files included from a block whose module_defaults set the safe options."""
    found = {}
    for path, doc in docs.items():
        for task, defaults in tasks_in(doc):
            for key in ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks"):
                target = task.get(key)
                target = target.get("file") if isinstance(target, dict) else target
                if target and safe_options(defaults.get("group/community.postgresql.all")):
                    found[os.path.normpath(os.path.join(os.path.dirname(path), target))] = defaults
    return found


def test_every_community_postgresql_task_runs_with_a_safe_search_path():
    unsafe, seen = [], 0
    docs = {}
    for path in yaml_files():
        with open(path) as handle:
            docs[path] = yaml.safe_load(handle)
    inherited = included_with_defaults(docs)
    for path, doc in docs.items():
        for task, defaults in tasks_in(doc, inherited.get(path)):
            for key, args in task.items():
                if key.startswith("community.postgresql."):
                    seen += 1
                    if not (safe_options(args if isinstance(args, dict) else {})
                            or safe_options(defaults.get("group/community.postgresql.all"))):
                        unsafe.append("%s: %s" % (os.path.relpath(path, ROOT), task.get("name")))
    assert seen >= 8, "the scan found too few community.postgresql tasks to be reading the files"
    assert unsafe == []


def test_psql_calls_of_the_modules_carry_pgoptions(monkeypatch):
    seen = {}

    class Module(object):
        def run_command(self, argv, **kwargs):
            seen.update(kwargs.get("environ_update") or {})
            return 0, "", ""
    pg.run_psql(Module(), "/usr/lib/postgresql/15/bin", 5432, "SELECT 1")
    assert seen["PGOPTIONS"] == SAFE


def test_no_module_starts_a_libpq_client_without_the_safe_environment():
    """Every module that runs psql, pg_rewind or pg_basebackup passes libpq_env (or uses run_psql)."""
    offenders = []
    base = os.path.join(ROOT, "plugins")
    for folder, dummy, files in os.walk(base):
        for name in files:
            if not name.endswith(".py"):
                continue
            text = open(os.path.join(folder, name)).read()
            for match in re.finditer(r"'(psql|pg_rewind)'|\"/psql\"", text):
                tail = text[match.end():match.end() + 600]
                if "libpq_env(" not in tail and "pgbouncer" not in text[max(0, match.start() - 400):match.start()]:
                    offenders.append("%s: %s" % (name, match.group(0)))
    assert offenders == []
