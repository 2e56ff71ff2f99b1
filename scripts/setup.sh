#!/usr/bin/env bash
# Creates .venv in the repo root and installs latentdeck with its test tools (idempotent: it
# re-installs only when pyproject.toml changed). Works offline from a local wheel cache/index too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then py="$candidate"; break; fi
  done
fi
[ -n "$py" ] || { echo "latentdeck needs Python 3.11: install it and retry" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($py --version)" >&2
  "$py" -m venv .venv
fi
stamp=.venv/.latentdeck-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing latentdeck and its dependencies into .venv (about 2 minutes the first time)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -m pip install --quiet -e '.[test]' 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -c 'import latentdeck, torch, torchvision, fastapi, mlxtend' \
    || { echo "installation failed: see the pip output above" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
