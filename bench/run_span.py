#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Seconds a `sluice run` took, from its JSON log: from "pipeline '...' running"
to "pipeline '...' finished" (start-up and pre-encoded input not counted).

  run_span.py LOG              prints the seconds
  run_span.py LOG N            prints "seconds N/seconds"
"""
import datetime
import json
import sys


def span(path):
    t = {}
    for line in open(path):
        try:
            o = json.loads(line)
        except ValueError:
            continue
        m = o.get("msg", "")
        ts = datetime.datetime.strptime(o["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
        if "' running (" in m:
            t["start"] = ts
        elif m.startswith("pipeline '") and "finished" in m:
            t["end"] = ts
    return t["end"] - t["start"]


if __name__ == "__main__":
    s = span(sys.argv[1])
    if len(sys.argv) > 2:
        print("%.3f %.0f" % (s, int(sys.argv[2]) / s))
    else:
        print("%.3f" % s)
