"""pgha_logical_backup.py (installed by the pgbackrest role on the repository
host; stdlib only, so it is loaded from its file): database names are data."""
import os
import shutil
import subprocess

import pytest

from scripts import load_script, script_path

PATH = script_path("pgbackrest", "pgha_logical_backup.py")
lb = load_script("pgbackrest", "pgha_logical_backup.py")


@pytest.mark.parametrize("name", ["-f.pgpass", "../escape", "..", ".", "a/b", "two\nlines", "--help", "db name",
                                  "é", "x" * 63, "-", "'; DROP DATABASE x; --"])
def test_a_dump_file_name_is_never_an_option_a_hidden_file_or_a_path(name):
    file_name = lb.dump_file_name(name)
    assert file_name.startswith("db_") and file_name.endswith(".dump")
    assert "/" not in file_name and "\n" not in file_name and ".." not in file_name
    assert os.path.basename(file_name) == file_name and len(file_name) < 256


def test_distinct_names_get_distinct_files():
    names = ["a.b", "a%2Eb", "a-b", "a%2Db", "A.b"]
    assert len(set(lb.dump_file_name(n) for n in names)) == len(names)


@pytest.mark.parametrize("value, quoted", [
    ("postgres", "'postgres'"),
    ("it's", "'it\\'s'"),
    ("back\\slash", "'back\\\\slash'"),
    ("host=evil dbname=x", "'host=evil dbname=x'"),
])
def test_conninfo_values_are_quoted(value, quoted):
    assert lb.conninfo_quote(value) == quoted
    assert lb.conninfo({"dbname": value}) == "dbname=" + quoted


def test_names_with_newlines_survive_the_listing():
    assert lb.split_names("a\x01two\nlines\x01-f.pgpass\n") == ["a", "two\nlines", "-f.pgpass"]
    assert lb.split_names("\n") == []


def test_cipher_pass_comes_from_the_global_section_only(tmp_path):
    conf = tmp_path / "pgbackrest.conf"
    conf.write_text("[main]\nrepo1-cipher-pass=wrong\n[global]\nrepo1-path=/x\nrepo1-cipher-pass=s3cret=x\n")
    assert lb.cipher_pass(str(conf)) == "s3cret=x"
    assert lb.cipher_pass(str(tmp_path / "missing")) is None


def test_run_refuses_to_write_in_clear_without_a_passphrase(tmp_path, capsys):
    conf = tmp_path / "pgbackrest.conf"
    conf.write_text("[global]\nrepo1-path=/x\n")
    config = {"pgbackrest_conf": str(conf), "encrypt": True, "nodes": [], "dir": str(tmp_path)}
    with pytest.raises(RuntimeError, match="refusing to write unencrypted dumps"):
        lb.run(config)
    assert os.listdir(str(tmp_path)) == ["pgbackrest.conf"]


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl")
def test_encrypt_then_decrypt_round_trip(tmp_path):
    conf = tmp_path / "pgbackrest.conf"
    conf.write_text("[global]\nrepo1-cipher-pass=correct horse\n")
    out = tmp_path / "x.dump.enc"
    rc, err = lb.encrypted_copy(["printf", "PGDMP payload"], str(out), "correct horse")
    assert rc == 0, err
    assert b"PGDMP" not in out.read_bytes()
    config = tmp_path / "c.json"
    config.write_text('{"pgbackrest_conf": "%s"}' % conf)
    plain = subprocess.run(["python3", PATH, "decrypt", str(config), str(out)], stdout=subprocess.PIPE, check=False)
    assert plain.returncode == 0 and plain.stdout == b"PGDMP payload"
    conf.write_text("[global]\nrepo1-cipher-pass=wrong\n")
    wrong = subprocess.run(["python3", PATH, "decrypt", str(config), str(out)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=False)
    assert wrong.returncode != 0 and wrong.stdout != b"PGDMP payload"
