#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Redis behind Sentinel, primary killed mid-run (SPEC 7, docs/state.md
# "Redis Sentinel"): a primary, one replica and three sentinels on loopback;
# a worker with state = "redis" through
#   redis+sentinel://s1,s2,s3/mymaster?wait_replicas=1
# on a steady input. The primary is killed with SIGKILL; the sentinels
# promote the replica; the worker pauses (with wait_replicas=1 and the only
# replica gone it cannot confirm a checkpoint) until the killed node is back
# as a replica of the new primary, then resumes on the new primary. Every
# window must be exact: what the worker counted as checkpointed had reached
# the replica (WAIT), so the promotion lost none of it.
set -euo pipefail
source "$(dirname "$0")/lib/eos.sh"
eos_init redis_sentinel_failover

N=${EOS_N:-60000}
RATE=${EOS_RATE:-5000}

# ---- the servers ---------------------------------------------------------------
# The primary: eos.sh's Redis (AOF, appendfsync always), replicas attach at once.
eos_redis_start --repl-diskless-sync-delay 0
PRIMARY=$EOS_REDIS_PORT
REPLICA=$(eos_free_port)

start_replica() { # start_replica PORT_OF_PRIMARY
  mkdir -p "$EOS_WORK/replica"
  redis-server --port "$REPLICA" --bind 127.0.0.1 --dir "$EOS_WORK/replica" \
    --appendonly yes --appendfsync always --save '' --daemonize no \
    --repl-diskless-sync-delay 0 --replicaof 127.0.0.1 "$1" \
    --logfile "$EOS_WORK/replica.log" </dev/null &
  eos_track $!
}
start_replica "$PRIMARY"

SENTINELS=()
for i in 1 2 3; do
  port=$(eos_free_port)
  SENTINELS+=("$port")
  mkdir -p "$EOS_WORK/sentinel$i"
  # Small timeouts keep the test short: down after 1 s, failover within 5 s.
  cat >"$EOS_WORK/sentinel$i/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
dir $EOS_WORK/sentinel$i
logfile $EOS_WORK/sentinel$i.log
sentinel monitor mymaster 127.0.0.1 $PRIMARY 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 5000
EOF
  redis-server "$EOS_WORK/sentinel$i/sentinel.conf" --sentinel </dev/null &
  eos_track $!
done

cli() { redis-cli -p "$1" "${@:2}" 2>/dev/null || true; }
replica_online() { cli "$1" info replication | grep -q 'state=online'; }
sentinels_ready() { # each sees the replica and the other two sentinels
  local s
  for s in "${SENTINELS[@]}"; do
    [[ $(cli "$s" sentinel replicas mymaster | grep -c '^name$') == 1 ]] || return 1
    [[ $(cli "$s" sentinel sentinels mymaster | grep -c '^name$') == 2 ]] || return 1
  done
}
primary_is() { # every sentinel names port $1 as the primary
  local s
  for s in "${SENTINELS[@]}"; do
    [[ $(cli "$s" sentinel get-master-addr-by-name mymaster | tail -n1) == "$1" ]] || return 1
  done
}
eos_wait_until 20 "the replica in sync" replica_online "$PRIMARY"
eos_wait_until 30 "the sentinels' view of the primary, replica and each other" sentinels_ready
eos_log "primary :$PRIMARY, replica :$REPLICA, sentinels ${SENTINELS[*]}"

# ---- the worker ------------------------------------------------------------------
EOS_REDIS_URL="redis+sentinel://127.0.0.1:${SENTINELS[0]},127.0.0.1:${SENTINELS[1]},127.0.0.1:${SENTINELS[2]}/mymaster?wait_replicas=1&wait_timeout_ms=1000"
eos_topic "$EOS_IN"
eos_worker_start
# `sluice serve` (the API alone) through the same URL: its async connections
# and the sl:events subscription must follow the failover too.
API="127.0.0.1:$(eos_free_port)"
SLUICE_REDIS_URL=$EOS_REDIS_URL "$SLUICE_BIN" serve --api "$API" --log-format text \
  >"$EOS_WORK/serve.log" 2>&1 </dev/null &
eos_track $!
api_ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$API/readyz") == 200 ]]; }
eos_wait_until 20 "serve's /readyz 200 through the sentinels" api_ready
eos_warmup
eos_background_input "$N" "$RATE"
sleep 3

eos_redis_kill9
t0=$SECONDS
eos_log "primary killed"
deadline=$((SECONDS + 20))
until grep -q 'processing paused' "$EOS_LAST_LOG" || ((SECONDS > deadline)); do sleep 0.1; done
grep -q 'processing paused' "$EOS_LAST_LOG" || eos_die "the worker did not pause without its primary"
eos_wait_until 30 "the promotion of the replica by the sentinels" primary_is "$REPLICA"
eos_log "sentinels promoted :$REPLICA after $((SECONDS - t0)) s"
eos_wait_until 20 "serve's /readyz 200 on the new primary" api_ready
# A live event published on the new primary reaches an SSE client of serve.
curl -sN --max-time 6 "http://$API/api/v1/events" >"$EOS_WORK/events.txt" 2>/dev/null &
sse=$!
for i in $(seq 1 10); do
  sleep 0.5
  cli "$REPLICA" publish sl:events '{"type":"result","data":{"probe":"after-failover"}}' >/dev/null
done
wait "$sse" || true
grep -q 'after-failover' "$EOS_WORK/events.txt" ||
  eos_die "serve's SSE stream did not follow the failover (no event from the new primary)"
eos_log "serve: /readyz 200 and SSE events from the new primary"
# With its only replica gone, the new primary cannot confirm a checkpoint
# (wait_replicas=1): processing stays paused until a replica is back.
before=$(eos_offsets | awk '{print $2}' | tr '\n' ' ')
sleep 2
during=$(eos_offsets | awk '{print $2}' | tr '\n' ' ')
[[ "$before" == "$during" ]] || eos_die "offsets committed with no replica to confirm: $before -> $during"
! grep -q 'processing resumed' "$EOS_LAST_LOG" || eos_die "resumed with no replica to confirm"
# The killed node comes back as a replica of the new primary (as a
# Kubernetes pod that asks the sentinels first would).
EOS_REDIS_ARGS=(--repl-diskless-sync-delay 0 --replicaof 127.0.0.1 "$REPLICA")
eos_redis_restart
eos_wait_until 20 "the old primary in sync as a replica" replica_online "$REPLICA"
deadline=$((SECONDS + 30))
until grep -q 'processing resumed' "$EOS_LAST_LOG" || ((SECONDS > deadline)); do sleep 0.1; done
grep -q 'processing resumed' "$EOS_LAST_LOG" || eos_die "the worker did not resume on the new primary"
eos_log "processing resumed $((SECONDS - t0)) s after the kill"
grep -E 'processing (paused|resumed)' "$EOS_LAST_LOG" | cut -c1-400 >&2

eos_input_wait
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
eos_wait_results "$want" 90 || true
eos_worker_stop "$EOS_LAST_PID"
[[ $EOS_STOP_RC == 0 ]] || eos_die "the worker did not stop cleanly (exit $EOS_STOP_RC)"
# The final checkpoint is on the new primary, and its replica has it too.
for p in $(eos_parts); do
  a=$(cli "$REPLICA" get "sl:{$EOS_GROUP:$EOS_IN:$p}:offset")
  b=$(cli "$PRIMARY" get "sl:{$EOS_GROUP:$EOS_IN:$p}:offset")
  [[ -n "$a" && "$a" == "$b" ]] || eos_die "partition $p: offset '$a' on the primary, '$b' on its replica"
done
lag=$(eos_lag)
dl=$(eos_dead_letters)
rc=0
eos_check "$N" 1000 || rc=1
echo "redis_sentinel_failover: primary killed, replica promoted, worker resumed on it;" \
  "group lag $lag; dead letters $dl"
[[ $lag == 0 && $dl == 0 && $rc == 0 ]] || eos_die "mismatch (see the figures above)"
echo "redis_sentinel_failover: ok"
