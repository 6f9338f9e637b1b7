#!/usr/bin/env bash
# `sluice test` through the binary, as a pipeline author uses it: the
# example's cases pass; a wrong expectation fails with a readable diff;
# --update rewrites the expectations; bad case directories and usage errors
# get their exit codes. Needs no Kafka or Redis.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SLUICE_BIN:-$top/build/sluice}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "pipeline_test: $*"; [ -f "$work/out" ] && cat "$work/out"; exit 1; }

# expect_rc CODE ARGS...: run `sluice test ARGS` into $work/out, check the exit code.
expect_rc() {
  local want=$1 rc=0
  shift
  "$bin" test "$@" >"$work/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "sluice test $* exited $rc, not $want"
}

# 1. The example and its cases pass (this is what CI runs for pipelines/).
expect_rc 0 "$top/pipelines/plant.lua" "$top"/pipelines/tests/plant/*/
grep -q '^PASS .*overheat' "$work/out" || fail "no PASS line for the overheat case"
grep -q '2 cases: 2 passed, 0 failed' "$work/out" || fail "no summary"
# The demo's case: each machine against its own limit from the machines
# table (m0007 at 88 °C fires with limit 85, m0002 at 88 °C stays with 90).
expect_rc 0 "$top/pipelines/demo.lua" "$top"/pipelines/tests/demo/*/

# 2. A wrong aggregate and a dropped record: exit 1, the diff names both.
cp -r "$top/pipelines/tests/plant/overheat" "$work/case"
sed -i 's/"avg_temp":92.0/"avg_temp":92.5/' "$work/case/expect/stats-out.jsonl"
sed -i '/"window_start":20000/d' "$work/case/expect/stats-out.jsonl"
expect_rc 1 "$top/pipelines/plant.lua" "$work/case"
grep -q "^FAIL $work/case: 1 of 3 sinks differ" "$work/out" || fail "no FAIL line"
grep -q "sink 'stats-out' .*: 2 differences" "$work/out" || fail "no per-sink count"
grep -q 'changed (expected line 2, output record 2)' "$work/out" || fail "no changed record"
grep -q 'avg_temp: expected 92.5, got 92.0' "$work/out" || fail "no field diff"
grep -q 'unexpected (output record 5): {"machine_id":"m2","window_start":20000' "$work/out" ||
  fail "no unexpected record"

# 3. Numbers within 1e-9 relative, listing order inside one advance and a
#    missing _id are not differences.
cp -r "$top/pipelines/tests/plant/overheat" "$work/loose"
sed -i 's/"avg_temp":71.0/"avg_temp":71.00000000001/' "$work/loose/expect/stats-out.jsonl"
(sed -n 2p "$work/loose/expect/stats-out.jsonl"; sed -n 1p "$work/loose/expect/stats-out.jsonl";
 sed -n '3,$p' "$work/loose/expect/stats-out.jsonl") >"$work/swapped"
mv "$work/swapped" "$work/loose/expect/stats-out.jsonl"
expect_rc 0 "$top/pipelines/plant.lua" "$work/loose"
# ...but an expected record listed before one of an earlier advance is.
(tail -n 1 "$work/loose/expect/stats-out.jsonl"; head -n -1 "$work/loose/expect/stats-out.jsonl") \
  >"$work/late"
mv "$work/late" "$work/loose/expect/stats-out.jsonl"
expect_rc 1 "$top/pipelines/plant.lua" "$work/loose"
grep -q 'out of order (expected line 2' "$work/out" || fail "order across advances not checked"

# 4. --update writes the expectations; the case passes again, and the
#    files are what the committed case holds.
expect_rc 0 --update "$top/pipelines/plant.lua" "$work/case"
grep -q "wrote $work/case/expect/stats-out.jsonl (5 records)" "$work/out" || fail "no update line"
expect_rc 0 "$top/pipelines/plant.lua" "$work/case"
for f in stats-out alerts-out dead_letter; do
  cmp -s "$work/case/expect/$f.jsonl" "$top/pipelines/tests/plant/overheat/expect/$f.jsonl" ||
    fail "--update wrote a different $f.jsonl"
done

# 5. A sink without an expect file expects nothing, and says so.
rm "$work/case/expect/alerts-out.jsonl"
expect_rc 1 "$top/pipelines/plant.lua" "$work/case"
grep -q "sink 'alerts-out' (no expect file: expecting no records): 2 differences" "$work/out" ||
  fail "a sink without expect file was not reported"

# 6. Files naming no node: exit 1 listing the ids the pipeline has.
cp -r "$top/pipelines/tests/plant/overheat" "$work/bad"
cp "$work/bad/input/readings.jsonl" "$work/bad/input/reading.jsonl"
expect_rc 1 "$top/pipelines/plant.lua" "$work/bad"
grep -q "input/reading.jsonl: no source of .* has this id; its source ids: 'readings'" \
  "$work/out" || fail "unknown source id not reported"
rm "$work/bad/input/reading.jsonl"
echo '{}' >"$work/bad/expect/stats.jsonl"
expect_rc 1 "$top/pipelines/plant.lua" "$work/bad"
grep -q "its sink ids: 'stats-out', 'alerts-out'" "$work/out" || fail "unknown sink id not reported"
rm "$work/bad/expect/stats.jsonl"
echo '{"_partition":"one","machine_id":"m1"}' >>"$work/bad/input/readings.jsonl"
expect_rc 1 "$top/pipelines/plant.lua" "$work/bad"
grep -q 'readings.jsonl:10: _partition must be an integer' "$work/out" || fail "bad _partition"
expect_rc 1 "$top/pipelines/plant.lua" "$work/nonexistent"
printf '%s\n' 'local sl = require "sluice"' 'local p = sl.pipeline { name = "bad" }' \
  'p:stdin_source {}:fliter "x > 1":stdout_sink {}' >"$work/invalid.lua"
expect_rc 1 "$work/invalid.lua" "$work/bad"
grep -q "invalid.lua:3: unknown operator 'fliter'" "$work/out" || fail "invalid pipeline not reported"
grep -q "^FAIL $work/bad: the pipeline is invalid" "$work/out" || fail "no FAIL for an invalid pipeline"
printf '%s\n' 'local sl = require "sluice"' 'local p = sl.pipeline { name = "twins" }' \
  'local s = p:stdin_source {}' 's:file_sink { path = "a/b" }' 's:file_sink { path = "a_b" }' \
  >"$work/twins.lua"
expect_rc 1 "$work/twins.lua" "$work/bad"
grep -q "twins.lua:5: 'file_sink:a_b' and 'file_sink:a/b' (line 4) would share the case file" \
  "$work/out" || fail "ids sharing a case file not reported"

# 7. Derived ids, a file source, no dead-letter sink, params from set.json
#    and no wall clock: record timestamps come from _time.
mkdir -p "$work/fs/input" "$work/fs/expect"
cat >"$work/fs.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline { name = "fs" }
p:file_source { path = "in.jsonl" }
  :filter("v > " .. sl.param("min", 0))
  :window { tumbling = "1s", key = "k" }
  :aggregate { n = "count()", s = "sum(v)" }
  :file_sink { path = "out.jsonl" }
LUA
printf '%s\n' '{"_time":500,"k":"a","v":1}' '{"_time":700,"k":"a","v":5}' \
  '{"_time":1200,"k":"a","v":7}' '{"_time":100,"k":"a","v":9}' >"$work/fs/input/file_source:in.jsonl.jsonl"
echo '{"min": 2}' >"$work/fs/set.json"
printf '%s\n' '{"k":"a","window_start":0,"window_end":1000,"n":1,"s":5}' \
  '{"k":"a","window_start":1000,"window_end":2000,"n":1,"s":7}' >"$work/fs/expect/file_sink:out.jsonl.jsonl"
expect_rc 1 "$work/fs.lua" "$work/fs"
# the late record (time 100 after the watermark passed 1000) is a dead letter
grep -q 'sink .dead_letter. (no expect file: expecting no records): 1 difference' "$work/out" ||
  fail "the late record was not reported"
grep -q '"reason":"late"' "$work/out" || fail "no late dead letter"
expect_rc 0 --update "$work/fs.lua" "$work/fs"
expect_rc 0 "$work/fs.lua" "$work/fs"
[ ! -e "$work/out.jsonl" ] && [ ! -e "$work/fs/out.jsonl" ] || fail "the real file sink was written"

# 7b. No wall clock: with idle = "1ms" a run would stop waiting for the
#     silent partition 1 after a millisecond of processing time and close
#     window [0, 1s) early; under test, partitions never turn idle, so its
#     second record (after 3000 of partition 0) still counts, not late.
mkdir -p "$work/idle/input" "$work/idle/expect"
cat >"$work/idle.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline { name = "idle" }
p:kafka_source { id = "in", topic = "t" }:decode { format = "json" }
  :window { tumbling = "1s", key = "k", time = "ts", idle = "1ms" }
  :aggregate { n = "count()" }
  :file_sink { id = "out", path = "out.jsonl" }
LUA
{
  echo '{"_partition":1,"k":"a","ts":0}'
  for i in $(seq 1 3000); do echo "{\"_partition\":0,\"k\":\"a\",\"ts\":$((i * 10))}"; done
  echo '{"_partition":1,"k":"a","ts":500}'
} >"$work/idle/input/in.jsonl"
expect_rc 0 --update "$work/idle.lua" "$work/idle"
grep -q '"window_start":0,"window_end":1000,"n":101}' "$work/idle/expect/out.jsonl" ||
  fail "a partition turned idle on the wall clock: $(head -1 "$work/idle/expect/out.jsonl")"
[ ! -e "$work/idle/expect/dead_letter.jsonl" ] || fail "a record was late"

# 7c. `sluice test` agrees with `sluice run`: the output of a real run of a
#     file pipeline, `_id` included, is the expectation of the same input.
mkdir -p "$work/agree/input" "$work/agree/expect" "$work/run"
cat >"$work/run/p.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline { name = "agree" }
p:file_source { id = "in", path = "in.jsonl" }
  :filter "v >= 0"
  :window { tumbling = "1s", key = "k", time = "ts" }
  :aggregate { n = "count()", avg_v = "avg(v)", p = "p50(v)" }
  :file_sink { id = "out", path = "out.jsonl" }
p:dead_letter { path = "dlq.jsonl" }
LUA
for i in $(seq 1 200); do
  echo "{\"k\":\"k$((i % 3))\",\"ts\":$((i * 37)),\"v\":$((i % 11 - 1)).25}"
done >"$work/run/in.jsonl"
echo '{"k":"k1","ts":"x"' >>"$work/run/in.jsonl"
"$bin" run "$work/run/p.lua" --api off 2>"$work/run/log" || { cat "$work/run/log"; fail "run failed"; }
cp "$work/run/in.jsonl" "$work/agree/input/in.jsonl"
cp "$work/run/out.jsonl" "$work/agree/expect/out.jsonl"
grep -q '"_id":"agree/out/' "$work/agree/expect/out.jsonl" || fail "run wrote no _id"
sed 's/"name":"[^"]*in.jsonl"/"name":"in.jsonl"/' "$work/run/dlq.jsonl" \
  >"$work/agree/expect/dead_letter.jsonl"
expect_rc 0 "$work/run/p.lua" "$work/agree"

# 8. A source decoded as Avro (the demo): case objects are encoded with the
#    decode's schema; a line that is not JSON reaches the decoder as it is;
#    an object the schema cannot hold fails the case with its line.
mkdir -p "$work/avro/input"
printf '%s\n' '{"machine_id":"m0007","ts":1000,"temperature":95,"vibration":1.5}' \
  '{"machine_id":"m0007","ts":3000,"temperature":99,"vibration":2}' 'garbage' \
  '{"machine_id":"m0001","ts":21000,"temperature":61,"vibration":1}' \
  >"$work/avro/input/kafka_source:telemetry.jsonl"
expect_rc 0 --update "$top/pipelines/demo.lua" "$work/avro"
expect_rc 0 "$top/pipelines/demo.lua" "$work/avro"
grep -q '"machine_id":"m0007","window_start":0,"window_end":5000,"avg_temp":97.0' \
  "$work/avro/expect/kafka_sink:machine-stats.jsonl" || fail "Avro input not decoded"
grep -q '"reason":"decode".*"raw":"garbage"' "$work/avro/expect/dead_letter.jsonl" ||
  fail "malformed Avro input not dead-lettered"
echo '{"machine_id":"m1","ts":"soon","temperature":1,"vibration":1}' \
  >>"$work/avro/input/kafka_source:telemetry.jsonl"
expect_rc 1 "$top/pipelines/demo.lua" "$work/avro"
grep -q 'telemetry.jsonl:5: does not fit the Avro schema: field .ts.' "$work/out" ||
  fail "an input the schema cannot hold was not reported"

# 9. Usage errors.
expect_rc 2 "$top/pipelines/plant.lua"
expect_rc 2 --frobnicate "$top/pipelines/plant.lua" "$work/case"
echo "pipeline_test: ok"
