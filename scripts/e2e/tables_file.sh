#!/usr/bin/env bash
# The plant example (pipelines/plant_devices.lua + devices.jsonl) runs: its file table
# serves entries at GET /api/v1/tables/devices/{key} (404 for a missing key),
# an atomic replacement of the file is picked up while it runs (a changed limit
# shows in the API, a removed machine is gone), a bad version is refused and
# the previous table kept, and SIGTERM stops it with exit 0.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SLUICE_BIN:-$root/build/sluice}
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
aport=$(free_port)
cleanup() {
  [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "tables_file: $*"; tail -20 "$work/log" || true; exit 1; }
cp "$root/pipelines/plant_devices.lua" "$root/pipelines/devices.jsonl" "$work/"

"$bin" run "$work/plant_devices.lua" --api "127.0.0.1:$aport" --set rate=100 \
  --set dead_letters="$work/dl.jsonl" --log-format text 2>"$work/log" >"$work/out" &
pid=$!
api="http://127.0.0.1:$aport/api/v1/tables/devices"
# Saved to files first: `curl | grep -q` fails under pipefail when grep stops early.
wait_for() { # $1 = key, $2 = pattern expected in the body
  for _ in $(seq 1 50); do
    curl -s "$api/$1" >"$work/body" 2>/dev/null && grep -q "$2" "$work/body" && return 0
    sleep 0.2
  done
  fail "GET $1: wanted $2, got $(cat "$work/body" 2>/dev/null)"
}
wait_for m0007 '"max_temp":80'
wait_for m0007 '"name":"Lathe 7"'
code=$(curl -s -o /dev/null -w '%{http_code}' "$api/m9999")
[ "$code" = 404 ] || fail "missing key: HTTP $code, not 404"

# A new version, swapped in atomically: m0007's limit changes, m0001 is removed.
grep -v '"m0001"' "$work/devices.jsonl" | sed 's/"Lathe 7","max_temp":80/"Lathe 7","max_temp":99/' \
  >"$work/devices.new"
mv "$work/devices.new" "$work/devices.jsonl"
wait_for m0007 '"max_temp":99'
code=$(curl -s -o /dev/null -w '%{http_code}' "$api/m0001")
[ "$code" = 404 ] || fail "removed key m0001: HTTP $code, not 404"

# A bad version is refused: the previous table stays.
printf '{"machine_id":"m0007","max_temp":1}\nnot json\n' >"$work/devices.bad"
mv "$work/devices.bad" "$work/devices.jsonl"
for _ in $(seq 1 50); do grep -q "keeping the previous version" "$work/log" && break; sleep 0.2; done
grep -q "devices.jsonl:2: table 'devices'" "$work/log" || fail "bad version not reported with its line"
wait_for m0007 '"max_temp":99'

kill -TERM "$pid"
set +e
wait "$pid"
code=$?
set -e
pid=
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
echo "tables_file: ok"
