#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Input and independent check for bench/kafka_sparse.sh (issue 16's workload).

  kafka_sparse.py gen N KEYS SEED OUT        writes N readings, one "key<TAB>json" a line
  kafka_sparse.py check READINGS RESULTS [avro]  checks the pipeline's window results

gen: machine ids drawn at random per reading (m00000..), ts = BASE + i ms, 10 % of
readings moved back by 1-500 ms, temperature and vibration random.

check: (results as JSON lines, or with `avro` as kcat -f '%R%s' writes the Avro results
of schemas/sparse_result.avsc) recomputes count/avg/max(temperature) per (machine_id, 10 s tumbling window)
from the readings file alone, then requires of the results (one JSON object a line,
as kcat prints the topic): no (machine, window) twice, every value equal to the
recomputed one (avg to 1e-9 relative), and the fired set to be exactly every
(machine, window) whose window ends at or before some E (results leave per
watermark advance, so a partial window end is an error), with E no earlier than
what the watermark (min over partitions of the newest ts, minus the 1 s delay)
guarantees: the newest ts overall minus 1 s minus the largest gap the partitions'
newest readings can have, taken as 10 s here. Prints one JSON line.
"""
import json
import random
import sys
import datetime

BASE = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a multiple of 10 s
WINDOW = 10_000
DELAY = 1_000


def gen(n, keys, seed, out):
    rnd = random.Random(seed)
    with open(out, "w") as f:
        w = f.write
        for i in range(n):
            m = "m%05d" % rnd.randrange(keys)
            ts = BASE + i
            if rnd.random() < 0.10:
                ts -= rnd.randint(1, 500)
            t = round(rnd.uniform(20.0, 95.0), 2)
            v = round(rnd.uniform(0.0, 5.0), 3)
            w('%s\t{"machine_id":"%s","ts":%d,"temperature":%s,"vibration":%s}\n' % (m, m, ts, t, v))


def ms(v):
    if isinstance(v, (int, float)):
        return int(v)
    return round(datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000)


def avro_results(path):
    """Results written by kafka_sink{format = "avro"} with schemas/sparse_result.avsc,
    read back by `kcat -f '%R%s'` (4-byte big-endian length, then the datum)."""
    import struct
    data = open(path, "rb").read()
    pos = 0

    def varint(buf, i):
        shift = v = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return (v >> 1) ^ -(v & 1), i

    while pos < len(data):
        (n,) = struct.unpack(">i", data[pos:pos + 4])
        d, pos = data[pos + 4:pos + 4 + n], pos + 4 + n
        ln, i = varint(d, 0)
        mid = d[i:i + ln].decode()
        ws, i = varint(d, i + ln)
        cnt, i = varint(d, i)
        avg, mx = struct.unpack("<dd", d[i:i + 16])
        if i + 16 != len(d):
            raise ValueError("result datum of %d bytes, schema reads %d" % (len(d), i + 16))
        yield json.dumps({"machine_id": mid, "window_start": ws, "n": cnt, "avg_temp": avg, "max_temp": mx})


def check(readings, results, avro=False):
    agg = {}
    newest = 0
    for line in open(readings):
        r = json.loads(line.split("\t", 1)[1])
        ts = r["ts"]
        newest = max(newest, ts)
        k = (r["machine_id"], ts - ts % WINDOW)
        a = agg.get(k)
        t = r["temperature"]
        if a is None:
            agg[k] = [1, t, t]
        else:
            a[0] += 1
            a[1] += t
            if t > a[2]:
                a[2] = t
    seen = set()
    bad = []
    n = 0
    for line in (avro_results(results) if avro else open(results)):
        line = line.strip()
        if not line:
            continue
        n += 1
        o = json.loads(line)
        start = ms(o["window_start"])
        k = (o["machine_id"], start)
        if k in seen:
            bad.append("duplicate %r" % (k,))
        seen.add(k)
        a = agg.get(k)
        if a is None:
            bad.append("no such window %r" % (k,))
            continue
        avg = a[1] / a[0]
        if o["n"] != a[0] or o["max_temp"] != a[2] or abs(o["avg_temp"] - avg) > 1e-9 * max(1.0, abs(avg)):
            bad.append("%r: got n=%s avg=%s max=%s, expected %d %r %r" % (k, o["n"], o["avg_temp"], o["max_temp"], a[0], avg, a[2]))
        if len(bad) > 20:
            break
    ends = sorted(set(s + WINDOW for _, s in seen))
    e = ends[-1] if ends else 0
    want = {k for k in agg if k[1] + WINDOW <= e}
    missing = want - seen
    if missing:
        bad.append("%d results missing up to window end %d, e.g. %r" % (len(missing), e, sorted(missing)[:3]))
    guaranteed = newest - DELAY - WINDOW
    if e < guaranteed - WINDOW:
        bad.append("fired only up to %d, the watermark guarantees %d" % (e, guaranteed))
    total = len(agg)
    print(json.dumps({"results": n, "fired_up_to": e, "windows_in_data": total,
                      "open_at_end": total - len(want), "ok": not bad, "errors": bad[:20]}))
    return 0 if not bad else 1


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], len(sys.argv) > 4 and sys.argv[4] == "avro"))
    else:
        sys.exit("usage: kafka_sparse.py gen N KEYS SEED OUT | check READINGS RESULTS [avro]")
