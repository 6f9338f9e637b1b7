# One line per test file: sluice_suite(NAME FILE [LABELS integration]).
# The NAME mirrors the source path (core/record.c -> core_record).
sluice_suite(core_record core/test_record.c)
sluice_suite(core_config core/test_config.c)
set(SLUICE_TEST_SOURCES ${SLUICE_TEST_SOURCES} redis_fixture.c) # shared by the redis suites
sluice_suite(connectors_redis_conn connectors/test_redis_conn.c LABELS integration)
sluice_suite(connectors_redis_checkpoint connectors/test_redis_checkpoint.c LABELS integration)
sluice_suite(core_json_codec core/test_json_codec.c)
sluice_suite(core_expr core/test_expr.c)
sluice_suite(core_registry core/test_registry.c)
sluice_suite(core_avro_codec core/test_avro_codec.c)
sluice_suite(core_ddsketch core/test_ddsketch.c)
sluice_suite(core_hll core/test_hll.c)
sluice_suite(core_aggregate core/test_aggregate.c)
sluice_suite(connectors_redis_cache connectors/test_redis_cache.c LABELS integration)
sluice_suite(operators_window operators/test_window.c)
