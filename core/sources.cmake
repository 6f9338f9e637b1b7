list(APPEND SLUICE_SOURCES
  core/arena.c
  core/buf.c
  core/config.c
  core/error.c
  core/json_decode.c
  core/json_encode.c
  core/name.c
  core/record.c
)
