/* SPDX-License-Identifier: Apache-2.0 */
/* Partition assignment with state = "redis" (SPEC.md section 7: "Redis
 * unreachable (at any moment, partition assignment included): processing
 * pauses ... retries with backoff"). Taking a partition needs Redis for every
 * step (the epoch INCR, the stored offset, the window state); when Redis does
 * not answer, the assignment waits and retries with backoff as a checkpoint
 * does, /readyz says why, and only a retry budget spent gives up. The
 * partitions are never consumed before their state is restored.
 *
 * Also the one place that says why the worker is not ready, so /readyz names
 * the dependency that failed. */
#include <stdio.h>
#include <time.h>

#include "base/log.h"
#include "engine/checkpoint.h"
#include "engine/runtime_internal.h"

#define ASSIGN_BACKOFF_MIN_MS 100
#define ASSIGN_BACKOFF_MAX_MS 5000

/* Sleep up to ms in short slices; returns early when the worker stops. */
static void wait_or_stop(sl_runtime *rt, int64_t ms) {
  while (ms > 0 && !__atomic_load_n(&rt->stop, __ATOMIC_RELAXED)) {
    int64_t slice = ms < 100 ? ms : 100;
    struct timespec ts = {0, (long)slice * 1000000L};
    nanosleep(&ts, NULL);
    ms -= slice;
  }
}

int sl_runtime_assign_restoring(sl_runtime *rt, int32_t source_id, const int32_t *parts, size_t n,
                                int64_t *start_offsets, sl_error *err) {
  int64_t first_failure = 0, backoff = ASSIGN_BACKOFF_MIN_MS;
  for (;;) {
    /* A retry redoes the partitions restored before the failure too: a new
     * epoch for each and their state reloaded, which is idempotent. */
    int rc = sl_ckpt_assign(rt->ckpt, source_id, parts, n, start_offsets, err);
    if (rc != SL_ERR_UNAVAILABLE) {
      if (first_failure && rc == SL_OK)
        sl_log(SL_LOG_INFO, "checkpoint",
               "Redis answers again: %zu assigned partitions restored after %lld ms", n,
               (long long)(sl_runtime_now_ms() - first_failure));
      __atomic_store_n(&rt->assigning, 0, __ATOMIC_RELAXED);
      return rc;
    }
    int64_t now = sl_runtime_now_ms();
    if (!first_failure) {
      first_failure = now;
      __atomic_store_n(&rt->assigning, 1, __ATOMIC_RELAXED);
      sl_log(SL_LOG_ERROR, "checkpoint",
             "cannot restore %zu assigned partitions (%s): waiting for Redis, retrying with "
             "backoff for up to %.1f s (SLUICE_RETRY_BUDGET)",
             n, err->message, (double)rt->opts.retry_budget_ms / 1000.0);
    }
    int64_t left = first_failure + rt->opts.retry_budget_ms - now;
    if (left <= 0 || __atomic_load_n(&rt->stop, __ATOMIC_RELAXED)) {
      __atomic_store_n(&rt->assigning, 0, __ATOMIC_RELAXED);
      if (left <= 0)
        sl_error_set(err, SL_ERR_UNAVAILABLE,
                     "Redis unreachable for %.1f s while restoring assigned partitions (retry "
                     "budget, SLUICE_RETRY_BUDGET): giving up; the next start resumes from the "
                     "last checkpoint",
                     (double)(now - first_failure) / 1000.0);
      return SL_ERR_UNAVAILABLE;
    }
    wait_or_stop(rt, backoff < left ? backoff : left);
    backoff = backoff * 2 > ASSIGN_BACKOFF_MAX_MS ? ASSIGN_BACKOFF_MAX_MS : backoff * 2;
  }
}

const char *sl_runtime_not_ready(sl_runtime *rt, int needs_assignment, char *buf, size_t cap) {
  if (__atomic_load_n(&rt->stop, __ATOMIC_RELAXED))
    return "stopping";
  if (__atomic_load_n(&rt->assigning, __ATOMIC_RELAXED))
    return "Redis unreachable while restoring assigned partitions (retrying)";
  if (__atomic_load_n(&rt->paused, __ATOMIC_RELAXED)) {
    char reason[320];
    sl_runtime_pause_reason(rt, reason, sizeof reason);
    snprintf(buf, cap, "processing paused%s%s", reason[0] ? ": " : "", reason);
    return buf;
  }
  if (needs_assignment && !__atomic_load_n(&rt->assigned, __ATOMIC_RELAXED))
    return "pipeline sources not assigned (waiting for the Kafka consumer group)";
  return NULL;
}
