list(APPEND SLUICE_SOURCES
  core/arena.c
  core/buf.c
  core/config.c
  core/error.c
  core/name.c
  core/record.c
  core/window_assign.c
  core/watermark.c
  core/ddsketch.c
  core/hll.c
  core/aggregate.c
  core/aggregate_codec.c
  core/keyed_state.c
)
