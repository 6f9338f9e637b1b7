local sl = require "sluice"
local p = sl.pipeline { name = sl.param("name", "w"), checkpoint = "2s", units = { a = "°C" } }
local s = p:stdin_source { format = "json" }
  :window { sliding = "10s", every = "5s", key = "machine_id", time = "ts", delay = "500ms" }
  :aggregate { n = "count()", a = "avg(temperature)", d = "distinct(site)", q = "p99(vibration)" }
s:alert { name = "hot", when = "a > 90", clear = "a < 80", ["for"] = "10s", severity = "critical" }
  :null_sink {}
s:encode { format = "json" }:null_sink {}
