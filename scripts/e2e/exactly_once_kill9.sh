#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Exactly-once state across crashes (SPEC 7): a worker (kafka_source ->
# decode -> 1 s tumbling window per machine, count()/sum() -> kafka_sink,
# state = "redis", checkpoint = "200ms") is killed with SIGKILL at random
# points, at least five times, and restarted each time while the input keeps
# arriving. At the end every window's count and sum must equal an
# independent computation from the input topic: zero lost, zero counted
# twice; sink duplicates (same sluice-id) are bounded by kills x in-flight.
set -euo pipefail
source "$(dirname "$0")/lib/eos.sh"
eos_init exactly_once_kill9

N=${EOS_N:-200000}
RATE=${EOS_RATE:-5000} # readings per second: 40 s of input
KILLS=${EOS_KILLS:-6}
eos_redis_start
eos_monitor_start
eos_topic "$EOS_IN"
# A killed worker's partitions move once the broker drops it: 6 s session.
W=(--set session_ms=6000 --set heartbeat_ms=500)
eos_worker_start "${W[@]}"
eos_warmup
eos_background_input "$N" "$RATE"

for ((k = 1; k <= KILLS; k++)); do
  # A random point once the worker owns its partitions: it is then catching
  # up with what arrived while it was down, or following the input.
  eos_wait_assigned "$EOS_LAST_LOG"
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.1, 1.5), 2))')"
  eos_kill9 "$EOS_LAST_PID"
  eos_log "kill -9 #$k"
  eos_worker_start "${W[@]}"
done
eos_input_wait
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
eos_wait_results "$want" 90 || true
eos_worker_stop "$EOS_LAST_PID"
[[ $EOS_STOP_RC == 0 ]] || eos_die "the last worker did not stop cleanly (exit $EOS_STOP_RC)"
lag=$(eos_lag)
dl=$(eos_dead_letters)
# In flight at a kill: the results emitted since the last checkpoint, at
# most what one checkpoint interval (200 ms) emits while catching up after a
# restart; bounded here by 10 s of event time (10 windows) per machine.
max_dups=$((KILLS * 10 * 100))
rc=0
eos_check "$N" "$max_dups" || rc=1
python3 "$EOS_LIB/eos_check.py" fencing "$EOS_WORK/monitor.txt" 0 "$EOS_NAME" || rc=1
echo "exactly_once_kill9: $KILLS kill -9, group lag at the end $lag, dead letters $dl"
[[ $lag == 0 && $dl == 0 && $rc == 0 ]] || eos_die "mismatch (see the figures above)"
echo "exactly_once_kill9: ok"
