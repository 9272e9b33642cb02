# Sourced by the scripts: puts the virtualenv and a locally installed bun on PATH.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$ROOT/.tools/node_modules/.bin:$PATH"
export REFLEX_TELEMETRY_ENABLED=false
