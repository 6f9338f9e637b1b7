/* SPDX-License-Identifier: Apache-2.0 */
/* Partitions assigned while Redis is away (issue 12): the restore (epoch
 * INCR, offsets, state) waits and retries within the retry budget instead
 * of failing the worker at once, and gives up with a message naming the
 * budget when it is spent. A test source reports an assignment of
 * partition 0 from its first poll, as kafka_source does from its rebalance
 * callback, right after Redis was killed. */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "base/record_internal.h"
#include "engine/runtime.h"
#include "engine/runtime_internal.h"
#include "lang/connector.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "lua_fixture.h"
#include "redis_fixture.h"

#define RECORDS 5

static rf_server redis;
static int assign_rc = -100; /* what on_assign answered */
static int64_t start_offset; /* the offset it handed back */
static int restart_after_ms; /* > 0: restarted this long after the kill; < 0: no kill */
static pthread_t restarter;

static int test_over; /* the restarted server is no longer needed */
/* Partitions the source is assigned: 1 (partition 0, RECORDS records), or
 * more (one record at offset 10 in each). */
#define MANY_PARTS 300
static int nparts = 1;
static int64_t committed[MANY_PARTS]; /* per partition: the last offset committed */
static int revoke_failing;  /* give partition 0 up at the second poll, its Kafka commit refused */
static int commit_failures; /* commits still to refuse as a Kafka outage */

/* The server dies with the thread that forked it (PR_SET_PDEATHSIG), so
 * this thread lives until the test is over. */
static void *restart_later(void *ud) {
  (void)ud;
  struct timespec ts = {restart_after_ms / 1000, (long)(restart_after_ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  if (rf_restart(&redis) != 0)
    fprintf(stderr, "test_runtime_assign: cannot restart Redis\n");
  struct timespec tick = {0, 10 * 1000000L};
  while (!__atomic_load_n(&test_over, __ATOMIC_ACQUIRE))
    nanosleep(&tick, NULL);
  return NULL;
}

typedef struct src {
  const sl_connector_env *env;
  int sent;
  int assigned;
} src;

static int src_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                    sl_error *err) {
  (void)cfg, (void)err;
  src *s = calloc(1, sizeof *s);
  if (!s)
    return SL_ERR_NOMEM;
  s->env = env;
  *state = s;
  return SL_OK;
}

static int src_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                    sl_error *err) {
  (void)max, (void)timeout_ms;
  src *s = state;
  if (!s->assigned) {
    s->assigned = 1;
    int32_t parts[MANY_PARTS];
    int64_t starts[MANY_PARTS];
    for (int i = 0; i < nparts; i++)
      parts[i] = i;
    if (restart_after_ms >= 0)
      rf_kill9(&redis); /* the outage begins just before the assignment */
    if (restart_after_ms > 0 && pthread_create(&restarter, NULL, restart_later, NULL) != 0)
      return sl_error_set(err, SL_ERR_INTERNAL, "cannot start the restarter thread");
    assign_rc =
        s->env->on_assign(s->env->runtime, s->env->source_id, parts, (size_t)nparts, starts);
    start_offset = starts[0];
    if (assign_rc != SL_OK)
      return sl_error_set(err, SL_ERR_UNAVAILABLE, "assignment failed");
  }
  if (revoke_failing && s->sent == RECORDS) {
    int32_t part = 0;
    commit_failures = 1; /* what a coordinator in the middle of a rebalance may answer */
    s->env->on_revoke(s->env->runtime, s->env->source_id, &part, 1);
    s->sent++;
    *eof = 1;
    return SL_OK;
  }
  int many = nparts > 1;
  while (s->sent < (many ? nparts : RECORDS)) {
    sl_record *r = sl_record_new(sl_batch_arena(out), 1);
    if (!r)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_record_set_raw(r, "{}", 2);
    sl_record_set_position(r, 0, "assigning", many ? s->sent : 0, many ? 10 : 10 + s->sent);
    if (sl_batch_push(out, r) != SL_OK)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    s->sent++;
  }
  *eof = !revoke_failing;
  return SL_OK;
}

static int commit_calls;
static char paused_reason[160]; /* what /readyz said at the commit after a refusal */

static int src_commit(void *state, const sl_offset *offsets, size_t n, sl_error *err) {
  src *s = state;
  if (commit_calls++ > 0 && !paused_reason[0]) {
    char buf[sizeof paused_reason];
    const char *why = sl_runtime_not_ready(sl_runtime_of_env(s->env->runtime), 1, buf, sizeof buf);
    snprintf(paused_reason, sizeof paused_reason, "%s", why ? why : "(ready)");
  }
  if (commit_failures > 0) {
    commit_failures--;
    sl_error_set(err, SL_ERR_UNAVAILABLE,
                 "kafka_source 'x': commit: Local: Waiting for coordinator");
    err->retriable = 1;
    return SL_ERR_UNAVAILABLE;
  }
  for (size_t i = 0; i < n; i++)
    if (offsets[i].partition >= 0 && offsets[i].partition < MANY_PARTS)
      committed[offsets[i].partition] = offsets[i].next_offset;
  return SL_OK;
}

static void src_close(void *state) { free(state); }

static const sl_config_entry src_config[] = {{NULL, 0, 0, NULL, NULL}};
static const sl_source_desc assigning_source = {
    .name = "assigning_source",
    .summary = "test source assigned partition 0 at its first poll",
    .config = src_config,
    .open = src_open,
    .poll = src_poll,
    .commit = src_commit,
    .close = src_close,
};

/* Runs p:assigning_source{}:file_sink{} with state in `redis`; returns
 * sl_runtime_run's status, its message in msg. */
static int run_pipeline(int64_t budget_ms, char *msg, size_t msg_cap) {
  char dir[64], text[512], url[256];
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-assign"), 0);
  snprintf(
      text, sizeof text,
      "local sl = require \"sluice\"\n"
      "local p = sl.pipeline { name = \"assign\", state = \"redis\", redis = \"%s\" }\n"
      "p:assigning_source {}:decode { format = \"json\" }:file_sink { path = \"out.jsonl\" }\n",
      rf_url(&redis, NULL, NULL, 0, url, sizeof url));
  sl_error err;
  sl_error_clear(&err);
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
  CU_ASSERT_EQUAL(sl_registry_add_source(reg, &assigning_source), SL_OK);
  sl_runtime_options o = {.retry_budget_ms = budget_ms};
  lf_loaded l = lf_runtime(dir, text, reg, &o);
  int rc = sl_runtime_run(l.rt, &err);
  snprintf(msg, msg_cap, "%s", rc == SL_OK ? "" : err.message);
  lf_unload(&l);
  lf_dir_remove(dir);
  return rc;
}

static long long redis_int(const char *key) {
  redisContext *c = redisConnect("127.0.0.1", redis.port);
  long long v = -1;
  if (c && !c->err) {
    redisReply *r = redisCommand(c, "GET %s", key);
    if (r && r->type == REDIS_REPLY_STRING)
      v = atoll(r->str);
    if (r)
      freeReplyObject(r);
  }
  if (c)
    redisFree(c);
  return v;
}

/* Regression: the worker exited 3 at once ("restoring assigned partitions
 * failed: Redis ... unreachable during INCR of the partition epoch"). */
static void test_assignment_waits_for_redis(void) {
  rf_opts o = {.appendonly = 1, .appendfsync = "always"};
  CU_ASSERT_EQUAL_FATAL(rf_start(&redis, &o), 0);
  restart_after_ms = 1500;
  char msg[512];
  int rc = run_pipeline(60000, msg, sizeof msg);
  if (rc != SL_OK)
    fprintf(stderr, "run: %s\n", msg);
  CU_ASSERT_EQUAL(rc, SL_OK);
  CU_ASSERT_EQUAL(assign_rc, SL_OK);
  CU_ASSERT_EQUAL(start_offset, -1); /* nothing stored yet: from the committed offset */
  /* Restored once Redis was back, then checkpointed to the end. */
  CU_ASSERT_EQUAL(redis_int("sl:{assign:assigning_source:0}:epoch"), 1);
  CU_ASSERT_EQUAL(redis_int("sl:{assign:assigning_source:0}:offset"), 10 + RECORDS);
  rf_stop(&redis);
  __atomic_store_n(&test_over, 1, __ATOMIC_RELEASE);
  pthread_join(restarter, NULL);
}

/* With Redis gone for good, the assignment gives up when the budget is
 * spent, and says so. */
static void test_assignment_gives_up_after_the_budget(void) {
  CU_ASSERT_EQUAL_FATAL(rf_start(&redis, NULL), 0);
  restart_after_ms = 0;
  char msg[512];
  CU_ASSERT_NOT_EQUAL(run_pipeline(800, msg, sizeof msg), SL_OK);
  CU_ASSERT_EQUAL(assign_rc, SL_ERR_UNAVAILABLE);
  rf_stop(&redis);
}

/* Regression (issue 12): a Kafka commit failure after the Redis checkpoint
 * was reported as "processing paused until Redis answers"; the pause now
 * names Kafka. */
static void test_kafka_commit_failure_names_kafka(void) {
  CU_ASSERT_EQUAL_FATAL(rf_start(&redis, NULL), 0);
  restart_after_ms = -1; /* no outage: only the commit fails */
  commit_failures = 1;
  commit_calls = 0;
  paused_reason[0] = '\0';
  char msg[512];
  CU_ASSERT_EQUAL(run_pipeline(60000, msg, sizeof msg), SL_OK);
  CU_ASSERT_EQUAL(assign_rc, SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(paused_reason, "Kafka unreachable: offsets not committed"));
  CU_ASSERT_PTR_NULL(strstr(paused_reason, "Redis"));
  CU_ASSERT_EQUAL(redis_int("sl:{assign:assigning_source:0}:offset"), 10 + RECORDS);
  rf_stop(&redis);
}

/* Regression (found measuring docs/scaling.md): a worker owning more than 256
 * partitions committed the Kafka offsets of the first 256 only (a fixed
 * array) and took the others for committed, so their group offsets never
 * moved: the consumer lag that Kafka tools and the KEDA autoscaler read grew
 * without end. */
static void test_commit_reaches_every_partition(void) {
  CU_ASSERT_EQUAL_FATAL(rf_start(&redis, NULL), 0);
  restart_after_ms = -1;
  commit_failures = 0;
  nparts = MANY_PARTS;
  for (int i = 0; i < MANY_PARTS; i++)
    committed[i] = -1;
  char msg[512];
  CU_ASSERT_EQUAL(run_pipeline(60000, msg, sizeof msg), SL_OK);
  int n = 0;
  for (int i = 0; i < MANY_PARTS; i++)
    n += committed[i] == 11;
  CU_ASSERT_EQUAL(n, MANY_PARTS);
  CU_ASSERT_EQUAL(redis_int("sl:{assign:assigning_source:299}:offset"), 11);
  nparts = 1;
  rf_stop(&redis);
}

/* The log of a revoke whose Kafka offset commit was refused (the mock
 * broker refuses commits while a rebalance is in progress): it said
 * "checkpoint before giving up 1 partitions failed ... resumes from the last
 * checkpoint" although that checkpoint was in Redis, where the new owner
 * resumes from; now it says so (and bench/scale_out.py finds the revoke). */
static void test_revoke_with_kafka_commit_refused(void) {
  CU_ASSERT_EQUAL_FATAL(rf_start(&redis, NULL), 0);
  restart_after_ms = -1;
  revoke_failing = 1;
  char path[] = "/tmp/sluice-revoke-log.XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  char msg[512];
  int rc = run_pipeline(60000, msg, sizeof msg);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char log[16384] = "";
  ssize_t got = pread(fd, log, sizeof log - 1, 0);
  log[got > 0 ? got : 0] = '\0';
  close(fd);
  unlink(path);
  CU_ASSERT_EQUAL(rc, SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(log, "1 partitions revoked: outputs flushed and checkpoint taken"));
  CU_ASSERT_PTR_NOT_NULL(strstr(log, "the Kafka offset commit failed: kafka_source 'x'"));
  CU_ASSERT_PTR_NULL(strstr(log, "checkpoint before giving up"));
  CU_ASSERT_EQUAL(redis_int("sl:{assign:assigning_source:0}:offset"), 10 + RECORDS);
  revoke_failing = 0;
  rf_stop(&redis);
}

int suite_core_runtime_assign(void) {
  CU_pSuite s = CU_add_suite("core_runtime_assign", NULL, NULL);
  if (!s || !CU_add_test(s, "assignment waits for Redis", test_assignment_waits_for_redis) ||
      !CU_add_test(s, "assignment gives up after the retry budget",
                   test_assignment_gives_up_after_the_budget) ||
      !CU_add_test(s, "a Kafka commit failure names Kafka",
                   test_kafka_commit_failure_names_kafka) ||
      !CU_add_test(s, "offsets of more than 256 partitions are all committed",
                   test_commit_reaches_every_partition) ||
      !CU_add_test(s, "a revoke whose Kafka commit is refused says the state is in Redis",
                   test_revoke_with_kafka_commit_refused))
    return -1;
  return 0;
}
