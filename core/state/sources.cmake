list(APPEND SLUICE_SOURCES
  core/state/aggregate.c
  core/state/aggregate_box.c
  core/state/aggregate_codec.c
  core/state/ddsketch.c
  core/state/hll.c
  core/state/keyed_held.c
  core/state/keyed_state.c
  core/state/watermark.c
  core/state/window_assign.c
  core/state/window_store.c
  core/state/table_store.c
  core/state/aggregate_update.c
)
