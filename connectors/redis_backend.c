/* SPDX-License-Identifier: Apache-2.0 */
/* Redis as the state backend of checkpoints (core/engine/state_backend.h):
 * the connection of redis_conn.c (single Redis, Sentinel or Cluster, as the
 * URL says), the staging and epoch-guarded commit of redis_checkpoint.c and
 * the restore of redis_restore.c behind the coordinator's interface. */
#include <stdlib.h>
#include <string.h>

#include "redis.h"

typedef struct redis_backend {
  sl_state_backend base; /* first: the coordinator's handle */
  sl_redis *redis;
  sl_checkpoint *cp; /* staged changes, kept until the next begin */
  char *pipeline;
} redis_backend;

static redis_backend *self(sl_state_backend *b) { return (redis_backend *)b; }
static const redis_backend *cself(const sl_state_backend *b) { return (const redis_backend *)b; }

static int rb_connect(sl_state_backend *b, int64_t now_ms, int64_t *retry_in_ms, sl_error *err) {
  return sl_redis_ensure(self(b)->redis, now_ms, retry_in_ms, err);
}

static int rb_connected(const sl_state_backend *b) {
  return sl_redis_is_connected(cself(b)->redis);
}

static const char *rb_describe(const sl_state_backend *b) {
  return sl_redis_describe(cself(b)->redis);
}

static const char *rb_warning(const sl_state_backend *b) {
  return sl_redis_warning(cself(b)->redis);
}

static int rb_fence(sl_state_backend *b, const char *topic, int32_t partition, int64_t *epoch,
                    sl_error *err) {
  redis_backend *r = self(b);
  return sl_state_acquire_epoch(r->redis, r->pipeline, topic, partition, epoch, err);
}

static int rb_restore(sl_state_backend *b, const char *topic, int32_t partition,
                      const char *const *op_ids, size_t nops, sl_state_entry_fn cb, void *ud,
                      int64_t *next_offset, sl_error *err) {
  redis_backend *r = self(b);
  return sl_state_load(r->redis, r->pipeline, topic, partition, op_ids, nops, cb, ud, next_offset,
                       err);
}

static void rb_begin(sl_state_backend *b) { sl_checkpoint_reset(self(b)->cp); }

static int rb_put(sl_state_backend *b, const char *topic, int32_t partition, const char *op_id,
                  const void *key, size_t klen, const void *val, size_t vlen) {
  return sl_checkpoint_put(self(b)->cp, topic, partition, op_id, key, klen, val, vlen);
}

static int rb_del(sl_state_backend *b, const char *topic, int32_t partition, const char *op_id,
                  const void *key, size_t klen) {
  return sl_checkpoint_delete(self(b)->cp, topic, partition, op_id, key, klen);
}

static int rb_commit(sl_state_backend *b, const sl_state_offset *offs, size_t n,
                     const sl_fenced **fenced, size_t *nfenced, sl_error *err) {
  redis_backend *r = self(b);
  /* Setting a partition's epoch and offset again is idempotent, so a retried
   * commit stages the same values and sends the same scripts. */
  for (size_t i = 0; i < n; i++) {
    int rc = sl_checkpoint_offset(r->cp, offs[i].topic, offs[i].partition, offs[i].epoch,
                                  offs[i].next_offset);
    if (rc != SL_OK)
      return sl_error_set(err, rc, "out of memory staging a checkpoint");
  }
  return sl_checkpoint_commit(r->redis, r->cp, fenced, nfenced, err);
}

static void rb_free(sl_state_backend *b) {
  redis_backend *r = self(b);
  if (!r)
    return;
  sl_checkpoint_free(r->cp);
  sl_redis_free(r->redis);
  free(r->pipeline);
  free(r);
}

static const sl_state_backend_ops redis_backend_ops = {
    .connect = rb_connect,
    .connected = rb_connected,
    .describe = rb_describe,
    .warning = rb_warning,
    .fence = rb_fence,
    .restore = rb_restore,
    .begin = rb_begin,
    .put = rb_put,
    .del = rb_del,
    .commit = rb_commit,
    .free = rb_free,
};

sl_state_backend *sl_redis_state_backend_new(const char *url, const char *pipeline, sl_error *err) {
  redis_backend *r = calloc(1, sizeof *r);
  if (!r || !(r->pipeline = strdup(pipeline)) || !(r->cp = sl_checkpoint_new(pipeline))) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto fail;
  }
  r->base.ops = &redis_backend_ops;
  r->redis = sl_redis_new(url, NULL, err);
  if (!r->redis)
    goto fail;
  return &r->base;
fail:
  if (r)
    rb_free(&r->base);
  return NULL;
}
