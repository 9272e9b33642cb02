#!/usr/bin/env bash
# Install what ccm_pwa needs, idempotently: a virtualenv with the pinned packages, and bun
# (from npm, never from the internet). With --test, also Debian's chromium for Playwright.
# Each step is skipped when already done, so the second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
  || { echo "ccm_pwa needs Python 3.11 or newer" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi

mkdir -p .stamps
extras="."
[ $want_test -eq 1 ] && extras=".[test]"
stamp=".stamps/pip-$(sha256sum pyproject.toml | cut -c1-16)-$want_test"
if [ ! -f "$stamp" ]; then
  say "installing Python packages ($extras)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e "$extras"
  rm -f .stamps/pip-*-$want_test
  touch "$stamp"
fi

# Reflex builds the frontend with bun. It would download bun from the internet; take the
# npm package instead (the machine reaches the npm registry only).
if ! command -v bun >/dev/null 2>&1 || [ "$(bun --version 2>/dev/null)" != "1.4.4" ]; then
  say "installing bun 1.4.4 from npm"
  if ! npm install -g bun@1.4.4 >/dev/null 2>&1; then
    npm install --prefix .tools bun@1.4.4 >/dev/null
  fi
fi

if [ $want_test -eq 1 ] && [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium for the browser tests"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
say "ready"
