#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Headless browser test of the dashboard: starts a private redis-server and
# tests/http_demo_server (fake pipeline data), opens the page in Chromium via
# playwright-core, checks live values, and saves build/artifacts/dashboard.png.
#   scripts/browser-test.sh [BUILD_DIR]      (needs chromium, node, npm)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
DEMO=$BUILD/http_demo_server
[ -x "$DEMO" ] || { echo "build first: $DEMO is missing" >&2; exit 2; }
command -v chromium >/dev/null || { echo "chromium missing: apt-get install -y chromium" >&2; exit 2; }
if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
  (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund >/dev/null)
fi
mkdir -p "$BUILD/artifacts"
TMP=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" >/dev/null &
RPID=$!
DPID=
cleanup() {
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
  kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
i=0
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "redis did not start" >&2; exit 1; }; sleep 0.05
done
TOKEN=${SLUICE_TEST_TOKEN:-browser-test-token}
"$DEMO" --listen 127.0.0.1:0 --redis "redis://127.0.0.1:$RPORT" --token "$TOKEN" --duration 120 --quiet >"$TMP/demo.out" &
DPID=$!
i=0
until grep -q '^listening' "$TMP/demo.out" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "demo server did not start" >&2; exit 1; }; sleep 0.05
done
PORT=$(awk '/^listening/ {print $2}' "$TMP/demo.out")
node "$ROOT/tests/browser/dashboard.test.mjs" "http://127.0.0.1:$PORT/" "$BUILD/artifacts/dashboard.png" "$TOKEN"
echo "screenshot: $BUILD/artifacts/dashboard.png"
