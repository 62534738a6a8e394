"""The collection declares what it uses, and ships only what users need."""
import os
import re
import subprocess

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Collections every ansible-core has.
BUILTIN = {"ansible.builtin", "ansible.legacy", "pgha.cluster"}
FQCN = re.compile(r"(?<![\w.])(?:group/)?([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*")
SHIPPED = ("roles", "playbooks", "plugins")


def load(name):
    with open(os.path.join(ROOT, name)) as handle:
        return yaml.safe_load(handle)


def tracked(prefixes):
    out = subprocess.run(["git", "ls-files"] + list(prefixes), cwd=ROOT, check=True, capture_output=True, text=True)
    return [p for p in out.stdout.splitlines() if p.endswith((".yml", ".yaml", ".j2"))]


def used_collections():
    """Collection names referenced as namespace.name.plugin in YAML and templates."""
    used = {}
    for path in tracked(SHIPPED):
        with open(os.path.join(ROOT, path)) as handle:
            for line in handle:
                code = line.split("#", 1)[0]
                for match in FQCN.finditer(code):
                    name = match.group(1)
                    if name.split(".")[0] in ("community", "ansible", "containers", "kubernetes.core"):
                        used.setdefault(name, path)
    return used


def test_galaxy_and_requirements_declare_the_same_ranges():
    galaxy = load("galaxy.yml")["dependencies"]
    requirements = {c["name"]: c["version"] for c in load("requirements.yml")["collections"]}
    assert galaxy == requirements


def test_every_collection_used_is_declared():
    declared = set(load("galaxy.yml")["dependencies"]) | BUILTIN
    used = used_collections()
    assert "community.postgresql" in used      # the scan finds what is there
    undeclared = {name: path for name, path in used.items() if name not in declared}
    assert not undeclared, "used but not declared in galaxy.yml/requirements.yml: %s" % undeclared


def test_every_declared_collection_is_used():
    used = used_collections()
    unused = [name for name in load("galaxy.yml")["dependencies"] if name not in used]
    assert not unused, "declared but never used: %s" % unused


def test_build_leaves_development_files_out():
    ignored = set(load("galaxy.yml")["build_ignore"])
    for path in ("lab", "bench", "molecule", "tests", "tools", "Makefile", "ansible.cfg", "inventories/lab", ".ci",
                 ".collections", ".lab"):
        assert path in ignored, path


def test_no_placeholder_urls():
    galaxy = load("galaxy.yml")
    for key in ("repository", "documentation", "homepage", "issues"):
        assert "example.invalid" not in str(galaxy.get(key) or "")


def test_requires_ansible_matches_the_tested_core():
    with open(os.path.join(ROOT, "requirements.txt")) as handle:
        core = [line.strip() for line in handle if line.startswith("ansible-core")][0]
    low, high = re.match(r"ansible-core>=([0-9.]+),<([0-9.]+)$", core).groups()
    assert load("meta/runtime.yml")["requires_ansible"] == ">=%s.0,<%s.0" % (low, high)


def test_no_deprecated_postgresql_set():
    assert not [p for p in tracked(SHIPPED) if "community.postgresql.postgresql_set:" in open(os.path.join(ROOT, p)).read()]


def test_every_filter_has_its_own_documentation():
    import importlib
    names = {}
    modules = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "plugins", "filter"))
                     if f.endswith(".py") and not f.startswith("_"))
    assert "topology" in modules
    for module in modules:
        plugin = importlib.import_module("ansible_collections.pgha.cluster.plugins.filter.%s" % module)
        names.update(plugin.FilterModule().filters())
    assert len(names) >= 21
    docs = sorted(f[:-4] for f in os.listdir(os.path.join(ROOT, "plugins", "filter")) if f.endswith(".yml"))
    assert docs == sorted(names)
    for name in names:
        doc = load(os.path.join("plugins", "filter", name + ".yml"))
        assert doc["DOCUMENTATION"]["name"] == name
        assert "pgha.cluster.%s" % name in doc["EXAMPLES"] and doc["RETURN"]["_value"]["type"]
