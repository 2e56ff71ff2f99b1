#!/usr/bin/env bash
# Regenerates the typed API client's inputs from the backend: frontend/openapi.json (the server's
# schema, as create_app().openapi() builds it) and src/lib/api-schema.ts (openapi-typescript).
# Run after changing an endpoint or a response model; tests/test_ui_api_types.py fails until you do.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(dirname "$here")"
"$root/.venv/bin/python" -c 'import sys; from latentdeck.api.openapi import openapi_text; sys.stdout.write(openapi_text())' > "$here/openapi.json"
cd "$here"
npx --no-install openapi-typescript openapi.json -o src/lib/api-schema.ts >/dev/null
echo "wrote frontend/openapi.json and frontend/src/lib/api-schema.ts" >&2
