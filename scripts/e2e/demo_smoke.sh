#!/usr/bin/env bash
# The demo (the README's first command) works: pipelines/demo.lua on the
# embedded broker with a throwaway Redis serves live values enriched from its
# machines table, metrics and the dashboard, and stops cleanly on SIGINT
# (exit 0) — including the Kafka consumer's revocation while sinks close (a
# crash once).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SLUICE_BIN:-$root/build/sluice}
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
aport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" >/dev/null
cleanup() {
  [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null || true
  [ -n "${spid:-}" ] && kill -9 "$spid" 2>/dev/null || true
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "demo_smoke: $*"; tail -20 "$work/log" || true; exit 1; }

SLUICE_KAFKA_BROKERS=embedded SLUICE_REDIS_URL="redis://127.0.0.1:$rport" \
  "$bin" run "$root/pipelines/demo.lua" --api "127.0.0.1:$aport" --set rate=1000 \
  --log-format text 2>"$work/log" &
pid=$!
api="http://127.0.0.1:$aport"
for _ in $(seq 1 60); do # results appear after the first 5 s window closes
  if curl -sf "$api/api/v1/caches/machines/m0007" >"$work/m7" 2>/dev/null; then break; fi
  sleep 0.5
done
grep -q '"avg_temp"' "$work/m7" || fail "no live value for m0007"
# The window results are enriched from the machines table
# (pipelines/demo_machines.jsonl): the cached record has the machine's site,
# name and limit, which the dashboard shows and the overheat alert uses.
grep -q '"site":"plant-a"' "$work/m7" || fail "cached m0007 has no site from the table: $(cat "$work/m7")"
grep -q '"name":"Pump 7"' "$work/m7" || fail "cached m0007 has no name from the table"
grep -q '"max_temp":85' "$work/m7" || fail "cached m0007 has no limit from the table"
# Saved to files first: `curl | grep -q` fails under pipefail when grep
# stops reading early.
get() { curl -sf "$api$1" >"$work/body" || fail "GET $1 failed"; }
get /readyz; grep -q '"status":"ok"' "$work/body" || fail "/readyz not ready"
# The window's metrics carry its stable id (id = "machine-stats" in demo.lua).
get /metrics; grep -q '^sluice_records_in_total{operator="machine-stats"' "$work/body" || fail "no metrics"
get /; grep -qi '<html' "$work/body" || fail "no dashboard page"
get /api/v1/pipelines; grep -q '"name":"demo-plant"' "$work/body" || fail "no pipeline document"
get /api/v1/tables/machines/m0007; grep -q '"line":"L1"' "$work/body" || fail "no table entry"
# `sluice serve`, the API alone, sees the same pipeline, values and events
# through Redis.
sport=$(free_port)
SLUICE_REDIS_URL="redis://127.0.0.1:$rport" "$bin" serve --api "127.0.0.1:$sport" \
  --log-format text 2>>"$work/log" &
spid=$!
sapi="http://127.0.0.1:$sport"
for _ in $(seq 1 40); do
  curl -sf "$sapi/api/v1/pipelines" >"$work/sp" 2>/dev/null && grep -q demo-plant "$work/sp" && break
  sleep 0.25
done
grep -q '"name":"demo-plant"' "$work/sp" || fail "serve does not list the pipeline"
curl -sf "$sapi/api/v1/caches/machines/m0001" >"$work/body" || fail "serve: no cache value"
grep -q '"avg_temp"' "$work/body" || fail "serve: bad cache value"
timeout 5 curl -sN "$sapi/api/v1/events" >"$work/events" 2>/dev/null || true
grep -q '^event: result' "$work/events" || fail "serve: no result events within 5 s"
kill -TERM "$spid"
wait "$spid" || fail "serve did not exit 0 on SIGTERM"

kill -INT "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGINT"
set +e
wait "$pid"
code=$?
set -e
pid=
[ "$code" = 0 ] || fail "exit code $code after SIGINT"
echo "demo_smoke: ok"
