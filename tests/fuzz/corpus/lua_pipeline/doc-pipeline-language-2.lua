local sl = require "sluice"

local p = sl.pipeline { name = "assembly-line", state = "redis" }

local readings = p:kafka_source { topic = "telemetry" }
  :decode { format = "avro", schema = "schemas/machine_reading.avsc" }
  :filter "temperature between -40 and 150 and machine_id is not null"

local stats = readings
  :window { tumbling = "10s", key = "machine_id", time = "ts", delay = "2s" }
  :aggregate { avg_temp = "avg(temperature)", max_vib = "max(vibration)",
               p95_temp = "p95(temperature)", n = "count()" }

stats:kafka_sink { topic = "machine-stats", key = "machine_id" }
stats:cache { name = "machines", key = "machine_id", history = 60, ttl = "1h" }
p:dead_letter { topic = "telemetry-dlq" }
