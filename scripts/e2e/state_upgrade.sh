#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Upgrading a pipeline (issue 13; docs/operations.md, "Upgrading a
# pipeline"), with a real broker and Redis: a worker is stopped with windows
# open (their state in Redis), the pipeline is changed, and a worker of the
# new version restarts. Compatible changes (a stateless filter and a branch
# upstream, an aggregate added, state of an older sluice adopted with
# id = "window#2") must keep every open window: at the end every window is
# compared with an independent computation from the input (eos_check.py),
# exact. Incompatible changes (window size, key; a removed window's state)
# must be refused with exit 1 and the documented message before anything
# is touched; --allow-state-loss then drops exactly the named state.
set -euo pipefail
source "$(dirname "$0")/lib/eos.sh"
eos_init state_upgrade

# One file, its versions chosen with --set (sl.param).
cat >"$EOS_WORK/worker.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline {
  name = sl.param("group", "eos"),
  state = "redis",
  checkpoint = "200ms",
  redis = sl.param("redis", "redis://127.0.0.1:6379"),
}
local s = p:kafka_source { topic = sl.param("input", "eos-in") }:decode { format = "json" }
if sl.param("filter", false) then -- v2: a stateless filter and a raw branch upstream
  s = s:filter(sl.param("fexpr", "v >= 0"))
  s:file_sink { path = sl.param("raw", "raw.jsonl") }
end
local aggs = { n = "count()", s = "sum(v)" }
if sl.param("max", false) then aggs.mx = "max(v)" end -- v3: an aggregate added
local wid = sl.param("wid", "")
s:window { id = wid ~= "" and wid or nil, tumbling = sl.param("size", "1s"),
           key = sl.param("key", "machine_id"), time = "ts", delay = sl.param("delay", "0s") }
  :aggregate(aggs)
  :kafka_sink { topic = sl.param("output", "eos-out"), key = "machine_id" }
p:dead_letter { path = sl.param("dlq", "dlq.jsonl") }
LUA

DERIVED="window:tumbling-1s:machine_id"
URL_SET=(--set "group=$EOS_GROUP" --set "input=$EOS_IN" --set "output=$EOS_OUT")

# state_entries ID: entries of ID's state summed over partitions (state show --json).
state_entries() {
  "$SLUICE_BIN" state show "$EOS_WORK/worker.lua" --json "${URL_SET[@]}" \
    --set "redis=redis://127.0.0.1:$EOS_REDIS_PORT" "${@:2}" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(o["entries"] for p in d["partitions"] for o in p["operators"] if o["id"]==sys.argv[1]))' "$1"
}

# phase LABEL FROM TO [--set ...]: a worker of that version consumes readings
# FROM..TO-1, then stops with SIGTERM with its last windows still open.
phase() {
  local label=$1 from=$2 to=$3
  shift 3
  eos_worker_start "$@"
  eos_wait_assigned "$EOS_LAST_LOG"
  grep -q "refusing to start" "$EOS_LAST_LOG" && eos_die "$label: refused: $(cat "$EOS_LAST_LOG")"
  eos_produce "$from" "$to"
  eos_wait_lag0 60
  eos_worker_stop "$EOS_LAST_PID"
  [[ $EOS_STOP_RC == 0 ]] || eos_die "$label: worker exit $EOS_STOP_RC"
  eos_log "$label: readings $from..$((to - 1)) consumed, stopped mid-window"
}

# refused LABEL WANT [--set ...|--allow...]: that version must exit 1 with
# WANT in its message, leaving the stored offsets and state as they were.
refused() {
  local label=$1 want=$2 before after rc=0
  shift 2
  before=$(eos_redis_cli --scan --pattern "sl:{$EOS_GROUP:*" | sort | while read -r k; do
    echo "$k $(eos_redis_cli dump "$k" | md5sum)"; done)
  timeout 60 "$SLUICE_BIN" run "$EOS_WORK/worker.lua" --api off --log-format text "${URL_SET[@]}" \
    --set "redis=redis://127.0.0.1:$EOS_REDIS_PORT" "$@" >"$EOS_WORK/refused.log" 2>&1 || rc=$?
  [[ $rc == 1 ]] || eos_die "$label: exit $rc (want 1): $(tail -n 5 "$EOS_WORK/refused.log")"
  grep -qF -- "$want" "$EOS_WORK/refused.log" ||
    eos_die "$label: message lacks '$want': $(cat "$EOS_WORK/refused.log")"
  grep -qF "refusing to start '$EOS_GROUP'" "$EOS_WORK/refused.log" || eos_die "$label: no summary line"
  after=$(eos_redis_cli --scan --pattern "sl:{$EOS_GROUP:*" | sort | while read -r k; do
    echo "$k $(eos_redis_cli dump "$k" | md5sum)"; done)
  [[ "$before" == "$after" ]] || eos_die "$label: the refused start changed stored state"
  "$SLUICE_BIN" check "$EOS_WORK/worker.lua" --state "${URL_SET[@]}" \
    --set "redis=redis://127.0.0.1:$EOS_REDIS_PORT" "$@" >/dev/null 2>&1 && rc=0 || rc=$?
  [[ $rc == 1 ]] || eos_die "$label: check --state exit $rc (want 1)"
  eos_log "$label: refused (exit 1): $(grep -m1 'cannot be restored' "$EOS_WORK/refused.log")"
}

eos_redis_start
eos_topic "$EOS_IN"

# v1, then every compatible change in turn; each stop leaves windows open.
eos_worker_start
eos_warmup
eos_worker_stop "$EOS_LAST_PID"
phase v1 100 4000
open=$(state_entries "$DERIVED")
((open > 0)) || eos_die "no open window state after v1 ($open entries)"
phase "v2 (filter and branch added)" 4000 8000 --set filter=true --set "raw=$EOS_WORK/raw.jsonl"
phase "v3 (aggregate added)" 8000 12000 --set filter=true --set "raw=$EOS_WORK/raw.jsonl" \
  --set max=true
V3=(--set filter=true --set "raw=$EOS_WORK/raw.jsonl" --set max=true)
phase "v4 (filter changed)" 12000 13000 "${V3[@]}" --set 'fexpr=v > -1'
phase "v5 (filter and branch removed)" 13000 14000 --set max=true

# Incompatible: the window's size (its derived id moves with it) and its key.
refused "size 1s -> 2s" "window changed from 'tumbling 1s' to 'tumbling 2s'" "${V3[@]}" --set size=2s
refused "window removed by a new id" "add id = \"$DERIVED\"" "${V3[@]}" --set wid=stats

# State of a sluice before stable ids: positional id, no metadata.
for p in 0 1 2 3; do
  eos_redis_cli rename "sl:{$EOS_GROUP:$EOS_IN:$p}:state:$DERIVED" \
    "sl:{$EOS_GROUP:$EOS_IN:$p}:state:window#2" >/dev/null
done
eos_redis_cli del "sl:{$EOS_GROUP}:nodes" >/dev/null
refused "positional state of an older sluice" 'add id = "window#2" to it to keep this state' "${V3[@]}"
phase "v3 adopting window#2" 14000 16000 "${V3[@]}" --set 'wid=window#2'
grep -q "state of 'window#2' kept" "$EOS_WORK/worker.$EOS_WORKER_SEQ.log" ||
  eos_die "adopting window#2: no 'kept' warning"
refused "key changed under an explicit id" "key changed from 'machine_id' to 'ts'" "${V3[@]}" \
  --set 'wid=window#2' --set key=ts

# The last version finishes the input; every window must be exact.
N=20000
eos_worker_start "${V3[@]}" --set 'wid=window#2'
eos_wait_assigned "$EOS_LAST_LOG"
eos_produce 16000 "$N"
eos_flush "$(eos_flush_ts "$N")"
want=$(python3 "$EOS_LIB/eos_check.py" windows "$N" "$(eos_flush_ts "$N")")
eos_wait_results "$want" 90 || true
eos_worker_stop "$EOS_LAST_PID"
[[ $EOS_STOP_RC == 0 ]] || eos_die "the last worker exit $EOS_STOP_RC"
dl=$(eos_dead_letters)
rc=0
eos_check "$N" - || rc=1
raw=$(wc -l <"$EOS_WORK/raw.jsonl")
echo "state_upgrade: dead letters $dl; raw branch $raw records"
[[ $rc == 0 && $dl == 0 ]] || eos_die "windows differ from the input across the upgrades"
# The aggregate added by v3 (readings from 8000 on): exact in the windows
# that began after the upgrade, and computed from later records only in the
# window open at it ([7000, 8000) got no later record: null).
python3 - "$EOS_WORK/input.txt" "$EOS_WORK/results.txt" <<'PY' || eos_die "max(v) of the added aggregate"
import json, sys
BASE = 1_700_000_000_000
mx = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["machine_id"] != "zflush":
        k = (r["machine_id"], r["ts"] // 1000 * 1000)
        mx[k] = max(mx.get(k, -1), r["v"])
exact = empty = bad = 0
for line in open(sys.argv[2]):
    r = json.loads(line.rstrip("\n").partition("\t")[2])
    if r["machine_id"] == "zflush":
        continue
    ws = r["window_start"]
    if ws >= BASE + 8000:
        ok = r.get("mx") == mx[(r["machine_id"], ws)]
        exact += ok
    elif ws == BASE + 7000:
        ok = r.get("mx") is None
        empty += ok
    else:
        ok = "mx" not in r
    bad += not ok
print("state_upgrade: added aggregate: %d windows exact, %d open at the upgrade without it, %d wrong"
      % (exact, empty, bad))
sys.exit(1 if bad or not exact or empty != 100 else 0)
PY

# --allow-state-loss drops exactly the named state, then the pipeline runs.
refused "size change under an explicit id" "window changed from 'tumbling 1s' to 'tumbling 2s'" \
  "${V3[@]}" --set 'wid=window#2' --set size=2s
# It consumes a few more readings, so that the 2 s window has state of its
# own for `sluice state drop` below (a partition that saw nothing stores no
# state, not even a watermark).
phase "2 s window after --allow-state-loss" 20000 20400 "${V3[@]}" --set 'wid=window#2' \
  --set size=2s --allow-state-loss 'window#2'
grep -q "dropped the state of 'window#2' in 4 partitions" "$EOS_LAST_LOG" || eos_die "no drop logged"
# The 2 s window started empty in every partition, resuming after the input.
fresh=$(grep -c "assigned: epoch [0-9]*, 0 state entries restored" "$EOS_LAST_LOG" || true)
((fresh == 4)) || eos_die "$fresh of 4 partitions restored nothing after --allow-state-loss"
"$SLUICE_BIN" check "$EOS_WORK/worker.lua" --state "${URL_SET[@]}" "${V3[@]}" --set 'wid=window#2' \
  --set size=2s --set "redis=redis://127.0.0.1:$EOS_REDIS_PORT" >/dev/null ||
  eos_die "the 2 s version does not fit its own stored state"

# sluice state: reset refuses without a terminal, drop names an unknown id,
# then drop and reset remove exactly their keys.
STATE=("$SLUICE_BIN" state)
ARGS=("$EOS_WORK/worker.lua" "${URL_SET[@]}" "${V3[@]}" --set 'wid=window#2' --set size=2s
  --set "redis=redis://127.0.0.1:$EOS_REDIS_PORT")
nkeys() { eos_redis_cli --scan --pattern "sl:{$EOS_GROUP:*" | wc -l; }
before=$(nkeys)
rc=0
"${STATE[@]}" reset "${ARGS[@]}" </dev/null >/dev/null 2>&1 || rc=$?
[[ $rc == 2 && $(nkeys) == "$before" ]] || eos_die "reset without a terminal: exit $rc, keys $before -> $(nkeys)"
rc=0
"${STATE[@]}" drop "${ARGS[@]}" nope >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || eos_die "drop of an unknown id: exit $rc (want 1)"
held=$(eos_redis_cli --scan --pattern "sl:{$EOS_GROUP:*}:state:window#2" | wc -l)
((held > 0)) || eos_die "the 2 s window stored no state to drop"
out=$("${STATE[@]}" drop "${ARGS[@]}" 'window#2' --json)
[[ $out == *"\"dropped\":\"window#2\",\"partitions\":$held"* ]] ||
  eos_die "state drop --json: $out (want $held partitions)"
[[ $(state_entries 'window#2' "${V3[@]}" --set 'wid=window#2' --set size=2s) == 0 ]] ||
  eos_die "state of window#2 left after state drop"
"${STATE[@]}" reset "${ARGS[@]}" --yes >/dev/null || eos_die "state reset --yes failed"
[[ $(nkeys) == 0 ]] || eos_die "$(nkeys) keys of the pipeline left after state reset"
echo "state_upgrade: ok"
