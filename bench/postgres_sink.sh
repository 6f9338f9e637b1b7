#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# postgres_sink throughput (bench/README.md, "PostgreSQL sink"):
#   1. The write method, outside sluice: ROWS window-result rows in batches
#      of BATCH, (a) COPY into a temporary staging table + one INSERT ...
#      SELECT DISTINCT ON ... ON CONFLICT DO UPDATE per batch, against
#      (b) one multi-row INSERT ... VALUES ... ON CONFLICT DO UPDATE per
#      batch, both through psql from a prepared file, each in a transaction
#      per batch, into a fresh table; then (c) plain COPY (insert mode).
#   2. The sink: the simulator in bench mode (rate = 0, RECORDS readings
#      encoded before the clock starts) -> decode json -> postgres_sink,
#      mode = "insert" and "upsert", into a fresh table each run. Rows/s from
#      the pipeline's log ("running" to "finished": every row committed,
#      checked with count(*)), CPU seconds of the sluice process (user + sys)
#      from bash's `time`.
# Medians of RUNS runs. Starts its own PostgreSQL (scripts/postgres-server.sh).
#   bench/postgres_sink.sh [BUILD_DIR]    (env: ROWS, BATCH, RECORDS, RUNS)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
BIN=$BUILD/sluice
ROWS=${ROWS:-200000}
BATCH=${BATCH:-1000}
RECORDS=${RECORDS:-300000}
RUNS=${RUNS:-5}
[ -x "$BIN" ] || { echo "build first: $BIN is missing" >&2; exit 2; }
TMP=$(mktemp -d)
cleanup() {
  bash "$ROOT/scripts/postgres-server.sh" stop "$TMP/pg" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
URL=$(bash "$ROOT/scripts/postgres-server.sh" start "$TMP/pg" | sed -n 's/^SLUICE_POSTGRES_URL=//p')
pg() { PGOPTIONS="-c client_min_messages=warning" psql "$URL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "postgres_sink bench: $(nproc) CPUs, $(pg -c 'SHOW server_version'), $("$BIN" version 2>&1 | head -1)"

# ---- 1. write methods ---------------------------------------------------------
TABLE='(_id text PRIMARY KEY, event_time timestamptz, machine_id text, window_start timestamptz,
        window_end timestamptz, n bigint, avg_temp double precision, max_vib double precision)'
COLS='_id, event_time, machine_id, window_start, window_end, n, avg_temp, max_vib'
SET='event_time = EXCLUDED.event_time, machine_id = EXCLUDED.machine_id,
     window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end, n = EXCLUDED.n,
     avg_temp = EXCLUDED.avg_temp, max_vib = EXCLUDED.max_vib'
python3 - "$ROWS" "$BATCH" "$TMP" "$COLS" "$SET" <<'PY'
import sys, datetime
rows, batch, tmp, cols, setc = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def ts(ms):
    return datetime.datetime.utcfromtimestamp(ms / 1000).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
def row(i):
    m, w = i % 1000, i // 1000
    ws = 1700000000000 + w * 10000
    return ["bench/stats/m%04d/%d" % (m, ws), ts(ws + 9999), "m%04d" % m, ts(ws), ts(ws + 10000),
            str(100 + i % 7), repr(20 + (i % 113) / 7), repr((i % 97) / 1000)]
with open(tmp + "/copy_merge.sql", "w") as f, open(tmp + "/insert.sql", "w") as g, \
     open(tmp + "/copy.sql", "w") as h:
    f.write("CREATE TEMP TABLE stage ON COMMIT DELETE ROWS AS SELECT %s FROM t WITH NO DATA;\n"
            "ALTER TABLE stage ADD COLUMN seq bigserial;\n" % cols)
    for b in range(0, rows, batch):
        rs = [row(i) for i in range(b, min(b + batch, rows))]
        f.write("BEGIN;\nCOPY stage (%s) FROM STDIN;\n" % cols)
        f.write("".join("\t".join(r) + "\n" for r in rs) + "\\.\n")
        f.write("INSERT INTO t (%s) SELECT DISTINCT ON (_id) %s FROM stage ORDER BY _id, seq DESC "
                "ON CONFLICT (_id) DO UPDATE SET %s;\nCOMMIT;\n" % (cols, cols, setc))
        g.write("BEGIN;\nINSERT INTO t (%s) VALUES %s ON CONFLICT (_id) DO UPDATE SET %s;\nCOMMIT;\n"
                % (cols, ",".join("(%s)" % ",".join("'%s'" % v for v in r) for r in rs), setc))
        h.write("COPY t (%s) FROM STDIN;\n" % cols)
        h.write("".join("\t".join(r) + "\n" for r in rs) + "\\.\n")
PY
method() { # FILE: "rows/s  backend-CPU-µs/row" loading ROWS rows into a fresh table
  pg -c "DROP TABLE IF EXISTS t; CREATE TABLE t $TABLE; CHECKPOINT"
  local t0 t1 cpu
  t0=$(date +%s.%N)
  # The backend's own CPU (utime + stime in clock ticks, /proc/PID/stat),
  # read by psql at the end of the session: steadier than wall time on a
  # shared host.
  cpu=$( { echo "\o $TMP/pid"; echo "SELECT pg_backend_pid();"; echo "\o"
           cat "$1"
           echo "\! awk '{print \$14 + \$15}' /proc/\$(cat $TMP/pid)/stat"; } | pg -f - )
  t1=$(date +%s.%N)
  [ "$(pg -c 'SELECT count(*) FROM t')" = "$ROWS" ] || { echo "method $1: wrong row count" >&2; exit 1; }
  python3 -c "import os; print('%.0f %.2f' % ($ROWS / ($t1 - $t0),
    ${cpu:-0} / os.sysconf('SC_CLK_TCK') * 1e6 / $ROWS))"
}
echo "1. write methods, $ROWS rows in batches of $BATCH, runs interleaved"
echo "   (rows/s and PostgreSQL backend CPU µs per row, medians of $RUNS):"
for i in $(seq "$RUNS"); do
  for m in copy_merge insert copy; do echo "$m $(method "$TMP/$m.sql")"; done
done >"$TMP/methods"
for m in copy_merge insert copy; do
  echo "   $m: $(awk -v m=$m '$1 == m {print $2}' "$TMP/methods" | median) rows/s," \
    "$(awk -v m=$m '$1 == m {print $3}' "$TMP/methods" | median) µs CPU/row" \
    "  runs: $(awk -v m=$m '$1 == m {printf "%s/%s ", $2, $3}' "$TMP/methods")"
done

# ---- 2. the sink ----------------------------------------------------------------
cat >"$TMP/p.lua" <<'LUA'
local sl = require "sluice"
local p = sl.pipeline { name = "pg-bench", state = "memory", checkpoint = "1s" }
p:simulator { machines = 1000, rate = 0, records = sl.param("records", 100000), format = "json",
              faults = false }
  :decode { format = "json" }
  :postgres_sink { url = sl.param("url", ""), table = sl.param("table", "readings"),
                   mode = sl.param("mode", "upsert"), create = true,
                   batch = sl.param("batch", 1000) }
LUA
sink_run() { # MODE RUN: "rows_per_s rows_per_cpu_s"
  local table="readings_$1_$2" t
  TIMEFORMAT='%U %S'
  t=$( { time "$BIN" run "$TMP/p.lua" --api off --set url="$URL" --set table="$table" \
      --set mode="$1" --set records="$RECORDS" --set batch="$BATCH" 2>"$TMP/run.log" ; } 2>&1 ) || {
    echo "sluice run failed:" >&2; tail -5 "$TMP/run.log" >&2; exit 1; }
  [ "$(pg -c "SELECT count(*) FROM $table")" = "$RECORDS" ] || { echo "$table: wrong row count" >&2; exit 1; }
  local secs
  secs=$(python3 "$ROOT/bench/run_span.py" "$TMP/run.log")
  python3 -c "import sys; cpu = sum(float(x) for x in sys.argv[3].split()); \
print('%.0f %.0f' % ($RECORDS / float(sys.argv[1]), $RECORDS / cpu))" "$secs" "$RECORDS" "$t"
}
echo "2. postgres_sink, $RECORDS simulator readings, batch = $BATCH (median of $RUNS):"
for mode in insert upsert; do
  res=$(for i in $(seq "$RUNS"); do sink_run "$mode" "$i"; done)
  echo "   $mode: $(echo "$res" | awk '{print $1}' | median) rows/s," \
    "$(echo "$res" | awk '{print $2}' | median) rows per CPU-second of sluice" \
    "  runs: $(echo "$res" | awk '{printf "%s/%s ", $1, $2}')"
done
