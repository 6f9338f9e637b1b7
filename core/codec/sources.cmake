list(APPEND SLUICE_SOURCES
  core/codec/avro_decode.c
  core/codec/avro_encode.c
  core/codec/avro_resolve.c
  core/codec/avro_schema.c
  core/codec/format.c
  core/codec/json_decode.c
  core/codec/json_encode.c
  core/codec/json_decode_keys.c
  core/codec/avro_decode_flat.c
)
