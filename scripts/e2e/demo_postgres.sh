#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo with a PostgreSQL URL (scripts/demo.sh with SLUICE_POSTGRES_URL):
# pipelines/demo.lua creates machine_stats and fills it with one row per
# machine and 5 s window while it also serves the dashboard, and stops
# cleanly on SIGINT with every window result it emitted in the table.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SLUICE_BIN:-$root/build/sluice}
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
aport=$(free_port)
cleanup() {
  [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null || true
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  bash "$root/scripts/postgres-server.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "demo_postgres: $*"; tail -20 "$work/log" || true; exit 1; }
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" >/dev/null
url=$(bash "$root/scripts/postgres-server.sh" start "$work/pg" | sed -n 's/^SLUICE_POSTGRES_URL=//p')
[ -n "$url" ] || fail "cannot start PostgreSQL"
pg() { psql "$url" -X -q -At -v ON_ERROR_STOP=1 -c "$1" 2>/dev/null; }

SLUICE_KAFKA_BROKERS=embedded SLUICE_REDIS_URL="redis://127.0.0.1:$rport" \
  "$bin" run "$root/pipelines/demo.lua" --api "127.0.0.1:$aport" --set rate=1000 \
  --set "postgres.url=$url" --log-format text 2>"$work/log" &
pid=$!
rows=0
for _ in $(seq 1 60); do # the first 5 s windows close after ~6 s
  rows=$(pg "SELECT count(*) FROM machine_stats" || echo 0)
  [ "${rows:-0}" -ge 100 ] && break
  sleep 0.5
done
[ "${rows:-0}" -ge 100 ] || fail "only ${rows:-0} rows in machine_stats after 30 s"
kill -INT "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGINT"
set +e
wait "$pid"
code=$?
set -e
pid=
[ "$code" = 0 ] || fail "exit code $code after SIGINT"
read -r total distinct bad < <(pg "SELECT count(*), count(DISTINCT (machine_id, window_start)),
  count(*) FILTER (WHERE n < 1 OR window_end - window_start <> interval '5 s'
                   OR _id <> 'demo-plant/' || split_part(_id, '/', 2) || '/' || machine_id || '/'
                                || (extract(epoch FROM window_start) * 1000)::bigint)
  FROM machine_stats" | tr '|' ' ')
[ "$total" = "$distinct" ] || fail "$total rows for $distinct windows"
[ "$bad" = 0 ] || fail "$bad rows with a wrong count, window or id"
echo "demo_postgres: ok ($total window results in machine_stats)"
