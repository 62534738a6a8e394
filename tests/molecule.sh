#!/usr/bin/env bash
# Runs one molecule scenario on a fresh lab: lab up, molecule test, lab down.
# On failure the lab's PostgreSQL logs and journals are kept under .lab/logs/.
#   LAB_OS=trixie tests/molecule.sh trixie
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
scenario=${1:?usage: tests/molecule.sh SCENARIO}
cd "$top" || exit 1
# Each scenario chooses its failover mode itself (make demo's setting stays out).
unset PGHA_FAILOVER_MODE
lab/lab.sh up || { lab/lab.sh logs; lab/lab.sh down; exit 1; }
start=$SECONDS
molecule test -s "$scenario"
rc=$?
echo "molecule $scenario (LAB_OS=${LAB_OS:-bookworm}): rc=$rc in $((SECONDS - start)) s"
[ $rc -eq 0 ] || lab/lab.sh logs
lab/lab.sh down
exit $rc
