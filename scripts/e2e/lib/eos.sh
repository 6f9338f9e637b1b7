# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the exactly-once e2e scripts (sourced, not run):
# a work directory and cleanup of every process a script starts, Redis with
# AOF on a free port (kill -9 and restart), a real Kafka broker (the one of
# scripts/test.sh, or one started here), input production with kcat, the
# worker pipeline, reading results and comparing them with the input
# (eos_check.py), and the group's committed offsets (kafka_offsets.c).
#
# Every wait is bounded; assertions are on counts, never on timing.

EOS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SLUICE_ROOT=${SLUICE_ROOT:-$(cd "$EOS_LIB/../../.." && pwd)}
SLUICE_BIN=${SLUICE_BIN:-$SLUICE_ROOT/build/sluice}
EOS_PIDS=()
EOS_KAFKA_DIR=""
EOS_REDIS_PID=""
# Partitions of the input topic: the broker's default 4, or more (created
# with bench/kafka_topic.c). eos_check.py reads the same variable.
export EOS_PARTS=${EOS_PARTS:-4}

eos_log() { echo "[$EOS_NAME $(date +%H:%M:%S)] $*" >&2; }
eos_die() {
  echo "$EOS_NAME: FAIL: $*"
  exit 1
}

eos_cleanup() {
  local rc=$? pid
  for pid in "${EOS_PIDS[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "${EOS_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "$EOS_REDIS_PID" ]]; then
    kill -KILL "$EOS_REDIS_PID" 2>/dev/null || true
    wait "$EOS_REDIS_PID" 2>/dev/null || true
  fi
  if [[ -n "$EOS_KAFKA_DIR" ]]; then
    bash "$SLUICE_ROOT/scripts/kafka-broker.sh" stop "$EOS_KAFKA_DIR" >/dev/null 2>&1 || true
  fi
  # EOS_KEEP_WORK=1 keeps the work dir of a passing run too (to compare the
  # logs of a rare failure with those of the runs that passed).
  if [[ ($rc != 0 || -n ${EOS_KEEP_WORK:-}) && -d "$EOS_WORK" ]]; then
    echo "$EOS_NAME: logs kept in $EOS_WORK" >&2
    local f
    for f in "$EOS_WORK"/*.log; do
      [[ -f "$f" && $rc != 0 ]] || continue
      echo "--- tail of $f" >&2
      tail -n 8 "$f" >&2
    done
  else
    rm -rf "$EOS_WORK"
  fi
  exit "$rc"
}

# eos_init NAME: work dir, traps, tools, the Kafka broker.
eos_init() {
  EOS_NAME=$1
  EOS_WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-$EOS_NAME.XXXXXX")
  trap eos_cleanup EXIT
  trap 'exit 130' INT TERM
  local t
  for t in kcat redis-server redis-cli python3 cc; do
    command -v "$t" >/dev/null || eos_die "$t not found"
  done
  [[ -x "$SLUICE_BIN" ]] || eos_die "no sluice binary at $SLUICE_BIN (build first)"
  cc -O1 -o "$EOS_WORK/kafka_offsets" "$EOS_LIB/kafka_offsets.c" -lrdkafka ||
    eos_die "cannot build kafka_offsets.c"
  cc -O1 -o "$EOS_WORK/kafka_topic" "$SLUICE_ROOT/bench/kafka_topic.c" -lrdkafka ||
    eos_die "cannot build bench/kafka_topic.c"
  EOS_BROKERS=${SLUICE_TEST_KAFKA_BROKERS:-embedded}
  if [[ "$EOS_BROKERS" == embedded ]]; then
    # Several worker processes share a group: that needs a real broker.
    EOS_KAFKA_DIR="$EOS_WORK/kafka"
    bash "$SLUICE_ROOT/scripts/kafka-broker.sh" start "$EOS_KAFKA_DIR" >"$EOS_WORK/kafka.out" \
      2>"$EOS_WORK/kafka-start.log" </dev/null || eos_die "cannot start a Kafka broker"
    EOS_BROKERS=$(sed -n 's/^SLUICE_TEST_KAFKA_BROKERS=//p' "$EOS_WORK/kafka.out")
  fi
  export SLUICE_KAFKA_BROKERS=$EOS_BROKERS
  # Topic and group names unique per run: the broker may be shared.
  EOS_RUN="$EOS_NAME-$$-$RANDOM"
  EOS_IN="$EOS_RUN-in"
  EOS_OUT="$EOS_RUN-out"
  EOS_GROUP="$EOS_RUN"
  eos_log "broker $EOS_BROKERS, work dir $EOS_WORK"
}

eos_track() { EOS_PIDS+=("$1"); }

# eos_wait_until TIMEOUT WHAT COMMAND...: poll COMMAND every 0.2 s until it
# succeeds; fail naming WHAT after TIMEOUT seconds.
eos_wait_until() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || eos_die "$what not within the time allowed"
    sleep 0.2
  done
}

eos_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ---- Redis ------------------------------------------------------------------

# eos_redis_start [redis-server args...]: AOF with fsync on every write.
eos_redis_start() {
  EOS_REDIS_PORT=${EOS_REDIS_PORT:-$(eos_free_port)}
  mkdir -p "$EOS_WORK/redis"
  EOS_REDIS_ARGS=("$@")
  eos_redis_restart
}

eos_redis_restart() {
  redis-server --port "$EOS_REDIS_PORT" --bind 127.0.0.1 --dir "$EOS_WORK/redis" \
    --appendonly yes --appendfsync always --save '' --daemonize no \
    --logfile "$EOS_WORK/redis.log" "${EOS_REDIS_ARGS[@]}" </dev/null &
  EOS_REDIS_PID=$!
  local i
  for i in $(seq 1 100); do
    if redis-cli -p "$EOS_REDIS_PORT" ${EOS_REDIS_AUTH:+--user "${EOS_REDIS_AUTH%%:*}" --pass "${EOS_REDIS_AUTH#*:}"} --no-auth-warning ping 2>/dev/null | grep -q PONG; then
      return 0
    fi
    kill -0 "$EOS_REDIS_PID" 2>/dev/null || eos_die "redis-server exited: $(tail -n 5 "$EOS_WORK/redis.log")"
    sleep 0.1
  done
  eos_die "redis-server did not answer within 10 s"
}

# eos_monitor_start: log every Redis command (for eos_check.py fencing).
eos_monitor_start() {
  eos_redis_cli monitor >>"$EOS_WORK/monitor.txt" 2>/dev/null &
  EOS_MONITOR_PID=$!
  eos_track "$EOS_MONITOR_PID"
}

eos_redis_kill9() {
  kill -KILL "$EOS_REDIS_PID" 2>/dev/null || true
  wait "$EOS_REDIS_PID" 2>/dev/null || true
  EOS_REDIS_PID=""
}

eos_redis_cli() {
  redis-cli -p "$EOS_REDIS_PORT" ${EOS_REDIS_AUTH:+--user "${EOS_REDIS_AUTH%%:*}" --pass "${EOS_REDIS_AUTH#*:}"} --no-auth-warning "$@"
}

# ---- Kafka ------------------------------------------------------------------

# eos_parts: the partition numbers of the input topic, one per word.
eos_parts() { seq 0 $((EOS_PARTS - 1)); }

# eos_create_topic T: T with EOS_PARTS partitions, through the Admin API (a
# script on a broker without it, bench/mock_broker.c, defines its own).
eos_create_topic() {
  "$EOS_WORK/kafka_topic" "$EOS_BROKERS" "$1" "$EOS_PARTS" || eos_die "cannot create topic $1"
}

# eos_topic T: create T (EOS_PARTS partitions) and wait for it.
eos_topic() {
  local i
  if [[ $EOS_PARTS != 4 ]]; then # 4: the broker's default, auto-created
    eos_create_topic "$1"
  fi
  for i in $(seq 1 50); do
    if [[ $(kcat -b "$EOS_BROKERS" -L -t "$1" 2>/dev/null | grep -c 'partition [0-9]*, leader 1') == "$EOS_PARTS" ]]; then
      return 0
    fi
    sleep 0.2
  done
  eos_die "topic $1 not created with $EOS_PARTS partitions"
}

# eos_produce FROM TO: readings FROM..TO-1 into the input topic, each
# partition in order (acks=all, no retries reordering: one in flight).
eos_produce() {
  local d="$EOS_WORK/gen.$1" p
  mkdir -p "$d"
  python3 "$EOS_LIB/eos_check.py" gen "$1" "$2" "$d"
  for p in $(eos_parts); do
    kcat -b "$EOS_BROKERS" -P -t "$EOS_IN" -p "$p" -K $'\t' -X acks=all \
      -X max.in.flight.requests.per.connection=1 -l "$d/p$p" || eos_die "kcat produce failed"
  done
  rm -rf "$d"
}

# eos_flush TS: one record per partition at event time TS: closes every
# window ending at or before TS.
eos_flush() {
  local d="$EOS_WORK/gen.flush" p
  mkdir -p "$d"
  python3 "$EOS_LIB/eos_check.py" flush "$1" "$d"
  for p in $(eos_parts); do
    kcat -b "$EOS_BROKERS" -P -t "$EOS_IN" -p "$p" -K $'\t' -X acks=all -l "$d/p$p" ||
      eos_die "kcat produce failed"
  done
}

# eos_warmup: readings 0..99 (one per machine, every partition), then wait
# until a checkpoint holds an offset of every partition. From then on each
# partition's event time holds the watermark back (SPEC 5: a partition counts
# once it received data), so no reading of the ordered input can be late
# however the partitions' fetches interleave.
eos_warmup() {
  eos_produce 0 100
  local i p n
  for i in $(seq 1 300); do
    n=0
    for p in $(eos_parts); do
      [[ -n "$(eos_redis_cli get "sl:{$EOS_GROUP:$EOS_IN:$p}:offset")" ]] && n=$((n + 1))
    done
    ((n == EOS_PARTS)) && return 0
    sleep 0.1
  done
  eos_die "no checkpoint of all $EOS_PARTS partitions within 30 s"
}

# eos_background_input N RATE: readings 100..N-1 (after eos_warmup) at RATE
# per second, each partition through its own kcat producer, then the flush
# records; in the background (EOS_INPUT_PID).
eos_background_input() {
  local n=$1 rate=$2 d="$EOS_WORK/stream" p
  mkdir -p "$d"
  for p in $(eos_parts); do mkfifo "$d/p$p"; done
  (
    local pids=() ok=1
    for p in $(eos_parts); do
      kcat -b "$EOS_BROKERS" -P -t "$EOS_IN" -p "$p" -K $'\t' -X acks=all \
        -X max.in.flight.requests.per.connection=1 <"$d/p$p" &
      pids+=($!)
    done
    python3 "$EOS_LIB/eos_check.py" stream 100 "$n" "$rate" "$(eos_flush_ts "$n")" "$d" || ok=0
    for p in "${pids[@]}"; do wait "$p" || ok=0; done
    ((ok)) && echo done >"$EOS_WORK/input.done"
  ) &
  EOS_INPUT_PID=$!
  eos_track "$EOS_INPUT_PID"
}

# eos_input_pause / eos_input_resume: hold the background input.
# Note: what kcat still buffers is not in the topic yet when the group's lag
# reaches 0 after a pause; a few ms of skew between partitions remain.
eos_input_pause() { : >"$EOS_WORK/stream/pause"; }
eos_input_resume() { rm -f "$EOS_WORK/stream/pause"; }

# eos_wait_lag0 TIMEOUT: until the group committed everything produced.
eos_wait_lag0() {
  local deadline=$((SECONDS + $1)) lag
  while ((SECONDS < deadline)); do
    lag=$(eos_lag 2>/dev/null || echo -1)
    [[ $lag == 0 ]] && return 0
    sleep 0.3
  done
  eos_die "group lag still $lag after $1 s"
}

# Event time of the flush records: 2 s after the last reading.
# With a window delay (EOS_DELAY_MS) the flush is that much later.
eos_flush_ts() { echo $((1700000000000 + $1 + 2000 + ${EOS_DELAY_MS:-0})); }

eos_input_wait() {
  wait "$EOS_INPUT_PID" || eos_die "producing the input failed"
  [[ -f "$EOS_WORK/input.done" ]] || eos_die "producing the input failed"
}

# eos_offsets: "P committed end" per partition of the input for the group.
eos_offsets() {
  "$EOS_WORK/kafka_offsets" "$EOS_BROKERS" "$EOS_GROUP" "$EOS_IN"
}

# eos_lag: total records not yet committed by the group.
eos_lag() {
  eos_offsets | awk '{ lag += ($2 < 0 ? $3 : $3 - $2) } END { print lag + 0 }'
}

eos_read_input() { kcat -b "$EOS_BROKERS" -C -e -q -t "$EOS_IN" -f '%s\n' >"$1"; }
eos_read_results() { kcat -b "$EOS_BROKERS" -C -e -q -t "$EOS_OUT" -f '%h\t%s\n' >"$1"; }

# eos_distinct_results: number of distinct sluice-ids on the results topic.
eos_distinct_results() {
  kcat -b "$EOS_BROKERS" -C -e -q -t "$EOS_OUT" -f '%h\n' 2>/dev/null | grep -v '/zflush/' |
    sort -u | wc -l
}

# eos_wait_results N TIMEOUT: until N distinct results are out (bounded).
eos_wait_results() {
  local want=$1 deadline=$((SECONDS + $2)) got=0
  while ((SECONDS < deadline)); do
    got=$(eos_distinct_results)
    ((got >= want)) && return 0
    sleep 1
  done
  eos_log "only $got of $want distinct results after $2 s"
  return 1
}

# ---- the worker ---------------------------------------------------------------

# The pipeline under test: kafka_source -> decode -> 1 s tumbling window per
# machine with count()/sum() -> kafka_sink, state in Redis.
eos_write_pipeline() {
  cat >"$EOS_WORK/worker.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline {
  name = sl.param("group", "eos"),
  state = "redis",
  checkpoint = sl.param("checkpoint", "200ms"),
  redis = sl.param("redis", "redis://127.0.0.1:6379"),
  kafka = { ["session.timeout.ms"] = sl.param("session_ms", "45000"),
            ["heartbeat.interval.ms"] = sl.param("heartbeat_ms", "3000") },
}
p:kafka_source { topic = sl.param("input", "eos-in") }
  :decode { format = "json" }
  :window { tumbling = "1s", key = "machine_id", time = "ts", delay = sl.param("delay", "0s") }
  :aggregate { n = "count()", s = "sum(v)" }
  :kafka_sink { topic = sl.param("output", "eos-out"), key = "machine_id" }
p:dead_letter { path = sl.param("dlq", "dlq.jsonl") }
LUA
}

EOS_WORKER_SEQ=0
# eos_worker_start [--set K=V]...: a worker in the background; its pid in
# EOS_LAST_PID, its log in EOS_LAST_LOG.
eos_worker_start() {
  [[ -f "$EOS_WORK/worker.lua" ]] || eos_write_pipeline
  EOS_WORKER_SEQ=$((EOS_WORKER_SEQ + 1))
  EOS_LAST_LOG="$EOS_WORK/worker.$EOS_WORKER_SEQ.log"
  "$SLUICE_BIN" run "$EOS_WORK/worker.lua" --api off --log-format text \
    --set "group=$EOS_GROUP" --set "input=$EOS_IN" --set "output=$EOS_OUT" \
    --set "redis=${EOS_REDIS_URL:-redis://127.0.0.1:$EOS_REDIS_PORT}" \
    --set "dlq=$EOS_WORK/dlq.$EOS_WORKER_SEQ.jsonl" --set "delay=${EOS_DELAY_MS:-0}ms" "$@" \
    >"$EOS_LAST_LOG" 2>&1 </dev/null &
  EOS_LAST_PID=$!
  eos_track "$EOS_LAST_PID"
}

# eos_worker_stop PID: SIGTERM, then SIGKILL after 15 s. Sets EOS_STOP_RC
# (the exit status, or "timeout") and EOS_STOP_MS (how long it took).
eos_worker_stop() {
  local pid=$1 i t0
  t0=$(date +%s%3N)
  EOS_STOP_RC=0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    EOS_STOP_RC=timeout
  else
    wait "$pid" 2>/dev/null || EOS_STOP_RC=$?
  fi
  EOS_STOP_MS=$(($(date +%s%3N) - t0))
}

# eos_kill9 PID
eos_kill9() {
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# eos_wait_assigned LOG [TIMEOUT]: until the worker logging to LOG owns
# partitions (restored them from the checkpoint).
eos_wait_assigned() {
  local deadline=$((SECONDS + ${2:-40}))
  while ((SECONDS < deadline)); do
    grep -q '\] assigned: epoch' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  eos_die "no partition assigned to the worker of $1 within ${2:-40} s"
}

# eos_owns LOG: true when the worker of LOG holds the newest epoch of every
# partition in Redis (the last "assigned: epoch E" it logged for each).
eos_owns() {
  local p e
  for p in $(eos_parts); do
    e=$(grep -o "in\[$p\] assigned: epoch [0-9]*" "$1" | tail -n1 | awk '{print $4}')
    [[ -n "$e" && "$e" == "$(eos_redis_cli get "sl:{$EOS_GROUP:$EOS_IN:$p}:epoch")" ]] || return 1
  done
}

# Number of records all workers sent to the dead-letter files (late ones).
eos_dead_letters() { cat "$EOS_WORK"/dlq.*.jsonl 2>/dev/null | wc -l; }

# eos_check N MAX_DUPS: read input and results, compare (prints the figures).
eos_check() {
  eos_read_input "$EOS_WORK/input.txt"
  eos_read_results "$EOS_WORK/results.txt"
  python3 "$EOS_LIB/eos_check.py" check "$EOS_WORK/input.txt" "$EOS_WORK/results.txt" \
    "${2:--}" "$EOS_NAME"
}

# eos_self_fenced LOG...: lines where a worker dropped a partition as "owned
# by a newer worker" although the newer epoch was its own (the last one it
# logged as assigned for that partition): it then dropped its own records.
# A stale checkpoint staged before a revoke used to do that (exactly_once_
# cold_start case 4); prints those lines, returns 1 when there are any.
eos_self_fenced() {
  awk '
    match($0, /in\[[0-9]+\] assigned: epoch [0-9]+/) {
      split(substr($0, RSTART, RLENGTH), a, /[][ ]/)
      mine[FILENAME, a[2]] = a[6]
    }
    match($0, /in\[[0-9]+\] is owned by a newer worker \(epoch [0-9]+/) {
      split(substr($0, RSTART, RLENGTH), a, /[][ (]/)
      if (mine[FILENAME, a[2]] == a[12]) { print FILENAME ": " $0; bad = 1 }
    }
    END { exit bad }' "$@"
}
