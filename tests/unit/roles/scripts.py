"""Load a stdlib-only program a role installs on the hosts (roles/ROLE/files/NAME)
as a module, for unit tests."""
import importlib.machinery
import importlib.util
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def script_path(role, name):
    return os.path.join(ROOT, "roles", role, "files", name)


def load_script(role, name):
    module_name = os.path.splitext(name)[0]
    loader = importlib.machinery.SourceFileLoader(module_name, script_path(role, name))
    spec = importlib.util.spec_from_loader(module_name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
