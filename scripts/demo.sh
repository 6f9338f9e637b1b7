#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo command (README "Quick start"): installs what is missing, builds,
# starts a private redis-server (unless SLUICE_REDIS_URL points at one) and runs
# pipelines/demo.lua against the embedded Kafka broker, with the dashboard on
# http://127.0.0.1:8080/. Ctrl-C stops sluice gracefully, then Redis.
# Machine metadata (site, line, name, temperature limit) comes from the file
# table pipelines/demo_machines.jsonl: no extra topic to create.
# Extra arguments go to `sluice run` (e.g. --set KEY=VALUE). With
# SLUICE_POSTGRES_URL set, the window results are also written to PostgreSQL
# (table machine_stats; docs/sinks.md); without it the demo needs none.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
pipeline=pipelines/demo.lua
redis_pid=""

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  if [[ -n "$redis_pid" ]]; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    echo "demo: stopped redis-server"
  fi
}
trap cleanup EXIT

port_in_use() { # something accepts connections on 127.0.0.1:$1
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() { # first free port in [$1, $2]
  local p
  for ((p = $1; p <= $2; p++)); do
    if ! port_in_use "$p"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

bash scripts/setup.sh
bash scripts/build.sh

if [[ ! -f "$pipeline" ]]; then
  echo "demo: $pipeline not found: this checkout has no demo pipeline yet" >&2
  echo "demo: try a pipeline of your own: build/sluice run FILE.lua" >&2
  exit 1
fi

mkdir -p .run/redis
if [[ -z "${SLUICE_REDIS_URL:-}" ]]; then
  redis_port=$(free_port 6390 6490) || {
    echo "demo: no free port for redis-server in 6390-6490" >&2
    exit 1
  }
  # A throwaway instance: no snapshots, no AOF, only reachable from here.
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$root/.run/redis" \
    --save "" --appendonly no --logfile "$root/.run/redis/redis.log" &
  redis_pid=$!
  for _ in $(seq 50); do
    if [[ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" == PONG ]]; then
      break
    fi
    if ! kill -0 "$redis_pid" 2>/dev/null; then
      redis_pid=""
      echo "demo: redis-server did not start; see .run/redis/redis.log" >&2
      exit 3
    fi
    sleep 0.1
  done
  export SLUICE_REDIS_URL="redis://127.0.0.1:$redis_port"
  echo "demo: started redis-server on 127.0.0.1:$redis_port (data in .run/redis)"
else
  echo "demo: using Redis at $SLUICE_REDIS_URL"
fi
export SLUICE_KAFKA_BROKERS="${SLUICE_KAFKA_BROKERS:-embedded}"

api=${SLUICE_DEMO_API:-}
if [[ -z "$api" ]]; then
  api_port=8080
  if port_in_use "$api_port"; then
    api_port=$(free_port 8081 8180) || {
      echo "demo: port 8080 is taken and no port in 8081-8180 is free; set SLUICE_DEMO_API" >&2
      exit 1
    }
    echo "demo: port 8080 is taken, using $api_port"
  fi
  api="127.0.0.1:$api_port"
fi

postgres=()
pg_line="PostgreSQL: none (set SLUICE_POSTGRES_URL to store results in a table)"
if [[ -n "${SLUICE_POSTGRES_URL:-}" ]]; then
  postgres=(--set "postgres.url=$SLUICE_POSTGRES_URL")
  # The URL may hold a password: show only where it points.
  pg_line="PostgreSQL: table machine_stats at ${SLUICE_POSTGRES_URL##*@}"
fi

cat <<EOF

  ================================================================
    sluice demo dashboard:  http://$api/
    pipeline: $pipeline   Kafka: $SLUICE_KAFKA_BROKERS
    machines table: pipelines/demo_machines.jsonl (edit a max_temp: reloaded within 1 s)
    Redis: $SLUICE_REDIS_URL
    $pg_line
    Stop with Ctrl-C.
  ================================================================

EOF

# In the foreground, so Ctrl-C reaches sluice, which stops gracefully; the
# EXIT trap then stops Redis.
rc=0
build/sluice run "$pipeline" --api "$api" --log-format text "${postgres[@]}" "$@" || rc=$?
exit "$rc"
