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

# UMAP's compiled kernels, once: numba's on-disk cache (~/.cache/latentdeck/numba; latentdeck.kit.kernel_cache).
# Every later process (the lab's warm-up, `latentdeck train`, backfill, workers) loads them in seconds
# instead of compiling for ~40 s. Quick when already filled for what is installed; about a minute and a
# half the first time; LATENTDECK_NUMBA_CACHE=off skips it. It never fails the set-up.
.venv/bin/python -m latentdeck_umap.warm --if-needed || true

# The web UI (frontend/out, served by the API on its own port): `npm ci` when node_modules is missing
# or package-lock.json changed, `next build` when the export is missing or a frontend source changed.
# Without Node the lab still runs (the API and its docs at /docs) and says how to get the UI.
if [ -f frontend/package.json ] && [ "${LATENTDECK_SKIP_UI:-0}" != 1 ]; then
  if command -v npm >/dev/null 2>&1; then
    lock="$(sha256sum frontend/package-lock.json | cut -d' ' -f1)"
    if [ ! -f frontend/node_modules/.latentdeck-lock ] || [ "$(cat frontend/node_modules/.latentdeck-lock)" != "$lock" ]; then
      echo "installing the web UI's packages (npm ci, about a minute the first time)" >&2
      (cd frontend && npm ci --no-audit --no-fund --loglevel=error >&2)
      echo "$lock" > frontend/node_modules/.latentdeck-lock
    fi
    # every plugin's views (plugins/*/*/frontend/*.tsx -> the plugin package's views/*.js), bundled with
    # esbuild against the page's React and view kit; quick, and it rewrites only what changed
    (cd frontend && node scripts/build-views.mjs) || { echo "the plugins' views did not build: see the output above" >&2; exit 1; }
    sources="$(cd frontend && find src next.config.ts tsconfig.json package-lock.json -type f 2>/dev/null \
      | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
    if [ ! -f frontend/out/index.html ] || [ ! -f frontend/.build-stamp ] || [ "$(cat frontend/.build-stamp)" != "$sources" ]; then
      echo "building the web UI (next build, about a minute)" >&2
      rm -rf frontend/out
      (cd frontend && NEXT_TELEMETRY_DISABLED=1 npx --no-install next build >/tmp/latentdeck-ui-build.log 2>&1) \
        || { cat /tmp/latentdeck-ui-build.log >&2; echo "the web UI did not build: see the output above" >&2; exit 1; }
      echo "$sources" > frontend/.build-stamp
    fi
  else
    echo "note: Node.js 20+ (npm) is not installed, so the web UI is not built; the API and /docs work." \
         "Install Node and rerun ./lab to get the UI at /" >&2
  fi
fi

# Debian's Chromium for the browser tests (./test asks for it; ./lab does not). Playwright drives
# /usr/bin/chromium: it never downloads a browser of its own.
if [ "${LATENTDECK_SETUP_BROWSER:-0}" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests (apt-get)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 \
      || echo "note: could not install chromium; the browser tests will be skipped" >&2
  else
    echo "note: /usr/bin/chromium is missing (as root: apt-get install chromium); the browser tests will be skipped" >&2
  fi
fi
