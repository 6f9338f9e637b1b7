/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's metrics (SPEC.md section 8): per-node record counters
 * labelled {pipeline, operator}, what operators and connectors report by
 * name, checkpoint durations and batch sizes. Series are looked up once and
 * cached in the node, so the hot path only adds to a pointer. */
#include <stdio.h>
#include <string.h>

#include "base/metrics.h"
#include "engine/runtime_metrics.h"

static struct sl_metric *named(sl_runtime *rt, sl_node *n, const char *name, int gauge);

static void labels_of(const sl_runtime *rt, const sl_node *n, char *buf, size_t len) {
  if (n->op && strcmp(n->desc->type, "alert") == 0 && sl_config_has(n->desc->config, "name"))
    snprintf(buf, len, "pipeline=%s,operator=%s,alert=%s", rt->graph->name, n->desc->label,
             sl_config_string(n->desc->config, "name", ""));
  else
    snprintf(buf, len, "pipeline=%s,operator=%s", rt->graph->name, n->desc->label);
}

void sl_runtime_metrics_init(sl_runtime *rt, sl_node *n) {
  char labels[512];
  labels_of(rt, n, labels, sizeof labels);
  n->m_in = sl_metrics_counter("sluice_records_in_total", "Records received by a node", labels);
  n->m_out = sl_metrics_counter("sluice_records_out_total", "Records emitted by a node", labels);
  n->m_failed = sl_metrics_counter("sluice_records_failed_total",
                                   "Records sent to the dead-letter sink, by the node that failed "
                                   "them",
                                   labels);
  if (n->kind == SL_NODE_SINK) {
    /* Fine buckets around the 10 ms a window result may take to reach its
     * sink once the record that closed the window arrived. */
    static const double lat[] = {0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01,
                                 0.015, 0.025, 0.05,  0.1,   0.25,  0.5,   1,     2.5};
    n->m_latency = sl_metrics_histogram(
        "sluice_sink_latency_seconds",
        "Seconds from the arrival of the input a record came from (a source batch, or the "
        "clock tick that fired a window) until a sink took the record",
        labels, lat, sizeof lat / sizeof lat[0]);
  }
  /* Exported at 0 from the start, so that a dashboard or an alert rule on late
   * records sees the series before the first late record (rate() needs it). */
  if (n->desc->kind == SL_NODE_OPERATOR && strcmp(n->desc->type, "window") == 0)
    named(rt, n, "sluice_late_records_total", 0);
  if (!rt->m_checkpoint) {
    char pl[300];
    snprintf(pl, sizeof pl, "pipeline=%s", rt->graph->name);
    static const double secs[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
    rt->m_checkpoint = sl_metrics_histogram("sluice_checkpoint_seconds",
                                            "Time to write one checkpoint to Redis", pl, secs,
                                            sizeof secs / sizeof secs[0]);
    static const double sizes[] = {1, 8, 64, 256, 512, 1024, 4096};
    rt->m_batch = sl_metrics_histogram("sluice_batch_records", "Records per source batch", pl,
                                       sizes, sizeof sizes / sizeof sizes[0]);
  }
}

/* Help texts of the metrics operators report by name; others get a generic one. */
static const char *help_of(const char *name) {
  static const struct {
    const char *name, *help;
  } known[] = {
      {"sluice_late_records_total",
       "Records that arrived after every window they belong to had closed (the watermark "
       "passed window end + lateness); each also went to the dead-letter sink with reason "
       "late"},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(known[i].name, name) == 0)
      return known[i].help;
  return "Reported by the operator";
}

static struct sl_metric *named(sl_runtime *rt, sl_node *n, const char *name, int gauge) {
  for (int i = 0; i < 8; i++) {
    node_metric *m = &n->metrics[i];
    if (m->name && strcmp(m->name, name) == 0)
      return m->metric;
    if (!m->name) {
      char labels[512];
      labels_of(rt, n, labels, sizeof labels);
      m->metric = gauge ? sl_metrics_gauge(name, help_of(name), labels)
                        : sl_metrics_counter(name, help_of(name), labels);
      m->name = name;
      return m->metric;
    }
  }
  return NULL; /* more than 8 names on one node: ignored, never fatal */
}

void sl_runtime_counter_add(sl_runtime *rt, sl_node *n, const char *name, double delta) {
  sl_metric_add(named(rt, n, name, 0), delta);
}

void sl_runtime_metric_add(sl_runtime *rt, sl_node *n, const char *name, double delta) {
  size_t len = strlen(name);
  int counter = len > 6 && strcmp(name + len - 6, "_total") == 0;
  sl_metric_add(named(rt, n, name, !counter), delta);
}

void sl_runtime_gauge_set(sl_runtime *rt, sl_node *n, const char *name, double value) {
  sl_metric_set(named(rt, n, name, 1), value);
}
