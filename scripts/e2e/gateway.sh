#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `sluice gateway` end to end (SPEC.md section 10, docs/gateway.md): a real
# mosquitto broker and the gateway on free ports; HTTP batches (valid,
# invalid, unauthorised, unknown topic) checked by status and body with curl;
# MQTT messages with mosquitto_pub (valid, invalid -> dead-letter topic);
# then a message published while the gateway is stopped arrives after its
# restart (persistent MQTT session), and a QoS 1 message that reached the
# gateway while Kafka was unreachable (so it was not acknowledged) arrives
# after a restart with Kafka up. Every accepted record is read back with
# kcat exactly once, keyed by its device id.
# Kafka: SLUICE_TEST_KAFKA_BROKERS when it names a real broker (what
# scripts/test.sh passes), else the gateway's embedded broker, read through
# the address the gateway logs.
set -euo pipefail
root=${SLUICE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${SLUICE_BIN:-$root/build/sluice}
work=$(mktemp -d)
gw_pid=""
mq_pid=""
cleanup() {
  [ -n "$gw_pid" ] && kill -9 "$gw_pid" 2>/dev/null || true
  [ -n "$mq_pid" ] && kill "$mq_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "gateway.sh: FAIL: $*"
  tail -n 30 "$work/gw.log" 2>/dev/null || true
  exit 1
}
for tool in curl kcat mosquitto mosquitto_pub python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup.sh --test)"
done
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

brokers=${SLUICE_TEST_KAFKA_BROKERS:-embedded}
tag="gw$$x$RANDOM"
topic="$tag-telemetry" dlq="$tag-dlq"
http_port=$(free_port)
mq_port=$(free_port)
url="http://127.0.0.1:$http_port"

# ---- the MQTT broker ---------------------------------------------------------
cat >"$work/mosquitto.conf" <<EOF
listener $mq_port 127.0.0.1
allow_anonymous true
persistence false
EOF
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
mq_pid=$!

# ---- the gateway file and its devices ----------------------------------------
for d in 1 2 3; do
  printf 'dev-%s %s\n' "$d" "$("$bin" gateway --hash-key "key-$tag-$d")"
done >"$work/devices.txt"
cp "$root/pipelines/schemas/machine_reading.avsc" "$work/reading.avsc"
cat >"$work/gw.lua" <<EOF
local sl = require "sluice"
local g = sl.gateway { name = "$tag", listen = "127.0.0.1:$http_port",
                       devices = "devices.txt", dead_letter = "$dlq",
                       timeout = sl.param("timeout", "10s") }
g:topic { name = "$topic", format = "json", schema = "reading.avsc", key = "machine_id" }
g:mqtt { broker = "mqtt://127.0.0.1:$mq_port", subscribe = "$tag/+/telemetry",
         topic = "$topic" }
EOF

start_gateway() {
  SLUICE_KAFKA_BROKERS=$brokers "$bin" gateway "$work/gw.lua" --log-format text >>"$work/gw.log" 2>&1 &
  gw_pid=$!
  for _ in $(seq 1 150); do # ready = Kafka producer up and the MQTT subscription acknowledged
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ] && return 0
    kill -0 "$gw_pid" 2>/dev/null || fail "the gateway exited early"
    sleep 0.2
  done
  fail "the gateway did not become ready"
}
# The gateway with Kafka unreachable (a closed port) and a 1 s delivery
# timeout: not ready, so wait for its MQTT subscription in its own log.
start_gateway_without_kafka() {
  : >"$work/gw-nokafka.log"
  SLUICE_KAFKA_BROKERS=127.0.0.1:$(free_port) "$bin" gateway "$work/gw.lua" --set timeout=1s \
    --log-format text >>"$work/gw-nokafka.log" 2>&1 &
  gw_pid=$!
  for _ in $(seq 1 150); do
    grep -q "subscribed to $tag/+/telemetry" "$work/gw-nokafka.log" && return 0
    kill -0 "$gw_pid" 2>/dev/null || fail "the gateway without Kafka exited early"
    sleep 0.2
  done
  fail "the gateway without Kafka did not subscribe: $(tail -n 5 "$work/gw-nokafka.log")"
}
stop_gateway() {
  kill -TERM "$gw_pid"
  set +e
  wait "$gw_pid"
  local code=$?
  set -e
  gw_pid=""
  [ "$code" = 0 ] || fail "gateway exit code $code after SIGTERM"
}
kafka() { # the brokers kcat reads: the embedded one is in the gateway's log
  if [ "$brokers" = embedded ]; then
    sed -n 's/.*embedded Kafka broker listening on \([0-9.:]*\).*/\1/p' "$work/gw.log" | tail -n1
  else
    echo "$brokers"
  fi
}
count() { # count TOPIC: messages in the topic now
  kcat -C -b "$(kafka)" -t "$1" -e -q -f '%o\n' 2>/dev/null | wc -l
}
wait_count() { # wait_count TOPIC N
  for _ in $(seq 1 100); do
    [ "$(count "$1")" -ge "$2" ] && return 0
    sleep 0.2
  done
  fail "expected $2 records in $1, have $(count "$1")"
}

# post DEVICE BODY [TOPIC]: prints "STATUS BODY"
post() {
  curl -s -w ' %{http_code}' -H "Authorization: Bearer key-$tag-$1" \
    -H 'Content-Type: application/json' -d "$2" "$url/ingest/${3:-$topic}"
}
expect() { # expect WHAT GOT STATUS BODY-SUBSTRING
  case "$2" in
    *"$4"*" $3") echo "gateway.sh: ok: $1" ;;
    *) fail "$1: got '$2', expected status $3 with '$4'" ;;
  esac
}
reading() { echo "{\"ts\":$1,\"temperature\":21.5,\"vibration\":0.25${2:-}}"; }

# ---- a broken file: every problem with its line, exit 1 ---------------------------
printf 'local sl = require "sluice"\nlocal g = sl.gateway { devices = "devices.txt", nme = 1 }\ng:topic { name = "t", format = "avro" }\n' >"$work/bad.lua"
set +e
"$bin" gateway "$work/bad.lua" 2>"$work/bad.err"
code=$?
set -e
[ "$code" = 1 ] || fail "a broken gateway file exits $code, expected 1"
for want in "$work/bad.lua:2: gateway: unknown option 'nme' (did you mean 'name'?)" \
  "$work/bad.lua:3: topic 't': format \"avro\" needs schema"; do
  grep -qF "$want" "$work/bad.err" || fail "errors of a broken file: $(cat "$work/bad.err")"
done
echo "gateway.sh: ok: a broken file reports FILE:LINE errors and exits 1"

start_gateway
echo "gateway.sh: gateway on $url, mosquitto on $mq_port, kafka $(kafka)"

# ---- HTTP ----------------------------------------------------------------------
expect "one object" "$(post 1 "$(reading 1)")" 202 '{"accepted":1}'
expect "an array" "$(post 2 "[$(reading 2),$(reading 3),$(reading 4 ',"machine_id":"dev-2"')]")" \
  202 '{"accepted":3}'
expect "X-API-Key" "$(curl -s -w ' %{http_code}' -H "X-API-Key: key-$tag-3" -d "$(reading 5)" \
  "$url/ingest/$topic")" 202 '{"accepted":1}'
got=$(post 1 "[$(reading 100),{\"ts\":101},$(reading 102 ',"machine_id":"dev-2"'),\"x\"]")
expect "invalid records" "$got" 400 '"records":[{"index":1,"error":"field '"'temperature'"' is required by the schema"}'
expect "key mismatch" "$got" 400 '{"index":2,"error":"field '"'machine_id'"' is '"'dev-2'"' but the authenticated device is '"'dev-1'"'"}'
expect "not an object" "$got" 400 '{"index":3,"error":"expected a JSON object'
expect "not JSON" "$(post 1 'hello')" 400 '"status":400'
expect "no key" "$(curl -s -w ' %{http_code}' -d "$(reading 200)" "$url/ingest/$topic")" \
  401 '"status":401'
expect "unknown key" "$(curl -s -w ' %{http_code}' -H 'Authorization: Bearer nope' \
  -d "$(reading 201)" "$url/ingest/$topic")" 401 '{"error":"unknown API key","status":401}'
expect "unknown topic" "$(post 1 "$(reading 202)" no-such-topic)" 404 '"status":404'
curl -s "$url/metrics" | grep -q 'sluice_gateway_requests_total{code="202",gateway="'"$tag"'"} 3' ||
  fail "metrics: $(curl -s "$url/metrics" | grep sluice_gateway_requests)"

# ---- MQTT ----------------------------------------------------------------------
mosquitto_pub -p "$mq_port" -q 1 -t "$tag/dev-7/telemetry" -m "$(reading 6)"
mosquitto_pub -p "$mq_port" -q 1 -t "$tag/dev-8/telemetry" -m "[$(reading 7),$(reading 8)]"
mosquitto_pub -p "$mq_port" -q 1 -t "$tag/dev-9/telemetry" -m '{"ts":"noon"}'
wait_count "$topic" 8
wait_count "$dlq" 1

# Read now: the embedded broker's records go with the gateway process.
kcat -C -b "$(kafka)" -t "$topic" -e -q -f '%k %s\n' >"$work/before"
kcat -C -b "$(kafka)" -t "$dlq" -e -q -f '%k|%s|%h\n' >"$work/dlq"

# ---- a message published while the gateway is down ------------------------------
stop_gateway
echo "gateway.sh: ok: SIGTERM -> exit 0"
mosquitto_pub -p "$mq_port" -q 1 -t "$tag/dev-7/telemetry" -m "$(reading 9)"
start_gateway
if [ "$brokers" = embedded ]; then
  wait_count "$topic" 1 # a new embedded broker: only the redelivered message
else
  wait_count "$topic" 9
fi
kcat -C -b "$(kafka)" -t "$topic" -e -q -f '%k %s\n' >"$work/after"
stop_gateway
echo "gateway.sh: ok: the message published while stopped arrived after the restart"

# ---- a message that reached the gateway while Kafka was unreachable --------------
# Kafka does not acknowledge it within the 1 s timeout, so the gateway must not
# send the PUBACK (the log line says it refused it); once restarted with Kafka
# up, the broker redelivers it from the persistent session.
start_gateway_without_kafka
mosquitto_pub -p "$mq_port" -q 1 -t "$tag/dev-6/telemetry" -m "$(reading 10)"
for _ in $(seq 1 150); do
  grep -q "message on $tag/dev-6/telemetry not stored" "$work/gw-nokafka.log" && break
  sleep 0.2
done
grep -q "message on $tag/dev-6/telemetry not stored" "$work/gw-nokafka.log" ||
  fail "the gateway without Kafka did not refuse the message: $(tail -n 5 "$work/gw-nokafka.log")"
stop_gateway
start_gateway
if [ "$brokers" = embedded ]; then
  wait_count "$topic" 1 # a new embedded broker: only the redelivered message
else
  wait_count "$topic" 10
fi
kcat -C -b "$(kafka)" -t "$topic" -e -q -f '%k %s\n' >"$work/after2"
stop_gateway
echo "gateway.sh: ok: the message refused while Kafka was unreachable arrived after the restart"

# ---- every accepted record exactly once, keyed by its device ---------------------
# Lines "KEY TS", sorted; the machine_id field must equal the key.
keyed() {
  while read -r key value; do
    id=$(printf '%s' "$value" | sed -n 's/.*"machine_id":"\([^"]*\)".*/\1/p')
    ts=$(printf '%s' "$value" | sed -n 's/.*"ts":\([0-9]*\).*/\1/p')
    [ "$id" = "$key" ] || fail "record keyed '$key' has machine_id '$id': $value"
    echo "$key $ts"
  done | sort -k2 -n
}
if [ "$brokers" = embedded ]; then
  got=$(cat "$work/before" "$work/after" "$work/after2" | keyed | tr '\n' ',')
else
  got=$(keyed <"$work/after2" | tr '\n' ',')
fi
want="dev-1 1,dev-2 2,dev-2 3,dev-2 4,dev-3 5,dev-7 6,dev-8 7,dev-8 8,dev-7 9,dev-6 10,"
[ "$got" = "$want" ] || fail "records in $topic: '$got', expected '$want'"
echo "gateway.sh: ok: 10 records, each once, keyed by device"

dl=$(cat "$work/dlq")
[ "$(wc -l <"$work/dlq")" = 1 ] || fail "expected 1 dead letter, got: $dl"
# As pipelines write dead letters: key, original bytes, the reason in headers.
printf '%s' "$dl" | grep -qF "dev-9|{\"ts\":\"noon\"}|" || fail "dead letter key or bytes: $dl"
printf '%s' "$dl" | grep -qF "sluice-error=field 'ts'" || fail "dead letter sluice-error: $dl"
printf '%s' "$dl" | grep -qF "sluice-source-topic=$tag/dev-9/telemetry" ||
  fail "dead letter sluice-source-topic: $dl"
echo "gateway.sh: ok: the invalid MQTT message is in $dlq with its reason"
echo "gateway.sh: ok"
