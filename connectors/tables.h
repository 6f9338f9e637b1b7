/* SPDX-License-Identifier: Apache-2.0 */
/* Opening the tables a pipeline declares (p:table{}): each is loaded (a file
 * now, a topic up to its end offsets), registered by id for enrich and the
 * API, and kept current by a loader thread until sl_tables_close(). */
#ifndef SLUICE_TABLES_H
#define SLUICE_TABLES_H

#include "lang/connector.h"
#include "lang/graph.h"
#include "state/table_store.h"

typedef struct sl_tables sl_tables;

/* Open every declaration of `g` (env: pipeline name, Kafka properties).
 * Returns NULL with `err` set when one cannot be loaded; a pipeline without
 * tables gets an empty set. */
sl_tables *sl_tables_open(const sl_graph_desc *g, const sl_connector_env *env, sl_error *err);
/* Stop the loaders, unregister and free the tables. NULL is a no-op. */
void sl_tables_close(sl_tables *ts);

/* Publish the writer's map of `t` and report its size: the gauges
 * sluice_table_entries and sluice_table_bytes{pipeline,table} and, when
 * `log` is set, a log line with the memory per entry. For the loaders. */
int sl_tables_publish(sl_table *t, const char *pipeline, int log, sl_error *err);

/* ---- loaders ------------------------------------------------------------ */

typedef struct sl_table_file sl_table_file;
/* Load the JSON Lines file of declaration `decl` into `t` and publish it,
 * then watch the file (every `reload`) and reload it on a change. A file
 * that cannot be loaded fails the open with "path:line: message"; later, a
 * bad version is logged and the previous table stays. */
sl_table_file *sl_table_file_open(sl_table *t, const sl_config *decl, const char *pipeline,
                                  sl_error *err);
void sl_table_file_close(sl_table_file *f); /* NULL is a no-op */
/* One load of `path` into `t` (cleared first) and a publish; the published
 * table is unchanged on failure. `key` names the key field. */
int sl_table_file_load(sl_table *t, const char *path, const char *key, const char *pipeline,
                       sl_error *err);

typedef struct sl_table_kafka sl_table_kafka;
/* Start reading the topic of declaration `decl` into `t`: metadata and end
 * offsets now (SL_ERR_UNAVAILABLE when the brokers do not answer), then a
 * consumer thread. `env` gives the pipeline name and Kafka properties. */
sl_table_kafka *sl_table_kafka_open(sl_table *t, const sl_config *decl, const sl_connector_env *env,
                                    sl_error *err);
void sl_table_kafka_close(sl_table_kafka *k); /* NULL is a no-op */
/* 1 when caught up; else 0 and why (for /readyz) in `why`. */
int sl_table_kafka_status(sl_table_kafka *k, char *why, size_t n);
/* Wait until caught up, at most `wait_ms` or until *stop. SL_ERR_UNAVAILABLE
 * past the bound, SL_ERR_INVALID when a key was refused (max_entries). */
int sl_table_kafka_wait(sl_table_kafka *k, int64_t wait_ms, const volatile int *stop,
                        sl_error *err);

/* ---- the set, continued ------------------------------------------------- */

/* Wait until every topic table caught up (each bounded by its `wait`). */
int sl_tables_wait(sl_tables *ts, const volatile int *stop, sl_error *err);
/* 1 when every table is loaded; else 0 and the first reason in `why`. */
int sl_tables_ready(sl_tables *ts, char *why, size_t n);

#endif
