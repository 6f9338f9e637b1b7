/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics registry: counters, gauges and fixed-bucket histograms with
 * label sets, rendered in the Prometheus text exposition format 0.0.4.
 *
 * Thread safety: every function may be called from any thread. Creating or
 * looking up a series takes the registry mutex (do it once, cache the
 * returned pointer); updating a series is lock-free (atomics). A series lives
 * as long as its registry: the process-wide one is never freed. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct sl_metrics sl_metrics; /* a registry */
typedef struct sl_metric sl_metric;   /* one series: family + label values */

typedef enum sl_metric_type {
  SL_METRIC_COUNTER = 1,
  SL_METRIC_GAUGE = 2,
  SL_METRIC_HISTOGRAM = 3,
} sl_metric_type;

/* The process-wide registry (created on first use, never freed). */
sl_metrics *sl_metrics_default(void);
/* A private registry, for tests or embedding; destroy(NULL) is a no-op. */
sl_metrics *sl_metrics_new(void);
void sl_metrics_destroy(sl_metrics *m);

/* Get or create a series in the process-wide registry. `labels_csv` is NULL or
 * "name=value,name=value" (a backslash escapes ',', '=' or '\' in a value).
 * The same (name, labels) always returns the same pointer, whatever the label
 * order. Returns NULL when the name or labels are invalid, or the name already
 * exists with another type (or, for histograms, other buckets). `help` is used
 * by the first call for a family. */
sl_metric *sl_metrics_counter(const char *name, const char *help, const char *labels_csv);
sl_metric *sl_metrics_gauge(const char *name, const char *help, const char *labels_csv);
/* `bounds` are the upper bounds (strictly increasing, +Inf is implicit); NULL
 * uses the default buckets .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10. */
sl_metric *sl_metrics_histogram(const char *name, const char *help, const char *labels_csv,
                                const double *bounds, size_t nbounds);

/* The same, in a given registry. */
sl_metric *sl_metrics_get(sl_metrics *reg, sl_metric_type type, const char *name, const char *help,
                          const char *labels_csv, const double *bounds, size_t nbounds);

/* Updates; all accept NULL (a no-op) so a failed lookup never crashes a
 * pipeline. add() on a counter ignores negative deltas. */
void sl_metric_add(sl_metric *m, double d);
void sl_metric_set(sl_metric *m, double v);
void sl_metric_observe(sl_metric *m, double v);
/* n observations of the same value (a batch of records that waited alike). */
void sl_metric_observe_n(sl_metric *m, double v, uint64_t n);
/* Current value (counter/gauge) or observation count (histogram). */
double sl_metric_value(const sl_metric *m);

/* Render the process-wide registry plus process metrics
 * (sluice_process_resident_memory_bytes, sluice_process_cpu_seconds_total,
 * sluice_process_start_time_seconds) into `out`. Returns SL_OK or SL_ERR_NOMEM. */
int sl_metrics_render(sl_buf *out);
/* Render one registry; process metrics only when `with_process` is nonzero. */
int sl_metrics_render_registry(sl_metrics *reg, sl_buf *out, int with_process);

#endif
