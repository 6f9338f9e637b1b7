list(APPEND SLUICE_SOURCES
  core/gateway/gateway_devices.c
  core/gateway/gateway_http.c
  core/gateway/gateway_ingest.c
  core/gateway/gateway_kafka.c
  core/gateway/gateway_lua.c
  core/gateway/gateway_main.c
  core/gateway/gateway_records.c
  core/gateway/gateway_send.c
  core/gateway/gateway_coap.c
  core/gateway/gateway_coap_dedup.c
)
