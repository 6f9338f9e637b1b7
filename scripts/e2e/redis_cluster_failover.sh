#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Redis Cluster, a primary killed mid-run (SPEC 7, docs/state.md "Redis
# Cluster"): three primaries and three replicas on loopback (redis-cli
# --cluster create), two workers on a 12-partition topic with state in the
# cluster through a seed list
#   redis://n1,n2,n3?wait_replicas=1
# so the partitions' checkpoints are spread over the three primaries. One
# primary is killed with SIGKILL; the cluster promotes its replica; the
# workers pause the partitions they cannot checkpoint (with wait_replicas=1
# and that slot range's only replica gone, no checkpoint there can be
# confirmed) until the killed node is back as a replica of the new primary,
# then resume there. Every window must be exact: what a worker counted as
# checkpointed had reached the replica (WAIT), so the promotion lost none.
set -euo pipefail
export EOS_PARTS=${EOS_PARTS:-12}
source "$(dirname "$0")/lib/eos.sh"
eos_init redis_cluster_failover

N=${EOS_N:-60000}
RATE=${EOS_RATE:-5000}

# ---- the cluster ----------------------------------------------------------------
source "$EOS_LIB/redis_cluster.sh"
PORTS=()
declare -A PID
start_node() { # start_node PORT BUSPORT
  rcl_start_node "$EOS_WORK/node$1" "$1" "$2"
  PID[$1]=$RCL_PID
  eos_track "$RCL_PID"
}
declare -A BUS
for i in 1 2 3 4 5 6; do
  p=$(eos_free_port)
  BUS[$p]=$(eos_free_port)
  PORTS+=("$p")
  start_node "$p" "${BUS[$p]}"
done
cli() { rcl_cli "$@"; }
wait_until() { # wait_until TIMEOUT WHAT COMMAND...: poll COMMAND (bounded)
  local t=$1 what=$2
  shift 2
  rcl_wait "$t" "$@" || eos_die "$what not within the time allowed"
}
rcl_create 1 "${PORTS[@]}" 2>"$EOS_WORK/create.log" || eos_die "cannot make the cluster (create.log)"
cluster_ok() { rcl_cluster_ok "$@"; }
primaries() { rcl_primaries "${PORTS[0]}"; }
mapfile -t PRIM < <(primaries)
eos_log "cluster: primaries ${PRIM[*]}, nodes ${PORTS[*]}"
# eos.sh reads checkpoints with redis-cli: follow the cluster's redirects.
eos_redis_cli() { redis-cli -c -p "${PORTS[0]}" "$@"; }

# ---- the workers -------------------------------------------------------------------
EOS_REDIS_URL="redis://127.0.0.1:${PRIM[0]},127.0.0.1:${PRIM[1]},127.0.0.1:${PRIM[2]}?wait_replicas=1&wait_timeout_ms=1000"
eos_topic "$EOS_IN"
eos_worker_start
W1=$EOS_LAST_PID
W1_LOG=$EOS_LAST_LOG
eos_worker_start
W2=$EOS_LAST_PID
W2_LOG=$EOS_LAST_LOG
eos_warmup
# The 12 partitions' checkpoints are on more than one primary.
owners=$(for p in $(eos_parts); do
  s=$(cli "${PORTS[0]}" cluster keyslot "sl:{$EOS_GROUP:$EOS_IN:$p}:offset")
  for q in "${PRIM[@]}"; do
    if [[ $(cli "$q" cluster countkeysinslot "$s") -gt 0 ]]; then echo "$q"; fi
  done
done | sort -u | wc -l)
((owners >= 2)) || eos_die "the partitions' checkpoints are on $owners primary only"
eos_log "checkpoints of $EOS_PARTS partitions on $owners primaries"
eos_background_input "$N" "$RATE"
sleep 3

# Kill the primary that holds partition 0's checkpoint.
s0=$(cli "${PORTS[0]}" cluster keyslot "sl:{$EOS_GROUP:$EOS_IN:0}:offset")
VICTIM=""
for q in "${PRIM[@]}"; do [[ $(cli "$q" cluster countkeysinslot "$s0") -gt 0 ]] && VICTIM=$q; done
[[ -n "$VICTIM" ]] || eos_die "no primary holds partition 0's checkpoint"
VID=$(cli "$VICTIM" cluster myid)
REPLICA=""
for p in "${PORTS[@]}"; do
  cli "$p" info replication | tr -d '\r' | grep -qx "master_port:$VICTIM" && REPLICA=$p
done
[[ -n "$REPLICA" ]] || eos_die "no replica of :$VICTIM"
kill -KILL "${PID[$VICTIM]}"
wait "${PID[$VICTIM]}" 2>/dev/null || true
t0=$SECONDS
eos_log "primary :$VICTIM killed (its replica :$REPLICA)"
promoted() { cli "$REPLICA" info replication | grep -q 'role:master'; }
wait_until 30 "the promotion of :$REPLICA" promoted
others=()
for p in "${PORTS[@]}"; do [[ $p != "$VICTIM" ]] && others+=("$p"); done
wait_until 30 "cluster_state:ok after the failover" cluster_ok "${others[@]}"
eos_log "replica :$REPLICA promoted after $((SECONDS - t0)) s"
# With that slot range's only replica gone, its checkpoints cannot be
# confirmed (wait_replicas=1): partition 0 does not advance meanwhile.
paused() { grep -q 'processing paused' "$W1_LOG" || grep -q 'processing paused' "$W2_LOG"; }
wait_until 20 "a worker pausing without a confirmed checkpoint" paused
before=$(eos_offsets | awk '$1 == 0 {print $2}')
sleep 2
during=$(eos_offsets | awk '$1 == 0 {print $2}')
[[ "$before" == "$during" ]] || eos_die "partition 0 committed with no replica to confirm: $before -> $during"
# The killed node comes back (its nodes.conf): a replica of the new primary.
start_node "$VICTIM" "${BUS[$VICTIM]}"
back() { cli "$REPLICA" info replication | grep -q 'connected_slaves:1'; }
wait_until 30 "the old primary in sync as a replica of :$REPLICA" back
eos_log "old primary back as a replica $((SECONDS - t0)) s after the kill"

eos_input_wait
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
eos_wait_results "$want" 90 || true
resumed=$(cat "$W1_LOG" "$W2_LOG" | grep -c 'processing resumed' || true)
grep -hE 'processing (paused|resumed)' "$W1_LOG" "$W2_LOG" | cut -c1-300 >&2 || true
eos_worker_stop "$W1"
rc1=$EOS_STOP_RC
eos_worker_stop "$W2"
rc2=$EOS_STOP_RC
[[ $rc1 == 0 && $rc2 == 0 ]] || eos_die "the workers did not stop cleanly (exits $rc1, $rc2)"
# Partition 0's final checkpoint is on the new primary and its replica.
a=$(cli "$REPLICA" get "sl:{$EOS_GROUP:$EOS_IN:0}:offset")
b=$(printf 'READONLY\nGET sl:{%s:%s:0}:offset\n' "$EOS_GROUP" "$EOS_IN" | cli "$VICTIM" | tail -n1)
[[ -n "$a" && "$a" == "$b" ]] || eos_die "partition 0: offset '$a' on the new primary, '$b' on its replica"
lag=$(eos_lag)
dl=$(eos_dead_letters)
rc=0
eos_check "$N" 1000 || rc=1
echo "redis_cluster_failover: primary :$VICTIM killed, :$REPLICA promoted, $resumed resumes;" \
  "group lag $lag; dead letters $dl"
[[ $lag == 0 && $dl == 0 && $rc == 0 ]] || eos_die "mismatch (see the figures above)"
echo "redis_cluster_failover: ok"
