-- JSON readings, count/avg/max per machine (the memory-per-key pipeline).
local sl = require "sluice"

local p = sl.pipeline { name = "json-stats" }

p:kafka_source { topic = "telemetry-json" }
  :decode { format = "json" }
  :filter "temperature between -40 and 150"
  :window { tumbling = "10s", key = "machine_id", time = "ts" }
  :aggregate { n = "count()", avg_temperature = "avg(temperature)",
               max_temperature = "max(temperature)" }
  :kafka_sink { topic = "machine-stats-json" }
