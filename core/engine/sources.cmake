list(APPEND SLUICE_SOURCES
  core/engine/checkpoint.c
  core/engine/dead_letter.c
  core/engine/host.c
  core/engine/graph_validate.c
  core/engine/runtime.c
  core/engine/runtime_node.c
  core/engine/runtime_metrics.c
  core/engine/runtime_assign.c
  core/engine/runtime_time.c
)
