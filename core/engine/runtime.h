/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime: turns a validated graph description into running nodes and
 * pushes source batches through them until the sources end or a stop is
 * requested. */
#ifndef SLUICE_RUNTIME_H
#define SLUICE_RUNTIME_H

#include "lang/graph.h"
#include "lang/lua_pipeline.h"

typedef struct sl_runtime sl_runtime;

typedef struct sl_runtime_options {
  const char *redis_url;   /* default SLUICE_REDIS_URL or redis://127.0.0.1:6379 */
  size_t batch_size;       /* records per source poll, default 1024 */
  size_t max_line_bytes;   /* file sources: longest accepted line, default 1 MiB */
  const char *api_addr;    /* NULL: no HTTP server */
  int64_t retry_budget_ms; /* how long a dependency may stay down while running
                              before run() fails (exit 3); default 10 min */
  int event_time_only;     /* `sluice test`: no timers and no wall clock (operators
                              see now_ms() = 0), so results depend on the input alone */
} sl_runtime_options;

/* Build every node (operators init'ed, connectors opened). Takes nothing:
 * `g`, `reg` and `lua` must outlive the runtime. */
sl_runtime *sl_runtime_new(const sl_graph_desc *g, sl_registry *reg, const sl_runtime_options *o,
                           sl_error *err);
/* Run until every source is drained (finite input) or sl_runtime_stop().
 * SL_OK on a clean end. */
int sl_runtime_run(sl_runtime *rt, sl_error *err);
/* Async-signal-safe: ask run() to stop gracefully; a second call stops
 * without waiting for unacknowledged outputs or an unreachable Redis. */
void sl_runtime_stop(sl_runtime *rt);
/* Why processing is paused (a sink's or Redis' error), into `buf`; "" when
 * it is not. Thread-safe (the HTTP thread's /readyz). */
void sl_runtime_pause_reason(sl_runtime *rt, char *buf, size_t cap);
void sl_runtime_free(sl_runtime *rt); /* NULL is a no-op */

/* Counters for tests and `sluice run` summaries. */
uint64_t sl_runtime_records_in(const sl_runtime *rt);
uint64_t sl_runtime_dead_letters(const sl_runtime *rt);

#endif
