/* SPDX-License-Identifier: Apache-2.0 */
/* What every part of the engine may do to a running pipeline's nodes: read
 * the clocks, pause processing with a reason, write a batch to a sink with
 * backpressure, tell operators about assigned partitions. The bottom of
 * engine/: the runtime (runtime*.c), the checkpoint coordinator, dead letters
 * and the host table call these; they call none of them back. */
#include <stdio.h>
#include <time.h>

#include "base/log.h"
#include "base/metrics.h"
#include "engine/runtime_node.h"

int64_t sl_runtime_mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sl_runtime_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_runtime_assign_operators(sl_runtime *rt, int32_t source_id, const int32_t *partitions,
                                 size_t n) {
  for (size_t i = 0; i < rt->count; i++) {
    sl_node *op = &rt->nodes[i];
    if (op->kind != SL_NODE_OPERATOR || !op->op || !op->op->assign_partition)
      continue;
    int root = (int)i;
    while (rt->graph->nodes[root].parent >= 0)
      root = rt->graph->nodes[root].parent;
    if (rt->nodes[root].kind != SL_NODE_SOURCE || rt->nodes[root].env.source_id != source_id)
      continue;
    for (size_t k = 0; k < n; k++) {
      sl_error err;
      sl_error_clear(&err);
      if (op->op->assign_partition(op->op_state, source_id, partitions[k], &err) != SL_OK)
        sl_log(SL_LOG_WARN, op->desc->label, "assigning partition %d: %s", (int)partitions[k],
               err.message);
    }
  }
}

/* Processing pauses because of `what` (static text naming the dependency) and
 * `why` (its error); /readyz and sl_runtime_not_ready show both. */
void sl_runtime_pause(sl_runtime *rt, const char *what, const char *why) {
  pthread_mutex_lock(&rt->reason_lock);
  snprintf(rt->pause_reason, sizeof rt->pause_reason, "%s: %.250s", what, why);
  pthread_mutex_unlock(&rt->reason_lock);
  __atomic_store_n(&rt->paused, 1, __ATOMIC_RELAXED);
}

void sl_runtime_pause_reason(sl_runtime *rt, char *buf, size_t cap) {
  pthread_mutex_lock(&rt->reason_lock);
  snprintf(buf, cap, "%s", __atomic_load_n(&rt->paused, __ATOMIC_RELAXED) ? rt->pause_reason : "");
  pthread_mutex_unlock(&rt->reason_lock);
}

int sl_runtime_sink_write(sl_runtime *rt, sl_node *n, const sl_batch *b, sl_error *err) {
  size_t done = 0;
  int64_t full_since = 0;
  n->in += b->count;
  sl_metric_add(n->m_in, (double)b->count);
  while (done < b->count) {
    sl_batch view = *b;
    view.records = b->records + done;
    view.count = b->count - done;
    size_t written = 0;
    int rc = n->sink->write(n->sink_state, &view, &written, err);
    done += written;
    if (rc == SL_OK) {
      if (rt->arrived_us && n != rt->dead_letter)
        sl_metric_observe_n(n->m_latency, (double)(sl_runtime_mono_us() - rt->arrived_us) / 1e6,
                            b->count);
      return SL_OK;
    }
    if (rc != SL_ERR_LIMIT)
      return rc;
    /* Backpressure: the sink's queue is full; let it drain, then retry. */
    if (n->sink->poll)
      n->sink->poll(n->sink_state);
    rc = n->sink->flush(n->sink_state, 100, err);
    if (rc != SL_OK && rc != SL_ERR_UNAVAILABLE)
      return rc;
    if (!full_since)
      full_since = sl_runtime_now_ms();
    if (rc == SL_ERR_UNAVAILABLE && !rt->paused && sl_runtime_now_ms() - full_since > 1000) {
      /* Still full after a second: the destination is down, not just busy.
       * Paused, so /readyz says why; the main loop resumes once it drains. */
      sl_log(SL_LOG_ERROR, "runtime", "outputs not acknowledged (%s): processing paused",
             err->message);
      sl_runtime_pause(rt, "outputs not acknowledged", err->message);
      rt->resume_at_ms = sl_runtime_now_ms();
    }
    if (rt->stop > 1)
      return sl_error_set(err, SL_ERR_UNAVAILABLE, "stopped while %s was full", n->desc->label);
  }
  return SL_OK;
}
