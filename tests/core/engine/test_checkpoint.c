/* SPDX-License-Identifier: Apache-2.0 */
/* The checkpoint coordinator (core/engine/checkpoint.c) against an in-memory
 * state backend: the interface of core/engine/state_backend.h is enough for
 * a checkpoint and its restore by the next owner, for a partition fenced by
 * a newer worker (its state and offsets dropped, nothing of it written), and
 * for a store that fails mid-commit (the staged checkpoint is retried as it
 * was, not snapshotted again), and for a revoke's failed checkpoint retried
 * after the partition came back to the same worker (refused, not fenced). Redis behind the same interface is covered by
 * the integration suites (connectors_redis_checkpoint, core_runtime_assign)
 * and scripts/e2e/exactly_once_*.sh. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "engine/checkpoint.h"
#include "engine/host.h"
#include "engine/state_backend.h"

#define NPARTS 8

/* ---- an in-memory backend: one topic, partitions 0..NPARTS-1 ------------- */

typedef struct mem_change {
  int del;
  int32_t partition;
  char op[32], key[32];
  int64_t val;
} mem_change;

typedef struct mem_store {
  sl_state_backend base;
  int reachable;    /* 0: connect() answers SL_ERR_UNAVAILABLE */
  int commit_fails; /* commits still to answer SL_ERR_UNAVAILABLE */
  int freed;        /* the coordinator released it */
  int64_t epoch[NPARTS];
  int64_t offset[NPARTS]; /* -1: none stored */
  mem_change stored[64];  /* del == 0 entries only */
  size_t nstored;
  mem_change staged[64];
  size_t nstaged;
  sl_fenced fenced[NPARTS];
  size_t nfenced;
  char topic[16];
} mem_store;

static mem_store *ms(sl_state_backend *b) { return (mem_store *)b; }

static int mem_connect(sl_state_backend *b, int64_t now_ms, int64_t *retry_in_ms, sl_error *err) {
  (void)now_ms;
  if (ms(b)->reachable)
    return SL_OK;
  *retry_in_ms = 10;
  return sl_error_set(err, SL_ERR_UNAVAILABLE, "memory store unreachable");
}

static int mem_connected(const sl_state_backend *b) { return ((const mem_store *)b)->reachable; }
static const char *mem_describe(const sl_state_backend *b) {
  (void)b;
  return "memory://test";
}
static const char *mem_warning(const sl_state_backend *b) {
  (void)b;
  return NULL;
}

static int mem_fence(sl_state_backend *b, const char *topic, int32_t partition, int64_t *epoch,
                     sl_error *err) {
  (void)topic, (void)err;
  *epoch = ++ms(b)->epoch[partition];
  return SL_OK;
}

static mem_change *find_stored(mem_store *m, int32_t partition, const char *op, const char *key) {
  for (size_t i = 0; i < m->nstored; i++)
    if (m->stored[i].partition == partition && strcmp(m->stored[i].op, op) == 0 &&
        strcmp(m->stored[i].key, key) == 0)
      return &m->stored[i];
  return NULL;
}

static int mem_restore(sl_state_backend *b, const char *topic, int32_t partition,
                       const char *const *op_ids, size_t nops, sl_state_entry_fn cb, void *ud,
                       int64_t *next_offset, sl_error *err) {
  (void)topic, (void)err;
  mem_store *m = ms(b);
  for (size_t i = 0; i < m->nstored; i++)
    for (size_t k = 0; k < nops; k++)
      if (m->stored[i].partition == partition && strcmp(m->stored[i].op, op_ids[k]) == 0) {
        int rc = cb(ud, op_ids[k], m->stored[i].key, strlen(m->stored[i].key), &m->stored[i].val,
                    sizeof m->stored[i].val);
        if (rc)
          return rc;
      }
  *next_offset = m->offset[partition];
  return SL_OK;
}

static void mem_begin(sl_state_backend *b) {
  ms(b)->nstaged = 0;
  ms(b)->nfenced = 0;
}

static int stage(mem_store *m, int del, int32_t partition, const char *op, const void *key,
                 size_t klen, const void *val, size_t vlen) {
  if (m->nstaged == 64 || klen >= sizeof m->staged[0].key || (!del && vlen != sizeof(int64_t)))
    return SL_ERR_INVALID;
  mem_change *c = &m->staged[m->nstaged++];
  memset(c, 0, sizeof *c);
  c->del = del;
  c->partition = partition;
  snprintf(c->op, sizeof c->op, "%s", op);
  memcpy(c->key, key, klen);
  if (!del)
    memcpy(&c->val, val, sizeof c->val);
  return SL_OK;
}

static int mem_put(sl_state_backend *b, const char *topic, int32_t partition, const char *op_id,
                   const void *key, size_t klen, const void *val, size_t vlen) {
  (void)topic;
  return stage(ms(b), 0, partition, op_id, key, klen, val, vlen);
}

static int mem_del(sl_state_backend *b, const char *topic, int32_t partition, const char *op_id,
                   const void *key, size_t klen) {
  (void)topic;
  return stage(ms(b), 1, partition, op_id, key, klen, NULL, 0);
}

/* Per partition: all or nothing, and only under the current epoch. */
static int mem_commit(sl_state_backend *b, const sl_state_offset *offs, size_t n,
                      const sl_fenced **fenced, size_t *nfenced, sl_error *err) {
  mem_store *m = ms(b);
  if (m->commit_fails > 0) {
    m->commit_fails--;
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "memory store went away mid-commit");
  }
  m->nfenced = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t p = offs[i].partition;
    if (m->epoch[p] != offs[i].epoch) {
      m->fenced[m->nfenced++] = (sl_fenced){m->topic, p, offs[i].epoch, m->epoch[p]};
      continue;
    }
    for (size_t k = 0; k < m->nstaged; k++) {
      mem_change *c = &m->staged[k];
      if (c->partition != p)
        continue;
      mem_change *s = find_stored(m, p, c->op, c->key);
      if (c->del && s)
        *s = m->stored[--m->nstored];
      else if (!c->del && s)
        s->val = c->val;
      else if (!c->del && m->nstored < 64)
        m->stored[m->nstored++] = *c;
    }
    if (offs[i].next_offset >= 0)
      m->offset[p] = offs[i].next_offset;
  }
  *fenced = m->fenced;
  *nfenced = m->nfenced;
  return m->nfenced ? SL_ERR_FENCED : SL_OK;
}

static void mem_free(sl_state_backend *b) { ms(b)->freed = 1; } /* the test owns the memory */

static const sl_state_backend_ops mem_ops = {
    .connect = mem_connect,
    .connected = mem_connected,
    .describe = mem_describe,
    .warning = mem_warning,
    .fence = mem_fence,
    .restore = mem_restore,
    .begin = mem_begin,
    .put = mem_put,
    .del = mem_del,
    .commit = mem_commit,
    .free = mem_free,
};

static void mem_init(mem_store *m) {
  memset(m, 0, sizeof *m);
  m->base.ops = &mem_ops;
  m->reachable = 1;
  snprintf(m->topic, sizeof m->topic, "t");
  for (int i = 0; i < NPARTS; i++)
    m->offset[i] = -1;
}

/* ---- a stateful operator: one counter per partition ---------------------- */

typedef struct counter {
  int64_t count[NPARTS];
  int dirty[NPARTS];
  int snapshots, drops;
} counter;

static int counter_snapshot(void *state, sl_snapshot *snap, sl_error *err) {
  (void)err;
  counter *c = state;
  c->snapshots++;
  for (int p = 0; p < NPARTS; p++)
    if (c->dirty[p]) {
      int rc = sl_runtime_host.snapshot_put(snap, p, "count", 5, &c->count[p], sizeof c->count[p]);
      if (rc != SL_OK)
        return rc;
      c->dirty[p] = 0;
    }
  return SL_OK;
}

static int counter_restore(void *state, int32_t partition, const void *key, size_t key_len,
                           const void *val, size_t val_len, sl_error *err) {
  counter *c = state;
  if (key_len != 5 || memcmp(key, "count", 5) != 0 || val_len != sizeof(int64_t))
    return sl_error_set(err, SL_ERR_PARSE, "unexpected state entry");
  memcpy(&c->count[partition], val, sizeof(int64_t));
  return SL_OK;
}

static int counter_drop(void *state, int32_t partition, sl_error *err) {
  (void)err;
  counter *c = state;
  c->count[partition] = 0;
  c->dirty[partition] = 0;
  c->drops++;
  return SL_OK;
}

static const sl_operator_desc counter_op = {
    .name = "counter",
    .snapshot = counter_snapshot,
    .restore = counter_restore,
    .drop_partition = counter_drop,
};

/* ---- a source that records its group commits ------------------------------ */

typedef struct committed {
  int calls;
  int64_t offset[NPARTS]; /* -1: never committed */
} committed;

static int source_commit(void *state, const sl_offset *offsets, size_t n, sl_error *err) {
  (void)err;
  committed *c = state;
  c->calls++;
  for (size_t i = 0; i < n; i++)
    c->offset[offsets[i].partition] = offsets[i].next_offset;
  return SL_OK;
}

static const sl_source_desc group_source = {.name = "group_source", .commit = source_commit};

/* ---- one worker: source "src" (topic t) -> operator "counter" ----------- */

typedef struct worker {
  sl_graph_desc g;
  sl_node_desc nd[2];
  sl_runtime rt;
  sl_node nodes[2];
  counter op;
  committed commits;
  sl_ckpt *ckpt;
} worker;

static void worker_start(worker *w, mem_store *store) {
  memset(w, 0, sizeof *w);
  sl_config *cfg = sl_config_new("test", 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_EQUAL_FATAL(sl_config_put_string(cfg, "topic", "t"), SL_OK);
  w->g.name = (char *)"ckpt";
  w->g.nodes = w->nd;
  w->g.count = 2;
  w->nd[0] = (sl_node_desc){.id = 0,
                            .kind = SL_NODE_SOURCE,
                            .type = (char *)"group_source",
                            .label = (char *)"src",
                            .config = cfg,
                            .parent = -1};
  w->nd[1] = (sl_node_desc){.id = 1,
                            .kind = SL_NODE_OPERATOR,
                            .type = (char *)"counter",
                            .label = (char *)"counter",
                            .parent = 0};
  w->rt.graph = &w->g;
  w->rt.nodes = w->nodes;
  w->rt.count = 2;
  w->nodes[0].desc = &w->nd[0];
  w->nodes[0].kind = SL_NODE_SOURCE;
  w->nodes[0].source = &group_source;
  w->nodes[0].source_state = &w->commits;
  w->nodes[0].env.source_id = 0;
  w->nodes[1].desc = &w->nd[1];
  w->nodes[1].kind = SL_NODE_OPERATOR;
  w->nodes[1].op = &counter_op;
  w->nodes[1].op_state = &w->op;
  for (int i = 0; i < NPARTS; i++)
    w->commits.offset[i] = -1;
  sl_error err;
  sl_error_clear(&err);
  w->ckpt = sl_ckpt_new(&w->rt, &store->base, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w->ckpt);
}

static void worker_stop(worker *w) {
  sl_ckpt_free(w->ckpt);
  sl_config_destroy(w->nd[0].config);
}

static int64_t assign(worker *w, int32_t partition) {
  int64_t start = -2;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_ckpt_assign(w->ckpt, 0, &partition, 1, &start, &err), SL_OK);
  return start;
}

static int take(worker *w, sl_error *err) {
  int64_t retry_in = -1;
  sl_error_clear(err);
  return sl_ckpt_take(w->ckpt, 0, &retry_in, err);
}

/* The operator counted `count` on partition p, consumed up to next_offset. */
static void counted(worker *w, int32_t p, int64_t count, int64_t next_offset) {
  w->op.count[p] = count;
  w->op.dirty[p] = 1;
  sl_ckpt_note(w->ckpt, 0, p, next_offset);
}

/* ---- tests --------------------------------------------------------------- */

static void test_checkpoint_then_restore(void) {
  mem_store store;
  mem_init(&store);
  worker a;
  worker_start(&a, &store);
  CU_ASSERT_EQUAL(assign(&a, 3), -1); /* nothing stored yet */
  CU_ASSERT_EQUAL(store.epoch[3], 1);
  counted(&a, 3, 42, 101);
  sl_error err;
  CU_ASSERT_EQUAL(take(&a, &err), SL_OK);
  mem_change *s = find_stored(&store, 3, "counter", "count");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->val, 42);
  CU_ASSERT_EQUAL(store.offset[3], 101);
  CU_ASSERT_EQUAL(a.commits.offset[3], 101); /* handed to the source after the store */
  CU_ASSERT_EQUAL(store.nstaged, 0);         /* staged bytes released after commit */
  CU_ASSERT(sl_ckpt_healthy(a.ckpt));
  worker_stop(&a);
  CU_ASSERT(store.freed);

  /* The next owner of partition 3 takes a newer epoch and resumes there. */
  store.freed = 0;
  worker b;
  worker_start(&b, &store);
  CU_ASSERT_EQUAL(assign(&b, 3), 101);
  CU_ASSERT_EQUAL(store.epoch[3], 2);
  CU_ASSERT_EQUAL(b.op.count[3], 42);
  CU_ASSERT_EQUAL(b.op.drops, 1); /* whatever it held before was dropped first */
  worker_stop(&b);
}

static void test_fenced_partition_is_dropped(void) {
  mem_store store;
  mem_init(&store);
  worker a;
  worker_start(&a, &store);
  CU_ASSERT_EQUAL(assign(&a, 3), -1);
  CU_ASSERT_EQUAL(assign(&a, 5), -1);
  /* Another worker is given partition 3 while this one still runs. */
  int64_t theirs = 0;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(store.base.ops->fence(&store.base, "t", 3, &theirs, &err), SL_OK);
  counted(&a, 3, 7, 50);
  counted(&a, 5, 9, 60);
  int drops_before = a.op.drops;
  CU_ASSERT_EQUAL(take(&a, &err), SL_OK);
  CU_ASSERT(sl_ckpt_fenced(a.ckpt, 0, 3));
  CU_ASSERT_FALSE(sl_ckpt_fenced(a.ckpt, 0, 5));
  CU_ASSERT_PTR_NULL(find_stored(&store, 3, "counter", "count")); /* nothing of it written */
  CU_ASSERT_EQUAL(store.offset[3], -1);
  CU_ASSERT_EQUAL(a.op.drops, drops_before + 1); /* its state dropped */
  CU_ASSERT_EQUAL(a.op.count[3], 0);
  CU_ASSERT_EQUAL(a.commits.offset[3], -1); /* its offset not committed to the group */
  mem_change *s = find_stored(&store, 5, "counter", "count");
  CU_ASSERT_PTR_NOT_NULL(s);
  CU_ASSERT_EQUAL(store.offset[5], 60);
  CU_ASSERT_EQUAL(a.commits.offset[5], 60);
  worker_stop(&a);
}

static void test_store_down_retries_the_same_checkpoint(void) {
  mem_store store;
  mem_init(&store);
  worker a;
  worker_start(&a, &store);
  CU_ASSERT_EQUAL(assign(&a, 2), -1);
  counted(&a, 2, 5, 10);
  sl_error err;

  store.reachable = 0; /* down before the checkpoint: nothing staged, retry later */
  int64_t retry_in = 0;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_ckpt_take(a.ckpt, 0, &retry_in, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT(retry_in > 0);
  CU_ASSERT_EQUAL(a.op.snapshots, 0);
  CU_ASSERT_FALSE(sl_ckpt_healthy(a.ckpt));

  store.reachable = 1;
  store.commit_fails = 1; /* down in the middle of the commit */
  CU_ASSERT_EQUAL(take(&a, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_EQUAL(a.op.snapshots, 1);
  CU_ASSERT_FALSE(sl_ckpt_healthy(a.ckpt)); /* a checkpoint is pending */
  CU_ASSERT_EQUAL(a.commits.offset[2], -1);

  /* Changes after the failure wait for the next checkpoint: the retry
   * writes what was staged, without a second snapshot. */
  counted(&a, 2, 6, 11);
  CU_ASSERT_EQUAL(take(&a, &err), SL_OK);
  CU_ASSERT_EQUAL(a.op.snapshots, 1);
  mem_change *s = find_stored(&store, 2, "counter", "count");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->val, 5);
  CU_ASSERT_EQUAL(store.offset[2], 10);
  CU_ASSERT(sl_ckpt_healthy(a.ckpt));

  CU_ASSERT_EQUAL(take(&a, &err), SL_OK); /* the next one carries the later change */
  CU_ASSERT_EQUAL(a.op.snapshots, 2);
  CU_ASSERT_EQUAL(s->val, 6);
  CU_ASSERT_EQUAL(store.offset[2], 11);
  worker_stop(&a);
}

/* Regression (exactly_once_cold_start case 4, Redis paused as a third worker
 * joined): the checkpoint of a revoke fails and stays staged; the worker is
 * given the same partition back at a newer epoch, restores it, and goes on.
 * The retry of the stale staged checkpoint is refused by the epoch check,
 * which must not fence the partition this worker now rightly owns: it used
 * to drop its state and every later record of it until the next rebalance. */
static void test_stale_revoke_checkpoint_keeps_reassigned_partition(void) {
  mem_store store;
  mem_init(&store);
  worker a;
  worker_start(&a, &store);
  CU_ASSERT_EQUAL(assign(&a, 3), -1);
  counted(&a, 3, 7, 50);
  sl_error err;
  sl_error_clear(&err);
  store.commit_fails = 1; /* the store goes away during the revoke */
  int32_t part = 3;
  CU_ASSERT_EQUAL(sl_ckpt_revoke(a.ckpt, 0, &part, 1, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_EQUAL(store.offset[3], -1);
  CU_ASSERT_FALSE(sl_ckpt_healthy(a.ckpt)); /* the revoke's checkpoint is still staged */

  /* The rebalance gives partition 3 back to this worker: epoch 2, restored
   * from the store (nothing there), its records consumed again. */
  CU_ASSERT_EQUAL(assign(&a, 3), -1);
  CU_ASSERT_EQUAL(store.epoch[3], 2);
  int drops = a.op.drops;
  counted(&a, 3, 4, 20);

  CU_ASSERT_EQUAL(take(&a, &err), SL_OK); /* the staged one: refused, epoch 1 < 2 */
  CU_ASSERT_EQUAL(store.offset[3], -1);
  CU_ASSERT_PTR_NULL(find_stored(&store, 3, "counter", "count"));
  CU_ASSERT_FALSE(sl_ckpt_fenced(a.ckpt, 0, 3)); /* still ours */
  CU_ASSERT_EQUAL(a.op.drops, drops);            /* its state kept */
  CU_ASSERT_EQUAL(a.op.count[3], 4);

  CU_ASSERT_EQUAL(take(&a, &err), SL_OK); /* the next one writes it at epoch 2 */
  mem_change *s = find_stored(&store, 3, "counter", "count");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->val, 4);
  CU_ASSERT_EQUAL(store.offset[3], 20);
  CU_ASSERT_EQUAL(a.commits.offset[3], 20);
  worker_stop(&a);
}

int suite_core_checkpoint(void) {
  CU_pSuite s = CU_add_suite("core_checkpoint", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "a checkpoint is restored by the next owner", test_checkpoint_then_restore);
  CU_add_test(s, "a fenced partition is dropped, nothing written",
              test_fenced_partition_is_dropped);
  CU_add_test(s, "a store that fails retries the same checkpoint",
              test_store_down_retries_the_same_checkpoint);
  CU_add_test(s, "a stale revoke checkpoint does not fence a partition given back",
              test_stale_revoke_checkpoint_keeps_reassigned_partition);
  return 0;
}
