-- The live demo: a plant of simulated machines streams readings into Kafka
-- (the embedded broker unless SLUICE_KAFKA_BROKERS says otherwise); sluice
-- computes per-machine statistics every 5 seconds, raises alerts when a
-- machine overheats or goes silent, and keeps the live state in Redis for
-- the API and the dashboard.
--
--   scripts/demo.sh                       (or: sluice run pipelines/demo.lua)
--   sluice run pipelines/demo.lua --set machines=200 --set rate=2000
local sl = require "sluice"

local p = sl.pipeline {
  name = "demo-plant",
  state = "redis",            -- exactly-once window and alert state, checkpointed every second
  checkpoint = "1s",
  units = { avg_temp = "°C", max_temp = "°C", p95_temp = "°C", max_vib = "mm/s" },
}

-- The "gateway": machines sending Avro readings, keyed by machine id. Machine
-- m0007 overheats now and then, m0013 goes silent one minute in five, and a
-- few records are malformed (they end up in the dead-letter topic).
p:simulator { machines = sl.param("machines", 50), rate = sl.param("rate", 500), format = "avro" }
  :kafka_sink { topic = "telemetry", raw = true }

-- The pipeline proper.
local readings = p:kafka_source { topic = "telemetry" }
  :decode { format = "avro", schema = "schemas/machine_reading.avsc" }
  :filter "temperature between -40 and 150 and machine_id is not null"

local stats = readings
  :window { tumbling = "5s", key = "machine_id", time = "ts", delay = "1s" }
  :aggregate { n = "count()", avg_temp = "avg(temperature)", max_temp = "max(temperature)",
               p95_temp = "p95(temperature)", max_vib = "max(vibration)" }

stats:cache { name = "machines", key = "machine_id", history = 120, ttl = "1h" }
stats:kafka_sink { topic = "machine-stats", key = "machine_id" }

stats:alert { name = "overheat", when = "avg_temp > 90", clear = "avg_temp < 85",
              ["for"] = "10s", severity = "critical" }
     :kafka_sink { topic = "alerts" }

readings:alert { name = "silent", absent = "20s", key = "machine_id", severity = "warning" }
        :kafka_sink { topic = "alerts" }

p:dead_letter { topic = "telemetry-dlq" }
