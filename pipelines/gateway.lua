-- Device ingest (docs/gateway.md): machines POST their readings to
-- /ingest/telemetry with their API key, or publish them over MQTT on
-- plant/<machine id>/telemetry; the gateway validates each reading against
-- the Avro schema, keys it by machine id and produces it to Kafka (the
-- embedded broker unless SLUICE_KAFKA_BROKERS says otherwise). The demo
-- pipeline (pipelines/demo.lua) reads the same topic.
--
--   sluice gateway pipelines/gateway.lua
--   curl -H "Authorization: Bearer demo-key-m0001" -d '{"ts":1700000000000,
--        "temperature":71.5,"vibration":0.4}' http://127.0.0.1:8090/ingest/telemetry
--
-- CoAP devices (docs/gateway.md, "CoAP"), with --set coap=true:
--   coap-client-openssl -m post -t json -e '{"ts":1700000000000,"temperature":71.5,
--        "vibration":0.4}' "coap://127.0.0.1:5683/ingest/telemetry?key=demo-key-m0001"
local sl = require "sluice"

local g = sl.gateway {
  name = "plant-gateway",
  listen = sl.param("listen", "127.0.0.1:8090"),
  devices = "devices.example.txt",      -- DEVICE_ID SHA256_HEX_OF_API_KEY per line
  max_inflight = 10000,                  -- then 429 with Retry-After
  timeout = "10s",                       -- Kafka must acknowledge within this, else 503
  -- coap:// with the devices' API keys in ?key=; for coaps:// (DTLS-PSK) add
  -- dtls = "0.0.0.0:5684" and psk = "FILE" with DEVICE_ID KEY lines (a secret).
  coap = sl.param("coap", false) and { listen = sl.param("coap_listen", "127.0.0.1:5683") } or nil,
}

-- Readings, Avro-encoded: machine_id is set to the authenticated device when
-- missing, and a reading that names another machine is refused.
g:topic { name = "telemetry", format = "avro", schema = "schemas/machine_reading.avsc",
          key = "machine_id" }

-- Free-form JSON events (no schema): only the key is checked.
g:topic { name = "events", format = "json", key = "machine_id" }

-- MQTT: the second topic level is the device id; invalid payloads go to the
-- dead-letter topic. Device authentication on MQTT is the broker's job.
if sl.param("mqtt", false) then
  g:mqtt { broker = sl.param("mqtt_broker", "mqtt://127.0.0.1:1883"),
           subscribe = "plant/+/telemetry", topic = "telemetry", device = 2,
           dead_letter = "telemetry-dlq" }
end
