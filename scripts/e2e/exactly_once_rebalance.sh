#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Partitions moving between workers (SPEC 7): worker A runs throughout while
# worker B is started and stopped (SIGTERM) again and again, so partitions
# move from A to B and back ten times or more while the input keeps
# arriving. Each move restores the partition's state from Redis and seeks
# to its stored offset: the results must be exact.
#
# Partitions move under load, with no window delay: a partition that
# arrives behind the new owner's watermark in event time must not lose
# records as late (it did once: 3,814 of 150,000), nor may a partition that
# has sent nothing yet take another's watermark. EOS_MOVE_UNDER_LOAD=0
# moves them only while the input is held and the lag is 0.
set -euo pipefail
source "$(dirname "$0")/lib/eos.sh"
eos_init exactly_once_rebalance

N=${EOS_N:-150000}
RATE=${EOS_RATE:-5000}
CYCLES=${EOS_CYCLES:-5}
export EOS_DELAY_MS=${EOS_DELAY_MS:-0}
W=(--set session_ms=6000 --set heartbeat_ms=500)
eos_redis_start
eos_monitor_start
eos_topic "$EOS_IN"
eos_worker_start "${W[@]}"
A=$EOS_LAST_PID
# No warm-up (eos_warmup): the first worker B starts while some partitions
# may not have sent anything yet (issue 12).
eos_produce 0 100
eos_background_input "$N" "$RATE"
moves=0
stops=""
quiesce() {
  if [[ ${EOS_MOVE_UNDER_LOAD:-1} != 1 ]]; then
    eos_input_pause
    eos_wait_lag0 30
  fi
}
for ((c = 1; c <= CYCLES; c++)); do
  quiesce
  eos_worker_start "${W[@]}"
  eos_wait_assigned "$EOS_LAST_LOG"
  eos_input_resume
  moves=$((moves + 1))
  sleep 1.5
  quiesce
  eos_worker_stop "$EOS_LAST_PID"
  eos_input_resume
  stops+=" $EOS_STOP_RC"
  [[ $EOS_STOP_RC == 0 ]] || eos_die "worker B #$c: exit $EOS_STOP_RC after SIGTERM"
  moves=$((moves + 1))
  eos_log "cycle $c: B took partitions and gave them back"
  sleep 1
done
eos_input_wait
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
eos_wait_results "$want" 60 || true
eos_worker_stop "$A"
rc_a=$EOS_STOP_RC
lag=$(eos_lag)
dl=$(eos_dead_letters)
assigns=$(cat "$EOS_WORK"/worker.*.log | grep -c '\] assigned: epoch')
rc=0
eos_check "$N" $((moves * 10 * 100)) || rc=1
python3 "$EOS_LIB/eos_check.py" fencing "$EOS_WORK/monitor.txt" 0 "$EOS_NAME" || rc=1
echo "exactly_once_rebalance: $moves moves ($CYCLES x B in and out), $assigns partition" \
  "assignments restored from Redis; exits B:$stops, A: $rc_a; group lag $lag; dead letters $dl"
[[ $rc_a == 0 && $lag == 0 && $dl == 0 && $rc == 0 ]] || eos_die "mismatch (see the figures above)"
echo "exactly_once_rebalance: ok"
