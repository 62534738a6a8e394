#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/pgha/cluster:
# copy the tracked files there and run it with ansible-test's own requirements
# (in a virtualenv of their own, so they never clash with the project's .venv).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=${PGHA_SANITY_DIR:-$top/.cache/sanity}
venv="$top/.cache/sanity-venv"
dest="$work/ansible_collections/pgha/cluster"

if [ ! -x "$venv/bin/ansible-test" ]; then
  "${PY:-python3.11}" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'ansible-core>=2.19,<2.20'
fi
# ansible-test bootstraps pip in its virtualenvs with a script downloaded from a
# host that is unreachable here; put a stand-in where it looks first.
pip_version=$("$venv/bin/python" - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  cp "$top/tests/sanity/get_pip_shim.py" "$cache"
fi

rm -rf "$dest"
mkdir -p "$dest"
# (not .collections: the checkout's own link to itself)
(cd "$top" && git ls-files -z --cached --others --exclude-standard | grep -zv '^\.collections/' \
  | xargs -0 -I{} cp -P --parents {} "$dest/")
cd "$dest"
git init -q . && git add -A >/dev/null
exec "$venv/bin/ansible-test" sanity --local --requirements --python 3.11 --color no "$@"
