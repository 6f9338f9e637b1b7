list(APPEND SLUICE_SOURCES
  core/arena.c
  core/buf.c
  core/config.c
  core/error.c
  core/name.c
  core/record.c
  core/metrics.c
)
