/* SPDX-License-Identifier: Apache-2.0 */
/* The Kafka connectors (kafka_source, kafka_sink) and the embedded broker
 * they share. Internal: registered by core/lang/registry.c, used by tests. */
#ifndef SLUICE_KAFKA_H
#define SLUICE_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "lang/connector.h"

extern const sl_source_desc sl_kafka_source;
extern const sl_sink_desc sl_kafka_sink;

/* Partitions of topics the embedded broker creates on demand. */
#define SL_KAFKA_EMBEDDED_PARTITIONS 4

/* Start the process's embedded broker (librdkafka's mock cluster) or take
 * another reference to it. *bootstraps (may be NULL) gets its address,
 * valid until the last release. Thread-safe. */
int sl_kafka_embedded_acquire(const char **bootstraps, sl_error *err);
/* Drop a reference; the last one stops the broker (its topics are lost). */
void sl_kafka_embedded_release(void);
/* The running mock cluster, or NULL: for fault injection in tests
 * (rd_kafka_mock_push_request_errors). */
rd_kafka_mock_cluster_t *sl_kafka_embedded_cluster(void);
/* Create `topic` with `partitions` partitions (<= 0: the default) unless it
 * exists. Requires a running embedded broker. */
int sl_kafka_embedded_topic(const char *topic, int partitions, sl_error *err);

#endif
