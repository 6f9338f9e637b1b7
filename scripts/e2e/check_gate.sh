#!/usr/bin/env bash
# `sluice check` is a gate (issue 19): for each pipeline that `run` refuses,
# `check` exits 1 offline with the same file:line message; what only the
# target machine can tell is a warning (exit 0); a --set the pipeline never
# reads is refused by both. No server is started: nothing may connect.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SLUICE_BIN:-$top/build/sluice}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$top/pipelines/schemas" "$work/"
fail() { echo "check_gate: FAIL: $*"; exit 1; }

# case NAME WANT LUA-BODY: check and run both exit 1 and both name WANT.
case_refused() {
  local name=$1 want=$2
  printf 'local sl = require "sluice"\n%s\n' "$3" >"$work/$name.lua"
  local rc=0
  "$bin" check "$work/$name.lua" >"$work/$name.check" 2>&1 || rc=$?
  [[ $rc == 1 ]] || fail "$name: check exit $rc (want 1): $(cat "$work/$name.check")"
  grep -qF "$work/$name.lua:$want" "$work/$name.check" || fail "$name: check said $(cat "$work/$name.check")"
  rc=0
  SLUICE_REDIS_URL=redis://127.0.0.1:1 timeout 20 "$bin" run "$work/$name.lua" --api off \
    --log-format text >"$work/$name.run" 2>&1 || rc=$?
  [[ $rc == 1 ]] || fail "$name: run exit $rc (want 1): $(cat "$work/$name.run")"
  grep -qF "$work/$name.lua:$want" "$work/$name.run" || fail "$name: run said $(cat "$work/$name.run")"
}

P='local p = sl.pipeline { name = "gate" }'
case_refused webhook "3: webhook: url 'ftp://h/x' is not an http:// or https:// URL" \
  "$P
p:kafka_source \"t\":webhook { url = \"ftp://h/x\" }"
case_refused kafka_prop "2: kafka property 'linger.ms' from the pipeline's kafka table" \
  'local p = sl.pipeline { name = "gate", kafka = { ["linger.ms"] = "soon" } }
p:kafka_source "t"'
case_refused key_template "3: kafka_sink 'o': key template '{machine_id': missing '}'" \
  "$P
p:kafka_source \"t\":kafka_sink { topic = \"o\", key = \"{machine_id\" }"
case_refused field_typo "4: filter: unknown field 'temprature' in expr (did you mean 'temperature'?)" \
  "$P
p:kafka_source \"t\":decode { format = \"avro\", schema = \"schemas/machine_reading.avsc\" }
  :filter \"temprature > 90\""
case_refused window_alone "3: a window must be followed by :aggregate{...}, not :stdout_sink" \
  "$P
p:kafka_source \"t\":window { tumbling = \"10s\", key = \"k\" }:stdout_sink {}"
case_refused name '2: pipeline name '"'"'a b/c{}'"'"' is not valid' \
  'local p = sl.pipeline { name = "a b/c{}" }
p:kafka_source "t"'
case_refused file_redis "3: file_source cannot resume from a checkpoint" \
  'local p = sl.pipeline { name = "gate", state = "redis" }
p:file_source "in.jsonl":stdout_sink {}'

# Warnings only: exit 0, the warning printed, "ok" on stdout.
printf 'local sl = require "sluice"\nlocal p = sl.pipeline { name = "gate" }\np:file_source "absent.jsonl":stdout_sink {}\n' >"$work/warn.lua"
out=$("$bin" check "$work/warn.lua" 2>"$work/warn.err") || fail "warning only: check exit $?"
[[ $out == *"ok (pipeline 'gate', 2 nodes)"* ]] || fail "warning only: stdout $out"
grep -qF "$work/warn.lua:3: warning: file_source: cannot open" "$work/warn.err" ||
  fail "warning only: $(cat "$work/warn.err")"

# A --set nobody reads: refused by check and run alike, listing what is read.
printf 'local sl = require "sluice"\nlocal p = sl.pipeline { name = "gate" }\nlocal t = sl.param("alert.t", 5)\np:kafka_source "t":filter("x > " .. t)\n' >"$work/set.lua"
for cmd in check run; do
  rc=0
  timeout 20 "$bin" $cmd "$work/set.lua" --set alrt.t=9 --api off >"$work/set.$cmd" 2>&1 || rc=$?
  [[ $rc == 1 ]] || fail "--set typo: $cmd exit $rc"
  grep -qF "sluice: --set alrt.t: the pipeline never reads 'alrt.t' with sl.param (it reads: alert.t)" \
    "$work/set.$cmd" || fail "--set typo: $cmd said $(cat "$work/set.$cmd")"
done
echo "check_gate: ok"
