import json

import pytest

from ansible.module_utils.testing import patch_module_args


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with args; return (exit code, parsed JSON result)."""
    def _run(module, args):
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exc:
                module.main()
        out = capsys.readouterr().out
        return exc.value.code, json.loads(out)
    return _run


@pytest.fixture(autouse=True)
def no_console_sessions(monkeypatch):
    """The modules that PAUSE PgBouncer open its admin consoles ahead with a real psql
    (subprocess, not run_command): here none is opened, so pause_all falls back to
    admin(), whose psql goes through the run_command the tests record."""
    from ansible_collections.pgha.cluster.plugins.modules import patroni_switchover, pg_demote, pg_restart
    monkeypatch.setattr(pg_demote, "open_consoles", lambda *args, **kwargs: [])
    monkeypatch.setattr(pg_restart, "open_consoles", lambda *args, **kwargs: [])
    monkeypatch.setattr(patroni_switchover, "open_consoles", lambda *args, **kwargs: [])
