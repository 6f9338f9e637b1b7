#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CoAP at the gateway end to end (SPEC.md section 10, docs/gateway.md "CoAP"):
# the gateway with coap:// and coaps:// (DTLS-PSK) on free UDP ports, driven
# by Debian's coap-client (libcoap3-bin): valid readings over both, invalid
# records (4.00 with the reason), unauthorised devices (4.01; a wrong PSK
# fails the DTLS handshake), an unknown topic (4.04). A tiny UDP sender
# repeats the very same datagram (same message id and token) twice at once
# and once after the answer: one record only. A second gateway whose Kafka is
# unreachable answers 5.03 with Max-Age. Then a pipeline (sluice run,
# kafka_source -> file_sink) reads the topic: every accepted record exactly
# once, keyed by its device.
# Kafka: SLUICE_TEST_KAFKA_BROKERS when it names a real broker, else the
# gateway's embedded broker, which the pipeline reads through the address the
# gateway logs.
set -euo pipefail
root=${SLUICE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${SLUICE_BIN:-$root/build/sluice}
work=$(mktemp -d)
gw_pid=""
gw2_pid=""
run_pid=""
cleanup() {
  for p in "$gw_pid" "$gw2_pid" "$run_pid"; do
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "gateway_coap.sh: FAIL: $*"
  tail -n 30 "$work/gw.log" 2>/dev/null || true
  exit 1
}
ok() { echo "gateway_coap.sh: ok: $*"; }
client=coap-client-openssl # Debian ships coap-client per TLS library
for tool in curl python3 "$client"; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup.sh --test)"
done
free_port() { # free_port tcp|udp
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' "$1"
}

brokers=${SLUICE_TEST_KAFKA_BROKERS:-embedded}
tag="coap$$x$RANDOM"
topic="$tag-telemetry"
http_port=$(free_port tcp)
coap_port=$(free_port udp)
dtls_port=$(free_port udp)
url="http://127.0.0.1:$http_port"

for d in 1 2 3; do
  printf 'dev-%s %s\n' "$d" "$("$bin" gateway --hash-key "key-$tag-$d")"
done >"$work/devices.txt"
printf '# coaps:// keys\ndev-2 psk-%s-two\ndev-3 psk-%s-three\n' "$tag" "$tag" >"$work/psk.txt"
chmod 600 "$work/psk.txt"
cp "$root/pipelines/schemas/machine_reading.avsc" "$work/reading.avsc"
cat >"$work/gw.lua" <<EOF
local sl = require "sluice"
local g = sl.gateway { name = "$tag", listen = "127.0.0.1:$http_port", devices = "devices.txt",
                       timeout = sl.param("timeout", "10s"),
                       coap = { listen = "127.0.0.1:$coap_port", dtls = "127.0.0.1:$dtls_port",
                                psk = "psk.txt" } }
g:topic { name = "$topic", format = "json", schema = "reading.avsc", key = "machine_id" }
EOF

# The tiny UDP sender: one confirmable POST (fixed message id and token),
# sent COPIES times at once, then once more after its answer; prints one
# line per datagram received: "TYPE CODE MID max-age=N PAYLOAD".
cat >"$work/coap_send.py" <<'EOF'
import socket, struct, sys
port, path, query, body, mid, copies = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
def opt(last, num, val):
    d, l = num - last, len(val)
    assert d < 13
    head = bytes([d << 4 | (l if l < 13 else 13)]) + (bytes([l - 13]) if l >= 13 else b"")
    return head + val
msg = bytes([0x40 | 4, 0x02]) + struct.pack(">H", mid) + b"\x0b\x0e" + struct.pack(">H", mid)
last = 0
for seg in path.split("/"):
    msg += opt(last, 11, seg.encode()); last = 11
if query:
    msg += opt(last, 15, query.encode()); last = 15
msg += b"\xff" + body.encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(15)
dst = ("127.0.0.1", port)
def show(d):
    t, tkl, code, m = d[0] >> 4 & 3, d[0] & 15, d[1], struct.unpack(">H", d[2:4])[0]
    i, num, age = 4 + tkl, 0, 0
    while i < len(d) and d[i] != 0xff:
        delta, l = d[i] >> 4, d[i] & 15; i += 1
        if delta == 13: delta = d[i] + 13; i += 1
        if l == 13: l = d[i] + 13; i += 1
        num += delta
        if num == 14: age = int.from_bytes(d[i:i + l], "big")
        i += l
    payload = d[i + 1:].decode() if i < len(d) else ""
    print("%s %d.%02d %d max-age=%d %s" % (["CON", "NON", "ACK", "RST"][t], code >> 5, code & 31, m, age, payload), flush=True)
    return t, code, m
for _ in range(copies):
    s.sendto(msg, dst)
answered = False
while not answered:
    t, code, m = show(s.recv(2048))
    if t == 0:  # the separate response: acknowledge it
        s.sendto(bytes([0x60, 0]) + struct.pack(">H", m), dst)
    answered = code != 0 and (t == 0 or copies == 1)
if copies > 1:  # the copies' own ACKs may still be on their way
    s.settimeout(1)
    try:
        while True: show(s.recv(2048))
    except socket.timeout:
        pass
    s.settimeout(15)
    s.sendto(msg, dst)
    show(s.recv(2048))
EOF

start_gateway() { # start_gateway LOG BROKERS [--set ...]: sets gw_pid, waits for HTTP
  local log=$1 kafka=$2
  shift 2
  SLUICE_KAFKA_BROKERS=$kafka "$bin" gateway "$work/gw.lua" --log-format text "$@" >>"$log" 2>&1 &
  gw_pid=$!
  for _ in $(seq 1 150); do
    curl -s -o /dev/null "$url/healthz" && return 0
    kill -0 "$gw_pid" 2>/dev/null || fail "the gateway exited early: $(tail -n 5 "$log")"
    sleep 0.2
  done
  fail "the gateway did not start"
}
kafka() { # the brokers the pipeline reads: the embedded one is in the gateway's log
  if [ "$brokers" = embedded ]; then
    sed -n 's/.*embedded Kafka broker listening on \([0-9.:]*\).*/\1/p' "$work/gw.log" | tail -n1
  else
    echo "$brokers"
  fi
}
reading() { echo "{\"ts\":$1,\"temperature\":21.5,\"vibration\":0.25${2:-}}"; }
# coap DEVICE BODY [TOPIC]: coap:// with the device's API key; the answer, errors included
coap() {
  "$client" -B 15 -m post -t json -e "$2" \
    "coap://127.0.0.1:$coap_port/ingest/${3:-$topic}?key=key-$tag-$1" 2>&1 || true
}
# coaps DEVICE KEY BODY: coaps:// with DTLS-PSK (identity = device id)
coaps() {
  "$client" -B 5 -m post -t json -u "$1" -k "$2" -e "$3" \
    "coaps://127.0.0.1:$dtls_port/ingest/$topic" 2>&1 || true
}
expect() { # expect WHAT GOT SUBSTRING
  case "$2" in
    *"$3"*) ok "$1" ;;
    *) fail "$1: got '$2', expected '$3'" ;;
  esac
}

# ---- a bad PSK file: its line, exit 1 ----------------------------------------------
cp "$work/psk.txt" "$work/psk.good"
printf 'dev-4 short\n' >>"$work/psk.txt"
set +e
SLUICE_KAFKA_BROKERS=$brokers "$bin" gateway "$work/gw.lua" --log-format text 2>"$work/bad.err"
code=$?
set -e
mv "$work/psk.good" "$work/psk.txt"
[ "$code" = 1 ] || fail "a bad PSK file exits $code, expected 1: $(cat "$work/bad.err")"
grep -qF "$work/gw.lua:2: $work/psk.txt:4: expected \"DEVICE_ID KEY\"" "$work/bad.err" ||
  fail "a bad PSK file: $(cat "$work/bad.err")"
ok "a bad PSK file names its line and exits 1"

start_gateway "$work/gw.log" "$brokers"
for _ in $(seq 1 150); do # the first answer waits for Kafka's metadata: be ready first
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ] && break
  sleep 0.2
done
echo "gateway_coap.sh: coap on udp $coap_port, coaps on udp $dtls_port, kafka $(kafka)"

# ---- answers -------------------------------------------------------------------
expect "coap:// one object -> 2.04" "$(coap 1 "$(reading 1)")" '{"accepted":1}'
expect "coaps:// an array -> 2.04" \
  "$(coaps dev-2 "psk-$tag-two" "[$(reading 2),$(reading 3 ',"machine_id":"dev-2"')]")" \
  '{"accepted":2}'
expect "coaps:// another device" "$(coaps dev-3 "psk-$tag-three" "$(reading 4)")" '{"accepted":1}'
got=$(coap 1 "[$(reading 100),{\"ts\":101}]")
expect "invalid record -> 4.00" "$got" "4.00"
expect "invalid record names the reason" "$got" \
  '"records":[{"index":1,"error":"field '"'temperature'"' is required by the schema"}'
expect "another device's key field -> 4.00" "$(coap 1 "$(reading 102 ',"machine_id":"dev-2"')")" \
  "but the authenticated device is 'dev-1'"
expect "not JSON -> 4.00" "$(coap 1 'hello')" "4.00"
expect "unknown API key -> 4.01" "$(coap 9 "$(reading 200)")" "4.01 unknown API key"
expect "no key -> 4.01" "$("$client" -B 15 -m post -e "$(reading 201)" \
  "coap://127.0.0.1:$coap_port/ingest/$topic" 2>&1 || true)" "4.01 missing key"
expect "unknown topic -> 4.04" "$(coap 1 "$(reading 202)" no-such-topic)" "4.04 no such topic"
got=$(coaps dev-2 "wrong-psk-$tag" "$(reading 203)")
case "$got" in *accepted*) fail "a wrong PSK was accepted: $got" ;; esac
got=$(coaps dev-9 "psk-$tag-two" "$(reading 204)")
case "$got" in *accepted*) fail "an unknown PSK identity was accepted: $got" ;; esac
curl -s "$url/metrics" >"$work/metrics"
grep -q "sluice_gateway_coap_rejected_total{gateway=\"$tag\",reason=\"unauthorized\"} 3" "$work/metrics" ||
  fail "unauthorised CoAP requests not counted: $(grep coap_rejected "$work/metrics")"
ok "a wrong PSK or an unknown identity fails the DTLS handshake (the unknown one counted)"

# ---- the same datagram three times: one record ------------------------------------
python3 "$work/coap_send.py" "$coap_port" "ingest/$topic" "key=key-$tag-1" "$(reading 5)" 4660 2 \
  >"$work/dup.out" || fail "the UDP sender: $(cat "$work/dup.out")"
[ "$(grep -c '^CON 2.04 .*{"accepted":1}' "$work/dup.out")" = 1 ] ||
  fail "retransmission: expected one separate 2.04: $(cat "$work/dup.out")"
tail -n1 "$work/dup.out" | grep -q '^ACK 2.04 4660 max-age=0 {"accepted":1}' ||
  fail "a duplicate after the answer must get the same 2.04, piggybacked: $(cat "$work/dup.out")"
grep -q "sluice_gateway_coap_duplicates_total{gateway=\"$tag\",result=\"answered\"}" \
  <(curl -s "$url/metrics") || fail "duplicates not counted"
ok "a retransmitted message id (3 copies) answered 2.04 without producing again"

curl -s "$url/metrics" | grep -q "sluice_gateway_coap_requests_total{code=\"2.04\",gateway=\"$tag\"}" ||
  fail "metrics: $(curl -s "$url/metrics" | grep coap_requests)"
ok "metrics by response code"

# ---- the pipeline reads what was accepted, each once ------------------------------
cat >"$work/read.lua" <<EOF
local sl = require "sluice"
local p = sl.pipeline { name = "$tag-reader", state = "memory" }
p:kafka_source { topic = "$topic", start = "earliest" }
  :decode { format = "json" }
  :file_sink { path = "$work/out.jsonl" }
EOF
SLUICE_KAFKA_BROKERS=$(kafka) "$bin" run "$work/read.lua" --log-format text >"$work/run.log" 2>&1 &
run_pid=$!
for _ in $(seq 1 150); do
  [ -f "$work/out.jsonl" ] && [ "$(wc -l <"$work/out.jsonl")" -ge 5 ] && break
  kill -0 "$run_pid" 2>/dev/null || fail "the pipeline exited: $(tail -n 5 "$work/run.log")"
  sleep 0.2
done
sleep 1 # a duplicate would arrive right behind the others
kill -TERM "$run_pid"
wait "$run_pid" || fail "the pipeline did not exit 0: $(tail -n 5 "$work/run.log")"
run_pid=""
got=$(sed -n 's/.*"machine_id":"\([^"]*\)".*"ts":\([0-9]*\).*/\1 \2/p; t; s/.*"ts":\([0-9]*\).*"machine_id":"\([^"]*\)".*/\2 \1/p' \
  "$work/out.jsonl" | sort -k2 -n | tr '\n' ',')
want="dev-1 1,dev-2 2,dev-2 3,dev-3 4,dev-1 5,"
[ "$got" = "$want" ] || fail "the pipeline read '$got', expected '$want' ($(cat "$work/out.jsonl"))"
ok "the pipeline read 5 records, each once, keyed by device"

kill -TERM "$gw_pid"
wait "$gw_pid" || fail "the gateway did not exit 0 on SIGTERM"
gw_pid=""
ok "SIGTERM -> exit 0"

# ---- Kafka unreachable: 5.03 with Max-Age ------------------------------------------
# A closed port and a 1 s delivery timeout: the first request probes Kafka
# and waits for the timeout, the next ones are refused at once; all 5.03.
: >"$work/gw-nokafka.log"
start_gateway "$work/gw-nokafka.log" "127.0.0.1:$(free_port tcp)" --set timeout=1s
gw2_pid=$gw_pid
gw_pid=""
for i in 1 2; do
  python3 "$work/coap_send.py" "$coap_port" "ingest/$topic" "key=key-$tag-1" "$(reading 30$i)" \
    $((8000 + i)) 1 >"$work/down$i.out" || fail "the UDP sender: $(cat "$work/down$i.out")"
  grep -q '5.03 .* max-age=[15] ' "$work/down$i.out" ||
    fail "Kafka down: expected 5.03 with Max-Age: $(cat "$work/down$i.out")"
done
expect "coap-client sees 5.03 while Kafka is down" "$(coap 1 "$(reading 303)")" "5.03"
ok "Kafka unreachable: 5.03 with Max-Age ($(sed -n 's/.*\(max-age=[0-9]*\) \(.*\)/\1 \2/p' "$work/down2.out"))"
kill -TERM "$gw2_pid"
set +e
wait "$gw2_pid"
code=$?
set -e
gw2_pid=""
# 3 when records were still unacknowledged at the stop deadline: honest too.
[ "$code" = 0 ] || [ "$code" = 3 ] || fail "the gateway without Kafka exited $code on SIGTERM"
echo "gateway_coap.sh: ok"
