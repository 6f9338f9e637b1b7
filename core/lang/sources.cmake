list(APPEND SLUICE_SOURCES
  core/lang/builtin.c
  core/lang/graph.c
  core/lang/graph_error.c
  core/lang/lua_bridge.c
  core/lang/lua_pipeline.c
  core/lang/registry.c
  core/lang/graph_id.c
  core/lang/state_shape.c
  core/lang/state_compat.c
  core/lang/lua_sandbox.c
  core/lang/source_time.c
  core/lang/table_decl.c
  core/lang/graph_check.c
  core/lang/graph_fields.c
)
