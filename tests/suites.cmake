# One line per test file: sluice_suite(NAME FILE [LABELS integration]).
# The NAME mirrors the source path (core/record.c -> core_record).
sluice_suite(core_record core/test_record.c)
sluice_suite(core_config core/test_config.c)
sluice_suite(core_json_codec core/test_json_codec.c)
sluice_suite(core_avro_codec core/test_avro_codec.c)
sluice_suite(connectors_kafka connectors/test_kafka.c LABELS integration)
