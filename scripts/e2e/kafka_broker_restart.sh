#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Kafka broker goes down for ~10 s and comes back on the same port with
# the same data while two sluice processes run:
#   producer: simulator (N records, paced) -> kafka_sink A
#   workers:  kafka_source A -> decode json -> filter -> kafka_sink B, one
#             with state = "memory" (into B) and one with state = "redis"
#             (into C, checkpoints in a throwaway Redis)
# They pause while the broker is away and resume by themselves: every record
# of A ends up in B and in C (duplicates allowed, deduplicated by sluice-id;
# none missing), the workers' /readyz report not ready during the outage and
# ready again after it, the producer drains and exits 0, the workers exit 0
# on SIGTERM.
# This script always starts its own broker (scripts/kafka-broker.sh): it must
# stop and restart it, which it cannot do to a shared one.
set -euo pipefail
root=${SLUICE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${SLUICE_BIN:-$root/build/sluice}
broker=$root/scripts/kafka-broker.sh
work=$(mktemp -d)
ppid_=""
declare -A wpid=()
cleanup() {
  [ -n "$ppid_" ] && kill -9 "$ppid_" 2>/dev/null || true
  for w in "${!wpid[@]}"; do kill -9 "${wpid[$w]}" 2>/dev/null || true; done
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  bash "$broker" stop "$work/kafka" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "kafka_broker_restart: FAIL: $*"
  echo "--- producer log"; tail -n 20 "$work/producer.log" 2>/dev/null || true
  for w in memory redis; do
    echo "--- worker ($w) log"; tail -n 30 "$work/worker-$w.log" 2>/dev/null || true
  done
  exit 1
}
say() { echo "kafka_broker_restart: [$SECONDS s] $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

N=${N:-6000}    # records produced
RATE=${RATE:-300} # per second: the producer runs ~20 s
DOWN=${DOWN:-10}  # seconds the broker stays down

bash "$broker" start "$work/kafka" >"$work/broker.out" || fail "could not start a Kafka broker"
brokers=$(sed -n 's/^SLUICE_TEST_KAFKA_BROKERS=//p' "$work/broker.out" | tail -n1)
say "broker $brokers"

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" >/dev/null || fail "could not start redis-server"
export SLUICE_REDIS_URL="redis://127.0.0.1:$rport"

tag="restart-$$-$RANDOM"
a="$tag-a"
declare -A out=([memory]="$tag-b" [redis]="$tag-c")
declare -A aport=([memory]="$(free_port)" [redis]="$(free_port)")
cat >"$work/producer.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline { name = sl.param("name", "x"), state = "memory" }
p:simulator { machines = 20, rate = sl.param("rate", 100), records = sl.param("records", 100),
              format = "json", faults = false }
  :kafka_sink { topic = sl.param("topic", "x"), raw = true }
LUA
cat >"$work/worker.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline { name = sl.param("name", "x"), state = sl.param("state", "memory"),
                        checkpoint = "1s", kafka = { ["session.timeout.ms"] = 6000 } }
p:kafka_source { topic = sl.param("in", "x") }
  :decode { format = "json" }
  :filter "machine_id is not null"
  :kafka_sink { topic = sl.param("out", "x"), key = "machine_id" }
LUA
# A fresh broker can take 20 s to load its coordinators, and an idempotent
# producer waits for them with its records queued: they would then all land
# at once, before the outage. One warm-up record first, so that the paced
# producer below really spans the outage.
SLUICE_KAFKA_BROKERS=$brokers timeout 90 "$bin" run "$work/producer.lua" --api off \
  --log-format text --set name="$tag-warmup" --set topic="$tag-warmup" --set rate=0 \
  --set records=1 2>"$work/warmup.log" || fail "the warm-up producer failed"
SLUICE_KAFKA_BROKERS=$brokers "$bin" run "$work/producer.lua" --api off --log-format text \
  --set name="$tag-producer" --set topic="$a" --set rate="$RATE" --set records="$N" \
  2>"$work/producer.log" &
ppid_=$!
# The worker subscribes once A exists (auto-created by the first produce).
for _ in $(seq 1 60); do
  [ "$(kcat -C -b "$brokers" -t "$a" -e -q -f '%o\n' 2>/dev/null | wc -l)" -gt 0 ] && break
  sleep 0.5
done
for w in memory redis; do
  SLUICE_KAFKA_BROKERS=$brokers "$bin" run "$work/worker.lua" --api "127.0.0.1:${aport[$w]}" \
    --log-format text --set name="$tag-$w" --set state="$w" --set in="$a" --set out="${out[$w]}" \
    2>"$work/worker-$w.log" &
  wpid[$w]=$!
done
ready() { # ready WORKER: the HTTP status of its /readyz
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${aport[$1]}/readyz" 2>/dev/null || true
}
alive() { # fails the test when a worker exited
  local w
  for w in memory redis; do
    kill -0 "${wpid[$w]}" 2>/dev/null || fail "the $w worker exited $*"
  done
}
for w in memory redis; do
  for _ in $(seq 1 60); do
    [ "$(ready "$w")" = 200 ] && break
    alive "at start"
    sleep 0.5
  done
  [ "$(ready "$w")" = 200 ] || fail "the $w worker is not ready after 30 s"
done
say "workers ready"
sleep 2

say "stopping the broker"
bash "$broker" stop "$work/kafka"
down_at=$SECONDS
declare -A not_ready=([memory]=0 [redis]=0)
# At least DOWN seconds, and until both workers noticed (a worker turns not
# ready when its group session times out, 6 s here; a loaded host can take
# longer), at most 45 s.
while [ $((SECONDS - down_at)) -lt "$DOWN" ] ||
  { [ $((not_ready[memory] + not_ready[redis])) -lt 2 ] && [ $((SECONDS - down_at)) -lt 45 ]; }; do
  for w in memory redis; do
    [ "$(ready "$w")" = 503 ] && not_ready[$w]=1
  done
  alive "while the broker was down"
  sleep 0.5
done
say "starting the broker again (same port, same data)"
bash "$broker" start-again "$work/kafka" >/dev/null || fail "the broker did not start again"
for w in memory redis; do
  [ "${not_ready[$w]}" = 1 ] ||
    fail "/readyz of the $w worker never reported not ready while the broker was down"
done

# The producer is finite: it drains and exits by itself.
for _ in $(seq 1 120); do
  kill -0 "$ppid_" 2>/dev/null || break
  sleep 0.5
done
kill -0 "$ppid_" 2>/dev/null && fail "the producer still runs 60 s after the broker came back"
set +e
wait "$ppid_"
code=$?
set -e
ppid_=""
[ "$code" = 0 ] || fail "producer exit code $code"
say "producer done"

kcat -C -b "$brokers" -t "$a" -e -q -f '%p/%o %S\n' | awk '$2 > 0 {print $1}' | sort >"$work/a.pos"
na=$(wc -l <"$work/a.pos")
[ "$na" = "$N" ] || fail "topic A holds $na records, expected $N"

# Every position of A in B and C: a worker's sluice-id ends with
# /A/partition/offset of the record it came from.
ids() { # ids TOPIC: the distinct source positions in TOPIC
  kcat -C -b "$brokers" -t "$1" -e -q -f '%h\n' 2>/dev/null |
    sed -n "s/.*sluice-id=[^,]*\/$a\/\([0-9]*\/[0-9]*\).*/\1/p" | sort -u
}
for w in memory redis; do
  for _ in $(seq 1 120); do
    ids "${out[$w]}" >"$work/$w.pos"
    comm -23 "$work/a.pos" "$work/$w.pos" >"$work/missing"
    [ -s "$work/missing" ] || break
    alive "before it caught up"
    sleep 0.5
  done
  [ -s "$work/missing" ] && fail "$(wc -l <"$work/missing") records of A missing from ${out[$w]} \
($w worker; first: $(head -3 "$work/missing" | tr '\n' ' '))"
  n=$(kcat -C -b "$brokers" -t "${out[$w]}" -e -q -f '%o\n' | wc -l)
  say "$w worker: ${out[$w]} holds $n messages, $(wc -l <"$work/$w.pos") distinct sluice-ids for $na records of A"
  # ready again once its group assigned it partitions again (the restarted
  # broker first reloads its coordinators)
  for _ in $(seq 1 120); do
    [ "$(ready "$w")" = 200 ] && break
    alive "while rejoining"
    sleep 0.5
  done
  [ "$(ready "$w")" = 200 ] || fail "the $w worker is not ready 60 s after the broker came back"
  # A worker pauses when a commit or an output fails during the outage; one
  # that had nothing pending when the broker went away only turns not ready
  # (checked above). A pause must end.
  if grep -q 'paused' "$work/worker-$w.log"; then
    grep -q 'resumed' "$work/worker-$w.log" || fail "the $w worker paused and never logged that it resumed"
  fi
  grep -v rdkafka "$work/worker-$w.log" | grep -E 'paused|resumed|commit|assigned' | tail -n 12 || true
done

for w in memory redis; do
  kill -TERM "${wpid[$w]}"
  set +e
  wait "${wpid[$w]}"
  code=$?
  set -e
  unset "wpid[$w]"
  [ "$code" = 0 ] || fail "$w worker exit code $code after SIGTERM"
done
say "ok"
