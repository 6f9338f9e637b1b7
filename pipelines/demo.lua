-- The live demo: a plant of simulated machines streams readings into Kafka
-- (the embedded broker unless SLUICE_KAFKA_BROKERS says otherwise); sluice
-- computes per-machine statistics every 5 seconds, raises alerts when a
-- machine overheats or goes silent, and keeps the live state in Redis for
-- the API and the dashboard. Each machine's site, line, name and its own
-- temperature limit come from a table (pipelines/demo_machines.jsonl, 200
-- machines; edit a limit there and the overheat alert follows within a second).
--
--   scripts/demo.sh                       (or: sluice run pipelines/demo.lua)
--   sluice run pipelines/demo.lua --set machines=200 --set rate=2000
--   SLUICE_POSTGRES_URL=postgresql://... scripts/demo.sh   (results in PostgreSQL too)
--   sluice test pipelines/demo.lua pipelines/tests/demo/*/   (per-machine limits)
local sl = require "sluice"

local p = sl.pipeline {
  name = "demo-plant",
  state = "redis",            -- exactly-once window and alert state, checkpointed every second
  checkpoint = "1s",
  units = { avg_temp = "°C", peak_temp = "°C", p95_temp = "°C", max_temp = "°C", max_vib = "mm/s" },
}

-- Machine metadata, reloaded when the file changes (docs/tables.md).
p:table { id = "machines", path = "demo_machines.jsonl", key = "machine_id" }

-- The "gateway": machines sending Avro readings, keyed by machine id. Machine
-- m0007 overheats now and then, m0013 goes silent one minute in five, and a
-- few records are malformed (they end up in the dead-letter topic).
p:simulator { machines = sl.param("machines", 50), rate = sl.param("rate", 500), format = "avro" }
  :kafka_sink { topic = "telemetry", raw = true }

-- The pipeline proper.
local readings = p:kafka_source { topic = "telemetry" }
  :decode { format = "avro", schema = "schemas/machine_reading.avsc" }
  :filter "temperature between -40 and 150 and machine_id is not null"

-- `id` names the window's state in Redis: edits elsewhere, or to its
-- aggregates, never orphan it (docs/operations.md, "Upgrading a pipeline").
local stats = readings
  :window { id = "machine-stats", tumbling = "5s", key = "machine_id", time = "ts", delay = "1s" }
  :aggregate { n = "count()", avg_temp = "avg(temperature)", peak_temp = "max(temperature)",
               p95_temp = "p95(temperature)", max_vib = "max(vibration)" }
  -- Each result gets its machine's metadata and limit (max_temp) as the table
  -- is when the window closes: the dashboard shows `name` beside the id.
  :enrich { table = "machines", key = "machine_id", fields = { "site", "line", "name", "max_temp" } }

stats:cache { name = "machines", key = "machine_id", history = 120, ttl = "1h" }
stats:kafka_sink { topic = "machine-stats", key = "machine_id" }

-- Given a PostgreSQL URL (scripts/demo.sh passes SLUICE_POSTGRES_URL as
-- --set postgres.url=...), the window results also land in the table
-- machine_stats: one row per machine and window, exactly once across
-- crashes (docs/sinks.md). Without one the demo runs as before.
local postgres = sl.param("postgres.url", "")
if postgres ~= "" then
  stats:postgres_sink { url = postgres, table = "machine_stats", create = true }
end

-- Each machine against its own limit from the table.
stats:alert { name = "overheat", when = "avg_temp > max_temp", clear = "avg_temp < max_temp - 5",
              ["for"] = "10s", severity = "critical" }
     :kafka_sink { id = "overheat-out", topic = "alerts" }

readings:alert { name = "silent", absent = "20s", key = "machine_id", severity = "warning" }
        :kafka_sink { id = "silent-out", topic = "alerts" }

p:dead_letter { topic = "telemetry-dlq" }
