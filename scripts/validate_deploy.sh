#!/usr/bin/env bash
# Check a running deployment: scripts/validate_deploy.sh BASE_URL [USER PASS]
# (health, readiness, docs, schema, token, me, WebSocket ping; see validate_deploy.py).
set -euo pipefail
exec python3 "$(dirname "$0")/validate_deploy.py" "$@"
