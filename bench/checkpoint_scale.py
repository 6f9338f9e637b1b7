#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One measurement of bench/checkpoint_scale.sh (read that file first).

  checkpoint_scale.py run     ARGS   one worker, K keys changed per interval:
                                     per checkpoint, bytes to Redis, Redis CPU
                                     of every node, wall time
  checkpoint_scale.py restore ARGS   a fresh worker on the same Redis: time
                                     from its start to every partition restored
                                     (a kafka_source pipeline: only a Kafka
                                     assignment restores state)

The worker runs with --log-level debug, which logs one line per checkpoint
("checkpoint of N partitions written to Redis: P state puts ..." from
connectors/redis_checkpoint.c, then "checkpoint taken in X ms" from the
runtime). Right after each "taken" line this script reads INFO of every
Redis node; the difference between two such readings is the cost of exactly
one checkpoint, since the pipeline sends Redis nothing else (file_sink to
/dev/null). The first `warmup` checkpoints are not counted (the first one
also carries the epoch INCRs and the script load). Prints one JSON object.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time


def info(node):
    """INFO everything of host:port, as a dict of numbers (and strings)."""
    host, port = node.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"INFO everything\r\n")
        f = s.makefile("rb")
        head = f.readline()
        if not head.startswith(b"$"):
            raise RuntimeError("INFO on %s: %r" % (node, head))
        body = f.read(int(head[1:]) + 2).decode()
    out = {}
    for line in body.splitlines():
        if ":" not in line or line.startswith("#"):
            continue
        k, v = line.split(":", 1)
        if k.startswith("cmdstat_"):
            m = re.search(r"calls=(\d+),usec=(\d+)", v)
            out[k + ".calls"], out[k + ".usec"] = int(m.group(1)), int(m.group(2))
            continue
        try:
            out[k] = float(v) if "." in v else int(v)
        except ValueError:
            out[k] = v
    return out


def cpu(i):
    return i.get("used_cpu_sys", 0) + i.get("used_cpu_user", 0)


def cpu_children(i):
    return i.get("used_cpu_sys_children", 0) + i.get("used_cpu_user_children", 0)


class Log:
    """Follows the worker's JSON log file line by line."""

    def __init__(self, path):
        self.f = open(path, "r", errors="replace")
        self.buf = ""

    def lines(self):
        self.buf += self.f.read()
        *done, self.buf = self.buf.split("\n")
        for line in done:
            try:
                yield json.loads(line)
            except ValueError:
                yield {"msg": line}


def start_worker(a, log_path, sets):
    env = dict(os.environ, SLUICE_REDIS_URL=a.url)
    cmd = [a.bin, "run", a.pipeline, "--api", "off", "--log-level", "debug",
           "--set", "name=" + a.name]
    for s in sets:
        cmd += ["--set", s]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log_path, "w"))


def stop_worker(p, deadline_s=60):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        return p.wait(deadline_s)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise RuntimeError("the worker did not stop within %d s of SIGTERM" % deadline_s)


def fail(msg, log_path):
    sys.stderr.write("checkpoint_scale: %s\n" % msg)
    try:
        sys.stderr.write("".join(open(log_path).readlines()[-5:]))
    except OSError:
        pass
    sys.exit(1)


def calls(snap):
    return sum(i.get("cmdstat_evalsha.calls", 0) for i in snap.values())


def clean(a, snaps, ckpts, j):
    """Checkpoint j wrote every key, and INFO saw its script calls only."""
    return (ckpts[j]["puts"] >= a.keys and
            calls(snaps[j]) - calls(snaps[j - 1]) == ckpts[j]["partitions"])


def run(a):
    """Counts a checkpoint when every key changed in its interval (K puts plus
    one watermark entry per partition) and the INFO readings around it hold
    that checkpoint alone (one script call per partition: when a checkpoint
    follows the previous one too closely for this script to read INFO in
    between, both land in one reading). Others are left out, up to 3 x the
    checkpoints asked for: on a loaded machine the worker falls behind the
    paced input, and checkpoints bunch up."""
    log_path = a.log
    p = start_worker(a, log_path, ["machines=%d" % a.keys, "rate=%d" % a.rate,
                                   "checkpoint=%dms" % a.interval_ms,
                                   "partitions=%d" % a.partitions])
    log = Log(log_path)
    most = a.warmup + 3 * a.checkpoints
    snaps, ckpts, last, full = [], [], None, 0
    # Each checkpoint should come within the interval plus its own time; a
    # worker that stalls longer than this is a failure, not a measurement.
    deadline = time.monotonic() + 60 + most * (a.interval_ms / 1000.0 + 30)
    try:
        while full < a.checkpoints and len(ckpts) < most:
            if p.poll() is not None:
                fail("the worker exited %d after %d checkpoints" % (p.returncode, len(ckpts)),
                     log_path)
            if time.monotonic() > deadline:
                fail("only %d checkpoints in time" % len(ckpts), log_path)
            for e in log.lines():
                msg = e.get("msg", "")
                if e.get("level") in ("error", "fatal"):
                    fail("worker error: " + msg, log_path)
                m = re.match(r"checkpoint of (\d+) partitions written to Redis: (\d+) state puts, "
                             r"(\d+) deletes, (\d+) bytes of keys and values, in ([0-9.]+) ms", msg)
                if m:
                    last = dict(partitions=int(m.group(1)), puts=int(m.group(2)),
                                deletes=int(m.group(3)), staged_bytes=int(m.group(4)),
                                redis_ms=float(m.group(5)))
                    continue
                m = re.match(r"checkpoint taken in ([0-9.]+) ms", msg)
                if m and last is not None:
                    last["wall_ms"] = float(m.group(1))
                    snaps.append({n: info(n) for n in a.nodes})
                    ckpts.append(last)
                    if len(ckpts) > a.warmup and clean(a, snaps, ckpts, len(ckpts) - 1):
                        full += 1
                    last = None
            time.sleep(0.01)
    finally:
        rc = stop_worker(p)
    if rc != 0:
        fail("the worker exited %d after SIGTERM" % rc, log_path)
    if full < a.checkpoints:
        fail("%d of %d checkpoints wrote all %d keys alone: the worker did not keep up with %d "
             "readings/s (lower MAX_RATE for a longer interval)" %
             (full, len(ckpts) - a.warmup, a.keys, a.rate), log_path)
    primaries = [n for n in a.nodes if snaps[-1][n].get("role") == "master"]
    out = []
    for j in range(a.warmup, len(ckpts)):
        if not clean(a, snaps, ckpts, j):
            continue
        before, after = snaps[j - 1], snaps[j]
        c = dict(ckpts[j])
        c["bytes_in"] = sum(after[n]["total_net_input_bytes"] - before[n]["total_net_input_bytes"]
                            for n in primaries)
        c["cpu_primaries_s"] = sum(cpu(after[n]) - cpu(before[n]) for n in primaries)
        # The partitions' slots need not spread evenly: the busiest primary
        # is what bounds the interval.
        c["cpu_busiest_primary_s"] = max(cpu(after[n]) - cpu(before[n]) for n in primaries)
        c["partitions_per_primary"] = sorted(
            (after[n].get("cmdstat_evalsha.calls", 0) - before[n].get("cmdstat_evalsha.calls", 0)
             for n in primaries), reverse=True)
        c["cpu_replicas_s"] = sum(cpu(after[n]) - cpu(before[n])
                                  for n in a.nodes if n not in primaries)
        c["cpu_children_s"] = sum(cpu_children(after[n]) - cpu_children(before[n])
                                  for n in a.nodes)
        c["evalsha_ms"] = sum(after[n].get("cmdstat_evalsha.usec", 0) -
                              before[n].get("cmdstat_evalsha.usec", 0) for n in primaries) / 1e3
        c["evalsha_calls"] = sum(after[n].get("cmdstat_evalsha.calls", 0) -
                                 before[n].get("cmdstat_evalsha.calls", 0) for n in primaries)
        out.append(c)
    mem = sum(snaps[-1][n].get("used_memory", 0) for n in primaries)
    print(json.dumps(dict(keys=a.keys, checkpoints=out, skipped=len(ckpts) - a.warmup - len(out),
                          used_memory=mem, primaries=len(primaries))))


def restore(a):
    log_path = a.log
    t0 = time.monotonic()
    p = start_worker(a, log_path, [])
    log = Log(log_path)
    parts, entries, part_ms = 0, 0, 0
    deadline = t0 + 600
    try:
        while parts < a.partitions:
            if p.poll() is not None:
                fail("the restoring worker exited %d" % p.returncode, log_path)
            if time.monotonic() > deadline:
                fail("not every partition restored within 600 s", log_path)
            for e in log.lines():
                if e.get("level") in ("error", "fatal"):
                    fail("worker error: " + e.get("msg", ""), log_path)
                m = re.match(r"partition \S+ assigned: epoch \d+, (\d+) state entries restored in "
                             r"(\d+) ms", e.get("msg", ""))
                if m:
                    parts += 1
                    entries += int(m.group(1))
                    part_ms += int(m.group(2))
            if parts < a.partitions:
                time.sleep(0.01)
        wall = time.monotonic() - t0
    finally:
        rc = stop_worker(p)
    if rc != 0:
        fail("the restoring worker exited %d after SIGTERM" % rc, log_path)
    print(json.dumps(dict(keys=a.keys, partitions=parts, entries=entries,
                          start_to_restored_s=wall, restore_ms_sum=part_ms)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["run", "restore"])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--nodes", required=True, help="host:port,... every Redis node")
    ap.add_argument("--name", required=True)
    ap.add_argument("--keys", type=int, required=True)
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--checkpoints", type=int, default=3)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    a.nodes = a.nodes.split(",")
    run(a) if a.mode == "run" else restore(a)


if __name__ == "__main__":
    main()
