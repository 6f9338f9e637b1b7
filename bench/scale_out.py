#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Sampler and report of bench/scale_out.sh (workers joining a consumer group).

  scale_out.py sample WORKERS OUT PERIOD_S
      until killed: every PERIOD_S, for each line "IDX PID PORT" of the file WORKERS
      (the script appends a line per worker it starts), the worker's records taken by
      its decode step (GET /metrics, sluice_records_in_total of operator decode...)
      and its CPU ticks (user + sys, /proc/PID/stat); one line per worker and
      sample: "T_MS IDX RECORDS TICKS" into OUT.
  scale_out.py report DIR HZ
      reads DIR/samples.txt, DIR/marks.txt ("T_MS phase WORKERS", "T_MS start IDX",
      "T_MS input-end", "T_MS drained") and DIR/worker.N.log (text logs); prints the
      figures as JSON lines (also written to DIR/report.jsonl), then as tables.

A rebalance is a group of "partitions revoked" log lines (librdkafka 2.0.2: the
eager range assignor, so every member gives up every partition). Its pause runs
from the last sample in which the group's records count grew before the first
revoke started (the line's time minus the flush + checkpoint time it reports) to
the first sample in which it grew after the last partition was assigned, so it is
exact to one sample period. Restore time: the "N state entries restored in M ms"
lines of the rebalance, per worker (partitions restore one after the other).
"""
import json
import os
import re
import sys
import time
import urllib.request
from datetime import datetime, timezone

LINE_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ")
REVOKED = re.compile(r"(\d+) partitions revoked: outputs flushed and checkpoint taken in (\d+) ms")
ASSIGNED = re.compile(r"partition \S+\[(\d+)\] assigned: epoch \d+, (\d+) state entries "
                      r"restored in (\d+) ms")


def decode_in(port):
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=1) as r:
        text = r.read().decode()
    n = 0
    for line in text.splitlines():
        if line.startswith("sluice_records_in_total{") and 'operator="decode' in line:
            n += int(float(line.rsplit(" ", 1)[1]))
    return n


def ticks(pid):
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def sample(workers_path, out_path, period):
    with open(out_path, "a") as out:
        while True:
            t = time.time()
            try:
                workers = [l.split() for l in open(workers_path) if l.strip()]
            except FileNotFoundError:
                workers = []
            for idx, pid, port in workers:
                try:
                    n, c = decode_in(port), ticks(pid)
                except (OSError, ValueError):
                    continue  # not listening yet, or gone
                out.write("%d %s %d %d\n" % (int(t * 1000), idx, n, c))
            out.flush()
            time.sleep(max(0.0, period - (time.time() - t)))


def log_ms(line):
    m = LINE_TS.match(line)
    if not m:
        return None
    d = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return int(round(d.timestamp() * 1000))


def read_logs(d):
    """Events (t_ms, worker, kind, ...) of every worker log, by time."""
    ev = []
    for name in os.listdir(d):
        m = re.match(r"worker\.(\d+)\.log$", name)
        if not m:
            continue
        w = int(m.group(1))
        for line in open(os.path.join(d, name), errors="replace"):
            t = log_ms(line)
            if t is None:
                continue
            r = REVOKED.search(line)
            if r:
                ev.append((t - int(r.group(2)), w, "revoke", int(r.group(1)), int(r.group(2))))
                continue
            a = ASSIGNED.search(line)
            if a:
                ev.append((t, w, "assign", int(a.group(1)), int(a.group(2)), int(a.group(3))))
    return sorted(ev)


def report(d, hz):
    hz = float(hz)
    samples = {}  # worker -> [(t, records, ticks)]
    for line in open(os.path.join(d, "samples.txt")):
        t, w, n, c = (int(x) for x in line.split())
        samples.setdefault(w, []).append((t, n, c))
    marks = [l.split() for l in open(os.path.join(d, "marks.txt")) if l.strip()]
    phases = [(int(m[0]), int(m[2])) for m in marks if m[1] == "phase"]
    input_end = next(int(m[0]) for m in marks if m[1] == "input-end")
    drained = next(int(m[0]) for m in marks if m[1] == "drained")
    events = read_logs(d)

    def at(w, t):  # (records, ticks) of worker w at its last sample <= t
        best = (0, 0)
        for st, n, c in samples.get(w, []):
            if st > t:
                break
            best = (n, c)
        return best

    # The group's total per sample time (all samples of one round share ~one time).
    times = sorted({t for s in samples.values() for t, _, _ in s})
    total = [(t, sum(at(w, t)[0] for w in samples)) for t in times]

    def last_growth_before(t):
        last = None
        for (t0, n0), (t1, n1) in zip(total, total[1:]):
            if t1 > t:
                break
            if n1 > n0:
                last = t1
        return last

    def first_growth_after(t):
        for (t0, n0), (t1, n1) in zip(total, total[1:]):
            if t0 >= t and n1 > n0:
                return t1
        return None

    # Rebalances: revoke lines within 3 s of each other are one.
    rebalances = []
    for e in events:
        if e[2] != "revoke":
            continue
        if rebalances and e[0] - rebalances[-1]["revokes"][-1][0] <= 3000:
            rebalances[-1]["revokes"].append(e)
        else:
            rebalances.append({"revokes": [e]})
    out = []
    spans = []  # (revoke start, first record after) of each rebalance
    for i, r in enumerate(rebalances):
        start = min(e[0] for e in r["revokes"])
        nxt = rebalances[i + 1]["revokes"][0][0] if i + 1 < len(rebalances) else drained
        assigns = [e for e in events if e[2] == "assign" and start <= e[0] < nxt]
        if not assigns:
            continue
        end = max(e[0] for e in assigns)
        per_worker = {}
        for e in assigns:
            p = per_worker.setdefault(e[1], [0, 0, 0])
            p[0] += 1
            p[1] += e[4]
            p[2] += e[5]
        before, after = last_growth_before(start), first_growth_after(end)
        phase = max((w for t, w in phases if t <= start), default=0)
        spans.append((start, after or end))
        out.append({
            "kind": "rebalance", "to_workers": phase,
            "revoked_partitions": sum(e[3] for e in r["revokes"]),
            "revoke_flush_checkpoint_ms": max(e[4] for e in r["revokes"]),
            "assigned_partitions": len(assigns),
            "restore_ms_per_worker": {str(w): p[2] for w, p in sorted(per_worker.items())},
            "entries_per_worker": {str(w): p[1] for w, p in sorted(per_worker.items())},
            "revoke_to_last_assign_ms": end - start,
            "last_assign_to_first_record_ms": (after - end) if after else None,
            "pause_ms": (after - before) if before and after else None,
        })

    # Steady phases: from the first record after the rebalance the phase's workers
    # caused (the first phase: from the start of the input) to the revoke of the next
    # phase's rebalance (the last: to the end of the input); then the drain.
    def rebalance_after(t):
        return next((sp for sp in spans if sp[0] >= t), None)

    intervals = []
    for k, (t, w) in enumerate(phases):
        t0 = t if k == 0 else (rebalance_after(t) or (t, t))[1]
        if k + 1 < len(phases):
            t1 = (rebalance_after(phases[k + 1][0]) or (phases[k + 1][0],))[0]
        else:
            t1 = input_end
        intervals.append((t0, t1, w))
    intervals.append((input_end, drained, "drain"))
    for t0, t1, w in intervals:
        if t1 <= t0:  # the phase's rebalance ended after the input (a slow coordinator)
            out.append({"kind": "phase", "workers": w, "seconds": 0, "per_worker": {}})
            continue
        row = {"kind": "phase", "workers": w, "seconds": round((t1 - t0) / 1000, 1),
               "per_worker": {}}
        for wk in sorted(samples):
            n0, c0 = at(wk, t0)
            n1, c1 = at(wk, t1)
            rec = n1 - n0
            if n1 == 0 and c1 == c0 or rec == 0 and w != "drain":
                continue  # not started yet, or started but not in the group yet
            cpu = (c1 - c0) / hz
            row["per_worker"][str(wk)] = {
                "records": rec, "records_per_s": round(rec / max(0.001, (t1 - t0) / 1000)),
                "cpu_s": round(cpu, 2),
                "cpu_us_per_record": round(cpu * 1e6 / rec, 1) if rec else None}
        out.append(row)
    # From a worker's start to its first partition (process start, group join, and
    # the other members noticing the rebalance at their next heartbeat).
    for m in marks:
        if m[1] != "start":
            continue
        w, t = int(m[2]), int(m[0])
        first = next((e[0] for e in events if e[1] == w and e[2] == "assign"), None)
        out.append({"kind": "join", "worker": w,
                    "start_to_first_assignment_ms": first - t if first else None})
    with open(os.path.join(d, "report.jsonl"), "w") as f:
        for line in out:
            f.write(json.dumps(line) + "\n")
            print(json.dumps(line))
    table(out)
    return out


def table(rows):
    print("\n%-10s %-8s %-7s %-16s %-14s %s" % ("phase", "workers", "seconds", "records/s/worker",
                                             "CPU s/worker", "CPU us/record"))
    for r in rows:
        if r["kind"] != "phase":
            continue
        pw = r["per_worker"].values()
        print("%-10s %-8s %-7s %-16s %-14s %s" % (
            "drain" if r["workers"] == "drain" else "steady", r["workers"], r["seconds"],
            " ".join(str(v["records_per_s"]) for v in pw),
            " ".join(str(v["cpu_s"]) for v in pw),
            " ".join(str(v["cpu_us_per_record"]) for v in pw)))
    print("\nrebalance: partitions revoked; pause (no record taken by any worker, +-1 sample);")
    print("revoke (flush + checkpoint); revoke to last assignment; last assignment to first record;")
    print("restore per worker (entries)")
    print("%-11s %-9s %-9s %-10s %-10s %-10s %s" % ("rebalance", "revoked", "pause ms", "revoke ms",
                                                  "assign ms", "fetch ms", "restore ms (entries)"))
    for r in rows:
        if r["kind"] != "rebalance":
            continue
        print("%-11s %-9s %-9s %-10s %-10s %-10s %s" % (
            "to %s" % r["to_workers"], r["revoked_partitions"], r["pause_ms"],
            r["revoke_flush_checkpoint_ms"], r["revoke_to_last_assign_ms"],
            r["last_assign_to_first_record_ms"],
            " ".join("w%s:%s(%s)" % (w, ms, r["entries_per_worker"][w])
                     for w, ms in r["restore_ms_per_worker"].items())))
    joins = ["w%d:%s" % (r["worker"], r["start_to_first_assignment_ms"]) for r in rows
             if r["kind"] == "join"]
    print("\nstart to first assignment, ms: " + " ".join(joins))


def main(argv):
    if len(argv) == 5 and argv[1] == "sample":
        sample(argv[2], argv[3], float(argv[4]))
        return 0
    if len(argv) == 4 and argv[1] == "report":
        report(argv[2], argv[3])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
