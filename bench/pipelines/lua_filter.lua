-- JSON readings through a Lua-function filter: what a per-record Lua call
-- costs (record -> table, the call under its instruction budget and memory
-- cap), compared with json_stats.lua's expression filter.
local sl = require "sluice"

local p = sl.pipeline { name = "lua-filter" }

p:kafka_source { topic = "telemetry-json" }
  :decode { format = "json" }
  :filter(function(r)
    local t = r.temperature
    return t ~= nil and t >= -40 and t <= 150
  end)
  :window { tumbling = "10s", key = "machine_id", time = "ts" }
  :aggregate { n = "count()", avg_temperature = "avg(temperature)",
               max_temperature = "max(temperature)" }
  :kafka_sink { topic = "machine-stats-json" }
