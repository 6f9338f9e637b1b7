/* SPDX-License-Identifier: Apache-2.0 */
/* A pipeline's stored state seen from outside (connectors/redis_state_meta.c)
 * against a real redis-server: the inventory of what checkpoints wrote,
 * metadata round trips, and that drop and reset remove exactly their keys
 * and never another pipeline's (one whose name starts the same). */
#include <CUnit/CUnit.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../connectors/redis_state.h"
#include "redis_fixture.h"

static rf_server srv;
static sl_redis *r;

static int setup(void) {
  if (rf_start(&srv, NULL) != 0)
    return -1;
  char url[256];
  sl_error err;
  r = sl_redis_new(rf_url(&srv, NULL, NULL, 0, url, sizeof url), NULL, &err);
  return r ? 0 : -1;
}

static int teardown(void) {
  sl_redis_free(r);
  rf_stop(&srv);
  return 0;
}

/* Checkpoint `n` entries of operator `op` for one partition, as a worker does. */
static void checkpoint(const char *pipeline, const char *topic, int32_t part, const char *op,
                       int n, int64_t offset) {
  sl_error err;
  int64_t epoch = 0;
  CU_ASSERT_EQUAL_FATAL(sl_state_acquire_epoch(r, pipeline, topic, part, &epoch, &err), SL_OK);
  sl_checkpoint *cp = sl_checkpoint_new(pipeline);
  for (int i = 0; i < n; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    CU_ASSERT_EQUAL(sl_checkpoint_put(cp, topic, part, op, k, strlen(k), "0123456789", 10), SL_OK);
  }
  CU_ASSERT_EQUAL(sl_checkpoint_offset(cp, topic, part, epoch, offset), SL_OK);
  CU_ASSERT_EQUAL(sl_checkpoint_commit(r, cp, NULL, NULL, &err), SL_OK);
  sl_checkpoint_free(cp);
}

static long long exists(const char *key) {
  redisContext *c = redisConnect("127.0.0.1", srv.port);
  redisReply *rep = redisCommand(c, "EXISTS %s", key);
  long long v = rep ? rep->integer : -1;
  freeReplyObject(rep);
  redisFree(c);
  return v;
}

static void test_inventory_of_checkpointed_state(void) {
  checkpoint("line", "telemetry", 1, "stats", 3, 42);
  checkpoint("line", "telemetry", 0, "stats", 2, 7);
  checkpoint("line", "telemetry", 0, "alert:hot", 1, 7);
  checkpoint("line:b", "telemetry", 0, "other", 5, 9); /* another pipeline, same prefix */
  sl_error err;
  sl_state_inventory inv;
  CU_ASSERT_EQUAL_FATAL(sl_state_inventory_load(r, "line", NULL, 0, 1, &inv, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(inv.nparts, 2);
  const sl_state_part_info *p0 = &inv.parts[0], *p1 = &inv.parts[1];
  CU_ASSERT_STRING_EQUAL(p0->topic, "telemetry");
  CU_ASSERT_EQUAL(p0->partition, 0);
  CU_ASSERT_EQUAL(p0->epoch, 2); /* two checkpoints each took an epoch */
  CU_ASSERT_EQUAL(p0->next_offset, 7);
  CU_ASSERT_EQUAL_FATAL(p0->nops, 2);
  CU_ASSERT_STRING_EQUAL(p0->ops[0].id, "alert:hot");
  CU_ASSERT_STRING_EQUAL(p0->ops[1].id, "stats");
  CU_ASSERT_EQUAL(p0->ops[1].entries, 2);
  CU_ASSERT_EQUAL(p0->ops[1].bytes, 2 * (2 + 10));
  CU_ASSERT_EQUAL(p1->partition, 1);
  CU_ASSERT_EQUAL(p1->next_offset, 42);
  CU_ASSERT_EQUAL(p1->ops[0].entries, 3);
  sl_state_inventory_free(&inv);
  /* A file source whose path has ':' is the pipeline's when it says so. */
  checkpoint("line", "C:in.jsonl", 0, "stats", 1, 3);
  const char *const own[] = {"C:in.jsonl"};
  CU_ASSERT_EQUAL_FATAL(sl_state_inventory_load(r, "line", own, 1, 0, &inv, &err), SL_OK);
  CU_ASSERT_EQUAL(inv.nparts, 3);
  CU_ASSERT_STRING_EQUAL(inv.parts[0].topic, "C:in.jsonl");
  sl_state_inventory_free(&inv);
  /* The name with glob characters matches itself only. */
  CU_ASSERT_EQUAL_FATAL(sl_state_inventory_load(r, "li*", NULL, 0, 0, &inv, &err), SL_OK);
  CU_ASSERT_EQUAL(inv.nparts, 0);
  sl_state_inventory_free(&inv);
}

static void test_metadata_round_trip(void) {
  sl_error err;
  sl_state_meta *m = NULL;
  size_t n = 0;
  int present = 1;
  CU_ASSERT_EQUAL(sl_state_meta_read(r, "line", &m, &n, &present, &err), SL_OK);
  CU_ASSERT_EQUAL(present, 0);
  sl_state_meta_free(m, n);
  sl_state_meta w[2] = {{"stats", "window", "telemetry", "window=tumbling 10s\nkey=k\n"},
                        {"alert:hot", "alert", "telemetry", "key=\n"}};
  CU_ASSERT_EQUAL_FATAL(sl_state_meta_write(r, "line", w, 2, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_state_meta_read(r, "line", &m, &n, &present, &err), SL_OK);
  CU_ASSERT_EQUAL(present, 1);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  for (size_t i = 0; i < n; i++) {
    const sl_state_meta *want = strcmp(m[i].id, "stats") == 0 ? &w[0] : &w[1];
    CU_ASSERT_STRING_EQUAL(m[i].type, want->type);
    CU_ASSERT_STRING_EQUAL(m[i].topic, want->topic);
    CU_ASSERT_STRING_EQUAL(m[i].shape, want->shape);
  }
  sl_state_meta_free(m, n);
  /* A write replaces: nodes no longer in the pipeline leave the metadata. */
  CU_ASSERT_EQUAL_FATAL(sl_state_meta_write(r, "line", w, 1, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_state_meta_read(r, "line", &m, &n, &present, &err), SL_OK);
  CU_ASSERT_EQUAL(n, 1);
  sl_state_meta_free(m, n);
}

static void test_drop_and_reset_remove_exactly_their_keys(void) {
  sl_error err;
  sl_state_inventory inv;
  CU_ASSERT_EQUAL_FATAL(sl_state_inventory_load(r, "line", NULL, 0, 0, &inv, &err), SL_OK);
  size_t deleted = 0;
  CU_ASSERT_EQUAL(sl_state_drop_op(r, "line", &inv, "stats", &deleted, &err), SL_OK);
  CU_ASSERT_EQUAL(deleted, 2);
  CU_ASSERT_EQUAL(exists("sl:{line:telemetry:0}:state:stats"), 0);
  CU_ASSERT_EQUAL(exists("sl:{line:telemetry:0}:state:alert:hot"), 1);
  CU_ASSERT_EQUAL(exists("sl:{line:telemetry:0}:offset"), 1);
  CU_ASSERT_EQUAL(exists("sl:{line}:nodes"), 0); /* its only metadata entry went with it */
  sl_state_inventory_free(&inv);
  CU_ASSERT_EQUAL_FATAL(sl_state_inventory_load(r, "line", NULL, 0, 0, &inv, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_state_reset(r, "line", &inv, &deleted, &err), SL_OK);
  CU_ASSERT_EQUAL(deleted, 5); /* 2 epochs, 2 offsets, 1 state hash (not C:in.jsonl's) */
  sl_state_inventory_free(&inv);
  CU_ASSERT_EQUAL_FATAL(sl_state_inventory_load(r, "line", NULL, 0, 0, &inv, &err), SL_OK);
  CU_ASSERT_EQUAL(inv.nparts, 0);
  sl_state_inventory_free(&inv);
  CU_ASSERT_EQUAL(exists("sl:{line:b:telemetry:0}:state:other"), 1);
}

int suite_connectors_redis_state_meta(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_state_meta", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "inventory of checkpointed state", test_inventory_of_checkpointed_state);
  CU_add_test(s, "metadata round trip", test_metadata_round_trip);
  CU_add_test(s, "drop and reset remove exactly their keys",
              test_drop_and_reset_remove_exactly_their_keys);
  return 0;
}
