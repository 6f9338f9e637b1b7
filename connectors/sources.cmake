list(APPEND SLUICE_SOURCES
  connectors/alert_store.c
  connectors/file_sink.c
  connectors/file_source.c
  connectors/kafka_conf.c
  connectors/kafka_embedded.c
  connectors/kafka_sink.c
  connectors/kafka_source.c
  connectors/redis_alerts.c
  connectors/redis_cache.c
  connectors/redis_checkpoint.c
  connectors/redis_conn.c
  connectors/redis_pipelines.c
  connectors/redis_read.c
  connectors/redis_restore.c
  connectors/simulator.c
  connectors/webhook.c
)
