/* SPDX-License-Identifier: Apache-2.0 */
/* Window state of one operator: (key bytes, window start) -> entry holding
 * the window end, flags and the aggregate state block, in one allocation.
 * Also a min-heap of entries by their next action time (fire or close), a
 * dirty list for incremental snapshots and the pending snapshot deletes of
 * closed windows. Pure computation: snapshots go through callbacks, so any
 * backend (memory, Redis) plugs in behind the operator's host table.
 *
 * Keys are canonical, order-preserving byte encodings of the key values
 * (sl_key_encode), so comparing keys is memcmp and "ordered by key" is the
 * bytewise order of these encodings. */
#ifndef SLUICE_KEYED_STATE_H
#define SLUICE_KEYED_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/hash64.h"
#include "sluice/record.h"
#include "state/aggregate.h"

#define SL_KE_FIRED 0x1u     /* emitted at least once; next action is closing */
#define SL_KE_PERSISTED 0x2u /* a snapshot holds it under snap_partition */
#define SL_KE_EXTRA 0x4u     /* holds records of more than one source partition */

/* One (entry, source partition) pair: the entry holds records of that
 * partition, the smallest offset of which is `offset`. The first pair of an
 * entry is inline; further pairs (an input not partitioned by the window
 * key) live in sl_khold_extra nodes. Every pair in use sits in its
 * partition's min-heap, so the held offset of a partition is its heap top. */
typedef struct sl_khold {
  int64_t offset;
  uint32_t part; /* index into sl_kstate.held */
  uint32_t idx;  /* position in that partition's heap; UINT32_MAX: unused */
} sl_khold;

typedef struct sl_kentry {
  struct sl_kentry *next; /* hash chain */
  int64_t start, end;     /* the window [start, end) */
  uint32_t hash;          /* of the key bytes */
  int32_t partition;      /* source partition of the last record */
  int32_t snap_partition; /* where the snapshot holds it (SL_KE_PERSISTED) */
  uint32_t heap_idx;
  uint32_t dirty_idx; /* UINT32_MAX when clean */
  uint16_t key_len;
  uint8_t flags; /* SL_KE_* */
  uint8_t pad_;
  sl_khold hold; /* its first source partition (see sl_khold) */
  /* followed by the aggregate block (8-aligned), then key_len key bytes */
} sl_kentry;

typedef struct sl_khold_extra {
  sl_khold h;
  struct sl_kentry *owner;
  struct sl_khold_extra *next; /* chain of the hash of `owner` */
} sl_khold_extra;

typedef struct sl_kheld_part { /* held records of one source partition */
  int32_t source_id, partition;
  sl_khold **heap; /* min-heap by offset */
  size_t len, cap;
} sl_kheld_part;

typedef struct sl_kstate {
  sl_kentry **buckets; /* power of two */
  size_t nbuckets, count;
  sl_kentry **heap; /* by sl_kstate_action_time */
  size_t heap_len, heap_cap;
  sl_kentry **dirty; /* entries changed since the last snapshot (NULL: removed) */
  size_t dirty_len, dirty_cap;
  int tracking;   /* a snapshot was taken; before that (memory state) nothing is tracked */
  sl_buf deletes; /* pending snapshot deletes: int32 partition, uint32 len, bytes */
  const sl_agg_set *aggs;
  int64_t lateness;
  sl_kheld_part *held; /* source partitions seen with offsets */
  size_t held_count, held_cap, held_last;
  sl_khold_extra **extra; /* chained hash by owner entry, power of two */
  size_t extra_nbuckets, extra_count;
} sl_kstate;

int sl_kstate_init(sl_kstate *s, const sl_agg_set *aggs, int64_t lateness);
void sl_kstate_free(sl_kstate *s); /* frees every entry */

static inline void *sl_kentry_block(sl_kentry *e) { return (char *)(e + 1); }
const unsigned char *sl_kentry_key(const sl_kstate *s, const sl_kentry *e);
/* Hash of canonical key bytes, for the in-memory tables (never stored:
 * tables are rebuilt from keys on restore, so it may change). */
static inline uint32_t sl_key_hash(const void *key, size_t len) {
  return (uint32_t)(sl_hash64_short(key, len, 0x77696e64) >> 32);
}

/* The entry of (key, start), or NULL. */
sl_kentry *sl_kstate_find(const sl_kstate *s, uint32_t hash, const void *key, size_t len,
                          int64_t start);
/* Up to `max` entries of `key` (any window) into out; returns how many exist. */
size_t sl_kstate_key_entries(const sl_kstate *s, uint32_t hash, const void *key, size_t len,
                             sl_kentry **out, size_t max);
/* New entry with an initialised aggregate block, in the heap and dirty. NULL on OOM. */
sl_kentry *sl_kstate_insert(sl_kstate *s, uint32_t hash, const void *key, size_t len, int64_t start,
                            int64_t end, int32_t partition);
/* Change the window bounds (sessions); keeps the snapshot consistent. */
int sl_kstate_rebound(sl_kstate *s, sl_kentry *e, int64_t start, int64_t end);
int sl_kstate_touch(sl_kstate *s, sl_kentry *e); /* mark changed */
void sl_kstate_set_fired(sl_kstate *s, sl_kentry *e, int fired);
/* Unlink and free; queues a snapshot delete when persisted. */
int sl_kstate_remove(sl_kstate *s, sl_kentry *e);

/* When the entry must act: when the watermark reaches end (fire), then end +
 * lateness (close), SPEC section 5. */
int64_t sl_kstate_action_time(const sl_kstate *s, const sl_kentry *e);
/* Entry with the smallest action time, NULL if empty. */
static inline sl_kentry *sl_kstate_top(const sl_kstate *s) {
  return s->heap_len ? s->heap[0] : NULL;
}
void sl_kstate_heap_update(sl_kstate *s, sl_kentry *e);
/* Take the top entry out of the heap (it must then be removed). */
sl_kentry *sl_kstate_pop(sl_kstate *s);

/* Snapshot callbacks (the operator forwards them to host->snapshot_*). */
typedef int (*sl_kstate_put_fn)(void *ctx, int32_t partition, const void *key, size_t key_len,
                                const void *val, size_t val_len);
typedef int (*sl_kstate_del_fn)(void *ctx, int32_t partition, const void *key, size_t key_len);
/* Write dirty entries and pending deletes, then forget them. Changes are
 * tracked only from the first snapshot on (which writes every entry), so a
 * table that is never snapshotted (memory state) keeps no change list. */
int sl_kstate_snapshot(sl_kstate *s, sl_kstate_put_fn put, sl_kstate_del_fn del, void *ctx);
/* Rebuild one entry from a snapshot key/value (keys start with SL_KSTATE_TAG). */
int sl_kstate_restore(sl_kstate *s, int32_t partition, const void *key, size_t key_len,
                      const void *val, size_t val_len);
/* Forget a partition's entries without deleting them from the snapshot
 * (the partition's new owner restores them). */
void sl_kstate_drop_partition(sl_kstate *s, int32_t partition);

/* ---- held offsets (core/state/keyed_held.c) -------------------------------------
 * Which records the table still holds: an entry holds every record it
 * absorbed from the moment it opens until it is removed (closed, merged
 * into another session, dropped with its partition). Restored entries hold
 * nothing of before the restore: a checkpoint covers those records. */

/* Entry e absorbed a record at `offset` of (source_id, partition); records
 * without a position (partition or offset < 0) are ignored. SL_ERR_NOMEM. */
int sl_kstate_hold(sl_kstate *s, sl_kentry *e, int32_t source_id, int32_t partition,
                   int64_t offset);
/* Session merge: dst now holds what src held (call before removing src). */
int sl_kstate_hold_merge(sl_kstate *s, sl_kentry *dst, sl_kentry *src);
/* Smallest offset of (source_id, partition) any entry holds, -1 if none. */
int64_t sl_kstate_held_offset(const sl_kstate *s, int32_t source_id, int32_t partition);
/* Internal to the table: release every pair of e / free the structures. */
void sl_kstate_unhold(sl_kstate *s, sl_kentry *e);
void sl_kstate_held_free(sl_kstate *s);

#define SL_KSTATE_TAG 0x01 /* first byte of window snapshot keys */

/* The snapshot form of one (key, window) entry, shared by this table and
 * the aligned-window store (core/state/window_store.c) so that either restores
 * what the other wrote. Key: tag, zigzag(start), key bytes. Value: version
 * 1, zigzag(end), fired, then the aggregate block (sl_agg_serialize). */
int sl_kstate_snap_key(sl_buf *out, int64_t start, const void *key, size_t len);
int sl_kstate_snap_value(sl_buf *out, int64_t end, int fired, const sl_agg_set *aggs,
                         const void *block);
typedef struct sl_kstate_snap { /* a parsed entry; pointers into the input */
  int64_t start, end;
  int fired;
  const unsigned char *key, *agg;
  size_t key_len, agg_len;
} sl_kstate_snap;
/* Pending snapshot deletes (of closed or moved entries), kept in an sl_buf
 * as records of int32 partition, uint32 length, snapshot key, until the
 * next snapshot sends them. */
int sl_kstate_deletes_queue(sl_buf *deletes, int32_t partition, int64_t start, const void *key,
                            size_t len);
/* Send every pending delete through del, then empty the list. */
int sl_kstate_deletes_flush(sl_buf *deletes, sl_kstate_del_fn del, void *ctx);
/* Forget the pending deletes of a partition (its new owner has that state). */
void sl_kstate_deletes_drop(sl_buf *deletes, int32_t partition);
/* SL_ERR_PARSE on a malformed entry. */
int sl_kstate_snap_parse(const void *key, size_t key_len, const void *val, size_t val_len,
                         sl_kstate_snap *out);

/* ---- canonical key encoding --------------------------------------------- */

/* Append the canonical encoding of a scalar: tag, then an order-preserving
 * payload (ints and doubles big-endian with the sign flipped, strings with
 * 0x00 escaped and a 0x00 0x01 terminator). SL_ERR_TYPE for records and
 * arrays, SL_ERR_NOMEM. */
int sl_key_encode(const sl_value *v, sl_buf *out);
/* Decode one value (strings copied into `a`); SL_ERR_PARSE if malformed. */
int sl_key_decode(const unsigned char **p, const unsigned char *end, sl_arena *a, sl_value *out);
/* Append the value's text form ("m1", "42", "true", "" for null) to out. */
int sl_key_text(const sl_value *v, sl_buf *out);

#endif
