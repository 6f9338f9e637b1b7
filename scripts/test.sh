#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one test command (README "Quick start"; CI runs exactly this):
#   1. scripts/setup.sh --test        install whatever is missing
#   2. Release build, unit tests       ctest -LE integration
#   3. ASan/UBSan build, unit tests    leaks and undefined behaviour are failures
#   3b. fuzz corpora replay            scripts/fuzz.sh replay: every input of
#                                      tests/fuzz/corpus and tests/fuzz/regressions
#                                      once under ASan/UBSan, none slower than 1 s
#   4. integration tests               ctest -L integration, against the
#                                      embedded broker, then a real Kafka broker
#                                      (scripts/kafka-broker.sh)
#   5. scripts/e2e/*.sh, scripts/browser-test.sh
# Stops at the first failing step, prints a summary, and ends with the line
# "N passed, N failed, N skipped" counting CTest suites and scripts.
# Every step runs in its own session; whatever a step leaves running in it (a
# redis-server of a crashed test, say) is killed when the step ends.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
run_dir="$root/.run"
log_dir="$run_dir/test-logs"
mkdir -p "$log_dir"
jobs=$(nproc 2>/dev/null || echo 2)
# Per-test timeouts (seconds): a hung test must fail, not eat the CI budget.
unit_timeout=${SLUICE_TEST_UNIT_TIMEOUT:-300}
integration_timeout=${SLUICE_TEST_INTEGRATION_TIMEOUT:-600}
script_timeout=${SLUICE_TEST_SCRIPT_TIMEOUT:-900}

passed=0
failed=0
skipped=0
summary=()
child_sid=""
kafka_dir=""
started=$SECONDS

note() { printf '\n=== %s\n' "$*"; }

stop_kafka() {
  if [[ -n "$kafka_dir" ]]; then
    echo "test.sh: stopping the Kafka broker in ${kafka_dir#"$root"/}"
    bash "$root/scripts/kafka-broker.sh" stop "$kafka_dir" >/dev/null 2>&1 || true
    kafka_dir=""
  fi
}

session_pids() { # the processes of session $1, read from /proc (no procps needed)
  local sid=$1 f stat s
  for f in /proc/[0-9]*/stat; do
    stat=$(cat "$f" 2>/dev/null) || continue
    # Fields after "(comm) ": state ppid pgrp session ...; comm may hold spaces.
    read -r _ _ _ s _ <<<"${stat##*) }"
    if [[ $s == "$sid" ]]; then
      f=${f#/proc/}
      echo "${f%/stat}"
    fi
  done
}

kill_session() { # kill a step's whole session: it and anything it left behind
  local sid=$1 i pids
  for i in 1 2 3 4 5 6 7 8 9 10 11; do
    pids=$(session_pids "$sid")
    [[ -z "$pids" ]] && return 0
    if [[ $i == 1 ]]; then
      echo "test.sh: stopping leftover processes: $(echo "$pids" | tr '\n' ' ')" >&2
      # shellcheck disable=SC2086 # one pid per word
      kill -TERM $pids 2>/dev/null || true
    elif [[ $i == 11 ]]; then
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
    fi
    sleep 0.2
  done
}

# shellcheck disable=SC2317 # called from the traps below
cleanup() {
  if [[ -n "$child_sid" ]]; then
    kill_session "$child_sid"
    child_sid=""
  fi
  stop_kafka
}
# shellcheck disable=SC2317
on_signal() {
  echo "test.sh: interrupted" >&2
  cleanup
  exit 130
}
trap cleanup EXIT
trap on_signal INT TERM

# run_step LOG CMD...: runs CMD in a new session, its output going to LOG
# (a file, not a pipe: a process the step leaves behind must not keep us
# waiting for end-of-file) and shown live by `tail --pid`; returns CMD's status.
run_step() {
  local log=$1 rc=0 tail_pid
  shift
  : >"$log"
  setsid "$@" >"$log" 2>&1 </dev/null &
  child_sid=$!
  tail -s 0.2 -n +1 -f --pid="$child_sid" "$log" &
  tail_pid=$!
  wait "$child_sid" || rc=$?
  wait "$tail_pid" || true
  kill_session "$child_sid"
  child_sid=""
  return "$rc"
}

finish() {
  local elapsed=$((SECONDS - started))
  cleanup # before the summary: its last line must be the totals
  note "summary ($((elapsed / 60))m $((elapsed % 60))s, logs in ${log_dir#"$root"/})"
  local line
  for line in "${summary[@]}"; do
    echo "  $line"
  done
  echo "$passed passed, $failed failed, $skipped skipped"
  if [[ $failed -gt 0 ]]; then
    exit 1
  fi
  exit 0
}

# fail NAME: record a failed step and stop (fail fast).
fail() {
  summary+=("FAIL  $1")
  failed=$((failed + 1))
  finish
}

# ctest_step NAME DIR LOG CTEST-ARGS...: one CTest run; its suites count one
# each in the totals.
ctest_step() {
  local name=$1 dir=$2 log=$3 rc=0 total nfail
  shift 3
  note "$name"
  run_step "$log" ctest --test-dir "$dir" --output-on-failure "$@" || rc=$?
  if grep -q 'No tests were found' "$log"; then
    summary+=("skip  $name: no tests carry this label yet")
    skipped=$((skipped + 1))
    [[ $rc == 0 ]] && return 0
    fail "$name (ctest exit $rc)"
  fi
  # "100% tests passed, 0 tests failed out of 12"
  total=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n1)
  nfail=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n1)
  if [[ -z "$total" || -z "$nfail" ]]; then
    fail "$name (ctest exit $rc, no summary line; see ${log#"$root"/})"
  fi
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
  if [[ $rc != 0 && $nfail == 0 ]]; then
    failed=$((failed + 1))
  fi
  if [[ $rc != 0 || $nfail != 0 ]]; then
    summary+=("FAIL  $name: $nfail of $total suites failed")
    finish
  fi
  summary+=("ok    $name: $total suites")
}

# script_step NAME SCRIPT: an end-to-end script counts one.
script_step() {
  local name=$1 script=$2 rc=0
  note "$name"
  run_step "$log_dir/$(basename "$script" .sh).log" \
    timeout --foreground --kill-after=10 "$script_timeout" bash "$script" || rc=$?
  if [[ $rc != 0 ]]; then
    [[ $rc == 124 ]] && name="$name (timed out after ${script_timeout}s)"
    fail "$name (exit $rc)"
  fi
  passed=$((passed + 1))
  summary+=("ok    $name")
}

note "setup"
bash "$root/scripts/setup.sh" --test || fail "setup (scripts/setup.sh --test)"

note "build (Release)"
run_step "$log_dir/build.log" bash "$root/scripts/build.sh" || fail "build (Release)"

ctest_step "unit tests" build "$log_dir/unit.log" -j "$jobs" --timeout "$unit_timeout" \
  -LE integration

note "build (ASan/UBSan)"
run_step "$log_dir/build-asan.log" bash "$root/scripts/build.sh" --asan ||
  fail "build (ASan/UBSan)"

ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest_step "unit tests under ASan/UBSan" build-asan "$log_dir/unit-asan.log" -j "$jobs" \
  --timeout "$unit_timeout" -LE integration

# The fuzz targets (clang, libFuzzer) replay their checked-in inputs; each
# target counts one.
note "fuzz corpora replay (scripts/fuzz.sh replay)"
fuzz_rc=0
run_step "$log_dir/fuzz-replay.log" bash "$root/scripts/fuzz.sh" replay || fuzz_rc=$?
fuzz_ok=$(grep -c '^ok    fuzz_' "$log_dir/fuzz-replay.log" || true)
fuzz_bad=$(grep -c '^FAIL  fuzz_' "$log_dir/fuzz-replay.log" || true)
passed=$((passed + fuzz_ok))
if [[ $fuzz_rc != 0 || $fuzz_bad != 0 || $fuzz_ok == 0 ]]; then
  # A failure before any target ran (the build, say) counts one.
  failed=$((failed + (fuzz_bad > 0 ? fuzz_bad : 1)))
  summary+=("FAIL  fuzz corpora replay: $fuzz_bad of $((fuzz_ok + fuzz_bad)) targets failed (exit $fuzz_rc; see ${log_dir#"$root"/}/fuzz-replay.log)")
  finish
fi
summary+=("ok    fuzz corpora replay: $fuzz_ok targets")

# Integration tests start their own redis-server and read the broker list from
# SLUICE_TEST_KAFKA_BROKERS. They run one at a time: each starts servers.
SLUICE_TEST_KAFKA_BROKERS=embedded \
  ctest_step "integration tests (embedded broker)" build "$log_dir/integration-embedded.log" \
  --timeout "$integration_timeout" -L integration

real_brokers=""
if [[ -f "$root/scripts/kafka-broker.sh" ]]; then
  note "starting a Kafka broker (scripts/kafka-broker.sh)"
  kafka_dir="$run_dir/test-kafka"
  bash "$root/scripts/kafka-broker.sh" stop "$kafka_dir" >/dev/null 2>&1 || true
  # Its stdout goes to a file, not a pipe: a daemon that inherits the pipe
  # would keep a command substitution waiting forever.
  if ! bash "$root/scripts/kafka-broker.sh" start "$kafka_dir" >"$log_dir/kafka-start.out" \
    2>"$log_dir/kafka-start.log" </dev/null; then
    tail -n 30 "$log_dir/kafka-start.log" >&2
    fail "Kafka broker start (scripts/kafka-broker.sh start; see ${log_dir#"$root"/}/kafka-start.log)"
  fi
  real_brokers=$(sed -n 's/^SLUICE_TEST_KAFKA_BROKERS=//p' "$log_dir/kafka-start.out" | tail -n1)
  if [[ -z "$real_brokers" ]]; then
    fail "Kafka broker start (no SLUICE_TEST_KAFKA_BROKERS=... line on its stdout)"
  fi
  echo "test.sh: Kafka broker at $real_brokers"
  SLUICE_TEST_KAFKA_BROKERS=$real_brokers \
    ctest_step "integration tests (Kafka broker)" build "$log_dir/integration-kafka.log" \
    --timeout "$integration_timeout" -L integration
else
  note "integration tests (Kafka broker)"
  echo "test.sh: scripts/kafka-broker.sh does not exist yet; skipping"
  summary+=("skip  integration tests (Kafka broker): no scripts/kafka-broker.sh")
  skipped=$((skipped + 1))
fi

# End-to-end scripts get the built binary and the broker to use (the real one
# when it runs, else the embedded one).
export SLUICE_ROOT="$root"
export SLUICE_BIN="$root/build/sluice"
export SLUICE_TEST_KAFKA_BROKERS="${real_brokers:-embedded}"
shopt -s nullglob
e2e=("$root"/scripts/e2e/*.sh)
shopt -u nullglob
if [[ ${#e2e[@]} == 0 ]]; then
  note "end-to-end scripts"
  echo "test.sh: no scripts/e2e/*.sh yet; skipping"
  summary+=("skip  end-to-end scripts: none in scripts/e2e/")
  skipped=$((skipped + 1))
fi
for script in "${e2e[@]}"; do
  script_step "e2e ${script#"$root"/}" "$script"
done

if [[ -f "$root/scripts/browser-test.sh" ]]; then
  script_step "browser test (scripts/browser-test.sh)" "$root/scripts/browser-test.sh"
else
  note "browser test"
  echo "test.sh: scripts/browser-test.sh does not exist yet; skipping"
  summary+=("skip  browser test: no scripts/browser-test.sh")
  skipped=$((skipped + 1))
fi

stop_kafka
finish
