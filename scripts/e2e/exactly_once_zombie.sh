#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A zombie worker is fenced (SPEC 7): two workers share a group; one is
# frozen with SIGSTOP past its session timeout while the input keeps
# arriving, the other takes over its partitions (new epochs in Redis), then
# the frozen one is resumed with SIGCONT. Its checkpoint must be refused by
# the epoch check: no stale write accepted (audited from a Redis MONITOR
# log), the log says "owned by a newer worker", and the results are exact.
set -euo pipefail
source "$(dirname "$0")/lib/eos.sh"
eos_init exactly_once_zombie

N=${EOS_N:-120000}
RATE=${EOS_RATE:-5000}
W=(--set session_ms=6000 --set heartbeat_ms=500)
eos_redis_start
eos_monitor_start
eos_topic "$EOS_IN"
eos_worker_start "${W[@]}"
A=$EOS_LAST_PID A_LOG=$EOS_LAST_LOG
eos_warmup
eos_worker_start "${W[@]}"
B=$EOS_LAST_PID B_LOG=$EOS_LAST_LOG
eos_wait_assigned "$B_LOG"
eos_background_input "$N" "$RATE"
sleep 2 # both workers processing input

# Freeze A past its session timeout; B gets A's partitions (new epochs).
# The input is held while A is frozen and B takes over, so that A's
# partitions are not behind B's in event time when B gets them: the
# watermark of a worker never moves back, so records behind it would be
# late (see docs/state.md, "What is tested").
eos_input_pause
eos_wait_lag0 30
a_parts=$(grep -c '\] assigned: epoch' "$A_LOG")
kill -STOP "$A"
eos_log "SIGSTOP worker A (pid $A)"
deadline=$((SECONDS + 40))
until eos_owns "$B_LOG" || ((SECONDS > deadline)); do sleep 0.2; done
eos_owns "$B_LOG" || eos_die "B did not take over A's partitions within 40 s"
eos_log "B owns every partition; input resumed; SIGCONT worker A"
eos_input_resume
sleep 1
kill -CONT "$A"
deadline=$((SECONDS + 30))
until grep -q 'owned by a newer worker' "$A_LOG" || ((SECONDS > deadline)); do sleep 0.2; done
fenced=$(grep -c 'owned by a newer worker' "$A_LOG" || true)

eos_input_wait
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
eos_wait_results "$want" 90 || true
eos_worker_stop "$A"
rc_a=$EOS_STOP_RC
eos_worker_stop "$B"
rc_b=$EOS_STOP_RC
lag=$(eos_lag)
dl=$(eos_dead_letters)
rc=0
eos_check "$N" $((2 * RATE * 8 / 1000 * 100)) || rc=1
python3 "$EOS_LIB/eos_check.py" fencing "$EOS_WORK/monitor.txt" 1 "$EOS_NAME" || rc=1
echo "exactly_once_zombie: A held $a_parts partitions when frozen; A logged $fenced fenced" \
  "partition(s); exits A=$rc_a B=$rc_b; group lag $lag; dead letters $dl"
[[ $fenced -ge 1 && $rc_a == 0 && $rc_b == 0 && $lag == 0 && $dl == 0 && $rc == 0 ]] ||
  eos_die "mismatch (see the figures above)"
echo "exactly_once_zombie: ok"
