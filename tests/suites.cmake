# One line per test file: sluice_suite(NAME FILE [LABELS integration]).
# The NAME mirrors the source path (core/record.c -> core_record).
sluice_suite(core_record core/test_record.c)
sluice_suite(core_config core/test_config.c)
sluice_suite(core_json_codec core/test_json_codec.c)
sluice_suite(core_expr core/test_expr.c)
sluice_suite(core_registry core/test_registry.c)
sluice_suite(core_avro_codec core/test_avro_codec.c)
sluice_suite(core_ddsketch core/test_ddsketch.c)
sluice_suite(core_hll core/test_hll.c)
sluice_suite(core_aggregate core/test_aggregate.c)
sluice_suite(operators_alert operators/test_alert.c)
sluice_suite(connectors_webhook connectors/test_webhook.c)
