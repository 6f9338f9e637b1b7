#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Redis killed mid-run (SPEC 7): Redis (AOF, appendfsync always) is killed
# with SIGKILL while a worker processes a steady input, and restarted a few
# seconds later from its AOF. Processing must pause (no offset committed to
# Kafka while Redis is down), resume when Redis is back, and the results
# must still be exact.
set -euo pipefail
source "$(dirname "$0")/lib/eos.sh"
eos_init exactly_once_redis_restart

N=${EOS_N:-100000}
RATE=${EOS_RATE:-5000}
eos_redis_start
eos_monitor_start
eos_topic "$EOS_IN"
eos_worker_start
eos_warmup
eos_background_input "$N" "$RATE"
sleep 4
eos_redis_kill9
eos_log "Redis killed"
deadline=$((SECONDS + 20))
until grep -q 'processing paused' "$EOS_LAST_LOG" || ((SECONDS > deadline)); do sleep 0.1; done
grep -q 'processing paused' "$EOS_LAST_LOG" || eos_die "the worker did not pause without Redis"
before=$(eos_offsets | awk '{print $2}' | tr '\n' ' ')
sleep 3
during=$(eos_offsets | awk '{print $2}' | tr '\n' ' ')
[[ "$before" == "$during" ]] || eos_die "offsets committed while Redis was down: $before -> $during"
eos_redis_restart
eos_monitor_start
eos_log "Redis restarted from its AOF"
deadline=$((SECONDS + 30))
until grep -q 'processing resumed' "$EOS_LAST_LOG" || ((SECONDS > deadline)); do sleep 0.1; done
grep -q 'processing resumed' "$EOS_LAST_LOG" || eos_die "the worker did not resume with Redis back"

eos_input_wait
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
eos_wait_results "$want" 90 || true
eos_worker_stop "$EOS_LAST_PID"
[[ $EOS_STOP_RC == 0 ]] || eos_die "the worker did not stop cleanly (exit $EOS_STOP_RC)"
lag=$(eos_lag)
dl=$(eos_dead_letters)
rc=0
eos_check "$N" 1000 || rc=1
python3 "$EOS_LIB/eos_check.py" fencing "$EOS_WORK/monitor.txt" 0 "$EOS_NAME" || rc=1
echo "exactly_once_redis_restart: paused with committed offsets held at [ $before], resumed;" \
  "group lag $lag; dead letters $dl"
[[ $lag == 0 && $dl == 0 && $rc == 0 ]] || eos_die "mismatch (see the figures above)"
echo "exactly_once_redis_restart: ok"
