/* SPDX-License-Identifier: Apache-2.0 */
/* The built-in operators, sources and sinks, registered at start-up through
 * the same registry call a plugin's operators go through. */
#include "lang/builtin.h"
#include "../operators/builtin.h"
#include "kafka.h"
#include "redis.h"

extern const sl_source_desc sl_file_source, sl_stdin_source, sl_simulator_source;
extern const sl_sink_desc sl_file_sink, sl_stdout_sink, sl_null_sink, sl_webhook_sink,
    sl_alert_store_sink;
extern const sl_sink_desc sl_postgres_sink;

const sl_operator_desc *const sl_builtin_operators[] = {
    &sl_op_filter, &sl_op_map,    &sl_op_select, &sl_op_decode,
    &sl_op_encode, &sl_op_window, &sl_op_alert,  &sl_op_enrich, NULL,
};

const sl_source_desc *const sl_builtin_sources[] = {
    &sl_file_source, &sl_stdin_source, &sl_simulator_source, &sl_kafka_source, NULL,
};

const sl_sink_desc *const sl_builtin_sinks[] = {
    &sl_file_sink,  &sl_stdout_sink, &sl_null_sink,    &sl_cache_sink,
    &sl_kafka_sink, &sl_webhook_sink, &sl_alert_store_sink, &sl_postgres_sink, NULL,
};
