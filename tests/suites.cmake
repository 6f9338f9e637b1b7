# One line per test file: sluice_suite(NAME FILE [LABELS integration]).
# The NAME mirrors the source path (core/record.c -> core_record).
sluice_suite(core_record core/test_record.c)
sluice_suite(core_config core/test_config.c)
sluice_suite(core_json_codec core/test_json_codec.c)
sluice_suite(core_expr core/test_expr.c)
sluice_suite(operators_filter operators/test_filter.c)
sluice_suite(operators_map operators/test_map.c)
sluice_suite(operators_select operators/test_select.c)
sluice_suite(operators_decode operators/test_decode.c)
sluice_suite(operators_encode operators/test_encode.c)
sluice_suite(core_lua_pipeline core/test_lua_pipeline.c)
sluice_suite(connectors_file connectors/test_file.c)
sluice_suite(e2e_file_pipelines e2e/test_file_pipelines.c)
