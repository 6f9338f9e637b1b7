/* SPDX-License-Identifier: Apache-2.0 */
/* Redis Cluster with real servers (connectors/redis_cluster.c): three
 * primaries and three replicas on loopback, joined by redis-cli --cluster
 * create. Detection from one node's URL and from a seed list, slots equal
 * to the server's CLUSTER KEYSLOT, pipelines spread over the primaries,
 * ASK (a slot half migrated) and MOVED (the slot moved under a stale map)
 * followed, checkpoints of 12 partitions across the primaries with WAIT for
 * the replicas, restore and fencing, and a failover (CLUSTER FAILOVER
 * TAKEOVER) under
 * a connected handle. Waits are bounded polls. */
#include <CUnit/CUnit.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../connectors/redis.h"
#include "../../connectors/redis_internal.h"
#include "../../connectors/redis_state.h"
#include "base/config.h"
#include "base/record_internal.h"
#include "cli/cli.h"
#include "http/http_server.h"
#include "http/serve.h"
#include "redis_fixture.h"
#include "redis_cluster_fixture.h"

#define NNODES RCF_NODES

static rf_server nodes[NNODES];

static int teardown(void) {
  rcf_stop(nodes);
  return 0;
}

static int setup(void) { return rcf_start(nodes, 2000); }

static sl_redis *handle(const char *url) {
  sl_error err;
  sl_redis *r = sl_redis_new(url, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  return r;
}

/* A handle on node i's URL (any node: the map comes from it). */
static sl_redis *node_handle(int i) {
  char u[64];
  snprintf(u, sizeof u, "redis://127.0.0.1:%d", nodes[i].port);
  return handle(u);
}

static void test_detect(void) {
  char u[256];
  sl_error err;
  /* One node's URL, a replica's even: the map comes from it. */
  snprintf(u, sizeof u, "redis://127.0.0.1:%d", nodes[5].port);
  sl_redis *r = handle(u);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_OK);
  CU_ASSERT_TRUE(sl_redis_is_cluster(r));
  CU_ASSERT_EQUAL(sl_redis_nprimaries(r), 3);
  sl_redis_free(r);
  /* Seeds: the first one down, the second answers. */
  snprintf(u, sizeof u, "redis://127.0.0.1:%d,127.0.0.1:%d", rf_free_port(), nodes[1].port);
  r = handle(u);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_OK);
  CU_ASSERT_TRUE(sl_redis_is_cluster(r));
  sl_redis_free(r);
  /* Every seed down: retriable, naming the cluster. */
  snprintf(u, sizeof u, "redis://127.0.0.1:%d,127.0.0.1:%d", rf_free_port(), rf_free_port());
  r = handle(u);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no node of the Redis Cluster"));
  sl_redis_free(r);
  /* A database other than 0 does not exist in a cluster. */
  snprintf(u, sizeof u, "redis://127.0.0.1:%d/2", nodes[0].port);
  r = handle(u);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "database 0"));
  sl_redis_free(r);
}

static void test_seeds_of_a_standalone_server(void) {
  rf_server solo;
  CU_ASSERT_EQUAL_FATAL(rf_start(&solo, NULL), 0);
  char u[256];
  sl_error err;
  snprintf(u, sizeof u, "redis://127.0.0.1:%d,127.0.0.1:%d", solo.port, solo.port);
  sl_redis *r = handle(u);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a Redis Cluster node"));
  sl_redis_free(r);
  /* One standalone URL stays standalone. */
  snprintf(u, sizeof u, "redis://127.0.0.1:%d", solo.port);
  r = handle(u);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_OK);
  CU_ASSERT_FALSE(sl_redis_is_cluster(r));
  sl_redis_free(r);
  rf_stop(&solo);
}

static void test_slots_match_the_server(void) {
  const char *tricky[] = {"123456789", "foo{}{bar}", "foo{bar",          "foo{{bar}}zap",
                          "{}",        "{a}b",       "sl:{p:t:3}:epoch", "sl:cache:c:v:k1"};
  for (size_t i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
    redisReply *r = rcf_raw(nodes[0].port, "CLUSTER KEYSLOT %s", tricky[i]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->integer, sl_redis_key_slot(tricky[i], strlen(tricky[i])));
    freeReplyObject(r);
  }
  for (int i = 0; i < 300; i++) {
    char k[32];
    snprintf(k, sizeof k, "key-%d", i * 7919);
    redisReply *r = rcf_raw(nodes[0].port, "CLUSTER KEYSLOT %s", k);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->integer, sl_redis_key_slot(k, strlen(k)));
    freeReplyObject(r);
  }
}

/* A pipeline of SETs and GETs on keys of every slot range: replies in
 * order, keys on all three primaries. */
static void test_pipeline_spreads(void) {
  sl_error err;
  sl_redis *r = node_handle(0);
  enum { N = 200 };
  for (int i = 0; i < N; i++) {
    char k[32], v[32];
    snprintf(k, sizeof k, "spread:%d", i);
    snprintf(v, sizeof v, "v%d", i);
    const char *argv[3] = {"SET", k, v};
    size_t lens[3] = {3, strlen(k), strlen(v)};
    CU_ASSERT_EQUAL_FATAL(sl_redis_append(r, 3, argv, lens, "test", &err), SL_OK);
    const char *gv[2] = {"GET", k};
    size_t gl[2] = {3, strlen(k)};
    CU_ASSERT_EQUAL_FATAL(sl_redis_append(r, 2, gv, gl, "test", &err), SL_OK);
  }
  for (int i = 0; i < N; i++) {
    redisReply *a, *b;
    CU_ASSERT_EQUAL_FATAL(sl_redis_read(r, &a, "test", &err), SL_OK);
    CU_ASSERT_EQUAL_FATAL(sl_redis_read(r, &b, "test", &err), SL_OK);
    char v[32];
    snprintf(v, sizeof v, "v%d", i);
    CU_ASSERT_EQUAL(a->type, REDIS_REPLY_STATUS);
    CU_ASSERT_EQUAL(b->type, REDIS_REPLY_STRING);
    if (b->type == REDIS_REPLY_STRING)
      CU_ASSERT_STRING_EQUAL(b->str, v);
    freeReplyObject(a);
    freeReplyObject(b);
  }
  int with_keys = 0;
  for (int i = 0; i < NNODES; i++)
    if (rcf_raw_contains(nodes[i].port, "ROLE", "master") ||
        !rcf_raw_contains(nodes[i].port, "INFO replication", "role:slave")) {
      redisReply *d = rcf_raw(nodes[i].port, "DBSIZE");
      with_keys += d && d->integer > 0;
      if (d)
        freeReplyObject(d);
    }
  CU_ASSERT_EQUAL(with_keys, 3);
  sl_redis_free(r);
}

static redisReply *run1(sl_redis *r, const char *cmd, const char *key, const char *val) {
  sl_error err;
  const char *argv[3] = {cmd, key, val};
  size_t lens[3] = {strlen(cmd), strlen(key), val ? strlen(val) : 0};
  redisReply *rep = NULL;
  int rc = sl_redis_run(r, val ? 3 : 2, argv, lens, &rep, "test", &err);
  if (rc != SL_OK)
    fprintf(stderr, "cluster test: %s %s: %s\n", cmd, key, err.message);
  return rep;
}

/* A slot being migrated answers ASK for keys already moved; once the slot
 * is moved, a handle with the old map gets MOVED. Both are followed. */
static void test_ask_then_moved(void) {
  sl_redis *r = node_handle(0);
  const char *k = "{ask}:one", *k2 = "{ask}:two";
  int slot = sl_redis_key_slot(k, strlen(k));
  int from = rcf_owner(nodes, slot), to = rcf_other_primary(nodes, from);
  CU_ASSERT_FATAL(from > 0 && to > 0);
  redisReply *rep = run1(r, "SET", k, "before");
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  freeReplyObject(rep);
  CU_ASSERT_EQUAL_FATAL(rcf_migrate_begin(from, to, slot, k), 0);
  /* The map says `from`; `from` answers ASK; the key is read at `to`. */
  rep = run1(r, "GET", k, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  CU_ASSERT_EQUAL(rep->type, REDIS_REPLY_STRING);
  if (rep->type == REDIS_REPLY_STRING)
    CU_ASSERT_STRING_EQUAL(rep->str, "before");
  freeReplyObject(rep);
  /* A new key of the migrating slot is created at `to` (ASK again). */
  rep = run1(r, "SET", k2, "new");
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  freeReplyObject(rep);
  redisReply *chk = rcf_raw(to, "CLUSTER COUNTKEYSINSLOT %d", slot);
  CU_ASSERT_EQUAL(chk->integer, 2);
  freeReplyObject(chk);
  /* Finish the migration: every node learns the slot is `to`'s. */
  rcf_migrate_end(nodes, slot, to);
  /* The handle still maps the slot to `from`: MOVED, followed. */
  rep = run1(r, "GET", k2, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  CU_ASSERT_EQUAL(rep->type, REDIS_REPLY_STRING);
  if (rep->type == REDIS_REPLY_STRING)
    CU_ASSERT_STRING_EQUAL(rep->str, "new");
  freeReplyObject(rep);
  CU_ASSERT_EQUAL(rcf_owner(nodes, slot), to);
  sl_redis_free(r);
}

typedef struct loaded {
  int n;
  char last[64];
} loaded;

static int on_entry(void *ud, const char *op, const void *k, size_t kl, const void *v, size_t vl) {
  loaded *l = ud;
  (void)op;
  (void)k;
  (void)kl;
  l->n++;
  snprintf(l->last, sizeof l->last, "%.*s", (int)vl, (const char *)v);
  return 0;
}

/* 12 partitions in one checkpoint: each partition's script runs on its
 * slot's primary, WAIT on every primary written; restore from a fresh
 * handle; an older epoch is fenced. */
static void commit_and_restore(const char *pipeline, int round) {
  char u[256];
  sl_error err;
  snprintf(u, sizeof u, "redis://127.0.0.1:%d?wait_replicas=1&wait_timeout_ms=5000", nodes[1].port);
  sl_redis *r = handle(u);
  sl_checkpoint *cp = sl_checkpoint_new(pipeline);
  int64_t epochs[12];
  for (int p = 0; p < 12; p++) {
    CU_ASSERT_EQUAL_FATAL(sl_state_acquire_epoch(r, pipeline, "t", p, &epochs[p], &err), SL_OK);
    char k[16], v[32];
    snprintf(k, sizeof k, "k%d", p);
    snprintf(v, sizeof v, "v%d-%d", p, round);
    CU_ASSERT_EQUAL(sl_checkpoint_put(cp, "t", p, "op", k, strlen(k), v, strlen(v)), SL_OK);
    CU_ASSERT_EQUAL(sl_checkpoint_offset(cp, "t", p, epochs[p], 100 * round + p), SL_OK);
  }
  int rc = sl_checkpoint_commit(r, cp, NULL, NULL, &err);
  if (rc != SL_OK)
    fprintf(stderr, "cluster test: commit: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
  sl_checkpoint_free(cp);
  sl_redis_free(r);
  /* Restore through another node's URL. */
  snprintf(u, sizeof u, "redis://127.0.0.1:%d", nodes[4].port);
  r = handle(u);
  const char *ops[1] = {"op"};
  for (int p = 0; p < 12; p++) {
    loaded l = {0, ""};
    int64_t off = -1;
    CU_ASSERT_EQUAL(sl_state_load(r, pipeline, "t", p, ops, 1, on_entry, &l, &off, &err), SL_OK);
    char v[32];
    snprintf(v, sizeof v, "v%d-%d", p, round);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_STRING_EQUAL(l.last, v);
    CU_ASSERT_EQUAL(off, 100 * round + p);
  }
  /* A newer epoch for partition 7 fences a checkpoint with the old one. */
  int64_t newer;
  CU_ASSERT_EQUAL(sl_state_acquire_epoch(r, pipeline, "t", 7, &newer, &err), SL_OK);
  cp = sl_checkpoint_new(pipeline);
  CU_ASSERT_EQUAL(sl_checkpoint_put(cp, "t", 7, "op", "k7", 2, "stale", 5), SL_OK);
  CU_ASSERT_EQUAL(sl_checkpoint_offset(cp, "t", 7, epochs[7], 999), SL_OK);
  CU_ASSERT_EQUAL(sl_checkpoint_put(cp, "t", 2, "op", "k2", 2, "fresh", 5), SL_OK);
  CU_ASSERT_EQUAL(sl_checkpoint_offset(cp, "t", 2, epochs[2], 998), SL_OK);
  const sl_fenced *f;
  size_t nf;
  CU_ASSERT_EQUAL(sl_checkpoint_commit(r, cp, &f, &nf, &err), SL_ERR_FENCED);
  CU_ASSERT_EQUAL(nf, 1);
  if (nf == 1)
    CU_ASSERT_EQUAL(f[0].partition, 7);
  sl_checkpoint_free(cp);
  sl_redis_free(r);
}

static void test_checkpoint_across_primaries(void) {
  commit_and_restore("cp", 1);
  /* The partitions' keys are on more than one primary. */
  int owners[3] = {0}, n = 0;
  for (int p = 0; p < 12; p++) {
    char k[64];
    snprintf(k, sizeof k, "sl:{cp:t:%d}:offset", p);
    int o = rcf_owner(nodes, sl_redis_key_slot(k, strlen(k))), seen = 0;
    for (int i = 0; i < n; i++)
      seen |= owners[i] == o;
    if (!seen && n < 3)
      owners[n++] = o;
  }
  CU_ASSERT(n >= 2);
  /* `sluice state` scans every primary: all 12 partitions are listed, and
   * a reset deletes them wherever they are. */
  sl_redis *r = node_handle(5);
  const char *const topics[1] = {"t"};
  sl_state_inventory inv;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(sl_state_inventory_load(r, "cp", topics, 1, 1, &inv, &err), SL_OK);
  CU_ASSERT_EQUAL(inv.nparts, 12);
  for (size_t i = 0; i < inv.nparts; i++) {
    CU_ASSERT_EQUAL(inv.parts[i].partition, (int32_t)i);
    CU_ASSERT(inv.parts[i].epoch >= 1);
    CU_ASSERT_EQUAL(inv.parts[i].next_offset, i == 2 ? 998 : 100 + (int64_t)i); /* 2: fenced test */
    CU_ASSERT_EQUAL(inv.parts[i].nops, 1);
  }
  size_t deleted = 0;
  CU_ASSERT_EQUAL(sl_state_reset(r, "cp", &inv, &deleted, &err), SL_OK);
  CU_ASSERT_EQUAL(deleted, 36); /* epoch, offset and one state hash each */
  sl_state_inventory_free(&inv);
  CU_ASSERT_EQUAL_FATAL(sl_state_inventory_load(r, "cp", topics, 1, 0, &inv, &err), SL_OK);
  CU_ASSERT_EQUAL(inv.nparts, 0);
  sl_state_inventory_free(&inv);
  sl_redis_free(r);
}

/* A replica takes over (CLUSTER FAILOVER TAKEOVER) while a handle is connected: its
 * next checkpoint follows the MOVED replies of the demoted node. */
static void test_failover_under_a_connected_handle(void) {
  sl_error err;
  sl_redis *r = node_handle(0);
  int64_t e;
  CU_ASSERT_EQUAL_FATAL(sl_state_acquire_epoch(r, "fo", "t", 0, &e, &err), SL_OK);
  const char *key = "sl:{fo:t:0}:epoch";
  int primary = rcf_owner(nodes, sl_redis_key_slot(key, strlen(key)));
  int replica = rcf_replica_of(nodes, primary);
  CU_ASSERT_FATAL(replica > 0);
  redisReply *fr = rcf_raw(replica, "CLUSTER FAILOVER TAKEOVER");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fr);
  CU_ASSERT_EQUAL(fr->type, REDIS_REPLY_STATUS);
  if (fr->type == REDIS_REPLY_ERROR)
    fprintf(stderr, "cluster test: CLUSTER FAILOVER: %s\n", fr->str);
  freeReplyObject(fr);
  CU_ASSERT_EQUAL_FATAL(rcf_wait_for(replica, "INFO replication", "role:master"), 0);
  CU_ASSERT_EQUAL_FATAL(rcf_wait_for(primary, "INFO replication", "role:slave"), 0);
  sl_checkpoint *cp = sl_checkpoint_new("fo");
  CU_ASSERT_EQUAL(sl_checkpoint_put(cp, "t", 0, "op", "k", 1, "after", 5), SL_OK);
  CU_ASSERT_EQUAL(sl_checkpoint_offset(cp, "t", 0, e, 42), SL_OK);
  int rc = SL_ERR_UNAVAILABLE;
  for (int i = 0; i < 50 && rc == SL_ERR_UNAVAILABLE; i++) /* CLUSTERDOWN while voting */
    if ((rc = sl_checkpoint_commit(r, cp, NULL, NULL, &err)) == SL_ERR_UNAVAILABLE)
      rcf_pause_ms(100);
  if (rc != SL_OK)
    fprintf(stderr, "cluster test: commit after failover: %s\n", err.message);
  CU_ASSERT_EQUAL(rc, SL_OK);
  sl_checkpoint_free(cp);
  redisReply *g = rcf_raw(replica, "GET sl:{fo:t:0}:offset");
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  CU_ASSERT_EQUAL(g->type, REDIS_REPLY_STRING);
  if (g->type == REDIS_REPLY_STRING)
    CU_ASSERT_STRING_EQUAL(g->str, "42");
  freeReplyObject(g);
  sl_redis_free(r);
}

/* Alerts and the pipelines registry use keys of several slots and PUBLISH:
 * each command goes to its own node. */
static void test_alerts_and_registry(void) {
  sl_error err;
  sl_redis *r = node_handle(2);
  sl_alert_change ch[6];
  char names[6][16];
  for (int i = 0; i < 6; i++) {
    snprintf(names[i], sizeof names[i], "a%d", i);
    ch[i] = (sl_alert_change){names[i], "{\"m\":1}", "{\"state\":\"firing\"}", 1};
  }
  CU_ASSERT_EQUAL(sl_alerts_apply(r, "pa", ch, 6, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_alerts_apply(r, "pb", ch, 2, &err), SL_OK);
  char *out = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_alerts_list(r, NULL, "firing", &out, &err), SL_OK);
  int n = 0;
  for (const char *p = out; (p = strstr(p, "firing")); p++)
    n++;
  CU_ASSERT_EQUAL(n, 8);
  free(out);
  CU_ASSERT_EQUAL(sl_pipelines_announce(r, "pa", "{\"name\":\"pa\"}", &err), SL_OK);
  sl_redis_free(r);
}

static int no_dead_letter(void *rt, const sl_record *r, const char *reason, const char *msg) {
  (void)rt, (void)r, (void)reason, (void)msg;
  CU_FAIL("no record should be dead-lettered");
  return SL_OK;
}

/* The cache sink's keys (no hash tag) spread over the primaries: one
 * batch of 60 keys is written (three keys per record, each command to its
 * own node) and read back: latest, history and the prefix listing, whose
 * GETs go to every primary in one pipeline. */
static void test_cache_across_slots(void) {
  char u[64];
  snprintf(u, sizeof u, "redis://127.0.0.1:%d", nodes[1].port);
  sl_connector_env env = {.pipeline = "pc",
                          .redis_url = u,
                          .state = "redis",
                          .node_name = "cache#1",
                          .dead_letter = no_dead_letter};
  sl_config *c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "name", "spread");
  sl_config_put_string(c, "key", "machine_id");
  sl_config_put_number(c, "history", 2);
  void *st = NULL;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(sl_cache_sink.open(&env, c, &st, &err), SL_OK);
  sl_config_destroy(c);
  sl_arena *a = sl_arena_new(0);
  sl_batch b;
  sl_batch_init(&b, a);
  static char keys[60][8]; /* records point to their strings */
  char k[16];
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 60; i++) {
      sl_record *r = sl_record_new(a, 2);
      snprintf(keys[i], sizeof keys[i], "m%02d", i);
      sl_record_set(r, sl_name_cstr("machine_id"), sl_value_string(keys[i], strlen(keys[i])));
      sl_record_set(r, sl_name_cstr("n"), sl_value_int(round));
      sl_batch_push(&b, r);
    }
  size_t written = 0;
  CU_ASSERT_EQUAL(sl_cache_sink.write(st, &b, &written, &err), SL_OK);
  CU_ASSERT_EQUAL(written, 120);
  CU_ASSERT_EQUAL(sl_cache_sink.flush(st, 1000, &err), SL_OK);
  sl_batch_release(&b);
  sl_redis *r = node_handle(4);
  char *out = NULL, *next = NULL;
  for (int i = 0; i < 60; i++) {
    snprintf(k, sizeof k, "m%02d", i);
    CU_ASSERT_EQUAL(sl_cache_get_latest(r, "spread", k, &out, &err), SL_OK);
    char want[64];
    snprintf(want, sizeof want, "{\"machine_id\":\"%s\",\"n\":1}", k);
    CU_ASSERT_STRING_EQUAL(out ? out : "", want);
    free(out);
    out = NULL;
  }
  CU_ASSERT_EQUAL(sl_cache_history(r, "spread", "m07", 0, &out, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(out ? out : "",
                         "[{\"machine_id\":\"m07\",\"n\":1},{\"machine_id\":\"m07\",\"n\":0}]");
  free(out);
  CU_ASSERT_EQUAL(sl_cache_list(r, "spread", "m", 100, NULL, &out, &next, &err), SL_OK);
  int listed = 0;
  for (const char *p = out; p && (p = strstr(p, "\"n\":1}")); p++)
    listed++;
  CU_ASSERT_EQUAL(listed, 60);
  CU_ASSERT_PTR_NULL(next);
  free(out);
  sl_redis_free(r);
  sl_cache_sink.close(st);
  sl_arena_destroy(a);
}

/* The HTTP API reads the keys the sinks above spread over the slots (the
 * client itself: test_redis_cluster_async.c; `sluice serve` and a failover:
 * scripts/e2e/redis_cluster_api.sh): a cluster node's URL is detected. */
static void test_http_api(void) {
  char u[64];
  snprintf(u, sizeof u, "redis://127.0.0.1:%d", nodes[3].port);
  const char *const pipelines[2] = {"pa", "pb"};
  sl_http_config cfg = {.listen = "127.0.0.1:0",
                        .api_token = "",
                        .redis_url = u,
                        .rate_per_sec = -1,
                        .pipelines = pipelines,
                        .npipelines = 2};
  sl_error err;
  /* INFO cluster waits: until it answers, reads must not go to that one
   * node (a cluster would answer MOVED, a 502), but answer 503. */
  freeReplyObject(rcf_raw(nodes[3].port, "CLIENT PAUSE 1000"));
  sl_http_server *s = sl_http_start(&cfg, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  int port = sl_http_port(s), st = -1, other = 0;
  char path[64];
  for (int i = 0; i < 100 && st != 200; i++) {
    snprintf(path, sizeof path, "/api/v1/caches/spread/m%02d", i % 60);
    if ((st = rf_http_status(port, path)) != 200)
      rcf_pause_ms(50); /* detection, then the slot map */
    other += st != 200 && st != 503;
  }
  CU_ASSERT_EQUAL(st, 200);
  CU_ASSERT_EQUAL(other, 0);
  for (int i = 0; i < 60; i++) {
    snprintf(path, sizeof path, "/api/v1/caches/spread/m%02d", i);
    CU_ASSERT_EQUAL(rf_http_status(port, path), 200);
  }
  CU_ASSERT_EQUAL(rf_http_status(port, "/api/v1/caches/spread/nobody"), 404);
  CU_ASSERT_EQUAL(rf_http_status(port, "/api/v1/caches/spread/m07/history"), 200);
  CU_ASSERT_EQUAL(rf_http_status(port, "/api/v1/caches/spread?prefix=m"), 200);
  CU_ASSERT_EQUAL(rf_http_status(port, "/api/v1/alerts"), 200);
  CU_ASSERT_EQUAL(rf_http_status(port, "/readyz"), 200);
  sl_http_stop(s);
}

int suite_connectors_redis_cluster(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_cluster", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "any node's URL or seeds: a cluster", test_detect);
  CU_add_test(s, "seeds of a standalone server are refused", test_seeds_of_a_standalone_server);
  CU_add_test(s, "hash slots equal CLUSTER KEYSLOT", test_slots_match_the_server);
  CU_add_test(s, "a pipeline spreads over the primaries", test_pipeline_spreads);
  CU_add_test(s, "ASK and MOVED are followed", test_ask_then_moved);
  CU_add_test(s, "checkpoint and restore across primaries", test_checkpoint_across_primaries);
  CU_add_test(s, "alerts and the registry across slots", test_alerts_and_registry);
  CU_add_test(s, "the cache sink and its reads across slots", test_cache_across_slots);
  CU_add_test(s, "a failover under a connected handle", test_failover_under_a_connected_handle);
  CU_add_test(s, "the HTTP API reads across slots", test_http_api);
  return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
