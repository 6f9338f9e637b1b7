/* SPDX-License-Identifier: Apache-2.0 */
/* The metric series of a running pipeline's nodes (runtime_metrics.c). */
#ifndef SLUICE_RUNTIME_METRICS_H
#define SLUICE_RUNTIME_METRICS_H

#include "engine/runtime_node.h"

/* A node's counters and gauges by name. */
void sl_runtime_counter_add(sl_runtime *rt, sl_node *n, const char *name, double delta);
/* A connector's report: NAME ending in _total adds to a counter, any other
 * name adds DELTA (which may be negative) to a gauge. */
void sl_runtime_metric_add(sl_runtime *rt, sl_node *n, const char *name, double delta);
void sl_runtime_gauge_set(sl_runtime *rt, sl_node *n, const char *name, double value);
/* The standard series of a node, created at build. */
void sl_runtime_metrics_init(sl_runtime *rt, sl_node *n);
#endif
