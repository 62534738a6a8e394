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
out=$(mktemp)
# The verifiers log each playbook they run (labtools.playbook): summed up below, for CI time.
PGHA_PLAYBOOK_LOG=$(mktemp)
# The database nodes' services when the first test failed (the shared conftest writes it).
PGHA_FAILURE_DIGEST=$(mktemp -u)
export PGHA_PLAYBOOK_LOG PGHA_FAILURE_DIGEST
# Wide lines: molecule's console wraps at the terminal's width, which cuts test names and messages apart.
COLUMNS=400 molecule test -s "$scenario" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || lab/lab.sh logs
lab/lab.sh down
# Per playbook: runs and seconds, the costliest first.
if [ -s "$PGHA_PLAYBOOK_LOG" ]; then
  awk -F'\t' '{ total += $1 } END { printf "playbooks run by the verifiers: %d runs, %.0f s\n", NR, total }' "$PGHA_PLAYBOOK_LOG"
  awk -F'\t' '{ n = split($3, a, " "); name = "?"; for (i = 1; i <= n; i++) if (a[i] ~ /playbooks\/.*\.yml$/) name = a[i];
               runs[name]++; secs[name] += $1 }
       END { for (p in secs) printf "  %6.0f s %4d runs  %s\n", secs[p], runs[p], p }' "$PGHA_PLAYBOOK_LOG" | sort -rn | head -8
fi
# CI keeps only the last few kilobytes of the output: what failed first comes last, shortened
# (the first failed test's tasks and messages, then the nodes when it failed).
if [ "$rc" -ne 0 ]; then
  echo "--- failed tests in molecule $scenario:"
  sed 's/\x1b\[[0-9;]*m//g; s/^ *│ *//' "$out" | grep -E '^(FAILED|ERROR) [^ ]*::' \
    | sed 's/ - .*//; s/^\(FAILED\|ERROR\) .*::/\1 /' | head -12
  echo "--- what failed first:"
  # From pytest's FAILURES section on (the converge's output before it is not a failure): the
  # failed tasks' names and Ansible's messages ([ERROR]: Task failed: ...), and the assertions.
  sed 's/\x1b\[[0-9;]*m//g; s/^ *│ *//; s/\\n/\n/g' "$out" | awk '/^=+ FAILURES( |$)/ { found = 1 } found' \
    | grep -E '^(FAILED|ERROR) |^fatal: |^TASK \[|\[ERROR\]: |"msg": |assert |Error: ' \
    | grep -B1 -E '^(FAILED|ERROR) |^fatal: |\[ERROR\]: |"msg": |assert |Error: ' | cut -c1-300 | head -14
  if [ -s "$PGHA_FAILURE_DIGEST" ]; then
    echo "--- the database nodes when the first test failed:"
    cut -c1-200 "$PGHA_FAILURE_DIGEST" | head -36
  fi
fi
rm -f "$out" "$PGHA_PLAYBOOK_LOG" "$PGHA_FAILURE_DIGEST"
echo "molecule $scenario (LAB_OS=${LAB_OS:-bookworm}): rc=$rc in $((SECONDS - start)) s"
exit "$rc"
