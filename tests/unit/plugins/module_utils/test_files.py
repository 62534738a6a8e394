# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pgha.cluster.plugins.module_utils.files import changed_tags, file_problems, unit_actions

RUNNING = {"active": True, "enabled": True, "disabled": False}
STOPPED = {"active": False, "enabled": False, "disabled": True}


def test_file_problems_name_each_bad_spec():
    problems = file_problems([
        {"path": "etc/x", "content": ""},
        {"path": "/etc/y", "state": "link"},
        {"path": "/etc/z"},
        {"path": "/etc/w", "content": "", "mode": "rw"},
        {"path": "/etc/ok", "content": "", "mode": "0640"},
        {"path": "/etc/d", "state": "directory", "mode": 755},
        {"path": "/etc/copy", "src": "/etc/pgha/tls/host.key"},
        {"path": "/etc/both", "src": "/etc/a", "content": "x"},
        {"path": "/etc/rel", "src": "host.key"},
    ])
    assert problems == [
        "file 0 (etc/x): path must be absolute",
        "file 1 (/etc/y): state must be file, directory, absent or lines_absent, not 'link'",
        "file 2 (/etc/z): a file needs content",
        "file 3 (/etc/w): mode must be octal text such as '0644', not 'rw'",
        "file 7 (/etc/both): content or src, not both",
        "file 8 (/etc/rel): src must be an absolute path on the host",
    ]


def test_changed_tags():
    specs = [{"path": "/a", "tag": "config"}, {"path": "/b", "tag": "config"}, {"path": "/c", "tag": "unit"},
             {"path": "/d"}]
    assert changed_tags(specs, ["/b", "/d"]) == ["config"]
    assert changed_tags(specs, []) == []


@pytest.mark.parametrize("unit, state, tags, expected", [
    ({"name": "u", "started": True, "enabled": True}, RUNNING, [], []),
    ({"name": "u", "started": True, "enabled": True}, STOPPED, [], [["enable", "u"], ["start", "u"]]),
    # Started here: not restarted again for its changed configuration.
    ({"name": "u", "started": True, "restart_on": ["c"]}, STOPPED, ["c"], [["start", "u"]]),
    ({"name": "u", "started": True, "restart_on": ["c"]}, RUNNING, ["c"], [["restart", "u"]]),
    ({"name": "u", "started": True, "reload_on": ["c"]}, RUNNING, ["c"], [["reload", "u"]]),
    ({"name": "u", "started": True, "reload_on": ["c"], "restart_on": ["k"]}, RUNNING, ["c", "k"], [["restart", "u"]]),
    ({"name": "u", "started": True, "reload_on": ["c"]}, RUNNING, ["other"], []),
    ({"name": "u", "started": False, "enabled": False}, RUNNING, [], [["disable", "u"], ["stop", "u"]]),
    ({"name": "u", "started": False, "enabled": False, "restart_on": ["c"]}, STOPPED, ["c"], []),
    # A static unit is neither enabled nor disabled.
    ({"name": "u", "enabled": True}, {"active": False, "enabled": True, "disabled": True}, [], []),
    ({"name": "u", "enabled": False}, {"active": False, "enabled": True, "disabled": True}, [], []),
    # Left as it is (started unset) but running: a changed file still restarts it.
    ({"name": "u", "restart_on": ["c"]}, RUNNING, ["c"], [["restart", "u"]]),
])
def test_unit_actions(unit, state, tags, expected):
    assert unit_actions([unit], tags, {"u": state}) == expected


def test_a_change_made_earlier_restarts_a_running_unit_only():
    unit = {"name": "u", "started": True, "restart": True}
    assert unit_actions([unit], [], {"u": RUNNING}) == [["restart", "u"]]
    assert unit_actions([unit], [], {"u": STOPPED}) == [["start", "u"]]
    assert unit_actions([{"name": "u", "reload": True}], [], {"u": RUNNING}) == [["reload", "u"]]


def test_without_lines_keeps_the_others():
    from ansible_collections.pgha.cluster.plugins.module_utils.files import without_lines
    text = "ssh-ed25519 AAAA admin@laptop\nssh-ed25519 BBBB pgbackrest@pg1\nssh-ed25519 CCCC pgbackrest@backup1\n"
    assert without_lines(text, r' pgbackrest@\S+$') == "ssh-ed25519 AAAA admin@laptop\n"
    assert without_lines("no newline at end", r'x$') == "no newline at end"


def test_lines_absent_needs_a_regexp_that_compiles():
    assert file_problems([{"path": "/a", "state": "lines_absent"}]) == ["file 0 (/a): lines_absent needs a regexp"]
    assert file_problems([{"path": "/a", "state": "lines_absent", "regexp": "("}])[0].startswith(
        "file 0 (/a): regexp does not compile")


def test_a_validate_command_must_name_the_file_it_checks():
    assert file_problems([{"path": "/a", "content": "", "validate": "promtool check config %s"}]) == []
    assert file_problems([{"path": "/a", "content": "", "validate": "promtool check config"}]) == [
        "file 0 (/a): validate must name the file to check as a word %s, as in 'promtool check config %s'"]
    assert file_problems([{"path": "/a", "content": "", "validate": "sh -c 'x %s' \"unclosed"}]) == [
        "file 0 (/a): validate must name the file to check as a word %s, as in 'promtool check config %s'"]
    assert file_problems([{"path": "/d", "state": "directory", "validate": "true %s"}]) == [
        "file 0 (/d): validate is for a file's content"]
