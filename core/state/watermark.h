/* SPDX-License-Identifier: Apache-2.0 */
/* Event-time watermark of one operator: per source partition the maximum
 * event time seen minus `delay`; the operator watermark is the minimum over
 * partitions that received data within `idle` ms of processing time, and
 * never moves backwards while the partitions stay where they are.
 *
 * Partitions moving between workers are the exception. A partition assigned
 * to this worker that has not sent data yet (pending) does not hold the
 * others back, and its first record pulls the watermark back to itself
 * (admit); a partition restored from another worker's checkpoint pulls it
 * back to that worker's watermark. A partition that sent nothing has no
 * watermark of its own and never takes one from a checkpoint. Otherwise
 * records of a partition would become late only because this worker's
 * other partitions ran ahead, and be lost to the windows across a restart
 * or rebalance. */
#ifndef SLUICE_WATERMARK_H
#define SLUICE_WATERMARK_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/operator.h" /* SL_WATERMARK_NONE */
#include "state/window_assign.h"

typedef struct sl_wm_part {
  int32_t source_id;
  int32_t partition;
  int64_t max_t;     /* largest event time seen */
  int64_t last_seen; /* processing time of the last record */
  int pending;       /* assigned, no record yet: its first one may rewind */
  int memo;          /* active at the last recompute (sl_watermark.calc_*) */
} sl_wm_part;

typedef struct sl_watermark {
  sl_wm_part *parts; /* malloc'd */
  size_t count, cap;
  int64_t delay;
  int64_t idle;
  int64_t current;      /* SL_WATERMARK_NONE until data arrives */
  size_t pending_count; /* partitions assigned that sent nothing yet */
  /* Memo of the last full recompute (at processing time calc_now): until
   * stable_until, a record that does not raise its (then active)
   * partition's maximum cannot move the watermark, so observe skips the
   * scan. calc_valid = 0 after anything else changed the partitions. */
  int calc_valid;
  int64_t calc_now;
  int64_t stable_until;
  /* index + 1 in parts by a hash of (source, partition), 0 none: records
   * of a few partitions come interleaved, found with one compare */
  uint16_t cache[16];
} sl_watermark;

void sl_watermark_init(sl_watermark *w, int64_t delay, int64_t idle);
void sl_watermark_free(sl_watermark *w);
/* A record with event time t arrived on (source_id, partition) at
 * processing time now. Returns SL_OK or SL_ERR_NOMEM; the new watermark is
 * w->current. Inline when the record changes nothing (below). */
static inline int sl_watermark_observe(sl_watermark *w, int32_t source_id, int32_t partition,
                                       int64_t t, int64_t now);
int sl_watermark_observe_any(sl_watermark *w, int32_t source_id, int32_t partition, int64_t t,
                             int64_t now);
/* Re-evaluate idleness at processing time now (may advance the watermark). */
void sl_watermark_tick(sl_watermark *w, int64_t now);
/* An upstream watermark: current = max(current, wm). */
void sl_watermark_force(sl_watermark *w, int64_t wm);
/* Restore one partition's maximum (keeps the larger value) and the
 * watermark `wm` of the worker that checkpointed it: the watermark becomes
 * wm if none yet, else min(current, wm). An entry without a maximum
 * (max_t == SL_WATERMARK_NONE: the partition had sent nothing) changes
 * nothing, so the partition stays new. */
int sl_watermark_restore_part(sl_watermark *w, int32_t source_id, int32_t partition, int64_t max_t,
                              int64_t wm, int64_t now);
/* Before judging a record with event time t from (source_id, partition):
 * if it is the first of a newly assigned partition, the watermark falls back
 * to it. Costs nothing once every assigned partition has sent. */
static inline void sl_watermark_admit(sl_watermark *w, int32_t source_id, int32_t partition,
                                      int64_t t);
void sl_watermark_admit_pending(sl_watermark *w, int32_t source_id, int32_t partition, int64_t t);
/* The partition was assigned to this worker at processing time now. */
int sl_watermark_assign(sl_watermark *w, int32_t source_id, int32_t partition, int64_t now);
/* Forget the partition (all sources); the watermark itself never moves back. */
void sl_watermark_drop_partition(sl_watermark *w, int32_t partition);

/* ---- inline parts ------------------------------------------------------- */

static inline size_t sl_watermark_slot(int32_t source_id, int32_t partition) {
  return ((uint32_t)partition * 0x9e3779b1u + (uint32_t)source_id) >> (32 - 4);
}

/* Whether a record with event time t on p at time now leaves the result of
 * a recompute unchanged, so the scan can be skipped. It does when p was
 * active at the last recompute (p->memo: it had a maximum and was seen
 * within idle of then) and t does not raise p's maximum, and no partition
 * active then can have gone idle by now: the active set and every active
 * maximum are then those of the last recompute, whose minimum the
 * watermark already reached. (Only a recompute, which sets p->memo again,
 * or a change that drops the memo (calc_valid = 0) moves p's maximum; its
 * last_seen moves in skipped records too, to a time >= calc_now, where p
 * stays active.) */
static inline int sl_watermark_unchanged(const sl_watermark *w, const sl_wm_part *p, int64_t t,
                                         int64_t now) {
  return w->calc_valid && p->memo && t <= p->max_t && now >= w->calc_now && now < w->stable_until;
}

static inline int sl_watermark_observe(sl_watermark *w, int32_t source_id, int32_t partition,
                                       int64_t t, int64_t now) {
  uint32_t i = (uint32_t)w->cache[sl_watermark_slot(source_id, partition)] - 1;
  sl_wm_part *p = i < w->count ? &w->parts[i] : NULL;
  if (p && p->partition == partition && p->source_id == source_id &&
      sl_watermark_unchanged(w, p, t, now)) {
    p->last_seen = now;
    return 0;
  }
  return sl_watermark_observe_any(w, source_id, partition, t, now);
}

static inline void sl_watermark_admit(sl_watermark *w, int32_t source_id, int32_t partition,
                                      int64_t t) {
  if (w->pending_count)
    sl_watermark_admit_pending(w, source_id, partition, t);
}

#endif
