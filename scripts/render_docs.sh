#!/usr/bin/env bash
# Render /api/docs/ and /api/redoc/ in headless Chromium with networking limited to the app,
# and save screenshots (needs Debian's `chromium`: apt-get install -y chromium).
# Usage: scripts/render_docs.sh [BASE_URL] [OUT_DIR]
set -euo pipefail
BASE_URL="${1:-http://127.0.0.1:8001}"
OUT_DIR="${2:-docs-render}"
mkdir -p "$OUT_DIR"
for page in docs redoc; do
    profile="$(mktemp -d)"
    chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --virtual-time-budget=8000 --window-size=1280,1600 \
        --screenshot="$OUT_DIR/$page.png" "$BASE_URL/api/$page/" 2>/dev/null
    rm -rf "$profile"
    echo "$OUT_DIR/$page.png"
done
