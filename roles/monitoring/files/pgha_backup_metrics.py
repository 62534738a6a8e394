# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgBackRest's repositories as Prometheus metrics, for the node exporter's
textfile collector (installed by pgha.cluster.monitoring, run by a timer).

  pgha_backup_metrics.py --stanza NAME --repos N --out DIR/pgha_backup.prom

Reads `pgbackrest info --output=json` once per repository and writes, per
repository: whether it could be read, the newest backup of each type (its
completion time, size, repository size, duration), the archived WAL range,
and when the metrics were written. The file is replaced atomically.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TYPES = ("full", "diff", "incr")


def _sample(name, labels, value):
    text = ",".join('%s="%s"' % (k, str(v).replace('"', '\\"')) for k, v in sorted(labels.items()))
    return "%s{%s} %s" % (name, text, value)


def repo_samples(stanza, repo, info, error=None):
    """Samples of one repository from `pgbackrest info --repo=N --output=json` (a list of stanzas)."""
    base = {"stanza": stanza, "repo": str(repo)}
    entry = next((s for s in info or [] if s.get("name") == stanza), None)
    status = (entry or {}).get("status") or {}
    # Code 0 is ok; 2 (missing stanza data) or any other code means it cannot be relied on.
    ok = error is None and entry is not None and status.get("code") in (0, None)
    samples = [("pgha_backup_repo_ok", base, 1 if ok else 0)]
    # --repo=N: only that repository's backups.
    backups = (entry or {}).get("backup") or []
    for kind in TYPES:
        of_kind = [b for b in backups if b.get("type") == kind and not b.get("error")]
        if not of_kind:
            continue
        newest = max(of_kind, key=lambda b: (b.get("timestamp") or {}).get("stop") or 0)
        stamp = newest.get("timestamp") or {}
        labels = dict(base, type=kind)
        samples.append(("pgha_backup_last_completion_timestamp_seconds", labels, int(stamp.get("stop") or 0)))
        samples.append(("pgha_backup_last_duration_seconds", labels,
                        max(0, int(stamp.get("stop") or 0) - int(stamp.get("start") or 0))))
        size = newest.get("info") or {}
        samples.append(("pgha_backup_last_size_bytes", labels, int(size.get("size") or 0)))
        samples.append(("pgha_backup_last_repository_size_bytes", labels,
                        int((size.get("repository") or {}).get("delta") or 0)))
    samples.append(("pgha_backup_count", base, len(backups)))
    archives = [a for a in (entry or {}).get("archive") or [] if a.get("max")]
    samples.append(("pgha_backup_archive_present", base, 1 if archives else 0))
    return samples


def render(samples, now):
    """The exposition text: each metric's samples together, under its TYPE line."""
    groups = {}
    for name, labels, value in samples:
        groups.setdefault(name, []).append(_sample(name, labels, value))
    lines = ["# pgha: pgBackRest repositories (pgha_backup_metrics.py)"]
    for name, group in groups.items():
        lines.append("# TYPE %s gauge" % name)
        lines.extend(group)
    lines += ["# TYPE pgha_backup_metrics_timestamp_seconds gauge", "pgha_backup_metrics_timestamp_seconds %d" % int(now)]
    return "\n".join(lines) + "\n"


def read_repo(stanza, repo):
    try:
        out = subprocess.run(["pgbackrest", "--stanza=%s" % stanza, "--repo=%s" % repo, "--output=json", "info"],
                             check=True, capture_output=True, text=True, timeout=120).stdout
        return json.loads(out or "[]"), None
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return None, str(exc)


def write_atomically(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".pgha_backup.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stanza", required=True)
    parser.add_argument("--repos", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    samples = []
    for repo in range(1, args.repos + 1):
        info, error = read_repo(args.stanza, repo)
        if error:
            sys.stderr.write("repo%d: %s\n" % (repo, error))
        samples.extend(repo_samples(args.stanza, repo, info, error))
    write_atomically(args.out, render(samples, time.time()))


if __name__ == "__main__":
    main()
