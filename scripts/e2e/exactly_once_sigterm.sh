#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Graceful stop (SPEC 2 and 7): SIGTERM in the middle of a steady input must
# end the worker with exit 0 within 10 s, after a final checkpoint: the
# offsets the group committed to Kafka then equal the offsets stored in
# Redis (sl:{P:T:N}:offset) for every partition. A second worker then
# finishes the input and the results are exact.
set -euo pipefail
source "$(dirname "$0")/lib/eos.sh"
eos_init exactly_once_sigterm

N=${EOS_N:-60000}
RATE=${EOS_RATE:-5000}
eos_redis_start
eos_topic "$EOS_IN"
eos_worker_start
eos_warmup
eos_background_input "$N" "$RATE"
sleep 3
eos_worker_stop "$EOS_LAST_PID"
eos_log "SIGTERM: exit $EOS_STOP_RC after $EOS_STOP_MS ms"
[[ $EOS_STOP_RC == 0 ]] || eos_die "exit status $EOS_STOP_RC after SIGTERM (want 0)"
((EOS_STOP_MS <= 10000)) || eos_die "stopping took $EOS_STOP_MS ms (want <= 10 s)"
same=0
pairs=""
while read -r p committed end; do
  stored=$(eos_redis_cli get "sl:{$EOS_GROUP:$EOS_IN:$p}:offset")
  pairs+=" p$p kafka=$committed redis=$stored end=$end;"
  [[ "$committed" == "$stored" && "$committed" -gt 0 ]] && same=$((same + 1))
done < <(eos_offsets)
echo "exactly_once_sigterm: exit 0 after $EOS_STOP_MS ms; committed offsets:$pairs"
((same == 4)) || eos_die "Kafka committed offsets differ from the Redis checkpoint"

eos_worker_start
eos_input_wait
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
eos_wait_results "$want" 90 || true
eos_worker_stop "$EOS_LAST_PID"
[[ $EOS_STOP_RC == 0 ]] || eos_die "the second worker did not stop cleanly (exit $EOS_STOP_RC)"
lag=$(eos_lag)
dl=$(eos_dead_letters)
rc=0
eos_check "$N" 0 || rc=1
echo "exactly_once_sigterm: 4 of 4 partitions committed = stored; group lag $lag; dead letters $dl"
[[ $lag == 0 && $dl == 0 && $rc == 0 ]] || eos_die "mismatch (see the figures above)"
echo "exactly_once_sigterm: ok"
