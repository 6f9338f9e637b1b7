#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Scale-out measured (issue 17, docs/scaling.md): workers join a consumer group on a
# 12-partition topic while input flows, 1 -> 2 -> 4 by default.
#
#   bench/scale_out.sh [--rate R] [--phase S] [--workers "1 2 4"] [--parts P]
#                      [--heartbeat-ms MS] [--session-ms MS] [--embedded]
#
# Input: readings of 100 machines produced at R per second (default 2000) by the
# exactly-once scripts' paced producer (scripts/e2e/lib/eos.sh: one kcat per partition,
# acks=all, in order), for S seconds per phase (default 25) times the number of phases.
# The pipeline is theirs too: kafka_source -> decode json -> 1 s tumbling window per
# machine, count() and sum(v) -> kafka_sink, state = "redis" (AOF, fsync always),
# checkpoint = "1s". A worker starts, takes every partition and restores; then at each
# phase boundary new workers join, up to the phase's count. When the input ends, the
# workers drain it and the window results are compared with the input by
# scripts/e2e/lib/eos_check.py (every window exactly once by sluice-id, counts and sums
# exact). Measured per rebalance: the pause of the group (no record taken by any
# worker), the revoke (flush + checkpoint), the restore per worker (log lines); per
# phase and worker: records/s and CPU seconds (/metrics and /proc sampled every
# 100 ms, bench/scale_out.py). Prints JSON lines and a table; exits non-zero when a
# result is wrong or a worker fails.
#
# Broker: SLUICE_TEST_KAFKA_BROKERS=HOST:PORT, else a real Kafka broker is started here
# (scripts/kafka-broker.sh). --embedded: the embedded broker instead, librdkafka's mock
# cluster, in a process of its own (bench/mock_broker.c): inside a sluice process it
# would serve that process only. No JVM, and the results are checked the same way, but
# its group coordinator completes a rebalance only after a session timeout (6 s here
# unless --session-ms says otherwise): its pauses are the mock's, not Kafka's.
# SLUICE_BIN (default $BUILD/sluice, BUILD default build) is the worker; the logs,
# samples and report.jsonl of the last run are kept in SCALE_OUT_DIR (default
# $BUILD/scale-out). scripts/e2e/scale_out.sh runs a short variant.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${BUILD:-$here/build}" && pwd)"
export SLUICE_ROOT="$here" SLUICE_BIN="${SLUICE_BIN:-$build/sluice}"
rate=2000 phase=25 workers="1 2 4" parts=12 heartbeat_ms="" session_ms="" embedded=0
usage="usage: $0 [--rate R] [--phase S] [--workers \"1 2 4\"] [--parts P] [--heartbeat-ms MS] [--session-ms MS] [--embedded]"
while [[ $# -gt 0 ]]; do
  [[ $1 == --embedded ]] && { embedded=1; shift; continue; }
  [[ $# -ge 2 ]] || { echo "$usage" >&2; exit 2; }
  case "$1" in
    --rate) rate="$2" ;;
    --phase) phase="$2" ;;
    --workers) workers="$2" ;;
    --parts) parts="$2" ;;
    --heartbeat-ms) heartbeat_ms="$2" ;;
    --session-ms) session_ms="$2" ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift 2
done
# librdkafka's defaults, or with the mock broker those of the tests (docs/kafka.md: its
# coordinator waits a session timeout before it completes a rebalance).
[[ -n "$session_ms" ]] || session_ms=$( ((embedded)) && echo 6000 || echo 45000)
[[ -n "$heartbeat_ms" ]] || heartbeat_ms=$( ((embedded)) && echo 500 || echo 3000)
export EOS_PARTS="$parts"
mock_dir=""
if ((embedded)); then
  # The mock broker reads topics to create on fd 9 and exits when it closes.
  mock_dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-mock-broker.XXXXXX")
  cc -O1 -o "$mock_dir/mock_broker" "$here/bench/mock_broker.c" -lrdkafka ||
    { echo "cannot build bench/mock_broker.c" >&2; rm -rf "$mock_dir"; exit 1; }
  mkfifo "$mock_dir/ctl"
  "$mock_dir/mock_broker" <"$mock_dir/ctl" >"$mock_dir/out" 2>&1 &
  mock_pid=$!
  exec 9>"$mock_dir/ctl"
  for _ in $(seq 1 50); do
    grep -q '^SLUICE_TEST_KAFKA_BROKERS=' "$mock_dir/out" && break
    sleep 0.1
  done
  SLUICE_TEST_KAFKA_BROKERS=$(sed -n 's/^SLUICE_TEST_KAFKA_BROKERS=//p' "$mock_dir/out")
  [[ -n "$SLUICE_TEST_KAFKA_BROKERS" ]] ||
    { echo "the mock broker did not start: $(cat "$mock_dir/out")" >&2; exit 1; }
  export SLUICE_TEST_KAFKA_BROKERS
fi
# shellcheck source=../scripts/e2e/lib/eos.sh
source "$here/scripts/e2e/lib/eos.sh"
eos_init scale_out
if ((embedded)); then
  eos_track "$mock_pid"
  eos_create_topic() { # the mock has no Admin API: it creates what fd 9 asks for
    echo "$1 $EOS_PARTS" >&9
    for _ in $(seq 1 50); do
      grep -q "^created $1\$" "$mock_dir/out" && return 0
      sleep 0.1
    done
    eos_die "the mock broker did not create $1: $(tail -n 3 "$mock_dir/out")"
  }
fi
command -v curl >/dev/null || eos_die "curl not found"

keep="${SCALE_OUT_DIR:-$build/scale-out}"
rm -rf "$keep"
mkdir -p "$keep"
# Whatever happens, the logs and samples stay in $keep (eos_cleanup removes EOS_WORK).
keep_logs() { cp "$EOS_WORK"/worker.*.log "$EOS_WORK"/samples.txt "$EOS_WORK"/marks.txt "$keep"/ 2>/dev/null || true; }
# eos_cleanup reads the exit status from $?: hand it over (set -e off, or the
# subshell's non-zero exit would end the trap before the cleanup).
on_exit() {
  local rc=$?
  set +e
  keep_logs
  [[ -z "$mock_dir" ]] || { exec 9>&-; rm -rf "$mock_dir"; }
  (exit "$rc")
  eos_cleanup
}
trap on_exit EXIT

now_ms() { date +%s%3N; }
mark() { echo "$(now_ms) $*" >>"$EOS_WORK/marks.txt"; }

eos_redis_start
eos_topic "$EOS_IN"
: >"$EOS_WORK/workers.txt"
python3 "$here/bench/scale_out.py" sample "$EOS_WORK/workers.txt" "$EOS_WORK/samples.txt" 0.1 &
eos_track $!

W=(--set checkpoint=1s --set "session_ms=$session_ms" --set "heartbeat_ms=$heartbeat_ms")
started=0
worker_pids=()
grow_to() { # N: start workers until N run
  local port
  while ((started < $1)); do
    port=$(eos_free_port)
    eos_worker_start "${W[@]}" --api "127.0.0.1:$port"
    started=$((started + 1))
    worker_pids+=("$EOS_LAST_PID")
    echo "$EOS_WORKER_SEQ $EOS_LAST_PID $port" >>"$EOS_WORK/workers.txt"
    mark start "$EOS_WORKER_SEQ"
  done
}

read -r -a steps <<<"$workers"
nphases=${#steps[@]}
n=$((100 + rate * phase * nphases))
echo "scale_out: $( ((embedded)) && echo "mock broker, ")$parts partitions, workers ${workers// / -> }, $rate records/s for ${phase} s per phase ($n readings), heartbeat ${heartbeat_ms} ms, session ${session_ms} ms; load: $(uptime | sed 's/.*load/load/')" >&2

grow_to "${steps[0]}"
eos_wait_assigned "$EOS_LAST_LOG" 60
eos_warmup # readings 0..99: every partition has a checkpointed offset
mark phase "${steps[0]}"
eos_background_input "$n" "$rate"
for ((i = 1; i < nphases; i++)); do
  sleep "$phase"
  mark phase "${steps[i]}"
  grow_to "${steps[i]}"
done
eos_input_wait
mark input-end
want=$(python3 "$EOS_LIB/eos_check.py" windows "$n" "$(eos_flush_ts "$n")")
eos_wait_results "$want" 120 || true
eos_wait_lag0 60
mark drained
sleep 0.3 # one more sample after the drain
rcs=""
for pid in "${worker_pids[@]}"; do
  eos_worker_stop "$pid"
  rcs+=" $EOS_STOP_RC"
done
rc=0
eos_check "$n" || rc=1
dl=$(eos_dead_letters)
echo "scale_out: worker exits:$rcs; dead letters $dl; load: $(uptime | sed 's/.*load/load/')"
keep_logs
python3 "$here/bench/scale_out.py" report "$keep" "$(getconf CLK_TCK)"
[[ $rc == 0 && $dl == 0 && -z "${rcs//[ 0]/}" ]] || eos_die "wrong results or a worker failed (logs in $keep)"
echo "scale_out: ok"
