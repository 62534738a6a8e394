# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgha_archive: PostgreSQL's archive_command on every pgha database node
(installed by the pgha.cluster.postgresql role; archive_mode = always).

    archive_command = '/usr/bin/python3 /usr/local/lib/pgha/pgha_archive.py pgbackrest --stanza=NAME archive-push "%p"'

On the primary it runs the pgBackRest command it is given: one archiver writes
to the repositories, as pgBackRest requires.

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
HOLD_WAIT = 10.0
POLL = 1.0
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


def missing_from(name, stanza, repos, version, pgbackrest="pgbackrest", ls=pgbackrest_ls):
    """The repositories that do not hold the WAL file yet."""
    missing = []
    for repo in repos:
        archive_id = archive_dir_name(ls(pgbackrest, stanza, repo, "archive/%s" % stanza), version)
        if archive_id is None:
            missing.append(repo)
            continue
        if _HISTORY.match(name):
            path = "archive/%s/%s" % (stanza, archive_id)
        else:
            path = "archive/%s/%s/%s" % (stanza, archive_id, name[:16])
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
    wait = 0.0 if postmaster_status(data_dir) == "stopping" else HOLD_WAIT
    deadline = time.monotonic() + wait
    error = None
    while True:
        try:
            missing = missing_from(name, stanza, repos, version, pgbackrest=argv[0])
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            missing, error = None, str(exc)
        if missing == []:
            return 0
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL)
    if missing is None:
        say("%s kept on this standby: the repositories cannot be read (%s)" % (name, error))
    else:
        say("%s kept on this standby until the primary has archived it (not yet in %s)"
            % (name, ", ".join("repo%d" % r for r in missing)))
    return 1


def push(name, argv, data_dir="."):
    """The primary's archive_command: the pgBackRest command as given."""
    rc = subprocess.run(argv, check=False).returncode
    if rc == 0:
        return 0
    current, switches = wal_state(data_dir)
    tli = file_timeline(name)
    if tli is None or tli >= current or segment_start(name) is None:
        return rc
    # An older timeline's segment the former primary archived with other bytes.
    try:
        missing = missing_from(name, stanza_of(argv), read_repos(read(CONFIG)),
                               read(os.path.join(data_dir, "PG_VERSION")).strip(), pgbackrest=argv[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return rc
    if missing:
        return rc
    say("%s (timeline %d, older than this primary's %d) is already in every repository, archived by the former "
        "primary: counted as archived" % (name, tli, current))
    return 0


def main(argv):
    if len(argv) < 2 or "pgbackrest" not in os.path.basename(argv[0]):
        say("usage: pgha_archive.py pgbackrest --stanza=NAME archive-push %p")
        return 2
    name = os.path.basename(argv[-1])
    standby = os.path.exists("standby.signal") or os.path.exists("recovery.signal")
    return hold(name, argv) if standby else push(name, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
