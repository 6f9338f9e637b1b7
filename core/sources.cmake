list(APPEND SLUICE_SOURCES
  core/arena.c
  core/avro_decode.c
  core/avro_encode.c
  core/avro_resolve.c
  core/avro_schema.c
  core/buf.c
  core/config.c
  core/error.c
  core/json_decode.c
  core/json_encode.c
  core/name.c
  core/record.c
)
