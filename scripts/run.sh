#!/usr/bin/env bash
# Install, migrate, load the demo practice (first time only) and serve the app.
#   PORT=3000 (default)   CCM_DATA_DIR=./data (default: SQLite file and demo sign-ins)
set -euo pipefail
# What this writes (demo sign-ins with passwords and TOTP secrets, the SQLite file, Reflex's
# logs) is readable by this user only.
umask 077
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh

PORT=${PORT:-3000}
DATA_DIR=${CCM_DATA_DIR:-$PWD/data}
export CCM_DATA_DIR="$DATA_DIR"
mkdir -p "$DATA_DIR"

ccm-pwa db upgrade
logins="$DATA_DIR/demo-sign-ins.txt"
[ -e "$logins" ] && chmod 600 "$logins"  # written 0644 by earlier versions
if [ ! -s "$logins" ]; then
  ccm-pwa demo --if-empty --patients 300 --care-managers 5 --seed 1 > "$logins.tmp"
  mv "$logins.tmp" "$logins"
fi
echo
echo "ccm_pwa will be at:  http://localhost:$PORT/"
echo "Demo sign-ins (also in $logins):"
grep -E '(sign-ins|^\s+(admin|supervisor|care_manager))' "$logins" || true
echo
exec reflex run --env prod --backend-port "$PORT" --frontend-port "$PORT"
