#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Load test of the HTTP API on loopback with wrk: cache reads (latest record
# of a key, through Redis) and /healthz (no Redis), 10 s each by default.
# Starts its own redis-server and tests/http_demo_server, prints requests/s
# and latency percentiles (p50/p99).
#   bench/http_load.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
SECS=${2:-10}
CONNS=${3:-64}
DEMO=$BUILD/http_demo_server
[ -x "$DEMO" ] || { echo "build first: $DEMO is missing" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 2; }
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
"$DEMO" --listen 127.0.0.1:0 --redis "redis://127.0.0.1:$RPORT" --token bench-token \
  --duration $((SECS * 3 + 10)) --quiet >"$TMP/demo.out" &
DPID=$!
i=0
until grep -q '^listening' "$TMP/demo.out" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "demo server did not start" >&2; exit 1; }; sleep 0.05
done
PORT=$(awk '/^listening/ {print $2}' "$TMP/demo.out")
sleep 1 # let the demo write its first cache entries
cat >"$TMP/auth.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer bench-token"
LUA
run() {
  echo "== $1 ($SECS s, $CONNS connections, 2 threads)"
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$TMP/auth.lua" "http://127.0.0.1:$PORT$1" |
    awk '/Requests\/sec/ {print "requests/s: " $2} / 50%/ {print "p50: " $2} / 99%/ {print "p99: " $2}
         /Non-2xx/ {print "non-2xx: " $5} /Socket errors/ {print}'
}
run /api/v1/caches/machine_stats/m0042
run /api/v1/caches/machine_stats?limit=10
run /healthz
