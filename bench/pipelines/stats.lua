-- Avro readings, count/avg/max per machine: the pipeline the memory per
-- open key is measured with (bench/run_all.sh).
local sl = require "sluice"

local p = sl.pipeline { name = "stats" }

p:kafka_source { topic = "telemetry" }
  :decode { format = "avro", schema = "schemas/machine_reading.avsc" }
  :filter "temperature between -40 and 150"
  :window { tumbling = "10s", key = "machine_id", time = "ts" }
  :aggregate { n = "count()", avg_temperature = "avg(temperature)",
               max_temperature = "max(temperature)" }
  :kafka_sink { topic = "machine-stats" }
