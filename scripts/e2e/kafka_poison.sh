#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A poison record in the middle of a partition (SPEC.md section 3,
# docs/kafka.md "Dead-letter topic format"), on a real Kafka broker:
# kafka_source{time = "ts"} -> decode json -> filter -> kafka_sink with
# p:dead_letter. The malformed record lands in the dead-letter topic with its
# original key, value and the sluice-error / sluice-reason / sluice-node /
# sluice-source-* headers; a record without its event-time field lands there
# with reason `time`, naming the source; every other record of the partition
# is processed (count and values).
# Uses SLUICE_TEST_KAFKA_BROKERS when it names a real broker, else starts
# one with scripts/kafka-broker.sh (the embedded broker lives inside a sluice
# process and cannot be shared with kcat before sluice starts).
set -euo pipefail
root=${SLUICE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${SLUICE_BIN:-$root/build/sluice}
work=$(mktemp -d)
own_broker=""
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  [ -n "$own_broker" ] && bash "$root/scripts/kafka-broker.sh" stop "$work/kafka" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "kafka_poison: FAIL: $*"
  tail -n 30 "$work/log" 2>/dev/null || true
  exit 1
}

brokers=${SLUICE_TEST_KAFKA_BROKERS:-embedded}
if [ "$brokers" = embedded ] || [ -z "$brokers" ]; then
  bash "$root/scripts/kafka-broker.sh" start "$work/kafka" >"$work/broker.out" ||
    fail "could not start a Kafka broker"
  own_broker=1
  brokers=$(sed -n 's/^SLUICE_TEST_KAFKA_BROKERS=//p' "$work/broker.out" | tail -n1)
fi
echo "kafka_poison: broker $brokers"

tag="poison-$$-$RANDOM"
in="$tag-in" out="$tag-out" dlq="$tag-dlq"
# Ten good records, the poison one at offset 10, ten more, then one without
# its time field at offset 21; all in partition 0, keyed k1..k22 (kcat -K: key
# and value split at the first '|').
{
  for i in $(seq 1 10); do echo "k$i|{\"v\":$i,\"name\":\"r$i\",\"ts\":$((1700000000000 + i))}"; done
  echo 'k11|{"v": 11, "name": broken'
  for i in $(seq 12 21); do echo "k$i|{\"v\":$i,\"name\":\"r$i\",\"ts\":$((1700000000000 + i))}"; done
  echo 'k22|{"v":22,"name":"r22"}'
} | kcat -P -b "$brokers" -t "$in" -p 0 -K '|' || fail "kcat could not produce"

cat >"$work/p.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline { name = sl.param("name", "x"), state = "memory", checkpoint = "500ms",
                        kafka = { ["session.timeout.ms"] = 6000 } }
p:kafka_source { topic = sl.param("in", "x"), time = "ts" }
  :decode { format = "json" }
  :filter "v >= 1 and name is not null"
  :kafka_sink { topic = sl.param("out", "x"), key = "name" }
p:dead_letter { topic = sl.param("dlq", "x") }
LUA

SLUICE_KAFKA_BROKERS=$brokers "$bin" run "$work/p.lua" --api off --log-format text \
  --set name="$tag" --set in="$in" --set out="$out" --set dlq="$dlq" 2>"$work/log" &
pid=$!

count() { # count TOPIC: messages in the topic now
  kcat -C -b "$brokers" -t "$1" -e -q -f '%o\n' 2>/dev/null | wc -l
}
for _ in $(seq 1 120); do
  [ "$(count "$out")" -ge 20 ] && [ "$(count "$dlq")" -ge 2 ] && break
  kill -0 "$pid" 2>/dev/null || fail "sluice exited early"
  sleep 0.5
done

kill -TERM "$pid"
set +e
wait "$pid"
code=$?
set -e
pid=""
[ "$code" = 0 ] || fail "sluice exit code $code after SIGTERM"

# Output: exactly the 20 good records, values 1..10 and 12..21.
kcat -C -b "$brokers" -t "$out" -e -q -f '%k %s\n' >"$work/out"
n=$(wc -l <"$work/out")
[ "$n" = 20 ] || fail "expected 20 records in $out, got $n: $(cat "$work/out")"
want=$( (seq 1 10; seq 12 21) | tr '\n' ' ')
got=$(sed -n 's/.*"v":\([0-9]*\).*/\1/p' "$work/out" | sort -n | tr '\n' ' ')
[ "$got" = "$want" ] || fail "values in $out: '$got', expected '$want'"
grep -q '^r12 ' "$work/out" || fail "output key is not the name field: $(head -3 "$work/out")"

# Dead-letter topic: the poison record and the one without a time, with their
# original keys and bytes (the topic may have several partitions: no order).
kcat -C -b "$brokers" -t "$dlq" -e -q -f '%k\t%s\t%h\n' >"$work/dlq"
field() { # field KEY N: column N (1 key, 2 value, 3 headers) of KEY's dead letter
  awk -F'\t' -v k="$1" -v n="$2" '$1 == k { print $n }' "$work/dlq"
}
[ "$(wc -l <"$work/dlq")" = 2 ] || fail "expected 2 dead letters, got $(wc -l <"$work/dlq")"
[ "$(field k11 2)" = '{"v": 11, "name": broken' ] ||
  fail "dead letter value of k11 '$(field k11 2)' is not the original bytes"
[ "$(field k22 2)" = '{"v":22,"name":"r22"}' ] ||
  fail "dead letter value of k22 '$(field k22 2)' is not the original bytes"
# %h prints name=value pairs separated by commas; the error text may hold
# commas too, so each header is looked up by its name.
hdrs=$(field k22 3)
echo "kafka_poison: time dead-letter headers: $hdrs"
header() { # header NAME: the value of header NAME (up to the next ",sluice-")
  printf '%s\n' "$hdrs" | sed 's/,\(sluice-[a-z-]*=\)/\n\1/g' | sed -n "s/^$1=//p"
}
[ "$(header sluice-reason)" = time ] || fail "sluice-reason '$(header sluice-reason)', expected time"
[ "$(header sluice-node)" = "kafka_source:$in" ] || fail "sluice-node '$(header sluice-node)'"
[ "$(header sluice-source-offset)" = 21 ] || fail "sluice-source-offset '$(header sluice-source-offset)'"
hdrs=$(field k11 3)
echo "kafka_poison: dead-letter headers: $hdrs"
[ "$(header sluice-reason)" = decode ] || fail "sluice-reason '$(header sluice-reason)'"
[ "$(header sluice-node)" = decode:json ] || fail "sluice-node '$(header sluice-node)'"
[ "$(header sluice-source-topic)" = "$in" ] || fail "sluice-source-topic '$(header sluice-source-topic)'"
[ "$(header sluice-source-partition)" = 0 ] ||
  fail "sluice-source-partition '$(header sluice-source-partition)'"
[ "$(header sluice-source-offset)" = 10 ] || fail "sluice-source-offset '$(header sluice-source-offset)'"
[ -n "$(header sluice-error)" ] || fail "no sluice-error header"
echo "kafka_poison: sluice-error: $(header sluice-error)"
echo "kafka_poison: ok (20 records processed, 2 dead letters)"
