list(APPEND SLUICE_SOURCES
  core/http/events.c
  core/http/http_api.c
  core/http/http_auth.c
  core/http/http_limits.c
  core/http/http_redis.c
  core/http/http_server.c
  core/http/http_reply.c
  core/http/http_sse.c
  core/http/pipeline_api.c
  core/http/serve.c
)
include(core/http/dashboard/dashboard.cmake)
