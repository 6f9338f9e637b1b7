local sl = require "sluice"
local p = sl.pipeline { name = "files", state = "memory" }
p:file_source { path = "in.jsonl", format = "json" }
  :filter "temperature > 10 and site like 'plant%'"
  :map(function(r) r.f = r.temperature * 9 / 5 + 32; return r end)
  :filter(function(r) return r.f ~= nil end)
  :select { "machine_id", "f" }
  :file_sink { path = "out.jsonl", format = "json" }
p:dead_letter { path = "dlq.jsonl" }
