#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Instructions per reading of each phase of a kafka_sparse.sh run profiled by callgrind
# (all threads in one profile), from the inclusive cost of the function that owns it:
#   bench/kafka_sparse_phases.sh CALLGRIND_OUT READINGS
# Phases on the worker's thread: consume (kafka_source's poll: librdkafka hands over
# messages, copied into records), decode, window (records into windows; `fire` inside it),
# result encode and produce (kafka_sink's write: JSON, key, id, headers, rd_kafka_producev),
# delivery reports and waiting for acks (rd_kafka_poll/flush), checkpoint (Redis).
# librdkafka's own threads (fetch parsing, batching and sending) are listed apart.
set -euo pipefail
out="$1" n="$2"
callgrind_annotate --inclusive=yes --threshold=100 "$out" 2>/dev/null | python3 -c '
import re, sys
n = int(sys.argv[1])
cost = {}
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*?)\s*(\[.*\])?$", line.rstrip())
    if not m:
        continue
    v = int(m.group(1).replace(",", ""))
    fn = m.group(2).split(":")[-1]
    cost[fn] = max(cost.get(fn, 0), v)
phases = [
    ("worker thread (sl_runtime_run)", "sl_runtime_run"),
    ("- consume (kafka_source poll, incl. rd_kafka_message_headers)", "source_poll"),
    ("- decode json", "decode_process"),
    ("- window: records into windows, fire", "win_process"),
    ("-- of which fire (results out)", "fire"),
    ("- kafka_sink write", "sink_write"),
    ("-- result encode (sl_json_encode)", "sl_json_encode"),
    ("-- id and key text (sl_buf_printf)", "sl_buf_printf"),
    ("-- rd_kafka_producev", "rd_kafka_producev"),
    ("- commit: flush sinks + checkpoint", "commit_sources"),
    ("-- of which flush (acks, delivery reports)", "flush_sinks"),
    ("-- of which Redis checkpoint", "sl_ckpt_take"),
    ("other threads: librdkafka (consumer, producer) and the API", "start_thread"),
    ("API thread (the bench polling /metrics)", "server_main"),
]
print("| phase | instructions/reading |")
print("|---|---:|")
if "PROGRAM TOTALS" in cost:
    print("| everything (all threads) | %.0f |" % (cost["PROGRAM TOTALS"] / n))
for label, fn in phases:
    print("| %s | %s |" % (label, "%.0f" % (cost[fn] / n) if fn in cost else "-"))
' "$n"
