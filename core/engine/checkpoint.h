/* SPDX-License-Identifier: Apache-2.0 */
/* The checkpoint coordinator (state = "redis"): operator snapshots and the
 * next offsets of each partition written in one atomic step per partition,
 * guarded by the partition's epoch; restore on assignment; release on
 * revocation. The store is behind the interface of state_backend.h. */
#ifndef SLUICE_CHECKPOINT_H
#define SLUICE_CHECKPOINT_H

#include "engine/runtime_node.h"
#include "engine/state_backend.h"

typedef struct sl_ckpt sl_ckpt;

/* A coordinator writing to `store` (which it owns from now on, even when it
 * fails; NULL: returns NULL, err as set by the backend's constructor),
 * waiting up to `wait_ms` for the store to be reachable. NULL with err set. */
sl_ckpt *sl_ckpt_new(sl_runtime *rt, sl_state_backend *store, int64_t wait_ms, sl_error *err);
void sl_ckpt_free(sl_ckpt *c); /* NULL is a no-op */

/* A source got partitions: take new epochs, restore every stateful
 * operator fed by it, and return the stored next offsets (-1 if none). */
int sl_ckpt_assign(sl_ckpt *c, int32_t source_id, const int32_t *parts, size_t n,
                   int64_t *start_offsets, sl_error *err);
/* A source loses partitions: checkpoint them, then drop their state. */
int sl_ckpt_revoke(sl_ckpt *c, int32_t source_id, const int32_t *parts, size_t n, sl_error *err);
/* Note the next offset of a partition after records were polled. */
void sl_ckpt_note(sl_ckpt *c, int32_t source_id, int32_t partition, int64_t next_offset);
/* True when records of this partition must be skipped (fenced). */
int sl_ckpt_fenced(const sl_ckpt *c, int32_t source_id, int32_t partition);
/* Take a checkpoint (sinks must already be flushed). SL_ERR_UNAVAILABLE when
 * the store (Redis) is down: the staged checkpoint is kept and retried; *retry_in_ms
 * says when. On success the committed offsets are handed to the sources. */
int sl_ckpt_take(sl_ckpt *c, int64_t now_ms, int64_t *retry_in_ms, sl_error *err);
/* The store reachable and no checkpoint pending. */
int sl_ckpt_healthy(const sl_ckpt *c);
/* Whether the last sl_ckpt_take failed committing offsets to Kafka (the
 * Redis checkpoint itself was written), so logs name the right dependency. */
int sl_ckpt_kafka_failed(const sl_ckpt *c);

#endif
