/* SPDX-License-Identifier: Apache-2.0 */
/* What the runtime's own files (runtime*.c) share: everything below them
 * (runtime_node.h: the structures; dead letters; metrics) and the functions
 * they call on each other. Files lower in engine/ include only the headers
 * of what they call. */
#ifndef SLUICE_RUNTIME_INTERNAL_H
#define SLUICE_RUNTIME_INTERNAL_H

#include "engine/dead_letter.h"
#include "engine/runtime.h"
#include "engine/runtime_metrics.h"
#include "engine/runtime_node.h"

/* runtime.c: the runtime behind a connector's env->runtime (a node's handle,
 * so that a source or sink is named as itself in dead letters and logs). */
sl_runtime *sl_runtime_of_env(void *runtime);
/* runtime_assign.c: restore assigned partitions (state = "redis"), waiting
 * and retrying with backoff while Redis is unreachable, within the retry
 * budget; start_offsets as sl_ckpt_assign. */
int sl_runtime_assign_restoring(sl_runtime *rt, int32_t source_id, const int32_t *parts, size_t n,
                                int64_t *start_offsets, sl_error *err);
/* Why the pipeline is not ready, or NULL when it is: static text, or the pause
 * reason written into buf (cap bytes, the caller's). */
const char *sl_runtime_not_ready(sl_runtime *rt, int needs_assignment, char *buf, size_t cap);
/* runtime_time.c: event time at the source. After the nodes are built, find
 * the node that reads each source's time field; then, on that node's output,
 * set each record's time or dead-letter it (reason "time"), compacting `b`. */
int sl_runtime_time_init(sl_runtime *rt, sl_error *err);
int sl_runtime_apply_time(sl_runtime *rt, sl_node *n, sl_batch *b);

#endif
