list(APPEND SLUICE_SOURCES
  connectors/redis_conn.c
  connectors/redis_checkpoint.c
  connectors/redis_restore.c
  connectors/redis_cache.c
  connectors/redis_alerts.c
  connectors/redis_read.c
)
