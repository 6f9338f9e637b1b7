list(APPEND SLUICE_SOURCES
  core/arena.c
  core/buf.c
  core/config.c
  core/error.c
  core/name.c
  core/record.c
  core/metrics.c
  core/events.c
  core/http_server.c
  core/http_auth.c
  core/http_limits.c
  core/http_redis.c
  core/http_api.c
  core/http_sse.c
)
include(core/dashboard/dashboard.cmake)
