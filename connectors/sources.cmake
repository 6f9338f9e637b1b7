list(APPEND SLUICE_SOURCES
  connectors/kafka_conf.c
  connectors/kafka_embedded.c
  connectors/kafka_sink.c
  connectors/kafka_source.c
)
# Connector headers (kafka.h, kafka_conf.h) for the registry and the tests.
include_directories(${CMAKE_SOURCE_DIR}/connectors)
