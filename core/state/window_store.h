/* SPDX-License-Identifier: Apache-2.0 */
/* Window state for windows every key shares (tumbling, hopping): one group
 * per window [start, end), holding the entries of all its keys. The
 * session table (keyed_state.h) keeps per entry what is per window here —
 * the bounds, the timer, the held offsets, the hash link — so this store
 * needs about half the memory per key, which is what bounds how many
 * machines one worker can follow.
 *
 * A group fires when the watermark reaches end (every entry not fired yet is handed to the
 * emit callback, in key order) and is freed at end + lateness; groups
 * act in window-end order, so results come out ordered by (end, key).
 * Entries of a group leave it together, which makes the held offset of a
 * partition exact with one minimum per (group, partition) instead of one
 * per entry.
 *
 * An entry is 8 bytes of header and the aggregate block, in one array per
 * group; its key is in the group's key bytes (length-prefixed), found
 * through an open-addressing table of 32-bit slots (entry number plus hash
 * bits, so most misses never touch the key bytes). Snapshots use the same
 * entry form as keyed_state (sl_kstate_snap_*): either restores the other.
 * Pure computation, like keyed_state. */
#ifndef SLUICE_WINDOW_STORE_H
#define SLUICE_WINDOW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "state/aggregate.h"
#include "state/keyed_state.h"

typedef struct sl_wgroup sl_wgroup; /* window_store.c */
typedef struct sl_wsrc sl_wsrc;     /* window_store.c */

/* An entry: its group and number in it. Valid until the group changes
 * shape (sl_wstore_advance, _restore, _drop_partition); the block pointer
 * (here and of sl_wstore_block) until the next sl_wstore_get on the same
 * group. */
typedef struct sl_wref {
  sl_wgroup *g;
  uint32_t idx;
  void *block; /* its aggregate block */
  int64_t end; /* its window's end (sl_wstore_end) */
} sl_wref;

typedef struct sl_wview { /* an entry as the emit callback sees it */
  int64_t start, end;
  int32_t partition;        /* source partition of its last record */
  const unsigned char *key; /* canonical key bytes (sl_key_encode) */
  size_t key_len;
  const void *block; /* aggregate block */
} sl_wview;

typedef struct sl_wstore {
  const sl_agg_set *aggs;
  int64_t lateness;
  size_t stride;      /* bytes per entry: header + aggregate block */
  sl_wgroup **groups; /* malloc'd, sorted by start (= by end) */
  size_t ngroups, groups_cap, last;
  int64_t next_action; /* earliest action time of any group, INT64_MAX if none */
  int32_t *parts;      /* partition numbers; entries store an index */
  size_t nparts, parts_cap, parts_last;
  sl_wsrc *srcs; /* (source, partition) pairs seen, never removed: windows
                  * hold offsets per pair, by its number */
  size_t nsrcs, srcs_cap;
  uint32_t src_cache[64]; /* number + 1 of a pair, by a hash of the pair */
  int tracking;           /* a snapshot was taken: changes are tracked from then on */
  sl_buf deletes;         /* pending snapshot deletes: int32 partition, uint32 len, key */
  size_t count;           /* entries in all groups */
} sl_wstore;

int sl_wstore_init(sl_wstore *s, const sl_agg_set *aggs, int64_t lateness);
void sl_wstore_free(sl_wstore *s);

/* The entry of `key` (len bytes, hash sl_key_hash) in window [start, end),
 * created with an empty aggregate block when missing. SL_ERR_NOMEM, or
 * SL_ERR_LIMIT past 512 MiB of keys in one window or 65535 partitions. */
int sl_wstore_get(sl_wstore *s, int64_t start, int64_t end, uint32_t hash, const void *key,
                  size_t len, sl_wref *out);
/* A record joining a window: sl_wstore_get, then sl_wstore_absorb, in one
 * call (the window operator's per-record path; most records find their
 * key's entry in the window of the record before them). */
typedef struct sl_wjoin {
  int64_t start, end;
  const void *key; /* canonical key bytes, len of them, hash sl_key_hash */
  size_t len;
  uint32_t hash;
  int32_t source_id, partition; /* where the record came from */
  int64_t offset;
} sl_wjoin;
static inline int sl_wstore_join(sl_wstore *s, const sl_wjoin *j, sl_wref *out); /* below */
void *sl_wstore_block(const sl_wstore *s, sl_wref r);
void sl_wstore_view(const sl_wstore *s, sl_wref r, sl_wview *out);
int64_t sl_wstore_end(sl_wref r); /* end of the entry's window */
/* The entry absorbed a record of (source_id, partition) at `offset`: the
 * result's partition becomes `partition`, the window holds the offset
 * (positions < 0 hold nothing), the entry is due in the next snapshot. */
int sl_wstore_absorb(sl_wstore *s, sl_wref r, int32_t source_id, int32_t partition, int64_t offset);
int sl_wstore_fired(const sl_wstore *s, sl_wref r);
/* Mark it emitted (due in the next snapshot). SL_ERR_NOMEM. */
int sl_wstore_set_fired(sl_wstore *s, sl_wref r);

/* Emit every entry not fired of each window with end <= wm (window by
 * window in end order, keys in byte order), then free the windows whose
 * lateness ran out, queueing snapshot deletes for what a snapshot holds.
 * Stops at the first callback error and returns it. */
typedef int (*sl_wstore_emit_fn)(void *ctx, const sl_wview *e);
int sl_wstore_advance(sl_wstore *s, int64_t wm, sl_wstore_emit_fn emit, void *ctx);

/* Write changed entries and pending deletes (every entry the first time). */
int sl_wstore_snapshot(sl_wstore *s, sl_kstate_put_fn put, sl_kstate_del_fn del, void *ctx);
/* Rebuild one entry from a snapshot key/value; restoring twice replaces. */
int sl_wstore_restore(sl_wstore *s, int32_t partition, const void *key, size_t key_len,
                      const void *val, size_t val_len);
/* Forget a partition's entries without deleting them from the snapshot
 * (the partition's new owner restores them). A window that keeps other
 * entries keeps its held offsets of the partition too (see window_store.c). */
int sl_wstore_drop_partition(sl_wstore *s, int32_t partition);
/* Smallest offset of (source_id, partition) an open window holds, -1 if none. */
int64_t sl_wstore_held_offset(const sl_wstore *s, int32_t source_id, int32_t partition);

#include "state/window_store_layout.h" /* sl_wstore_join, inline */

#endif
