#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Exactly-once rows in PostgreSQL (docs/sinks.md): a worker (kafka_source ->
# decode -> 1 s tumbling window per machine, count()/sum() -> postgres_sink in
# upsert mode, state = "redis", checkpoint = "200ms") is killed with SIGKILL
# several times while the input keeps arriving, and PostgreSQL is restarted
# and then down for 9 s mid-run (the worker pauses; /readyz names
# PostgreSQL). At the end the table must equal an
# independent computation from the input topic row for row: one row per
# window, none missing, none extra, every count and sum right.
set -euo pipefail
source "$(dirname "$0")/lib/eos.sh"
eos_init postgres_sink

N=${PG_E2E_N:-90000}
RATE=${PG_E2E_RATE:-3000} # readings per second: 30 s of input, so every kill is mid-stream
KILLS=${PG_E2E_KILLS:-3}
readyz_ok=0
PGDIR="$EOS_WORK/pg"
bash "$SLUICE_ROOT/scripts/postgres-server.sh" start "$PGDIR" >"$EOS_WORK/pg.out" ||
  eos_die "cannot start PostgreSQL (scripts/setup.sh --test installs it)"
PG_URL=$(sed -n 's/^SLUICE_POSTGRES_URL=//p' "$EOS_WORK/pg.out")
pg_stop() { bash "$SLUICE_ROOT/scripts/postgres-server.sh" stop "$PGDIR" >/dev/null 2>&1 || true; }
trap 'rc=$?; pg_stop; (exit $rc); eos_cleanup' EXIT
pg() { psql "$PG_URL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

cat >"$EOS_WORK/worker.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline {
  name = sl.param("group", "eos"),
  state = "redis",
  checkpoint = "200ms",
  redis = sl.param("redis", "redis://127.0.0.1:6379"),
  kafka = { ["session.timeout.ms"] = "6000", ["heartbeat.interval.ms"] = "500" },
}
sl.param("output", "") -- eos.sh passes it; results go to PostgreSQL here
p:kafka_source { topic = sl.param("input", "eos-in") }
  :decode { format = "json" }
  :window { tumbling = "1s", key = "machine_id", time = "ts", delay = sl.param("delay", "0s") }
  :aggregate { n = "count()", s = "sum(v)" }
  :postgres_sink { url = sl.param("pg", ""), table = "window_stats",
                   create = true, batch = 200, flush = "50ms" }
p:dead_letter { path = sl.param("dlq", "dlq.jsonl") }
LUA
API=127.0.0.1:$(eos_free_port)
W=(--set "pg=$PG_URL" --api "$API")

eos_redis_start
eos_topic "$EOS_IN"
eos_worker_start "${W[@]}"
eos_warmup
eos_background_input "$N" "$RATE"

rows() { pg -c "SELECT count(*) FROM window_stats WHERE machine_id <> 'zflush'" 2>/dev/null || echo 0; }

for ((k = 1; k <= KILLS; k++)); do
  eos_wait_assigned "$EOS_LAST_LOG"
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.5, 2.0), 2))')"
  eos_kill9 "$EOS_LAST_PID"
  eos_log "kill -9 #$k ($(rows) rows in the table)"
  eos_worker_start "${W[@]}"
  if ((k == 1)); then
    eos_wait_assigned "$EOS_LAST_LOG"
    sleep 1
    bash "$SLUICE_ROOT/scripts/postgres-server.sh" restart "$PGDIR" || eos_die "restart failed"
    eos_log "PostgreSQL restarted"
  fi
  if ((k == 2)); then
    eos_wait_assigned "$EOS_LAST_LOG"
    sleep 1
    bash "$SLUICE_ROOT/scripts/postgres-server.sh" stop "$PGDIR" || eos_die "stop failed"
    eos_log "PostgreSQL down for 9 s"
    # The next checkpoint waits up to 5 s for the rows, then the worker
    # pauses: /readyz must say that PostgreSQL is what it waits for.
    for ((i = 0; i < 18; i++)); do
      sleep 0.5
      curl -s "http://$API/readyz" >"$EOS_WORK/readyz.json" || true
      grep -q 'processing paused: outputs not acknowledged: postgres_sink window_stats: .* PostgreSQL 127.0.0.1' \
        "$EOS_WORK/readyz.json" && readyz_ok=1
    done
    bash "$SLUICE_ROOT/scripts/postgres-server.sh" start-again "$PGDIR" || eos_die "start failed"
    eos_log "PostgreSQL back"
  fi
done
eos_input_wait
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
deadline=$((SECONDS + 60))
while (($(rows) < want && SECONDS < deadline)); do sleep 1; done
eos_worker_stop "$EOS_LAST_PID"
[[ $EOS_STOP_RC == 0 ]] || eos_die "the last worker did not stop cleanly (exit $EOS_STOP_RC)"
grep -q "processing paused" "$EOS_WORK"/worker.*.log || eos_die "no worker paused during the outage"
[[ $readyz_ok == 1 ]] || eos_die "/readyz never named PostgreSQL during the outage: $(cat "$EOS_WORK/readyz.json")"

# The table in the results format of eos_check.py: one line per row.
pg -c "SELECT 'sluice-id=' || _id || E'\t' || json_build_object('machine_id', machine_id,
         'window_start', (extract(epoch FROM window_start) * 1000)::bigint, 'n', n, 's', s)
       FROM window_stats" >"$EOS_WORK/results.txt"
eos_read_input "$EOS_WORK/input.txt"
dl=$(eos_dead_letters)
rc=0
# MAX_DUPS 0: the table holds exactly one row per window.
python3 "$EOS_LIB/eos_check.py" check "$EOS_WORK/input.txt" "$EOS_WORK/results.txt" 0 \
  postgres_sink || rc=1
echo "postgres_sink: $KILLS kill -9, a PostgreSQL restart and a 9 s outage, dead letters $dl"
[[ $dl == 0 && $rc == 0 ]] || eos_die "mismatch (see the figures above)"
echo "postgres_sink: ok"
