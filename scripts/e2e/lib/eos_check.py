#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test infrastructure for the exactly-once e2e scripts (scripts/e2e/lib/eos.sh).

  eos_check.py gen FROM TO DIR       readings FROM..TO-1 into DIR/p0..p3 (kcat -K'\\t' lines)
  eos_check.py stream FROM TO RATE TS DIR
                                     the same, paced, into FIFOs DIR/p0..p3, then the flush
  eos_check.py flush TS DIR          one record per partition at event time TS (closes windows)
  eos_check.py check INPUT RESULTS [MAX_DUPS|- [LABEL]]
                                     compare window results with the input
  eos_check.py fencing MONITOR_LOG [MIN_REFUSED [LABEL]]
                                     no checkpoint write with a stale epoch was accepted
  eos_check.py windows N TS          number of windows N readings + a flush at TS close

EOS_PARTS (default 4) sets the partition count; EOS_ONLY_PARTS="0,1" limits gen
and stream to readings of those partitions (flush records go to every one).
Reading i: machine m = i % 100 (key m0001..m0100, partition m % EOS_PARTS), event time
BASE + i ms (increasing), value v = (i * 7919) % 1000. INPUT is `kcat -C -e -f
'%s\\n'` of the input topic (what was really produced), RESULTS is `kcat -C -e
-f '%h\\t%s\\n'` of the results topic. The expectation is recomputed from the
input alone: count() and sum(v) per machine and 1 s tumbling window.
"""
import json
import os
import sys

BASE = 1_700_000_000_000
MACHINES = 100
PARTS = int(os.environ.get("EOS_PARTS", "4"))
# EOS_ONLY_PARTS="0,1": gen and stream write readings of those partitions
# only (the others get none); flush records still go to every partition.
ONLY = {int(p) for p in os.environ.get("EOS_ONLY_PARTS", "").split(",") if p != ""}


def wanted(m):
    return not ONLY or m % PARTS in ONLY
WINDOW = 1000
FLUSH_KEY = "zflush"


def gen(lo, hi, out):
    files = [open(os.path.join(out, "p%d" % p), "w") for p in range(PARTS)]
    for i in range(lo, hi):
        m = i % MACHINES
        if not wanted(m):
            continue
        key = "m%04d" % (m + 1)
        rec = '{"machine_id":"%s","ts":%d,"v":%d}' % (key, BASE + i, (i * 7919) % 1000)
        files[m % PARTS].write(key + "\t" + rec + "\n")
    for f in files:
        f.close()


def stream(lo, hi, rate, flush_ts, out):
    """Readings lo..hi-1 paced at `rate` per second into the FIFOs out/p0..p3
    (one kcat producer reads each), then the flush record of each partition."""
    import time
    files = [open(os.path.join(out, "p%d" % p), "w") for p in range(PARTS)]
    start = time.monotonic()
    step = max(1, rate // 100)
    counts = [0] * PARTS
    for c in range(lo, hi, step):
        for i in range(c, min(c + step, hi)):
            m = i % MACHINES
            if not wanted(m):
                continue
            key = "m%04d" % (m + 1)
            files[m % PARTS].write('%s\t{"machine_id":"%s","ts":%d,"v":%d}\n'
                                   % (key, key, BASE + i, (i * 7919) % 1000))
            counts[m % PARTS] += 1
        for f in files:
            f.flush()
        while os.path.exists(os.path.join(out, "pause")):
            time.sleep(0.05)
            start = time.monotonic() - (c + step - lo) / rate
        ahead = start + (c + step - lo) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    for p in range(PARTS):
        files[p].write('%s\t{"machine_id":"%s","ts":%d,"v":0}\n' % (FLUSH_KEY, FLUSH_KEY, flush_ts))
        files[p].close()


def flush(ts, out):
    for p in range(PARTS):
        with open(os.path.join(out, "p%d" % p), "w") as f:
            f.write('%s\t{"machine_id":"%s","ts":%d,"v":0}\n' % (FLUSH_KEY, FLUSH_KEY, ts))


def header(h, name):
    for part in h.split(","):
        k, _, v = part.partition("=")
        if k == name:
            return v
    return None


def check(input_path, results_path, max_dups=None, label="check"):
    expected = {}
    n_in = 0
    flush_ts = None
    with open(input_path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r["machine_id"] == FLUSH_KEY:
                flush_ts = r["ts"] if flush_ts is None else min(flush_ts, r["ts"])
                continue
            n_in += 1
            ws = r["ts"] // WINDOW * WINDOW
            e = expected.setdefault((r["machine_id"], ws), [0, 0])
            e[0] += 1
            e[1] += r["v"]
    if flush_ts is not None:  # only windows the flush records closed
        expected = {k: v for k, v in expected.items() if k[1] + WINDOW <= flush_ts}
    got = {}
    n_res = dups = conflicts = no_id = 0
    with open(results_path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            h, _, body = line.partition("\t")
            r = json.loads(body)
            if r["machine_id"] == FLUSH_KEY:
                continue
            n_res += 1
            rid = header(h, "sluice-id")
            if not rid:
                no_id += 1
                continue
            k = (r["machine_id"], r["window_start"])
            val = (int(r["n"]), int(round(float(r["s"]))), rid)
            if k in got:
                dups += 1
                if got[k] != val:  # a duplicate must be the same result, same id
                    conflicts += 1
            else:
                got[k] = val
    ids = {v[2] for v in got.values()}
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    wrong = [k for k in expected if k in got and (got[k][0], got[k][1]) != tuple(expected[k])]
    lost = sum(expected[k][0] - got[k][0] for k in wrong if got[k][0] < expected[k][0])
    lost += sum(expected[k][0] for k in missing)
    twice = sum(got[k][0] - expected[k][0] for k in wrong if got[k][0] > expected[k][0])
    ok = not (missing or extra or wrong or conflicts or no_id or len(ids) != len(got))
    if max_dups is not None and dups > max_dups:
        ok = False
    print("%s: input %d readings, %d windows expected; %d results read, %d distinct "
          "(sluice-id), %d duplicates%s; missing %d, unexpected %d, wrong %d "
          "(records lost %d, counted twice %d), conflicting duplicates %d, without id %d"
          % (label, n_in, len(expected), n_res, len(got), dups,
             "" if max_dups is None else " (allowed %d)" % max_dups, len(missing), len(extra),
             len(wrong), lost, twice, conflicts, no_id))
    for k in (missing[:5] + extra[:5] + wrong[:5]):
        print("  e.g. %s window %s: expected %s, got %s"
              % (k[0], k[1], expected.get(k), got.get(k)))
    return ok


def fencing(monitor_path, label="fencing"):
    """Audit of a `redis-cli MONITOR` log: every checkpoint script call
    (EVALSHA with the partition's epoch key first) is matched with the
    commands the script ran (client "lua", logged right after it: Redis runs
    one command at a time). A call is a stale write when it wrote anything
    although its epoch was not the partition's newest (epochs only come from
    INCR, so the newest is the number of INCRs seen). Prints the figures;
    returns the numbers (accepted, refused, stale_accepted)."""
    import re
    tok = re.compile(r'"((?:[^"\\]|\\.)*)"')
    incrs = {}
    accepted = refused = stale = notrun = 0
    cur = None  # [epoch key, epoch arg, wrote, ran]

    def close():
        nonlocal accepted, refused, stale, notrun
        if cur is None:
            return
        if not cur[3]:  # NOSCRIPT (Redis restarted): the script did not run
            notrun += 1
        elif cur[2]:
            accepted += 1
            if int(cur[1]) != incrs.get(cur[0], 0):
                stale += 1
        else:
            refused += 1

    with open(monitor_path, errors="replace") as f:
        for line in f:
            lua = "[0 lua]" in line or " lua]" in line
            args = tok.findall(line)
            if not args:
                continue
            cmd = args[0].upper()
            if lua:
                if cur is not None and cmd in ("HSET", "HDEL", "SET"):
                    cur[2] = True
                if cur is not None:
                    cur[3] = True
                continue
            if cmd == "EVALSHA" and len(args) > 4 and args[3].endswith(":epoch"):
                close()
                nkeys = int(args[2])
                cur = [args[3], args[3 + nkeys], False, False]
                if nkeys == 2 and len(args) > 5 and args[3 + nkeys + 1] == "":
                    cur = None  # nothing to write: neither accepted nor refused
            elif cmd == "INCR" and args[1].endswith(":epoch"):
                close()
                cur = None
                incrs[args[1]] = incrs.get(args[1], 0) + 1
            else:
                close()
                cur = None
    close()
    print("%s: %d checkpoint writes accepted, %d refused by the epoch check, %d stale writes "
          "accepted, %d epochs issued, %d script calls not run (NOSCRIPT, retried)"
          % (label, accepted, refused, stale, sum(incrs.values()), notrun))
    return accepted, refused, stale


def main(argv):
    if len(argv) >= 4 and argv[1] == "gen":
        gen(int(argv[2]), int(argv[3]), argv[4])
        return 0
    if len(argv) >= 3 and argv[1] == "fencing":  # MONITOR_LOG [MIN_REFUSED [LABEL]]
        accepted, refused, stale = fencing(argv[2], argv[4] if len(argv) > 4 else "fencing")
        need = int(argv[3]) if len(argv) > 3 else 0
        return 0 if accepted > 0 and stale == 0 and refused >= need else 1

    if len(argv) == 7 and argv[1] == "stream":
        stream(int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]), argv[6])
        return 0
    if len(argv) == 4 and argv[1] == "flush":
        flush(int(argv[2]), argv[3])
        return 0
    if len(argv) >= 4 and argv[1] == "check":
        max_dups = int(argv[4]) if len(argv) > 4 and argv[4] != "-" else None
        label = argv[5] if len(argv) > 5 else "check"
        return 0 if check(argv[2], argv[3], max_dups, label) else 1
    if len(argv) == 4 and argv[1] == "windows":  # windows N readings + flush at TS close
        n, ts = int(argv[2]), int(argv[3])
        print(len({(i % MACHINES, (BASE + i) // WINDOW) for i in range(n)
                   if (BASE + i) // WINDOW * WINDOW + WINDOW <= ts and wanted(i % MACHINES)}))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
