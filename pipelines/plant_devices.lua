-- Plant machines with their metadata: readings carry only a machine id; the
-- `devices` table (pipelines/devices.jsonl, one JSON object per machine, or a
-- compacted topic with --set devices_topic=NAME) adds site, line, name and the
-- machine's own temperature limit. Alerts compare each machine with its own
-- limit, so changing a limit in the table changes the alert without a redeploy.
--
--   sluice run pipelines/plant_devices.lua         (simulated machines, stdout)
--   sluice run pipelines/plant_devices.lua --set records=20000
--   curl http://127.0.0.1:8080/api/v1/tables/devices/m0007
local sl = require "sluice"

local p = sl.pipeline { name = "plant", units = { avg_temp = "°C", max_temp = "°C" } }

local topic = sl.param("devices_topic", "")
if topic ~= "" then
  p:table { id = "devices", topic = topic, key = "machine_id" }
else
  p:table { id = "devices", path = "devices.jsonl", key = "machine_id" }
end

local readings = p:simulator { machines = sl.param("machines", 20), rate = sl.param("rate", 200),
                               records = sl.param("records", 0) }
  :decode { format = "json" }
  :filter "temperature between -40 and 150 and machine_id is not null"
  -- with --set machines=25, m0021 and up are not in the table: dead letters "lookup"
  :enrich { table = "devices", key = "machine_id",
            fields = { "site", "line", "name", "max_temp" }, required = true }

-- Per machine, with its metadata carried as window keys and its limit as an aggregate.
local stats = readings
  :window { tumbling = "10s", key = { "site", "line", "machine_id", "name" }, time = "ts",
            delay = "1s" }
  :aggregate { n = "count()", avg_temp = "avg(temperature)", max_temp = "max(max_temp)" }

stats:alert { name = "over-limit", key = "machine_id", when = "avg_temp > max_temp",
              clear = "avg_temp < max_temp - 3", severity = "critical" }
     :stdout_sink {}

-- Per line: filter readings against each machine's own limit.
readings:filter "temperature > max_temp"
  :window { tumbling = "10s", key = { "site", "line" }, time = "ts", delay = "1s" }
  :aggregate { readings_over_limit = "count()" }
  :stdout_sink {}

p:dead_letter { path = sl.param("dead_letters", "/tmp/sluice-plant-dead-letters.jsonl") }
