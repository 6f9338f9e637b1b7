local sl = require "sluice"
local p = sl.pipeline { name = "x"
p:stdin_source {
