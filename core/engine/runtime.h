/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime: turns a validated graph description into running nodes and
 * pushes source batches through them until the sources end or a stop is
 * requested. */
#ifndef SLUICE_RUNTIME_H
#define SLUICE_RUNTIME_H

#include "engine/runtime_options.h" /* sl_runtime, sl_runtime_options */
#include "lang/graph.h"
#include "lang/lua_pipeline.h"

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
