# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgha-logical-backup: pg_dumpall --globals-only and pg_dump -Fc of every
database, from the current primary, into DIR/<UTC time>/, each file
encrypted (openssl aes-256-cbc, PBKDF2) with the repository passphrase.

Runs on the repository host as postgres (pgha-logical-backup.service). It
connects over TLS as the read-only dump role with this host's certificate
(pg_hba: cert, from this host only): no shell on any database node.

  python3 pgha_logical_backup.py run CONFIG.json              take a backup
  python3 pgha_logical_backup.py decrypt CONFIG.json FILE     decrypt one file to stdout

Database names are data, never options or paths: each is passed inside a
quoted conninfo (dbname='...'), and its file is named db_<percent-encoded
name>.dump[.enc], which cannot start with '-' or '.', nor hold '/'.
"""

from __future__ import absolute_import, division, print_function

import datetime
import json
import os
import shutil
import subprocess
import sys
import time

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

SAFE_PGOPTIONS = "-c search_path=pg_catalog,pg_temp"
CIPHER = ["-aes-256-cbc", "-pbkdf2", "-iter", "200000", "-md", "sha256"]


def conninfo_quote(value):
    return "'%s'" % str(value).replace("\\", "\\\\").replace("'", "\\'")


def conninfo(params):
    return " ".join("%s=%s" % (key, conninfo_quote(value)) for key, value in sorted(params.items()))


def dump_file_name(datname):
    """File name of a database's dump: never an option, a hidden file, '..' or a path."""
    return "db_" + quote(datname.encode("utf-8"), safe="").replace(".", "%2E").replace("-", "%2D") + ".dump"


def cipher_pass(path, key="repo1-cipher-pass"):
    """The repository passphrase from pgbackrest.conf ([global]), or None."""
    section = None
    try:
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1]
                elif section == "global" and line.startswith(key + "="):
                    return line.split("=", 1)[1]
    except (IOError, OSError):
        return None
    return None


def node_params(config, host, dbname="postgres"):
    tls = config["tls"]
    return {"host": host, "port": str(config["port"]), "user": config["user"], "dbname": dbname,
            "sslmode": "verify-full", "sslrootcert": tls["ca"], "sslcert": tls["cert"], "sslkey": tls["key"],
            "connect_timeout": "5", "application_name": "pgha-logical-backup"}


def env():
    out = dict(os.environ)
    out.update(PGOPTIONS=SAFE_PGOPTIONS, LC_ALL="C")
    return out


def psql(config, host, sql, dbname="postgres"):
    argv = [config["bin_dir"] + "/psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
            "-d", conninfo(node_params(config, host, dbname)), "-c", sql]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd="/", check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def find_primary(config):
    errors = []
    for host in config["nodes"]:
        rc, out, err = psql(config, host, "SELECT pg_catalog.pg_is_in_recovery()")
        if rc == 0 and out.strip() == "f":
            return host, errors
        errors.append("%s: %s" % (host, (err or out).strip()[-200:] if rc else "in recovery"))
    return None, errors


def split_names(out):
    """Database names psql printed joined by \\x01 (a name may hold newlines)."""
    text = out[:-1] if out.endswith("\n") else out
    return [name for name in text.split("\x01") if name]


def databases(config, host):
    rc, out, err = psql(config, host, "SELECT pg_catalog.string_agg(datname, E'\\x01' ORDER BY datname) "
                                      "FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate")
    if rc != 0:
        raise RuntimeError("cannot list the databases on %s: %s" % (host, err.strip()))
    return split_names(out)


def _with_passphrase(passphrase, argv_before_fd, **popen):
    """Start openssl with the passphrase on a pipe (never in argv or the environment)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(argv_before_fd + ["-pass", "fd:%d" % read_fd], pass_fds=(read_fd,), cwd="/", **popen)
    os.close(read_fd)
    os.write(write_fd, passphrase.encode("utf-8") + b"\n")
    os.close(write_fd)
    return proc


def encrypted_copy(argv, out_path, passphrase):
    """Run argv; its output goes to out_path, through openssl when there is a passphrase."""
    with open(out_path, "wb") as sink:
        if not passphrase:
            proc = subprocess.run(argv, stdout=sink, stderr=subprocess.PIPE, env=env(), cwd="/", check=False)
            return proc.returncode, proc.stderr.decode("utf-8", "replace")
        dump = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd="/")
        enc = _with_passphrase(passphrase, ["openssl", "enc", "-e", "-salt"] + CIPHER,
                               stdin=dump.stdout, stdout=sink, stderr=subprocess.PIPE)
        dump.stdout.close()
        enc_err = enc.communicate()[1]
        dump_err = dump.stderr.read()
        dump.wait()
        return dump.returncode or enc.returncode, (dump_err + enc_err).decode("utf-8", "replace")


def decrypt(config, path):
    sys.stdout.flush()
    if not path.endswith(".enc"):
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, sys.stdout.buffer)
        return 0
    passphrase = cipher_pass(config["pgbackrest_conf"])
    if not passphrase:
        raise RuntimeError("no repo1-cipher-pass in %s to decrypt %s" % (config["pgbackrest_conf"], path))
    return _with_passphrase(passphrase, ["openssl", "enc", "-d"] + CIPHER + ["-in", path]).wait()


def run(config):
    passphrase = cipher_pass(config["pgbackrest_conf"]) if config.get("encrypt", True) else None
    if config.get("encrypt", True) and not passphrase:
        raise RuntimeError("no repo1-cipher-pass in %s: refusing to write unencrypted dumps "
                           "(set pgbackrest_logical_encrypt: false to accept that)" % config["pgbackrest_conf"])
    primary, errors = find_primary(config)
    if not primary:
        raise RuntimeError("no primary among %s (%s)" % (", ".join(config["nodes"]), "; ".join(errors)))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    final = os.path.join(config["dir"], stamp)
    work = final + ".partial"
    os.makedirs(work, mode=0o700)
    suffix = ".enc" if passphrase else ""
    manifest = {"primary": primary, "started": stamp, "encrypted": bool(passphrase),
                "cipher": " ".join(CIPHER) if passphrase else None, "databases": {}}
    failed = []
    argv = [config["bin_dir"] + "/pg_dumpall", "--globals-only", "--no-role-passwords",
            "-d", conninfo(node_params(config, primary))]
    rc, err = encrypted_copy(argv, os.path.join(work, "globals.sql" + suffix), passphrase)
    if rc:
        failed.append("globals: %s" % err.strip()[-300:])
    for name in databases(config, primary):
        file_name = dump_file_name(name) + suffix
        argv = [config["bin_dir"] + "/pg_dump", "-Fc", "-d", conninfo(node_params(config, primary, name))]
        rc, err = encrypted_copy(argv, os.path.join(work, file_name), passphrase)
        manifest["databases"][file_name] = name
        if rc:
            failed.append("%r: %s" % (name, err.strip()[-300:]))
    manifest["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest["failed"] = failed
    with open(os.path.join(work, "MANIFEST.json"), "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
    if failed:
        raise RuntimeError("logical backup incomplete, kept in %s: %s" % (work, "; ".join(failed)))
    os.rename(work, final)
    latest = os.path.join(config["dir"], "latest")
    tmp = latest + ".tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(final, tmp)
    os.rename(tmp, latest)
    prune(config)
    print("pgha-logical-backup: %s from %s (%d databases%s)"
          % (final, primary, len(manifest["databases"]), ", encrypted" if passphrase else ""))
    return 0


def prune(config):
    """Remove finished backups older than the retention, each one reported."""
    horizon = time.time() - int(config["retention_days"]) * 86400
    for name in sorted(os.listdir(config["dir"])):
        path = os.path.join(config["dir"], name)
        if name.startswith("20") and not name.endswith(".partial") and os.path.isdir(path) \
                and not os.path.islink(path) and os.path.getmtime(path) < horizon:
            shutil.rmtree(path)
            print("pgha-logical-backup: removed %s (older than %s days)" % (path, config["retention_days"]))


def main(argv):
    if len(argv) < 3 or argv[1] not in ("run", "decrypt") or (argv[1] == "decrypt" and len(argv) != 4):
        sys.stderr.write(__doc__)
        return 2
    os.umask(0o077)
    with open(argv[2]) as handle:
        config = json.load(handle)
    try:
        if argv[1] == "decrypt":
            return decrypt(config, argv[3])
        return run(config)
    except RuntimeError as exc:
        sys.stderr.write("pgha-logical-backup: %s\n" % exc)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
