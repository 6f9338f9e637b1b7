/* SPDX-License-Identifier: Apache-2.0 */
/* What a pipeline keeps in Redis, seen from outside the running workers:
 * the inventory of its partitions (epoch, stored offset, each operator's
 * state hash), the state metadata (which node ids, kinds and state shapes
 * wrote it), and removal of one operator's state or of everything. Used by
 * the state compatibility check at start and by `sluice state`.
 *
 * Keys (besides those of redis.h):
 *   sl:{P}:nodes   hash: node id -> "TYPE\nTOPIC\nSHAPE" of each stateful
 *                  node of the pipeline that last started (state_compat.c)
 *
 * Ownership: everything returned is malloc'd and freed with the matching
 * _free function. */
#ifndef SLUICE_REDIS_STATE_H
#define SLUICE_REDIS_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

typedef struct sl_state_op_info {
  char *id;       /* operator (node) id */
  size_t entries; /* fields of its state hash */
  size_t bytes;   /* sum of field and value lengths (0 unless sizes asked) */
} sl_state_op_info;

typedef struct sl_state_part_info {
  char *topic;
  int32_t partition;
  int64_t epoch;       /* 0: none stored */
  int64_t next_offset; /* -1: none stored */
  sl_state_op_info *ops;
  size_t nops;
} sl_state_part_info;

typedef struct sl_state_inventory {
  sl_state_part_info *parts; /* sorted by topic, then partition */
  size_t nparts;
} sl_state_inventory;

/* SCAN the pipeline's partition keys (sl:{P:*}). With `sizes`, also count
 * each state hash's entries (HLEN) and bytes (HSCAN). A key is read as
 * "sl:{P:TOPIC:N}"; since a pipeline named "P:x" has keys of the same
 * form, a TOPIC containing ':' (never a Kafka topic) counts only when it is
 * one of `topics` (the pipeline's own sources; may be NULL). */
int sl_state_inventory_load(sl_redis *r, const char *pipeline, const char *const *topics,
                            size_t ntopics, int sizes, sl_state_inventory *inv, sl_error *err);
void sl_state_inventory_free(sl_state_inventory *inv); /* the contents; NULL no-op */

typedef struct sl_state_meta {
  char *id, *type, *topic, *shape;
} sl_state_meta;

/* The stored metadata; *n = 0 and *present = 0 when none was ever written
 * (state of a sluice before stable ids, or no state at all). */
int sl_state_meta_read(sl_redis *r, const char *pipeline, sl_state_meta **out, size_t *n,
                       int *present, sl_error *err);
/* Replace the stored metadata with `m` (MULTI/EXEC). */
int sl_state_meta_write(sl_redis *r, const char *pipeline, const sl_state_meta *m, size_t n,
                        sl_error *err);
void sl_state_meta_free(sl_state_meta *m, size_t n);

/* Delete the state hash of operator `id` in every partition of `inv` and
 * its metadata entry; *deleted = hashes removed. */
int sl_state_drop_op(sl_redis *r, const char *pipeline, const sl_state_inventory *inv,
                     const char *id, size_t *deleted, sl_error *err);
/* Delete every key of `inv` (epochs, offsets, state), the metadata and the
 * pipeline's firing alerts (sl:alerts:P); *deleted = keys removed. */
int sl_state_reset(sl_redis *r, const char *pipeline, const sl_state_inventory *inv,
                   size_t *deleted, sl_error *err);

#endif
