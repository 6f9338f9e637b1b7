list(APPEND SLUICE_SOURCES
  connectors/file_sink.c
  connectors/file_source.c
  connectors/webhook.c
)
