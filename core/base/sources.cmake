list(APPEND SLUICE_SOURCES
  core/base/arena.c
  core/base/buf.c
  core/base/config.c
  core/base/error.c
  core/base/log.c
  core/base/metrics.c
  core/base/name.c
  core/base/record.c
)
