/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime side of exactly-once state (SPEC.md section 7). A checkpoint
 * is taken between batches, after every sink acknowledged what it was
 * given: each stateful operator writes what changed since the last
 * checkpoint through the host's snapshot calls, the next offset of every
 * partition is staged with it, and the state backend (state_backend.h; Redis:
 * connectors/redis_backend.c) writes each partition in one atomic,
 * epoch-guarded step. Only then are offsets committed to the source. A failed
 * write keeps the staged checkpoint and pauses processing until the store is
 * back; nothing is re-snapshotted, so no change is lost in between. This file
 * knows no store: it calls the backend's operations and nothing else. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "engine/checkpoint.h"

typedef struct part_state {
  int32_t source_id;
  int32_t partition;
  int64_t epoch;       /* 0: not acquired yet */
  int64_t next_offset; /* -1: nothing consumed */
  int64_t committed;   /* last next_offset handed to the source */
  int fenced;
} part_state;

struct sl_ckpt {
  sl_runtime *rt;
  sl_state_backend *store; /* owned */
  int pending;             /* the store holds a staged, uncommitted checkpoint */
  sl_state_offset *staged; /* its offsets, sent again with every retry */
  size_t nstaged, capstaged;
  part_state *parts;
  size_t nparts, capparts;
  char **topics;       /* per node: the checkpoint topic of its root source */
  int kafka_failed;    /* the last sl_ckpt_take failed at the Kafka commit, not Redis */
};

/* ---- where state belongs --------------------------------------------------- */

static int root_source(const sl_runtime *rt, size_t i) {
  int id = (int)i;
  while (rt->graph->nodes[id].parent >= 0)
    id = rt->graph->nodes[id].parent;
  return id;
}

static const char *source_topic(const sl_node *src) {
  const char *t = sl_config_string(src->desc->config, "topic", NULL);
  if (!t)
    t = sl_config_string(src->desc->config, "path", NULL);
  return t ? t : src->desc->type;
}

static part_state *part_find(sl_ckpt *c, int32_t source_id, int32_t partition, int create) {
  for (size_t i = 0; i < c->nparts; i++)
    if (c->parts[i].source_id == source_id && c->parts[i].partition == partition)
      return &c->parts[i];
  if (!create)
    return NULL;
  if (c->nparts == c->capparts) {
    size_t ncap = c->capparts ? c->capparts * 2 : 16;
    part_state *n = realloc(c->parts, ncap * sizeof *n);
    if (!n)
      return NULL;
    c->parts = n;
    c->capparts = ncap;
  }
  part_state *p = &c->parts[c->nparts++];
  memset(p, 0, sizeof *p);
  p->source_id = source_id;
  p->partition = partition;
  p->next_offset = -1;
  p->committed = -1;
  return p;
}

static sl_node *source_node(sl_runtime *rt, int32_t source_id) {
  for (size_t i = 0; i < rt->count; i++)
    if (rt->nodes[i].kind == SL_NODE_SOURCE && rt->nodes[i].env.source_id == source_id)
      return &rt->nodes[i];
  return NULL;
}

static int stateful(const sl_node *n) {
  return n->kind == SL_NODE_OPERATOR && n->op && n->op->snapshot && n->op->restore;
}

/* ---- lifecycle ------------------------------------------------------------- */

sl_ckpt *sl_ckpt_new(sl_runtime *rt, sl_state_backend *store, int64_t wait_ms, sl_error *err) {
  if (!store)
    return NULL;
  sl_ckpt *c = calloc(1, sizeof *c);
  if (!c) {
    store->ops->free(store);
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  c->store = store;
  if (!(c->topics = calloc(rt->count ? rt->count : 1, sizeof *c->topics))) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto fail;
  }
  c->rt = rt;
  for (size_t i = 0; i < rt->count; i++) {
    int root = root_source(rt, i);
    if (rt->nodes[root].kind == SL_NODE_SOURCE)
      c->topics[i] = (char *)source_topic(&rt->nodes[root]);
  }
  int64_t deadline = sl_runtime_now_ms() + wait_ms;
  for (;;) {
    int64_t retry_in = 0;
    int rc = store->ops->connect(store, sl_runtime_now_ms(), &retry_in, err);
    if (rc == SL_OK)
      break;
    if (rc != SL_ERR_UNAVAILABLE || sl_runtime_now_ms() + retry_in > deadline)
      goto fail;
    sl_log(SL_LOG_WARN, "checkpoint", "Redis at %s not reachable (%s); retrying in %lld ms",
           store->ops->describe(store), err->message, (long long)retry_in);
    struct timespec ts = {retry_in / 1000, (long)(retry_in % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  if (store->ops->warning(store))
    sl_log(SL_LOG_WARN, "checkpoint", "%s", store->ops->warning(store));
  return c;
fail:
  sl_ckpt_free(c);
  return NULL;
}

void sl_ckpt_free(sl_ckpt *c) {
  if (!c)
    return;
  c->store->ops->free(c->store);
  free(c->staged);
  free(c->parts);
  free(c->topics);
  free(c);
}

int sl_ckpt_healthy(const sl_ckpt *c) {
  return !c->pending && c->store->ops->connected(c->store);
}

void sl_ckpt_note(sl_ckpt *c, int32_t source_id, int32_t partition, int64_t next_offset) {
  part_state *p = part_find(c, source_id, partition, 1);
  if (p && next_offset > p->next_offset)
    p->next_offset = next_offset;
}

int sl_ckpt_fenced(const sl_ckpt *c, int32_t source_id, int32_t partition) {
  for (size_t i = 0; i < c->nparts; i++)
    if (c->parts[i].source_id == source_id && c->parts[i].partition == partition)
      return c->parts[i].fenced;
  return 0;
}

/* ---- restore ----------------------------------------------------------------- */

typedef struct restore_ctx {
  sl_ckpt *c;
  int32_t partition;
  size_t entries;
  sl_error *err;
} restore_ctx;

static int restore_entry(void *ud, const char *op_id, const void *k, size_t kl, const void *v,
                         size_t vl) {
  restore_ctx *x = ud;
  sl_runtime *rt = x->c->rt;
  for (size_t i = 0; i < rt->count; i++) {
    sl_node *n = &rt->nodes[i];
    if (stateful(n) && strcmp(n->desc->label, op_id) == 0) {
      x->entries++;
      return n->op->restore(n->op_state, x->partition, k, kl, v, vl, x->err);
    }
  }
  return SL_OK; /* state of an operator no longer in the pipeline */
}

int sl_ckpt_assign(sl_ckpt *c, int32_t source_id, const int32_t *parts, size_t n,
                   int64_t *start_offsets, sl_error *err) {
  sl_runtime *rt = c->rt;
  sl_node *src = source_node(rt, source_id);
  if (!src)
    return sl_error_set(err, SL_ERR_INTERNAL, "no source %d", (int)source_id);
  const char *topic = source_topic(src);
  const char *ops[64];
  size_t nops = 0;
  for (size_t i = 0; i < rt->count && nops < 64; i++)
    if (stateful(&rt->nodes[i]) && root_source(rt, i) == src->desc->id)
      ops[nops++] = rt->nodes[i].desc->label;
  for (size_t k = 0; k < n; k++) {
    part_state *p = part_find(c, source_id, parts[k], 1);
    if (!p)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    int64_t t0 = sl_runtime_now_ms();
    int rc = c->store->ops->fence(c->store, topic, parts[k], &p->epoch, err);
    if (rc != SL_OK)
      return rc;
    /* Whatever this worker held for the partition is stale now. */
    for (size_t i = 0; i < rt->count; i++)
      if (stateful(&rt->nodes[i]) && root_source(rt, i) == src->desc->id &&
          rt->nodes[i].op->drop_partition)
        rt->nodes[i].op->drop_partition(rt->nodes[i].op_state, parts[k], err);
    sl_runtime_assign_operators(rt, source_id, &parts[k], 1);
    restore_ctx x = {c, parts[k], 0, err};
    int64_t next = -1;
    rc = c->store->ops->restore(c->store, topic, parts[k], ops, nops, restore_entry, &x, &next,
                                err);
    if (rc != SL_OK)
      return rc;
    p->fenced = 0;
    p->next_offset = next;
    p->committed = next;
    start_offsets[k] = next;
    sl_log(SL_LOG_INFO, "checkpoint",
           "partition %s[%d] assigned: epoch %lld, %zu state entries restored in %lld ms, "
           "resuming at offset %lld",
           topic, (int)parts[k], (long long)p->epoch, x.entries,
           (long long)(sl_runtime_now_ms() - t0), (long long)next);
  }
  return SL_OK;
}

/* ---- taking a checkpoint ----------------------------------------------------- */

static int snapshot_operators(sl_ckpt *c, sl_error *err) {
  sl_runtime *rt = c->rt;
  for (size_t i = 0; i < rt->count; i++) {
    sl_node *n = &rt->nodes[i];
    if (!stateful(n) || !c->topics[i])
      continue;
    struct sl_snapshot snap = {c->store, c->topics[i], n->desc->label, 0};
    int rc = n->op->snapshot(n->op_state, &snap, err);
    if (rc == SL_OK && snap.failed)
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory staging a checkpoint");
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

static void drop_fenced(sl_ckpt *c, const sl_fenced *f, size_t nf) {
  sl_runtime *rt = c->rt;
  for (size_t k = 0; k < nf; k++) {
    for (size_t i = 0; i < c->nparts; i++) {
      part_state *p = &c->parts[i];
      sl_node *src = source_node(rt, p->source_id);
      if (!src || p->partition != f[k].partition || strcmp(source_topic(src), f[k].topic) != 0)
        continue;
      if (p->epoch != f[k].epoch) {
        /* A checkpoint staged before a revoke (whose write failed: store
         * away) is retried after this worker was given the partition again
         * at a newer epoch. The refusal is right: that staged state is
         * older than what the assignment restored. But the partition is
         * ours; fencing it would drop its records until the next
         * rebalance (scripts/e2e/exactly_once_cold_start.sh case 4). */
        sl_log(SL_LOG_INFO, "checkpoint",
               "partition %s[%d]: the checkpoint staged before it was revoked (epoch %lld) was "
               "refused; this worker holds it again at epoch %lld and keeps it",
               f[k].topic, (int)f[k].partition, (long long)f[k].epoch, (long long)p->epoch);
        continue;
      }
      p->fenced = 1;
      sl_log(SL_LOG_ERROR, "checkpoint",
             "partition %s[%d] is owned by a newer worker (epoch %lld > ours %lld): "
             "dropping it, its state and its records",
             f[k].topic, (int)f[k].partition, (long long)f[k].current_epoch,
             (long long)f[k].epoch);
      sl_error e;
      for (size_t j = 0; j < rt->count; j++)
        if (stateful(&rt->nodes[j]) && root_source(rt, j) == src->desc->id &&
            rt->nodes[j].op->drop_partition)
          rt->nodes[j].op->drop_partition(rt->nodes[j].op_state, p->partition, &e);
    }
  }
}

/* Hand the committed offsets to each source (Kafka group commit). */
static int commit_offsets(sl_ckpt *c, sl_error *err) {
  sl_runtime *rt = c->rt;
  for (size_t i = 0; i < rt->count; i++) {
    sl_node *src = &rt->nodes[i];
    if (src->kind != SL_NODE_SOURCE || !src->source->commit)
      continue;
    /* In commits of up to 256 partitions: a worker may own hundreds (the
     * ones past the first 256 were once marked committed but never sent). */
    for (size_t from = 0, to; from < c->nparts; from = to) {
      sl_offset offs[256];
      size_t n = 0;
      for (to = from; to < c->nparts && n < 256; to++) {
        part_state *p = &c->parts[to];
        if (p->source_id == src->env.source_id && !p->fenced && p->next_offset > p->committed) {
          offs[n].partition = p->partition;
          offs[n].next_offset = p->next_offset;
          n++;
        }
      }
      if (n == 0)
        continue;
      int rc = src->source->commit(src->source_state, offs, n, err);
      if (rc == SL_ERR_FENCED) {
        /* The group rebalanced (e.g. its session timed out while the broker
         * was away). The offsets in Redis are authoritative and the next
         * assignment restores from them: the group commit is only skipped. */
        sl_log(SL_LOG_WARN, "checkpoint", "%s; the offsets stored in Redis stay authoritative",
               err->message);
        break;
      }
      if (rc != SL_OK)
        return rc;
      for (size_t k = from; k < to; k++)
        if (c->parts[k].source_id == src->env.source_id && !c->parts[k].fenced)
          c->parts[k].committed = c->parts[k].next_offset;
    }
  }
  return SL_OK;
}

/* Stage the next offset and epoch of every partition this worker holds. */
static int stage_offsets(sl_ckpt *c, sl_error *err) {
  sl_runtime *rt = c->rt;
  c->nstaged = 0;
  if (c->capstaged < c->nparts) { /* at most one offset per partition held */
    sl_state_offset *n = realloc(c->staged, c->nparts * sizeof *n);
    if (!n)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory staging a checkpoint");
    c->staged = n;
    c->capstaged = c->nparts;
  }
  for (size_t k = 0; k < c->nparts; k++) {
    part_state *p = &c->parts[k];
    sl_node *src = source_node(rt, p->source_id);
    if (!src || p->fenced)
      continue;
    const char *topic = source_topic(src);
    if (p->epoch == 0) {
      int rc = c->store->ops->fence(c->store, topic, p->partition, &p->epoch, err);
      if (rc != SL_OK)
        return rc;
    }
    c->staged[c->nstaged++] = (sl_state_offset){topic, p->partition, p->epoch, p->next_offset};
  }
  return SL_OK;
}

int sl_ckpt_take(sl_ckpt *c, int64_t now_ms, int64_t *retry_in_ms, sl_error *err) {
  sl_state_backend *store = c->store;
  *retry_in_ms = 0;
  c->kafka_failed = 0;
  int rc = store->ops->connect(store, now_ms, retry_in_ms, err);
  if (rc != SL_OK)
    return rc;
  if (!c->pending) {
    store->ops->begin(store);
    if ((rc = snapshot_operators(c, err)) != SL_OK)
      return rc;
    if ((rc = stage_offsets(c, err)) != SL_OK)
      return rc;
    c->pending = 1;
  }
  const sl_fenced *fenced = NULL;
  size_t nfenced = 0;
  rc = store->ops->commit(store, c->staged, c->nstaged, &fenced, &nfenced, err);
  if (rc == SL_ERR_FENCED) {
    drop_fenced(c, fenced, nfenced);
    rc = SL_OK;
  }
  if (rc != SL_OK)
    return rc; /* pending stays set: the same checkpoint is retried */
  c->pending = 0;
  store->ops->begin(store); /* release the staged bytes now */
  rc = commit_offsets(c, err);
  c->kafka_failed = rc != SL_OK;
  return rc;
}

int sl_ckpt_kafka_failed(const sl_ckpt *c) { return c->kafka_failed; }

int sl_ckpt_revoke(sl_ckpt *c, int32_t source_id, const int32_t *parts, size_t n, sl_error *err) {
  int64_t retry_in;
  int rc = sl_ckpt_take(c, sl_runtime_now_ms(), &retry_in, err);
  sl_runtime *rt = c->rt;
  sl_node *src = source_node(rt, source_id);
  for (size_t k = 0; k < n; k++) {
    part_state *p = part_find(c, source_id, parts[k], 0);
    if (p) {
      p->epoch = 0;
      p->fenced = 0;
    }
    sl_error e;
    for (size_t i = 0; src && i < rt->count; i++)
      if (stateful(&rt->nodes[i]) && root_source(rt, i) == src->desc->id &&
          rt->nodes[i].op->drop_partition)
        rt->nodes[i].op->drop_partition(rt->nodes[i].op_state, parts[k], &e);
  }
  /* Remove the revoked partitions from the table: another worker owns them. */
  size_t w = 0;
  for (size_t k = 0; k < c->nparts; k++) {
    int gone = 0;
    for (size_t j = 0; j < n; j++)
      gone |= c->parts[k].source_id == source_id && c->parts[k].partition == parts[j];
    if (!gone)
      c->parts[w++] = c->parts[k];
  }
  c->nparts = w;
  return rc;
}
