# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgha_archive: the decisions of PostgreSQL's archive_command on every pgha
database node (installed by the pgha.cluster.postgresql role; archive_mode =
always). The command itself is the shell script pgha-archive:

    archive_command = '/usr/local/sbin/pgha-archive pgbackrest --stanza=NAME archive-push "%p"'

On the primary it runs the pgBackRest command it is given (no interpreter is
started): one archiver writes to the repositories, as pgBackRest requires.

On a standby it archives nothing: it *holds* each WAL file it received until
the file is in every repository (PostgreSQL keeps a file whose archive_command
failed and asks again). So when the primary dies with an archive backlog, the
standby promoted in its place still has the old timeline's WAL up to the switch
point, and as the new primary pushes it: point-in-time recovery stays
continuous across the failover. Files of an older timeline that lie past that
timeline's switch point (a former primary's WAL that no restore along the
current timeline reads) are let go.

On the primary, a file of an older timeline that the former primary already
archived with other bytes (pgBackRest refuses a different checksum) counts as
archived: the repositories hold that segment. On the current timeline such a
refusal stays an error (two writers).

Runs in the data directory (PostgreSQL's working directory for archive_command).
Standard library only; exit 0 means archived (or nothing to keep).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import sys
import time

CONFIG = "/etc/pgbackrest/pgbackrest.conf"
# A standby waits up to 11 s for the primary's push (checks after 1, 2, 4, 7
# and 11 s), then fails so that PostgreSQL keeps the file and asks again.
HOLD_WAITS = (1.0, 1.0, 2.0, 3.0, 4.0)
PROMOTION_SETTLE = 2.0
SEGMENT_SIZE = 16 * 1024 * 1024
_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")
_HISTORY = re.compile(r"^([0-9A-F]{8})\.history$")
_FILE_TLI = re.compile(r"^([0-9A-F]{8})[0-9A-F]{16}(\.partial|\.[0-9A-F]{8}\.backup)?$")


def say(text):
    sys.stderr.write("pgha_archive: %s\n" % text)


def parse_lsn(text):
    high, low = text.strip().split("/")
    return (int(high, 16) << 32) | int(low, 16)


def file_timeline(name):
    """Timeline of a WAL segment, partial segment, backup history or timeline
    history file name; None for anything else."""
    match = _FILE_TLI.match(name) or _HISTORY.match(name)
    return int(match.group(1), 16) if match else None


def segment_start(name, segment_size=SEGMENT_SIZE):
    """Start LSN of a full WAL segment name, None for other files."""
    match = _SEGMENT.match(name)
    if not match:
        return None
    log, seg = int(match.group(2), 16), int(match.group(3), 16)
    return log * 0x100000000 + seg * segment_size


def parse_history(text):
    """{parent timeline: switch LSN} from a timeline history file."""
    switches = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit() and "/" in parts[1]:
            try:
                switches[int(parts[0])] = parse_lsn(parts[1])
            except ValueError:
                continue
    return switches


def current_timeline(names):
    """The newest timeline whose history file is in pg_wal (1 without any)."""
    timelines = [int(m.group(1), 16) for m in (_HISTORY.match(n) for n in names) if m]
    return max(timelines + [1])


def past_switch(name, current, switches, segment_size=SEGMENT_SIZE):
    """True when a full segment of an older timeline begins at or after that
    timeline's switch point, or holds it (the newer timeline's segment of
    that number carries the WAL up to the switch)."""
    tli = file_timeline(name)
    start = segment_start(name, segment_size)
    if tli is None or start is None or tli >= current or tli not in switches:
        return False
    return start + segment_size > switches[tli]


def read_repos(text):
    """Repository numbers configured in pgbackrest.conf."""
    return sorted(set(int(n) for n in re.findall(r"^\s*repo(\d+)-", text or "", re.MULTILINE)))


def stanza_of(argv):
    for arg in argv:
        if arg.startswith("--stanza="):
            return arg.split("=", 1)[1]
    return None


def archive_dir_name(entries, version):
    """The newest archive id of this PostgreSQL major version ('15-2')."""
    ids = []
    for entry in entries:
        match = re.match(r"^(\d+)-(\d+)$", entry)
        if match and match.group(1) == version:
            ids.append((int(match.group(2)), entry))
    return max(ids)[1] if ids else None


def listed(name, entries):
    """Is the WAL file in a repo-ls listing (stored as NAME-CHECKSUM[.ext])?"""
    for entry in entries:
        base = entry.rsplit("/", 1)[-1]
        if base == name or base.startswith(name + "-") or base.startswith(name + "."):
            return True
    return False


def pgbackrest_ls(pgbackrest, stanza, repo, path):
    argv = [pgbackrest, "--stanza=%s" % stanza, "--repo=%d" % repo, "--output=json", "--log-level-console=error",
            "repo-ls", path]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=60, check=False)
    if proc.returncode != 0:
        raise OSError("pgbackrest repo-ls %s on repo%d failed (exit %d): %s"
                      % (path, repo, proc.returncode, (proc.stderr or proc.stdout).strip()[:300]))
    return list(json.loads(proc.stdout or "{}").keys())


ID_CACHE = "/var/spool/pgbackrest/pgha-archive-ids.json"
ID_CACHE_SECONDS = 600


def cached_ids(path=ID_CACHE, now=None):
    """Archive ids per repository read in the last ten minutes (repo-ls is a
    round trip, over SSH for a repository host)."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError, ValueError):
        return {}
    now = time.time() if now is None else now
    return dict((int(repo), entry[0]) for repo, entry in data.items()
                if isinstance(entry, list) and len(entry) == 2 and now - entry[1] < ID_CACHE_SECONDS)


def save_ids(ids, path=ID_CACHE):
    try:
        tmp = "%s.%d" % (path, os.getpid())
        with open(tmp, "w") as handle:
            json.dump(dict((str(repo), [value, time.time()]) for repo, value in ids.items()), handle)
        os.rename(tmp, path)
    except (IOError, OSError):
        pass


def missing_from(name, stanza, repos, version, pgbackrest="pgbackrest", ls=pgbackrest_ls, ids=None):
    """The repositories that do not hold the WAL file yet. ``ids`` caches
    each repository's archive id (filled in as they are read)."""
    ids = {} if ids is None else ids
    missing = []
    for repo in repos:
        if repo not in ids:
            found = archive_dir_name(ls(pgbackrest, stanza, repo, "archive/%s" % stanza), version)
            if found is None:
                missing.append(repo)
                continue
            ids[repo] = found
        if _HISTORY.match(name):
            path = "archive/%s/%s" % (stanza, ids[repo])
        else:
            path = "archive/%s/%s/%s" % (stanza, ids[repo], name[:16])
        if not listed(name, ls(pgbackrest, stanza, repo, path)):
            missing.append(repo)
    return missing


def postmaster_status(data_dir="."):
    """The server's state from postmaster.pid (ready, standby, starting, stopping)."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as handle:
            lines = handle.read().splitlines()
        return lines[7].strip() if len(lines) > 7 else None
    except (IOError, OSError):
        return None


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def wal_state(data_dir="."):
    names = os.listdir(os.path.join(data_dir, "pg_wal"))
    current = current_timeline(names)
    switches = parse_history(read(os.path.join(data_dir, "pg_wal", "%08X.history" % current))) if current > 1 else {}
    return current, switches


def history_on_standby(name, argv, data_dir=".", settle=None):
    """A timeline history file on a standby. A promotion writes its own a
    moment before it removes standby.signal: when the signal goes within
    PROMOTION_SETTLE seconds, this is the new primary's file and it is
    pushed. Otherwise it was received from the primary, which archives it;
    it is not held (a restore reads the newest history file, which lists every
    switch, and PostgreSQL never removes one from pg_wal)."""
    deadline = time.monotonic() + (PROMOTION_SETTLE if settle is None else settle)
    while standby(data_dir):
        if time.monotonic() >= deadline:
            return 0
        time.sleep(0.05)
    return push(name, argv, data_dir)


def hold(name, argv, data_dir="."):
    """A standby's archive_command: 0 once the file is in every repository."""
    stanza = stanza_of(argv)
    current, switches = wal_state(data_dir)
    if past_switch(name, current, switches):
        say("%s is past the switch point of timeline %d (WAL of a former primary that no restore along timeline %d "
            "reads): not kept" % (name, file_timeline(name), current))
        return 0
    repos = read_repos(read(CONFIG))
    version = read(os.path.join(data_dir, "PG_VERSION")).strip()
    if not stanza or not repos or not version:
        say("cannot tell where %s goes (stanza %s, repositories %s, version %r): kept" % (name, stanza, repos, version))
        return 1
    waits = [] if postmaster_status(data_dir) == "stopping" else list(HOLD_WAITS)
    ids = cached_ids()
    known, from_cache = dict(ids), set(ids)
    missing, error = repos, None
    if _HISTORY.match(name):
        return history_on_standby(name, argv, data_dir)
    time.sleep(waits.pop(0) if waits else 0)  # the primary's push is rarely done before
    while True:
        if not standby(data_dir):
            return push(name, argv, data_dir)
        try:
            missing = missing_from(name, stanza, missing, version, pgbackrest=argv[0], ids=ids)
            error = None
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            error = str(exc)
        for repo in set(missing) & from_cache:  # a cached archive id may be stale (stanza-upgrade): read it again
            ids.pop(repo, None)
            from_cache.discard(repo)
        if ids != known:
            save_ids(ids)
            known = dict(ids)
        if not missing and error is None:
            return 0
        if not waits:
            break
        time.sleep(waits.pop(0))
    if error is not None:
        say("%s kept on this standby: the repositories cannot be read (%s)" % (name, error))
    else:
        say("%s kept on this standby until the primary has archived it (not yet in %s)"
            % (name, ", ".join("repo%d" % r for r in missing)))
    return 1


def refused(name, argv, data_dir="."):
    """On the primary, after pgBackRest refused to push ``name``: an older
    timeline's segment that every repository already holds (the former
    primary archived it, possibly with other bytes) counts as archived."""
    current, dummy = wal_state(data_dir)
    tli = file_timeline(name)
    if tli is None or tli >= current or segment_start(name) is None:
        return 1
    try:
        missing = missing_from(name, stanza_of(argv), read_repos(read(CONFIG)),
                               read(os.path.join(data_dir, "PG_VERSION")).strip(), pgbackrest=argv[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return 1
    if missing:
        return 1
    say("%s (timeline %d, older than this primary's %d) is already in every repository, archived by the former "
        "primary: counted as archived" % (name, tli, current))
    return 0


def standby(data_dir="."):
    """Recovery (a standby, or an archive recovery) is signalled by a file."""
    return os.path.exists(os.path.join(data_dir, "standby.signal")) or \
        os.path.exists(os.path.join(data_dir, "recovery.signal"))


def push(name, argv, data_dir="."):
    """The primary's path: the pgBackRest command as given, then the refusal rule."""
    if subprocess.run(argv, check=False).returncode == 0:
        return 0
    return refused(name, argv, data_dir)


def main(argv):
    """pgha-archive (a shell script, so the primary's path starts no
    interpreter) calls this with the pgBackRest command line: for a standby,
    or with --refused first when pgBackRest refused the primary's push."""
    after_refusal = bool(argv) and argv[0] == "--refused"
    if after_refusal:
        argv = argv[1:]
    if len(argv) < 2 or "pgbackrest" not in os.path.basename(argv[0]):
        say("usage: pgha_archive.py [--refused] pgbackrest --stanza=NAME archive-push %p")
        return 2
    name = os.path.basename(argv[-1])
    if after_refusal:
        return refused(name, argv)
    if not standby():
        return push(name, argv)  # called directly on a primary
    return hold(name, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
