# One line per test file: sluice_suite(NAME FILE [LABELS integration]).
# The NAME mirrors the source path (core/record.c -> core_record).
sluice_suite(core_record core/test_record.c)
sluice_suite(core_config core/test_config.c)
sluice_suite(core_ddsketch core/test_ddsketch.c)
sluice_suite(core_hll core/test_hll.c)
sluice_suite(core_aggregate core/test_aggregate.c)
sluice_suite(operators_window operators/test_window.c)
