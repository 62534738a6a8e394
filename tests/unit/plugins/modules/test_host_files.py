# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import pwd
import subprocess

import pytest

from ansible_collections.pgha.cluster.plugins.module_utils.files import file_problems
from ansible_collections.pgha.cluster.plugins.modules import host_files

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


class Failed(Exception):
    pass


class FakeModule(object):
    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self._diff = True

    def fail_json(self, msg, **kwargs):
        raise Failed(msg)

    def run_command(self, argv):
        self.ran = getattr(self, "ran", []) + [argv]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr


def spec(path, **kw):
    return dict(dict(path=str(path), content="a\n", owner=ME, group=MY_GROUP, mode="0640"), **kw)


def test_a_file_is_written_then_left_alone(tmp_path):
    diffs = []
    assert host_files.ensure(FakeModule(), spec(tmp_path / "f"), diffs) is True
    assert (tmp_path / "f").read_text() == "a\n"
    assert oct(os.stat(tmp_path / "f").st_mode & 0o7777) == "0o640"
    assert diffs and diffs[0]["after"] == "a\n"
    assert host_files.ensure(FakeModule(), spec(tmp_path / "f"), []) is False


def test_a_mode_change_alone_is_a_change(tmp_path):
    host_files.ensure(FakeModule(), spec(tmp_path / "f"), [])
    assert host_files.ensure(FakeModule(), spec(tmp_path / "f", mode="0600"), []) is True
    assert oct(os.stat(tmp_path / "f").st_mode & 0o7777) == "0o600"


def test_check_mode_reports_and_writes_nothing(tmp_path):
    assert host_files.ensure(FakeModule(check_mode=True), spec(tmp_path / "f"), []) is True
    assert not (tmp_path / "f").exists()
    # A user a package of this run would create: a change in check mode, not a failure.
    assert host_files.ensure(FakeModule(check_mode=True), spec(tmp_path / "g", owner="no-such-user-pgha"), []) is True
    with pytest.raises(Failed, match="no such user"):
        host_files.ensure(FakeModule(), spec(tmp_path / "g", owner="no-such-user-pgha"), [])


def test_secrets_are_not_diffed(tmp_path):
    diffs = []
    host_files.ensure(FakeModule(), spec(tmp_path / "f", secret=True), diffs)
    assert diffs == []


def test_directories_and_removal(tmp_path):
    d = tmp_path / "d" / "e"
    assert host_files.ensure(FakeModule(), dict(path=str(d), state="directory", mode="0750"), []) is True
    assert d.is_dir() and oct(os.stat(d).st_mode & 0o7777) == "0o750"
    assert host_files.ensure(FakeModule(), dict(path=str(d), state="directory", mode="0750"), []) is False
    with pytest.raises(Failed, match="directory"):
        host_files.ensure(FakeModule(), dict(path=str(d), state="absent"), [])
    host_files.ensure(FakeModule(), spec(tmp_path / "f"), [])
    assert host_files.ensure(FakeModule(), dict(path=str(tmp_path / "f"), state="absent"), []) is True
    assert not (tmp_path / "f").exists()
    assert host_files.ensure(FakeModule(), dict(path=str(tmp_path / "f"), state="absent"), []) is False


def test_lines_absent_keeps_owner_mode_and_other_lines(tmp_path):
    f = tmp_path / "authorized_keys"
    f.write_text("ssh-ed25519 AAAA admin@laptop\nssh-ed25519 BBBB pgbackrest@pg1\n")
    os.chmod(f, 0o600)
    lines = dict(path=str(f), state="lines_absent", regexp=r" pgbackrest@\S+$")
    assert host_files.ensure(FakeModule(), lines, []) is True
    assert f.read_text() == "ssh-ed25519 AAAA admin@laptop\n"
    assert oct(os.stat(f).st_mode & 0o7777) == "0o600"
    assert host_files.ensure(FakeModule(), lines, []) is False
    assert host_files.ensure(FakeModule(), dict(lines, path=str(tmp_path / "none")), []) is False


def test_a_file_in_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(Failed, match="does not exist"):
        host_files.ensure(FakeModule(), spec(tmp_path / "missing" / "f"), [])


def test_a_file_copied_from_another_on_the_host(tmp_path):
    source = tmp_path / "host.key"
    source.write_bytes(b"KEY\x00bytes\n")
    copy = spec(tmp_path / "exporter.key", src=str(source), secret=True, mode="0600")
    del copy["content"]
    diffs = []
    assert host_files.ensure(FakeModule(), copy, diffs) is True
    assert (tmp_path / "exporter.key").read_bytes() == b"KEY\x00bytes\n" and diffs == []
    assert oct(os.stat(tmp_path / "exporter.key").st_mode & 0o7777) == "0o600"
    assert host_files.ensure(FakeModule(), copy, []) is False
    # A new source (a renewed key) is a change.
    source.write_bytes(b"NEW KEY\n")
    assert host_files.ensure(FakeModule(), copy, []) is True
    assert (tmp_path / "exporter.key").read_bytes() == b"NEW KEY\n"


def test_a_missing_source_fails_except_in_check_mode(tmp_path):
    copy = spec(tmp_path / "exporter.key", src=str(tmp_path / "not-yet.key"))
    del copy["content"]
    # A brand-new host in check mode: the key the TLS role would write is not there yet.
    assert host_files.ensure(FakeModule(check_mode=True), copy, []) is True
    with pytest.raises(Failed, match="its source .*not-yet.key cannot be read"):
        host_files.ensure(FakeModule(), copy, [])
    assert not (tmp_path / "exporter.key").exists()


# A check of the new content (promtool check config %s) before it replaces the file.
CHECK = "sh -c 'grep -q good \"$1\" || { echo \"bad line in $1\" >&2; exit 1; }' check %s"


def test_validated_content_replaces_the_file(tmp_path):
    module = FakeModule()
    assert host_files.ensure(module, spec(tmp_path / "f", content="good\n", validate=CHECK), []) is True
    assert (tmp_path / "f").read_text() == "good\n"
    # The check ran on a copy next to the file, not on the file.
    checked = module.ran[0][-1]
    assert os.path.dirname(checked) == str(tmp_path) and checked != str(tmp_path / "f")
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_content_that_fails_its_check_leaves_the_file_as_it_was(tmp_path):
    (tmp_path / "f").write_text("good\n")
    with pytest.raises(Failed) as failed:
        host_files.ensure(FakeModule(), spec(tmp_path / "f", content="broken\n", validate=CHECK), [])
    assert "its new content fails its check" in str(failed.value) and "bad line in %s" % (tmp_path / "f") in str(failed.value)
    assert (tmp_path / "f").read_text() == "good\n"
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_unchanged_content_is_not_checked_again(tmp_path):
    module = FakeModule()
    host_files.ensure(module, spec(tmp_path / "f", content="good\n"), [])
    assert host_files.ensure(module, spec(tmp_path / "f", content="good\n", validate="false %s"), []) is False
    assert getattr(module, "ran", []) == []


def test_check_mode_does_not_run_the_check(tmp_path):
    module = FakeModule(check_mode=True)
    assert host_files.ensure(module, spec(tmp_path / "f", content="broken\n", validate=CHECK), []) is True
    assert getattr(module, "ran", []) == [] and not (tmp_path / "f").exists()


def test_only_a_secret_file_s_content_is_kept_out_of_the_output():
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    result = ArgumentSpecValidator(host_files.ARGUMENT_SPEC).validate({"secret_files": [
        {"path": "/etc/prometheus/alertmanager.yml", "content": "smtp_auth_password: hunter2-long-secret\n",
         "owner": "root", "group": "prometheus", "mode": "0640", "tag": "alertmanager"},
        {"path": "/etc/pgha/monitoring/exporter.key", "src": "/etc/pgha/tls/host.key", "owner": "prometheus"}]})
    assert result.error_messages == [], result.error_messages
    assert "smtp_auth_password: hunter2-long-secret\n" in result._no_log_values
    assert not {"prometheus", "/etc/prometheus/alertmanager.yml", "root", "/etc/pgha/tls/host.key"} & result._no_log_values
    # The keys a spec left out come back as None, which the file checks read as absent.
    spec = dict(result.validated_parameters["secret_files"][1], secret=True)
    assert spec["content"] is None and file_problems([spec]) == []
