local sl = require "sluice"
local p = sl.pipeline { name = "bad", state = "nowhere", checkpoint = "forever" }
p:nonexistent_op { x = 1 }
p:stdin_source { format = "xml" }:filter "temperature >" :window { tumbling = "-5s" }
p:stdin_source {}:decode { format = "avro" }:map { y = { z = { 1, 2, { w = true } } } }
p:kafka_sink { topic = 42 }
