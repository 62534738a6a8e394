# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install the collections requirements.yml lists, and only those, without Galaxy.

Galaxy is not reachable from every machine that runs pgha's tests; PyPI is. The
`ansible` package on PyPI bundles the collections, so this downloads one pinned
`ansible` wheel (pip download, cached under .cache/wheels), extracts each
declared collection from it into DEST/ansible_collections, checks its version
against the declared range, and removes any other collection found there (the
checkout's own pgha/cluster link is kept).

    python tools/install_collections.py [--wheel ansible==12.3.0] [--dest .collections]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_WHEEL = "ansible==12.3.0"


def declared(path):
    with open(path) as handle:
        data = yaml.safe_load(handle) or {}
    return [(c["name"], str(c.get("version") or "*")) for c in data.get("collections") or []]


def fetch_wheel(spec, cache):
    os.makedirs(cache, exist_ok=True)
    name, version = spec.split("==")
    prefix = "%s-%s-" % (name, version)
    found = [f for f in os.listdir(cache) if f.startswith(prefix) and f.endswith(".whl")]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", cache, spec], check=True)
        found = [f for f in os.listdir(cache) if f.startswith(prefix) and f.endswith(".whl")]
    if not found:
        sys.exit("install-collections: pip download %s left no wheel in %s" % (spec, cache))
    return os.path.join(cache, sorted(found)[-1])


def satisfies(version, requirement):
    if requirement in ("*", ""):
        return True
    return Version(version) in SpecifierSet(requirement.replace(" ", ""))


def install(wheel, collections, dest):
    root = os.path.join(dest, "ansible_collections")
    os.makedirs(root, exist_ok=True)
    installed = []
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for fqcn, requirement in collections:
            namespace, name = fqcn.split(".")
            prefix = "ansible_collections/%s/%s/" % (namespace, name)
            members = [n for n in names if n.startswith(prefix)]
            if not members:
                sys.exit("install-collections: %s is not in %s" % (fqcn, os.path.basename(wheel)))
            manifest = json.loads(archive.read(prefix + "MANIFEST.json"))
            version = manifest["collection_info"]["version"]
            if not satisfies(version, requirement):
                sys.exit("install-collections: %s %s in %s does not satisfy %s: pin another wheel with --wheel"
                         % (fqcn, version, os.path.basename(wheel), requirement))
            target = os.path.join(root, namespace, name)
            current = os.path.join(target, "MANIFEST.json")
            if os.path.isfile(current) and json.load(open(current))["collection_info"]["version"] == version:
                installed.append((fqcn, version, "kept"))
                continue
            shutil.rmtree(target, ignore_errors=True)
            for member in members:
                if member.endswith("/"):
                    continue
                path = os.path.join(root, member[len("ansible_collections/"):])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with archive.open(member) as src, open(path, "wb") as out:
                    shutil.copyfileobj(src, out)
            installed.append((fqcn, version, "installed"))
    return installed


def prune(dest, collections, keep):
    """Remove collections that are not declared (only what is declared is visible)."""
    root = os.path.join(dest, "ansible_collections")
    wanted = set(tuple(fqcn.split(".")) for fqcn, dummy in collections) | set(keep)
    removed = []
    for namespace in sorted(os.listdir(root)):
        ns_path = os.path.join(root, namespace)
        if not os.path.isdir(ns_path) or os.path.islink(ns_path):
            continue
        for name in sorted(os.listdir(ns_path)):
            path = os.path.join(ns_path, name)
            if (namespace, name) in wanted:
                continue
            if os.path.islink(path):
                os.unlink(path)
            else:
                shutil.rmtree(path)
            removed.append("%s.%s" % (namespace, name))
        if not os.listdir(ns_path):
            os.rmdir(ns_path)
    return removed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--requirements", default=os.path.join(TOP, "requirements.yml"))
    parser.add_argument("--wheel", default=os.environ.get("PGHA_COLLECTIONS_WHEEL", DEFAULT_WHEEL),
                        help="the pinned ansible wheel the collections come from (default %(default)s)")
    parser.add_argument("--dest", default=os.path.join(TOP, ".collections"))
    parser.add_argument("--cache", default=os.path.join(TOP, ".cache", "wheels"))
    parser.add_argument("--keep", action="append", default=["pgha.cluster"],
                        help="a collection (namespace.name) already in DEST to leave in place")
    args = parser.parse_args()
    collections = declared(args.requirements)
    wheel = fetch_wheel(args.wheel, args.cache)
    for fqcn, version, what in install(wheel, collections, args.dest):
        print("%s %s %s" % (fqcn, version, what))
    for fqcn in prune(args.dest, collections, [tuple(k.split(".")) for k in args.keep]):
        print("%s removed (not declared in %s)" % (fqcn, os.path.basename(args.requirements)))


if __name__ == "__main__":
    main()
