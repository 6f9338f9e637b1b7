/* SPDX-License-Identifier: Apache-2.0 */
/* The layout of the aligned-window store (window_store.h), for the one
 * thing done outside window_store.c: sl_wstore_join's common case, inline
 * in the window operator's per-record path (a call there cost about as
 * much as the lookup it made). Only window_store.c changes this state;
 * included by window_store.h, not to be included on its own. */
#ifndef SLUICE_WINDOW_STORE_LAYOUT_H
#define SLUICE_WINDOW_STORE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sluice/error.h"
#include "state/key_short.h"

/* Entry header. `key` packs the key's offset in the group's key bytes
 * (upper 29 bits) and the WF_* flags; part/snap index sl_wstore.parts. */
typedef struct went {
  uint32_t key;
  uint16_t part; /* partition of the last record: where results and snapshots go */
  uint16_t snap; /* where the snapshot holds it (WF_PERSISTED) */
} went;

#define WF_FIRED 0x1u     /* emitted at least once */
#define WF_PERSISTED 0x2u /* a snapshot holds it */
#define WF_DIRTY 0x4u     /* changed since the last snapshot (tracking on) */
#define WF_BITS 3u

struct sl_wsrc { /* a (source, partition) pair records came from */
  int32_t source_id, partition;
  uint16_t part; /* its partition's number in sl_wstore.parts */
};

struct sl_wgroup {
  int64_t start, end;
  size_t unfired;         /* entries not emitted yet: while > 0 the window fires at
                           * end (again, for a key that joins after a watermark
                           * moved back for a joining or restored partition) */
  uint32_t bits;          /* log2 of the slot count */
  uint32_t *slots;        /* 0 empty, else hash tag << bits | (entry number + 1) */
  unsigned char *entries; /* count entries of s->stride bytes */
  size_t count, cap;
  sl_buf keys;     /* per entry: length (1 byte < 0x80, else 0x80 lo hi), bytes */
  uint32_t *dirty; /* entry numbers flagged WF_DIRTY (may repeat none) */
  size_t ndirty, dirty_cap;
  int64_t *held; /* by pair number (sl_wstore.srcs): the smallest offset
                  * of the pair the window absorbed, -1 none */
  size_t nheld;
};

static inline went *sl_wst_ent(const sl_wstore *s, const sl_wgroup *g, size_t i) {
  return (went *)(g->entries + i * s->stride);
}

static inline void *sl_wst_blk(went *e) { return e + 1; }

static inline const unsigned char *sl_wst_key(const sl_wgroup *g, const went *e, size_t *len) {
  const unsigned char *p = (const unsigned char *)g->keys.data + (e->key >> WF_BITS);
  if (p[0] < 0x80) {
    *len = p[0];
    return p + 1;
  }
  *len = (size_t)p[1] | (size_t)p[2] << 8;
  return p + 3;
}

static inline uint32_t sl_wst_tag(uint32_t hash, uint32_t bits) { return hash >> bits; }

/* Entry number of key in g, -1 when it has none. */
static inline __attribute__((always_inline)) long
sl_wst_find(const sl_wstore *s, const sl_wgroup *g, uint32_t hash, const void *key, size_t len) {
  uint32_t mask = (UINT32_C(1) << g->bits) - 1, pos = hash & mask, tag = sl_wst_tag(hash, g->bits);
  for (uint32_t v; (v = g->slots[pos]) != 0; pos = (pos + 1) & mask) {
    if (v >> g->bits != tag)
      continue;
    size_t idx = (v & mask) - 1, klen;
    const unsigned char *k = sl_wst_key(g, sl_wst_ent(s, g, idx), &klen);
    if (klen == len && sl_key_same(k, key, len))
      return (long)idx;
  }
  return -1;
}

/* Records of a few partitions come interleaved (a source partitioned by
 * the window key sends each key's records on one partition): a pair's
 * number is found by one compare in a small direct-mapped cache. */
static inline size_t sl_wst_src_slot(int32_t source_id, int32_t partition) {
  return ((uint32_t)partition * 0x9e3779b1u + (uint32_t)source_id) >> (32 - 6);
}

int sl_wstore_join_any(sl_wstore *s, const sl_wjoin *j, sl_wref *out);

/* The common case inline, calling nothing: the key is in the window of the
 * record before, the pair is cached, the window already holds an offset
 * no larger, snapshots do not track the entry (or it is dirty already).
 * Anything else is sl_wstore_join_any: sl_wstore_get, then _absorb. */
static inline int sl_wstore_join(sl_wstore *s, const sl_wjoin *j, sl_wref *out) {
  sl_wgroup *g = s->last < s->ngroups ? s->groups[s->last] : NULL;
  if (!g || g->start != j->start)
    return sl_wstore_join_any(s, j, out);
  long idx = sl_wst_find(s, g, j->hash, j->key, j->len);
  uint32_t i = s->src_cache[sl_wst_src_slot(j->source_id, j->partition)] - 1;
  if (idx < 0 || i >= s->nsrcs || s->srcs[i].partition != j->partition ||
      s->srcs[i].source_id != j->source_id)
    return sl_wstore_join_any(s, j, out);
  went *e = sl_wst_ent(s, g, (size_t)idx);
  /* held[i] is -1 (as unsigned: the largest) when the window holds nothing
   * of the pair yet */
  if ((j->offset >= 0 && j->partition >= 0 &&
       (i >= g->nheld || (uint64_t)g->held[i] > (uint64_t)j->offset)) ||
      (s->tracking && !(e->key & WF_DIRTY)))
    return sl_wstore_join_any(s, j, out);
  e->part = s->srcs[i].part;
  out->g = g;
  out->idx = (uint32_t)idx;
  out->block = sl_wst_blk(e);
  out->end = g->end;
  return SL_OK;
}

#endif
