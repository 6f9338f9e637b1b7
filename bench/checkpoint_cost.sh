#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What a checkpoint costs (SPEC.md section 7, docs/state.md):
#   1. Redis calls and bytes per checkpoint: one run with state = "redis"
#      while MONITOR records every command (client commands and the commands
#      the checkpoint script runs inside Redis), plus INFO commandstats and
#      total_net_input_bytes before/after; divided by the number of
#      checkpoints (the EVALSHA calls for partition 0: one per checkpoint).
#   2. Throughput, median of RUNS runs each: state = "memory" vs state =
#      "redis" (checkpoint = "1s") against a Redis with appendonly yes and
#      appendfsync everysec, then always (and without AOF, for reference).
# The input is the simulator in bench mode (rate = 0, records = N, encoded
# before the clock starts, 4 partitions) through decode json -> 10 s tumbling
# window by machine -> count/avg/max/p95 -> a file sink on /dev/null. The
# time is taken from the pipeline's own log ("running" to "input drained"),
# so start-up and pre-encoding are not counted. Starts its own redis-server
# processes and stops them.
#   bench/checkpoint_cost.sh [BUILD_DIR]    (env: RECORDS, MACHINES, RUNS)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
BIN=$BUILD/sluice
RECORDS=${RECORDS:-10000000}
MACHINES=${MACHINES:-1000}
RUNS=${RUNS:-3}
[ -x "$BIN" ] || { echo "build first: $BIN is missing" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server missing" >&2; exit 2; }
TMP=$(mktemp -d)
RPID=""
MPID=""
cleanup() {
  [ -n "$MPID" ] && kill "$MPID" 2>/dev/null || true
  stop_redis
  rm -rf "$TMP"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

stop_redis() {
  if [ -n "$RPID" ]; then
    kill "$RPID" 2>/dev/null || true
    while kill -0 "$RPID" 2>/dev/null; do sleep 0.05; done
    RPID=""
  fi
}
trap cleanup EXIT INT TERM

# start_redis MODE: none | everysec | always (appendfsync); sets RPORT.
start_redis() {
  local mode=$1 dir="$TMP/redis-$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  RPORT=$(free_port)
  local aof=(--appendonly no)
  [ "$mode" != none ] && aof=(--appendonly yes --appendfsync "$mode")
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' "${aof[@]}" --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  local i=0
  until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "redis did not start" >&2; exit 1; }
    sleep 0.05
  done
  RPID=$(cat "$dir/redis.pid")
}

cat >"$TMP/p.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline { name = sl.param("name", "ckpt-bench"), state = sl.param("state", "memory"),
                        checkpoint = "1s" }
p:simulator { machines = sl.param("machines", 1000), rate = 0,
              records = sl.param("records", 1000000), format = "json", faults = false }
  :decode { format = "json" }
  :window { tumbling = "10s", key = "machine_id", time = "ts" }
  :aggregate { n = "count()", avg_temp = "avg(temperature)", max_vib = "max(vibration)",
               p95_temp = "p95(temperature)" }
  :file_sink { path = "/dev/null" }
LUA

# run STATE NAME: one pipeline run; prints "seconds records_per_second".
run() {
  local state=$1 name=$2
  SLUICE_REDIS_URL="redis://127.0.0.1:${RPORT:-6379}" "$BIN" run "$TMP/p.lua" --api off \
    --set name="$name" --set state="$state" --set records="$RECORDS" \
    --set machines="$MACHINES" 2>"$TMP/run.log" || {
    echo "sluice run failed:" >&2
    tail -5 "$TMP/run.log" >&2
    exit 1
  }
  python3 "$ROOT/bench/run_span.py" "$TMP/run.log" "$RECORDS"
}

# stat NAME FIELD: a field of INFO (stats/commandstats) of the running Redis.
redis_info() { redis-cli -p "$RPORT" INFO "$1" | tr -d '\r'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "checkpoint_cost: $RECORDS records, $MACHINES machines, 4 partitions, $RUNS runs per setting"
echo "machine: $(nproc) CPUs, $(redis-server --version | awk '{print $3}'), $("$BIN" version 2>&1 | head -1)"

# ---- 1. calls and bytes per checkpoint ---------------------------------------
start_redis none
redis_info stats >"$TMP/stats.before"
redis-cli -p "$RPORT" CONFIG RESETSTAT >/dev/null
redis_info stats >"$TMP/stats.before"
redis-cli -p "$RPORT" MONITOR >"$TMP/monitor" &
MPID=$!
sleep 0.2
read -r secs rps < <(run redis cost)
sleep 0.3
kill "$MPID" 2>/dev/null || true
wait "$MPID" 2>/dev/null || true
MPID=""
redis_info stats >"$TMP/stats.after"
redis_info commandstats >"$TMP/cmdstats"
python3 - "$TMP/monitor" "$TMP/stats.before" "$TMP/stats.after" "$TMP/cmdstats" "$secs" <<'PY'
import re, sys
mon, before, after, cmdstats, secs = sys.argv[1:]
def stat(path, key):
    for line in open(path):
        if line.startswith(key + ":"):
            return int(line.split(":", 1)[1])
    return 0
def unrepr(q):  # undo Redis sdscatrepr (MONITOR's quoting) into bytes
    out, i = bytearray(), 0
    esc = {"n": 10, "r": 13, "t": 9, "a": 7, "b": 8, "\\": 92, '"': 34}
    while i < len(q):
        c = q[i]
        if c == "\\" and i + 1 < len(q):
            n = q[i + 1]
            if n == "x":
                out.append(int(q[i + 2:i + 4], 16)); i += 4; continue
            out.append(esc.get(n, ord(n))); i += 2; continue
        out += c.encode(); i += 1
    return bytes(out)
def resp(args):  # bytes of the command in the Redis protocol
    return len("*%d\r\n" % len(args)) + sum(len("$%d\r\n" % len(a)) + len(a) + 2 for a in args)
argre = re.compile(r'"((?:[^"\\]|\\.)*)"')
client, inside, ckpts, ckpt_bytes, other_bytes, entries = {}, {}, 0, 0, 0, 0
for line in open(mon, errors="replace"):
    m = re.match(r'^[0-9.]+ \[\d+ ([^\]]+)\] (.*)', line.rstrip("\n"))
    if not m:
        continue
    who = m.group(1)
    args = [unrepr(a) for a in argre.findall(m.group(2))]
    if not args:
        continue
    cmd = args[0].decode(errors="replace").upper()
    if cmd in ("MONITOR", "INFO", "CONFIG", "PING"):
        continue
    d = inside if who == "lua" else client
    d[cmd] = d.get(cmd, 0) + 1
    if who == "lua":
        if cmd == "HSET":
            entries += (len(args) - 2) // 2
        continue
    if cmd == "EVALSHA":
        ckpt_bytes += resp(args)
        if any(b":0}:" in a for a in args[3:5]):
            ckpts += 1
    else:
        other_bytes += resp(args)
inb = stat(after, "total_net_input_bytes") - stat(before, "total_net_input_bytes")
ncl = sum(client.values())
nin = sum(inside.values())
k = max(ckpts, 1)
print("\n## calls and bytes per checkpoint (state = redis, Redis without AOF, MONITOR on)")
print("run: %.2f s, %d checkpoints (EVALSHA for partition 0)" % (float(secs), ckpts))
print("client commands: %d in all, %.1f per checkpoint: %s" % (
    ncl, ncl / k, ", ".join("%s %d" % kv for kv in sorted(client.items()))))
print("commands run by the checkpoint script: %d, %.1f per checkpoint: %s" % (
    nin, nin / k, ", ".join("%s %d" % kv for kv in sorted(inside.items()))))
print("state entries written (HSET fields): %d, %.0f per checkpoint" % (entries, entries / k))
print("bytes sent to Redis by checkpoints (EVALSHA in RESP): %d, %.0f per checkpoint" % (
    ckpt_bytes, ckpt_bytes / k))
print("bytes of the other commands (SCRIPT LOAD, INCR of epochs, ACL probes): %d" % other_bytes)
print("total_net_input_bytes delta: %d (checks the sum above: %d)" % (inb, ckpt_bytes + other_bytes))
print("INFO commandstats:")
for line in open(cmdstats):
    if line.startswith("cmdstat_") and not re.match(r"cmdstat_(info|config|monitor|ping)", line):
        print("  " + line.strip())
PY
stop_redis

# ---- 2. throughput ------------------------------------------------------------
echo
echo "## throughput (records/s, median of $RUNS; run seconds in brackets)"
for setting in memory none everysec always; do
  list=""
  aofs=""
  ckpts=""
  for i in $(seq 1 "$RUNS"); do
    if [ "$setting" = memory ]; then
      RPORT=""
      read -r secs rps < <(run memory "tp-mem-$i")
    else
      start_redis "$setting"
      read -r secs rps < <(run redis "tp-$setting-$i")
      # One EVALSHA per partition (4) per checkpoint, see part 1.
      calls=$(redis_info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
      ckpts="$ckpts $((${calls:-0} / 4))"
      if [ "$setting" != none ]; then
        aofs="$aofs $(du -sb "$TMP/redis-$setting" | awk '{print $1}')"
      fi
      stop_redis
    fi
    list="$list $rps"
    printf '  %-22s run %d: %8.0f records/s [%ss]\n' "$setting" "$i" "$rps" "$secs"
  done
  med=$(echo "$list" | tr ' ' '\n' | sed '/^$/d' | median)
  label=$setting
  case $setting in
    memory) label='state = "memory"' ;;
    none) label='redis, no AOF' ;;
    everysec) label='redis, AOF everysec' ;;
    always) label='redis, AOF always' ;;
  esac
  extra=""
  [ -n "$ckpts" ] && extra="; checkpoints per run:$ckpts"
  [ -n "$aofs" ] && extra="$extra; Redis dir bytes after run:$aofs"
  printf 'MEDIAN %-22s %8.0f records/s%s\n' "$label" "$med" "$extra"
done
