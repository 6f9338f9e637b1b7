/* SPDX-License-Identifier: Apache-2.0 */
/* The set of tables a running pipeline declared: opened (with their loaders)
 * before the graph's nodes, so that enrich finds them at init, and closed
 * after the nodes. Topic tables catch up in the background: the runtime
 * waits for them (sl_tables_wait) once the API is up, so /readyz can say
 * which table it is waiting for. Also the shared publish-and-report step of the loaders. */
#include "tables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"

typedef struct open_table {
  sl_table *table;
  sl_table_file *file;
  sl_table_kafka *kafka;
  int64_t wait_ms;
} open_table;

struct sl_tables {
  open_table *items;
  size_t count;
};

int sl_tables_publish(sl_table *t, const char *pipeline, int log, sl_error *err) {
  int rc = sl_table_publish(t, err);
  if (rc != SL_OK)
    return rc;
  size_t n = sl_table_writer_count(t), bytes = sl_table_writer_bytes(t);
  char labels[512];
  snprintf(labels, sizeof labels, "pipeline=%s,table=%s", pipeline ? pipeline : "", sl_table_id(t));
  sl_metric_set(sl_metrics_gauge("sluice_table_entries", "Entries of a lookup table.", labels),
                (double)n);
  sl_metric_set(sl_metrics_gauge("sluice_table_bytes",
                                 "Memory held by a lookup table's entries and slots.", labels),
                (double)bytes);
  if (log)
    sl_log(SL_LOG_INFO, "table", "table '%s': %zu entries, %zu bytes (%zu bytes per entry)",
           sl_table_id(t), n, bytes, n ? bytes / n : 0);
  return SL_OK;
}

void sl_tables_close(sl_tables *ts) {
  if (!ts)
    return;
  for (size_t i = 0; i < ts->count; i++) {
    sl_table_file_close(ts->items[i].file);
    sl_table_kafka_close(ts->items[i].kafka);
    sl_table_unregister(ts->items[i].table);
    sl_table_free(ts->items[i].table);
  }
  free(ts->items);
  free(ts);
}

static int open_one(open_table *o, const sl_config *decl, const sl_connector_env *env,
                    sl_error *err) {
  const char *id = sl_config_string(decl, "id", "");
  o->table = sl_table_new(id, (size_t)sl_config_int(decl, "max_entries", 1000000));
  if (!o->table)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  int rc = sl_table_register(o->table, err);
  if (rc != SL_OK)
    return rc;
  if (sl_config_has(decl, "path")) {
    o->file = sl_table_file_open(o->table, decl, env->pipeline, err);
    return o->file ? SL_OK : err->code;
  }
  o->wait_ms = sl_config_duration_ms(decl, "wait", 60000);
  o->kafka = sl_table_kafka_open(o->table, decl, env, err);
  return o->kafka ? SL_OK : err->code;
}

int sl_tables_wait(sl_tables *ts, const volatile int *stop, sl_error *err) {
  for (size_t i = 0; ts && i < ts->count; i++) {
    open_table *o = &ts->items[i];
    char why[256];
    if (!o->kafka || sl_table_kafka_status(o->kafka, why, sizeof why))
      continue;
    sl_log(SL_LOG_INFO, "table", "waiting (at most %lld ms) for %s", (long long)o->wait_ms, why);
    int rc = sl_table_kafka_wait(o->kafka, o->wait_ms, stop, err);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

int sl_tables_ready(sl_tables *ts, char *why, size_t n) {
  for (size_t i = 0; ts && i < ts->count; i++)
    if (ts->items[i].kafka && !sl_table_kafka_status(ts->items[i].kafka, why, n))
      return 0;
  return 1;
}

sl_tables *sl_tables_open(const sl_graph_desc *g, const sl_connector_env *env, sl_error *err) {
  sl_tables *ts = calloc(1, sizeof *ts);
  if (!ts || !(ts->items = calloc(g->ntables ? g->ntables : 1, sizeof *ts->items))) {
    free(ts);
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < g->ntables; i++) {
    ts->count++;
    if (open_one(&ts->items[i], g->tables[i], env, err) != SL_OK) {
      sl_tables_close(ts);
      return NULL;
    }
  }
  return ts;
}
