-- A small plant pipeline with its own tests (docs/testing.md):
--
--   sluice test pipelines/plant.lua pipelines/tests/plant/*
--
-- Machines send JSON readings to Kafka; sluice computes per-machine
-- statistics every 10 seconds of event time and raises an alert when a
-- machine runs hot. The ids below name the files of the test cases:
-- input/readings.jsonl, expect/stats-out.jsonl, expect/alerts-out.jsonl.
local sl = require "sluice"

local p = sl.pipeline { name = "plant", state = "memory" }

local hot = sl.param("overheat_at", 90)

local readings = p:kafka_source { id = "readings", topic = "telemetry" }
  :decode { format = "json" }
  :filter "temperature between -40 and 150 and machine_id is not null"

local stats = readings
  :window { id = "machine-stats", tumbling = "10s", key = "machine_id", time = "ts", delay = "1s" }
  :aggregate { n = "count()", avg_temp = "avg(temperature)", max_temp = "max(temperature)" }

stats:kafka_sink { id = "stats-out", topic = "machine-stats", key = "machine_id" }

stats:alert { id = "overheat", name = "overheat", when = "avg_temp > " .. hot,
              clear = "avg_temp < " .. (hot - 5), severity = "critical" }
     :kafka_sink { id = "alerts-out", topic = "alerts" }

p:dead_letter { topic = "telemetry-dlq" }
