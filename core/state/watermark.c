/* SPDX-License-Identifier: Apache-2.0 */
/* Per-partition watermark tracking with idleness (see watermark.h). The
 * partition count is small (tens), so a linear scan per advance is cheaper
 * than any structure that would need maintenance. */
#include <stdlib.h>
#include <string.h>

#include "sluice/operator.h"
#include "state/watermark.h"
#include "state/window_assign.h"

void sl_watermark_init(sl_watermark *w, int64_t delay, int64_t idle) {
  w->parts = NULL;
  w->count = w->cap = 0;
  w->delay = delay;
  w->idle = idle;
  w->current = SL_WATERMARK_NONE;
  w->pending_count = 0;
  w->calc_valid = 0;
  w->calc_now = w->stable_until = 0;
  memset(w->cache, 0, sizeof w->cache);
}

void sl_watermark_free(sl_watermark *w) {
  free(w->parts);
  w->parts = NULL;
  w->count = w->cap = 0;
}

static sl_wm_part *find_or_add(sl_watermark *w, int32_t source_id, int32_t partition) {
  size_t i = 0;
  while (i < w->count && (w->parts[i].source_id != source_id || w->parts[i].partition != partition))
    i++;
  if (i < UINT16_MAX) /* parts move only when one is dropped, which clears the cache */
    w->cache[sl_watermark_slot(source_id, partition)] = (uint16_t)(i + 1);
  if (i < w->count)
    return &w->parts[i];
  if (w->count == w->cap) {
    size_t ncap = w->cap ? w->cap * 2 : 8;
    sl_wm_part *n = realloc(w->parts, ncap * sizeof *n);
    if (!n)
      return NULL;
    w->parts = n;
    w->cap = ncap;
  }
  sl_wm_part *p = &w->parts[w->count++];
  p->source_id = source_id;
  p->partition = partition;
  p->max_t = SL_WATERMARK_NONE;
  p->last_seen = INT64_MIN;
  p->pending = 0;
  p->memo = 0;
  return p;
}

/* Also memoises when the result can next change without a new maximum:
 * when the first active partition goes idle (capped at now + idle, so that
 * partitions seen again later, possibly at an earlier `now` if the wall
 * clock stepped back, stay active until then too). */
static void recompute(sl_watermark *w, int64_t now) {
  int64_t min = INT64_MAX;
  int64_t until = sl_sat_add(now, w->idle);
  int any = 0;
  for (size_t i = 0; i < w->count; i++) {
    sl_wm_part *p = &w->parts[i];
    int64_t deadline = sl_sat_add(p->last_seen, w->idle);
    p->memo = p->max_t != SL_WATERMARK_NONE && deadline > now;
    if (!p->memo)
      continue; /* idle (or silent so far): it must not hold the others back */
    int64_t pw = sl_sat_add(p->max_t, -w->delay);
    if (pw < min)
      min = pw;
    if (deadline < until)
      until = deadline;
    any = 1;
  }
  if (any && min > w->current)
    w->current = min;
  w->calc_valid = 1;
  w->calc_now = now;
  w->stable_until = until;
}

int sl_watermark_observe_any(sl_watermark *w, int32_t source_id, int32_t partition, int64_t t,
                             int64_t now) {
  sl_wm_part *p = find_or_add(w, source_id, partition);
  if (!p)
    return SL_ERR_NOMEM;
  if (sl_watermark_unchanged(w, p, t, now)) {
    p->last_seen = now;
    return 0;
  }
  p->last_seen = now;
  if (t > p->max_t)
    p->max_t = t;
  recompute(w, now);
  return 0;
}

void sl_watermark_admit_pending(sl_watermark *w, int32_t source_id, int32_t partition, int64_t t) {
  for (size_t i = 0; i < w->count; i++) {
    sl_wm_part *p = &w->parts[i];
    if (p->source_id != source_id || p->partition != partition || !p->pending)
      continue;
    /* The first record of a newly assigned partition is not late because
     * the partitions this worker already had ran ahead. */
    p->pending = 0;
    w->pending_count--;
    w->calc_valid = 0;
    int64_t pw = sl_sat_add(t, -w->delay);
    if (w->current != SL_WATERMARK_NONE && pw < w->current)
      w->current = pw;
    return;
  }
}

int sl_watermark_assign(sl_watermark *w, int32_t source_id, int32_t partition, int64_t now) {
  sl_wm_part *p = find_or_add(w, source_id, partition);
  if (!p)
    return SL_ERR_NOMEM;
  if (p->max_t == SL_WATERMARK_NONE && !p->pending) {
    p->pending = 1;
    w->pending_count++;
  }
  p->last_seen = now;
  w->calc_valid = 0;
  return 0;
}

void sl_watermark_tick(sl_watermark *w, int64_t now) { recompute(w, now); }

void sl_watermark_force(sl_watermark *w, int64_t wm) {
  if (wm > w->current)
    w->current = wm;
}

int sl_watermark_restore_part(sl_watermark *w, int32_t source_id, int32_t partition, int64_t max_t,
                              int64_t wm, int64_t now) {
  /* An entry without a maximum (written before this was fixed, for a
   * partition that had sent nothing) says nothing about the partition: it
   * stays pending, and its first record decides its watermark. */
  if (max_t == SL_WATERMARK_NONE)
    return 0;
  sl_wm_part *p = find_or_add(w, source_id, partition);
  if (!p)
    return SL_ERR_NOMEM;
  if (max_t > p->max_t)
    p->max_t = max_t;
  if (p->pending) {
    p->pending = 0;
    w->pending_count--;
  }
  p->last_seen = now;
  w->calc_valid = 0;
  /* Windows of this partition that were open at the checkpoint stay open
   * here: the watermark falls back to where it was on the old worker, so
   * the partition's next records are judged exactly as they would have
   * been there (a restart continues as if it had not happened). */
  if (wm != SL_WATERMARK_NONE && (w->current == SL_WATERMARK_NONE || wm < w->current))
    w->current = wm;
  return 0;
}

void sl_watermark_drop_partition(sl_watermark *w, int32_t partition) {
  size_t j = 0;
  for (size_t i = 0; i < w->count; i++) {
    if (w->parts[i].partition != partition)
      w->parts[j++] = w->parts[i];
    else if (w->parts[i].pending)
      w->pending_count--;
  }
  w->count = j;
  w->calc_valid = 0;
  memset(w->cache, 0, sizeof w->cache);
}
