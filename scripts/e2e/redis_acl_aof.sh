#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checkpoints survive a Redis kill -9 with ACL users and AOF, and the
# redis/redis#14541 pitfall is refused (docs/state.md). Redis 7.0 replays
# the AOF's MULTI/EXEC blocks (the effects of scripts, i.e. of every
# checkpoint) as the `default` user: when `default` has no permissions they
# are silently dropped on restart.
#   1. the pitfall: Redis with `default` off and without permissions, a user
#      `sluice`; a script write as `sluice` is lost by a kill -9 + restart
#      (shown, not asserted: it depends on the Redis version);
#   2. the protection: a worker on that Redis refuses to checkpoint (it
#      stops with an error naming the fix) and writes no checkpoint;
#   3. the working configuration (`default` off but with the permissions):
#      a worker's checkpoint survives a kill -9 + AOF restart byte for byte,
#      and a second worker resumes from it with exact results.
set -euo pipefail
source "$(dirname "$0")/lib/eos.sh"
eos_init redis_acl_aof

N=${EOS_N:-20000}
PW=eos-secret
EOS_REDIS_AUTH="sluice:$PW"
EOS_REDIS_URL=""
eos_topic "$EOS_IN"

# 1. The pitfall.
eos_redis_start --user default off nopass -@all --user sluice on ">$PW" '~*' '&*' '+@all'
EOS_REDIS_URL="redis://sluice:$PW@127.0.0.1:$EOS_REDIS_PORT"
eos_redis_cli eval "redis.call('SET', KEYS[1], 'by a script'); redis.call('SET', KEYS[2], 'by a script')" 2 'sl:{demo}:k' 'sl:{demo}:k2' >/dev/null
eos_redis_cli set 'sl:{demo}:plain' 'written by SET' >/dev/null
eos_redis_kill9
eos_redis_restart
script_after=$(eos_redis_cli get 'sl:{demo}:k')
plain_after=$(eos_redis_cli get 'sl:{demo}:plain')
if [[ -z "$script_after" && -n "$plain_after" ]]; then
  pitfall="reproduced (script write lost, plain SET kept)"
else
  pitfall="not reproduced by this Redis ($(redis-server --version | awk '{print $3}'))"
fi
eos_log "pitfall: $pitfall"

# 2. The protection: the worker must refuse and write no checkpoint.
eos_worker_start
eos_produce 0 100
deadline=$((SECONDS + 40))
while kill -0 "$EOS_LAST_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
kill -0 "$EOS_LAST_PID" 2>/dev/null && eos_die "the worker kept running on an unsafe Redis"
refused_rc=0
wait "$EOS_LAST_PID" || refused_rc=$?
grep -q 'would lose checkpoints on restart' "$EOS_LAST_LOG" ||
  eos_die "no refusal naming redis/redis#14541 in the worker log"
stored=$(eos_redis_cli --scan --pattern "sl:{$EOS_GROUP:*}:offset" | wc -l)
((refused_rc != 0 && stored == 0)) ||
  eos_die "unsafe Redis: exit $refused_rc, $stored offsets stored (want non-zero, 0)"
eos_log "protection: worker refused (exit $refused_rc), $stored checkpoints written"

# 3. The working configuration: `default` stays off but may run the writes.
eos_redis_kill9
rm -rf "$EOS_WORK/redis"
mkdir -p "$EOS_WORK/redis"
EOS_REDIS_ARGS=(--user default off nopass '~*' '&*' '+@all' --user sluice on ">$PW" '~*' '&*' '+@all')
eos_redis_restart
eos_worker_start
eos_produce 100 "$N"
eos_wait_lag0 60
eos_worker_stop "$EOS_LAST_PID"
[[ $EOS_STOP_RC == 0 ]] || eos_die "the worker did not stop cleanly (exit $EOS_STOP_RC)"
snapshot() {
  local k
  eos_redis_cli --scan --pattern "sl:{$EOS_GROUP:*" | sort | while read -r k; do
    printf '%s %s\n' "$k" "$(eos_redis_cli --no-raw dump "$k" | md5sum | cut -c1-12)"
  done
}
before=$(snapshot)
nkeys=$(echo "$before" | grep -c .)
offsets=$(for p in 0 1 2 3; do eos_redis_cli get "sl:{$EOS_GROUP:$EOS_IN:$p}:offset"; done | tr '\n' ' ')
eos_redis_kill9
eos_redis_restart
after=$(snapshot)
[[ "$before" == "$after" && $nkeys -ge 12 ]] ||
  eos_die "checkpoint changed by the Redis restart: $nkeys keys before, $(echo "$after" | grep -c .) after"
# A new worker resumes from the surviving checkpoint.
eos_worker_start
eos_flush "$(eos_flush_ts "$N")"
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
eos_wait_results "$want" 60 || true
eos_worker_stop "$EOS_LAST_PID"
dl=$(eos_dead_letters)
rc=0
eos_check "$N" 0 || rc=1
echo "redis_acl_aof: pitfall $pitfall; unsafe ACL refused (exit $refused_rc, 0 checkpoints);" \
  "safe ACL: $nkeys checkpoint keys (offsets $offsets) identical after kill -9 + AOF restart;" \
  "dead letters $dl"
[[ $dl == 0 && $rc == 0 ]] || eos_die "mismatch (see the figures above)"
echo "redis_acl_aof: ok"
