"""Make this checkout importable as ansible_collections.pgha.cluster."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _collections_root():
    # Already inside an ansible_collections/pgha/cluster tree (ansible-test, the Makefile link)?
    parts = ROOT.split(os.sep)
    if parts[-3:-1] == ["ansible_collections", "pgha"] and parts[-1] == "cluster":
        return os.sep.join(parts[:-3])
    link_parent = os.path.join(ROOT, ".collections", "ansible_collections", "pgha")
    os.makedirs(link_parent, exist_ok=True)
    link = os.path.join(link_parent, "cluster")
    if not os.path.islink(link):
        os.symlink(os.path.join("..", "..", ".."), link)
    return os.path.join(ROOT, ".collections")


sys.path.insert(0, _collections_root())
