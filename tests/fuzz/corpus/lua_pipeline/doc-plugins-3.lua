local sl = require "sluice"
sl.plugin("scale.so")                        -- relative to the pipeline file
local p = sl.pipeline { name = "plant" }
p:file_source { path = "in.jsonl" }
  :scale { field = "temperature", factor = 1.8 } -- or :apply("scale", {...})
  :stdout_sink {}
