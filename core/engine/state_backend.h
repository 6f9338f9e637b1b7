/* SPDX-License-Identifier: Apache-2.0 */
/* The state backend of exactly-once checkpoints (SPEC.md section 7): where
 * the operators' state and the next offset of each source partition are
 * stored. The checkpoint coordinator (checkpoint.c) reaches the store through
 * these calls only, so another backend plugs in without touching it: Redis
 * (single, Sentinel and Cluster) is connectors/redis_backend.c; the unit
 * tests run the coordinator against an in-memory one
 * (tests/core/engine/test_checkpoint.c).
 *
 * The contract, for the partitions (topic, partition) of one pipeline:
 *   connect  reach the store now, never sleeping (the coordinator retries)
 *   fence    take a new epoch for a partition on assignment; every older
 *            epoch is refused from then on (the previous owner is fenced)
 *   restore  stream the stored state of the partition's operators, and
 *            return its stored next offset
 *   begin    start staging a checkpoint (drops whatever was staged)
 *   put/del  stage a change of one operator's state key; changes of the
 *            same key apply in call order
 *   commit   write what is staged together with each partition's next
 *            offset: per partition in ONE atomic step, and only while the
 *            store's epoch of the partition is still the one given
 *
 * Ownership: every call copies what it keeps; strings a backend returns are
 * its own. A backend is used by one thread at a time (the runtime's). */
#ifndef SLUICE_STATE_BACKEND_H
#define SLUICE_STATE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

/* The epoch and next offset a checkpoint commits for one partition. */
typedef struct sl_state_offset {
  const char *topic;
  int32_t partition;
  int64_t epoch;       /* from fence(); the commit is refused if it is stale */
  int64_t next_offset; /* < 0: keep the stored one */
} sl_state_offset;

/* A partition whose epoch check failed at commit: a newer worker owns it. */
typedef struct sl_fenced {
  const char *topic; /* owned by the backend, valid until the next begin */
  int32_t partition;
  int64_t epoch;         /* the epoch we committed with */
  int64_t current_epoch; /* the epoch stored (0: none) */
} sl_fenced;

/* One stored entry of operator `op_id` (buffers valid for the call only). A
 * non-zero return stops the restore and is returned by it. */
typedef int (*sl_state_entry_fn)(void *ud, const char *op_id, const void *k, size_t kl,
                                 const void *v, size_t vl);

typedef struct sl_state_backend sl_state_backend;

typedef struct sl_state_backend_ops {
  /* One attempt to reach the store now if it is not reachable and its retry
   * delay has passed. SL_OK when reachable; SL_ERR_UNAVAILABLE (retriable)
   * with *retry_in_ms until the next attempt is due; SL_ERR_INVALID for a
   * configuration the store refuses (credentials, permissions). */
  int (*connect)(sl_state_backend *b, int64_t now_ms, int64_t *retry_in_ms, sl_error *err);
  /* Reachable at the last call (no I/O: /readyz asks it). */
  int (*connected)(const sl_state_backend *b);
  /* Where the state lives, for logs (never a password); a warning found
   * when connecting (an unsafe setting), or NULL. Both owned by `b`. */
  const char *(*describe)(const sl_state_backend *b);
  const char *(*warning)(const sl_state_backend *b);

  /* A new epoch for the partition in *epoch (> 0). */
  int (*fence)(sl_state_backend *b, const char *topic, int32_t partition, int64_t *epoch,
               sl_error *err);
  /* Every stored (op_id, key, value) of the partition's operators `op_ids`
   * to `cb`, and the stored next offset in *next_offset (-1 if none). */
  int (*restore)(sl_state_backend *b, const char *topic, int32_t partition,
                 const char *const *op_ids, size_t nops, sl_state_entry_fn cb, void *ud,
                 int64_t *next_offset, sl_error *err);

  /* Start a checkpoint: drop whatever is staged (the coordinator also calls
   * it after a commit, to release the staged bytes at once). */
  void (*begin)(sl_state_backend *b);
  int (*put)(sl_state_backend *b, const char *topic, int32_t partition, const char *op_id,
             const void *key, size_t klen, const void *val, size_t vlen);
  int (*del)(sl_state_backend *b, const char *topic, int32_t partition, const char *op_id,
             const void *key, size_t klen);
  /* Write the staged changes and `offs` (every partition with staged changes
   * is among them). SL_OK: all written. SL_ERR_FENCED: the partitions listed
   * in *fenced / *nfenced were refused and nothing of theirs written; the
   * others were. SL_ERR_UNAVAILABLE: the outcome of each partition is
   * unknown; the coordinator calls commit again with the same staged
   * changes and offsets, which must be idempotent. The staged changes stay
   * until the next begin. */
  int (*commit)(sl_state_backend *b, const sl_state_offset *offs, size_t n,
                const sl_fenced **fenced, size_t *nfenced, sl_error *err);

  void (*free)(sl_state_backend *b);
} sl_state_backend_ops;

/* A backend embeds this as its first member. */
struct sl_state_backend {
  const sl_state_backend_ops *ops;
};

#endif
