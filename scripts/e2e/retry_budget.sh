#!/usr/bin/env bash
# A dependency that stays down past the retry budget ends the run with exit 3
# (SPEC.md section 2), after pausing instead of dropping: here a cache sink
# whose Redis never answers.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SLUICE_BIN:-$root/build/sluice}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/p.lua" <<LUA
local sl = require "sluice"
local p = sl.pipeline { name = "budget", redis = "redis://127.0.0.1:$port" }
p:simulator { machines = 3, rate = 100 }:decode { format = "json" }
  :cache { name = "m", key = "machine_id" }
LUA
set +e
SLUICE_RETRY_BUDGET=2s timeout 60 "$bin" run "$work/p.lua" --api off --log-format text 2>"$work/log"
code=$?
set -e
if [ "$code" != 3 ]; then echo "retry_budget: exit $code, want 3"; tail "$work/log"; exit 1; fi
grep -q "processing paused" "$work/log" || { echo "retry_budget: no pause logged"; exit 1; }
grep -q "retry budget" "$work/log" || { echo "retry_budget: no budget message"; exit 1; }
echo "retry_budget: ok"
