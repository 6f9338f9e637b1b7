/* SPDX-License-Identifier: Apache-2.0 */
/* Held offsets of the window state table: for every source partition, the
 * smallest offset of a record still held by an open entry, so that with the
 * memory state backend the engine never commits past a record whose effect
 * was not emitted yet.
 *
 * Design: an entry remembers, per source partition that fed it, the
 * smallest offset it absorbed from there (a "pair", sl_khold). Each
 * partition keeps an indexed min-heap of its pairs, so the answer is the
 * heap top (O(1)), a record costs O(1) when its offset is not a new minimum
 * of its pair (the usual case: offsets grow) and O(log n) otherwise, and
 * removing an entry costs O(log n) per pair. The first pair is inline in the
 * entry (16 bytes); an entry fed by several partitions (input not
 * partitioned by the window key) keeps further pairs in nodes of a hash by
 * owner entry, flagged by SL_KE_EXTRA so single-partition entries never
 * look there. Exact, not an approximation: the brute-force test compares it
 * with the minimum over the records of the open windows. */
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"
#include "state/keyed_state.h"

#define NO_IDX UINT32_MAX

/* ---- partitions ----------------------------------------------------------- */

/* Index of (source, partition) in s->held, or -1. Linear with a one-entry
 * cache: a batch's records mostly come from one partition, and a worker
 * owns tens of partitions, not thousands. */
static long find_part(const sl_kstate *s, int32_t source_id, int32_t partition) {
  size_t last = s->held_last;
  if (last < s->held_count && s->held[last].source_id == source_id &&
      s->held[last].partition == partition)
    return (long)last;
  for (size_t i = 0; i < s->held_count; i++)
    if (s->held[i].source_id == source_id && s->held[i].partition == partition)
      return (long)i;
  return -1;
}

static long get_part(sl_kstate *s, int32_t source_id, int32_t partition) {
  long i = find_part(s, source_id, partition);
  if (i >= 0) {
    s->held_last = (size_t)i;
    return i;
  }
  if (s->held_count == s->held_cap) {
    size_t ncap = s->held_cap ? s->held_cap * 2 : 8;
    sl_kheld_part *n = realloc(s->held, ncap * sizeof *n);
    if (!n)
      return -1;
    s->held = n;
    s->held_cap = ncap;
  }
  sl_kheld_part *p = &s->held[s->held_count];
  memset(p, 0, sizeof *p);
  p->source_id = source_id;
  p->partition = partition;
  s->held_last = s->held_count;
  return (long)s->held_count++;
}

/* ---- per-partition min-heap of pairs -------------------------------------- */

static void hset(sl_kheld_part *p, size_t i, sl_khold *h) {
  p->heap[i] = h;
  h->idx = (uint32_t)i;
}

static void hup(sl_kheld_part *p, size_t i) {
  sl_khold *h = p->heap[i];
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (p->heap[up]->offset <= h->offset)
      break;
    hset(p, i, p->heap[up]);
    i = up;
  }
  hset(p, i, h);
}

static void hdown(sl_kheld_part *p, size_t i) {
  sl_khold *h = p->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= p->len)
      break;
    if (c + 1 < p->len && p->heap[c + 1]->offset < p->heap[c]->offset)
      c++;
    if (p->heap[c]->offset >= h->offset)
      break;
    hset(p, i, p->heap[c]);
    i = c;
  }
  hset(p, i, h);
}

static int hpush(sl_kheld_part *p, sl_khold *h) {
  if (p->len == p->cap) {
    size_t ncap = p->cap ? p->cap + p->cap / 2 : 64; /* 1.5x: bounds the slack per entry */
    sl_khold **n = realloc(p->heap, ncap * sizeof *n);
    if (!n)
      return SL_ERR_NOMEM;
    p->heap = n;
    p->cap = ncap;
  }
  hset(p, p->len++, h);
  hup(p, p->len - 1);
  return SL_OK;
}

static void hremove(sl_kstate *s, sl_khold *h) {
  if (h->idx == NO_IDX)
    return;
  sl_kheld_part *p = &s->held[h->part];
  size_t i = h->idx;
  h->idx = NO_IDX;
  sl_khold *last = p->heap[--p->len];
  if (i == p->len)
    return;
  hset(p, i, last);
  hup(p, i);
  hdown(p, last->idx);
}

/* A pair saw `offset`: lower its minimum if needed (only ever decreases). */
static void hlower(sl_kstate *s, sl_khold *h, int64_t offset) {
  if (offset >= h->offset)
    return;
  h->offset = offset;
  hup(&s->held[h->part], h->idx);
}

/* ---- extra pairs, by owner entry ------------------------------------------ */

static size_t owner_bucket(const sl_kstate *s, const sl_kentry *e) {
  uintptr_t u = (uintptr_t)e;
  u ^= u >> 17;
  u *= (uintptr_t)0x9E3779B97F4A7C15ull;
  return (size_t)(u >> 20) & (s->extra_nbuckets - 1);
}

static int grow_extra(sl_kstate *s) {
  size_t old_n = s->extra_nbuckets, n = old_n ? old_n * 2 : 64;
  sl_khold_extra **b = calloc(n, sizeof *b), **old = s->extra;
  if (!b)
    return SL_ERR_NOMEM;
  s->extra = b;
  s->extra_nbuckets = n;
  for (size_t i = 0; i < old_n; i++) {
    sl_khold_extra *x = old[i];
    while (x) {
      sl_khold_extra *next = x->next;
      size_t k = owner_bucket(s, x->owner);
      x->next = b[k];
      b[k] = x;
      x = next;
    }
  }
  free(old);
  return SL_OK;
}

static sl_khold_extra *find_extra(const sl_kstate *s, const sl_kentry *e, uint32_t part) {
  for (sl_khold_extra *x = s->extra[owner_bucket(s, e)]; x; x = x->next)
    if (x->owner == e && x->h.part == part)
      return x;
  return NULL;
}

static int add_extra(sl_kstate *s, sl_kentry *e, uint32_t part, int64_t offset) {
  if (s->extra_count >= s->extra_nbuckets && grow_extra(s) != SL_OK)
    return SL_ERR_NOMEM;
  sl_khold_extra *x = malloc(sizeof *x);
  if (!x)
    return SL_ERR_NOMEM;
  x->h.offset = offset;
  x->h.part = part;
  x->owner = e;
  if (hpush(&s->held[part], &x->h) != SL_OK) {
    free(x);
    return SL_ERR_NOMEM;
  }
  size_t k = owner_bucket(s, e);
  x->next = s->extra[k];
  s->extra[k] = x;
  s->extra_count++;
  e->flags |= SL_KE_EXTRA;
  return SL_OK;
}

/* Unlink and return any one extra pair of e, NULL when none is left. */
static sl_khold_extra *take_extra(sl_kstate *s, sl_kentry *e) {
  if (!(e->flags & SL_KE_EXTRA))
    return NULL;
  for (sl_khold_extra **pp = &s->extra[owner_bucket(s, e)]; *pp; pp = &(*pp)->next)
    if ((*pp)->owner == e) {
      sl_khold_extra *x = *pp;
      *pp = x->next;
      s->extra_count--;
      hremove(s, &x->h);
      return x;
    }
  e->flags &= (uint8_t)~SL_KE_EXTRA;
  return NULL;
}

/* ---- API ------------------------------------------------------------------- */

static int hold_part(sl_kstate *s, sl_kentry *e, uint32_t part, int64_t offset) {
  if (e->hold.idx == NO_IDX) { /* its first pair: inline */
    e->hold.offset = offset;
    e->hold.part = part;
    return hpush(&s->held[part], &e->hold);
  }
  if (e->hold.part == part) {
    hlower(s, &e->hold, offset);
    return SL_OK;
  }
  sl_khold_extra *x = (e->flags & SL_KE_EXTRA) ? find_extra(s, e, part) : NULL;
  if (x) {
    hlower(s, &x->h, offset);
    return SL_OK;
  }
  return add_extra(s, e, part, offset);
}

int sl_kstate_hold(sl_kstate *s, sl_kentry *e, int32_t source_id, int32_t partition,
                   int64_t offset) {
  if (partition < 0 || offset < 0)
    return SL_OK;
  long part = get_part(s, source_id, partition);
  if (part < 0)
    return SL_ERR_NOMEM;
  return hold_part(s, e, (uint32_t)part, offset);
}

int sl_kstate_hold_merge(sl_kstate *s, sl_kentry *dst, sl_kentry *src) {
  int rc = SL_OK;
  if (src->hold.idx != NO_IDX) {
    uint32_t part = src->hold.part;
    int64_t off = src->hold.offset;
    hremove(s, &src->hold);
    rc = hold_part(s, dst, part, off);
  }
  sl_khold_extra *x;
  while ((x = take_extra(s, src))) {
    int r2 = hold_part(s, dst, x->h.part, x->h.offset);
    free(x);
    if (rc == SL_OK)
      rc = r2;
  }
  return rc;
}

int64_t sl_kstate_held_offset(const sl_kstate *s, int32_t source_id, int32_t partition) {
  long i = find_part(s, source_id, partition);
  if (i < 0 || s->held[i].len == 0)
    return -1;
  return s->held[i].heap[0]->offset;
}

void sl_kstate_unhold(sl_kstate *s, sl_kentry *e) {
  hremove(s, &e->hold);
  sl_khold_extra *x;
  while ((x = take_extra(s, e)))
    free(x);
}

void sl_kstate_held_free(sl_kstate *s) {
  for (size_t i = 0; i < s->extra_nbuckets; i++) {
    sl_khold_extra *x = s->extra[i];
    while (x) {
      sl_khold_extra *next = x->next;
      free(x);
      x = next;
    }
  }
  free(s->extra);
  for (size_t i = 0; i < s->held_count; i++)
    free(s->held[i].heap);
  free(s->held);
  s->extra = NULL;
  s->held = NULL;
  s->extra_nbuckets = s->extra_count = s->held_count = s->held_cap = 0;
}
