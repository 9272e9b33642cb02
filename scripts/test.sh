#!/usr/bin/env bash
# Install what the tests need (incl. Debian's chromium) and run the whole suite:
# unit, database (SQLite, and PostgreSQL when 127.0.0.1:5432 answers), API and browser tests.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -m "not e2e".
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
source scripts/env.sh
ruff check .
set +e
python -m pytest "$@"
status=$?
set -e
if [ $status -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit $status
