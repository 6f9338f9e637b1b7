/* SPDX-License-Identifier: Apache-2.0 */
/* The cache sink, the read helpers of the HTTP API and the alert store,
 * against a real redis-server: latest record, history order and length,
 * ttl, prefix listing with cursors, events, dead letters, Redis down. */
#include <CUnit/CUnit.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../connectors/redis.h"
#include "base/config.h"
#include "base/record_internal.h"
#include "redis_fixture.h"

static rf_server srv;
static char url[256];

static int setup(void) {
  if (rf_start(&srv, NULL) != 0)
    return -1;
  rf_url(&srv, NULL, NULL, 0, url, sizeof url);
  return 0;
}
static int teardown(void) {
  rf_stop(&srv);
  return 0;
}

static int dead_count;
static char dead_msg[300];
static int fake_dead_letter(void *rt, const sl_record *r, const char *reason, const char *msg) {
  (void)rt, (void)r, (void)reason;
  dead_count++;
  snprintf(dead_msg, sizeof dead_msg, "%s", msg);
  return SL_OK;
}

static sl_connector_env env_for(const char *redis_url) {
  sl_connector_env env = {.pipeline = "pc",
                          .redis_url = redis_url,
                          .state = "redis",
                          .node_name = "cache#1",
                          .dead_letter = fake_dead_letter};
  return env;
}

static void *open_sink(const sl_connector_env *env, const char *name, int history,
                       const char *ttl) {
  sl_config *c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "name", name);
  sl_config_put_string(c, "key", "machine_id");
  if (history)
    sl_config_put_number(c, "history", history);
  if (ttl)
    sl_config_put_string(c, "ttl", ttl);
  void *st = NULL;
  sl_error err;
  int rc = sl_cache_sink.open(env, c, &st, &err);
  sl_config_destroy(c);
  return rc == SL_OK ? st : NULL;
}

/* Write one batch of records {machine_id, n} and flush. */
static int put(void *st, sl_arena *a, const char *const *keys, const int *ns, size_t count,
               sl_error *err) {
  sl_batch b;
  sl_batch_init(&b, a);
  for (size_t i = 0; i < count; i++) {
    sl_record *r = sl_record_new(a, 2);
    if (keys[i])
      sl_record_set(r, sl_name_cstr("machine_id"), sl_value_string(keys[i], strlen(keys[i])));
    sl_record_set(r, sl_name_cstr("n"), sl_value_int(ns[i]));
    sl_batch_push(&b, r);
  }
  size_t written = 0;
  int rc = sl_cache_sink.write(st, &b, &written, err);
  sl_batch_release(&b);
  if (rc != SL_OK)
    return rc;
  if (written != count)
    return SL_ERR_INTERNAL;
  return sl_cache_sink.flush(st, 1000, err);
}

static redisContext *raw(void) { return redisConnect("127.0.0.1", srv.port); }

static sl_redis *reader(void) {
  sl_error err;
  return sl_redis_new(url, NULL, &err);
}

static void test_latest_and_history(void) {
  sl_connector_env env = env_for(url);
  void *st = open_sink(&env, "machines", 3, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(st);
  sl_arena *a = sl_arena_new(0);
  const char *keys[] = {"m1", "m1", "m2", "m1", "m1", "m1"};
  const int ns[] = {1, 2, 10, 3, 4, 5};
  sl_error err;
  CU_ASSERT_EQUAL(put(st, a, keys, ns, 6, &err), SL_OK);
  sl_redis *r = reader();
  char *s = NULL;
  CU_ASSERT_EQUAL(sl_cache_get_latest(r, "machines", "m1", &s, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "{\"machine_id\":\"m1\",\"n\":5}");
  free(s);
  CU_ASSERT_EQUAL(sl_cache_get_latest(r, "machines", "m2", &s, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "{\"machine_id\":\"m2\",\"n\":10}");
  free(s);
  CU_ASSERT_EQUAL(sl_cache_get_latest(r, "machines", "zz", &s, &err), SL_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NULL(s);
  /* history 3: newest first, trimmed */
  CU_ASSERT_EQUAL(sl_cache_history(r, "machines", "m1", 0, &s, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[{\"machine_id\":\"m1\",\"n\":5},{\"machine_id\":\"m1\",\"n\":4},"
                            "{\"machine_id\":\"m1\",\"n\":3}]");
  free(s);
  CU_ASSERT_EQUAL(sl_cache_history(r, "machines", "m1", 2, &s, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[{\"machine_id\":\"m1\",\"n\":5},{\"machine_id\":\"m1\",\"n\":4}]");
  free(s);
  CU_ASSERT_EQUAL(sl_cache_history(r, "machines", "nope", 5, &s, &err), SL_ERR_NOT_FOUND);
  /* No ttl configured: nothing expires. */
  redisContext *c = raw();
  redisReply *rep = redisCommand(c, "PTTL sl:cache:machines:v:m1");
  CU_ASSERT_EQUAL(rep->integer, -1);
  freeReplyObject(rep);
  redisFree(c);
  sl_redis_free(r);
  sl_cache_sink.close(st);
  sl_arena_destroy(a);
}

static void test_latest_only_and_ttl(void) {
  sl_connector_env env = env_for(url);
  void *st = open_sink(&env, "lat", 0, "1h");
  CU_ASSERT_PTR_NOT_NULL_FATAL(st);
  sl_arena *a = sl_arena_new(0);
  const char *keys[] = {"k", "k"};
  const int ns[] = {1, 2};
  sl_error err;
  CU_ASSERT_EQUAL(put(st, a, keys, ns, 2, &err), SL_OK);
  redisContext *c = raw();
  redisReply *rep = redisCommand(c, "PTTL sl:cache:lat:v:k");
  CU_ASSERT(rep->integer > 3500000 && rep->integer <= 3600000);
  freeReplyObject(rep);
  rep = redisCommand(c, "EXISTS sl:cache:lat:h:k"); /* history 0: no list */
  CU_ASSERT_EQUAL(rep->integer, 0);
  freeReplyObject(rep);
  redisFree(c);
  sl_redis *r = reader();
  char *s;
  /* history of a latest-only cache: the latest record */
  CU_ASSERT_EQUAL(sl_cache_history(r, "lat", "k", 10, &s, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[{\"machine_id\":\"k\",\"n\":2}]");
  free(s);
  sl_redis_free(r);
  sl_cache_sink.close(st);
  /* history with ttl: the list expires too */
  st = open_sink(&env, "hist", 5, "10m");
  CU_ASSERT_EQUAL(put(st, a, keys, ns, 2, &err), SL_OK);
  c = raw();
  rep = redisCommand(c, "PTTL sl:cache:hist:h:k");
  CU_ASSERT(rep->integer > 500000 && rep->integer <= 600000);
  freeReplyObject(rep);
  redisFree(c);
  sl_cache_sink.close(st);
  sl_arena_destroy(a);
}

static void test_prefix_listing(void) {
  sl_connector_env env = env_for(url);
  void *st = open_sink(&env, "list", 0, NULL);
  sl_arena *a = sl_arena_new(0);
  const char *keys[] = {"b1", "a3", "a1", "a2", "c", "a2"};
  const int ns[] = {1, 2, 3, 4, 5, 6};
  sl_error err;
  CU_ASSERT_EQUAL(put(st, a, keys, ns, 6, &err), SL_OK);
  sl_redis *r = reader();
  char *s = NULL, *next = NULL;
  CU_ASSERT_EQUAL(sl_cache_list(r, "list", "a", 2, NULL, &s, &next, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[{\"key\":\"a1\",\"record\":{\"machine_id\":\"a1\",\"n\":3}},"
                            "{\"key\":\"a2\",\"record\":{\"machine_id\":\"a2\",\"n\":6}}]");
  CU_ASSERT_PTR_NOT_NULL_FATAL(next);
  CU_ASSERT_STRING_EQUAL(next, "a2");
  free(s);
  char *cur = next;
  CU_ASSERT_EQUAL(sl_cache_list(r, "list", "a", 2, cur, &s, &next, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[{\"key\":\"a3\",\"record\":{\"machine_id\":\"a3\",\"n\":2}}]");
  CU_ASSERT_PTR_NULL(next);
  free(s);
  free(cur);
  /* all keys */
  CU_ASSERT_EQUAL(sl_cache_list(r, "list", "", 0, NULL, &s, &next, &err), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"key\":\"b1\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"key\":\"c\""));
  free(s);
  /* An expired record (simulated by deleting it) leaves the index. */
  redisContext *c = raw();
  freeReplyObject(redisCommand(c, "DEL sl:cache:list:v:b1"));
  CU_ASSERT_EQUAL(sl_cache_list(r, "list", "b", 10, NULL, &s, &next, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[]");
  free(s);
  redisReply *rep = redisCommand(c, "ZSCORE sl:cache:list:keys b1");
  CU_ASSERT_EQUAL(rep->type, REDIS_REPLY_NIL);
  freeReplyObject(rep);
  redisFree(c);
  CU_ASSERT_EQUAL(sl_cache_list(r, "list", "zzz", 10, NULL, &s, &next, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[]");
  free(s);
  CU_ASSERT_EQUAL(sl_cache_list(r, "bad:name", "", 10, NULL, &s, &next, &err), SL_ERR_INVALID);
  sl_redis_free(r);
  sl_cache_sink.close(st);
  sl_arena_destroy(a);
}

static void test_events_and_dead_letters(void) {
  redisContext *sub = raw();
  redisReply *rep = redisCommand(sub, "SUBSCRIBE sl:events");
  freeReplyObject(rep); /* subscribed before anything is published */
  sl_connector_env env = env_for(url);
  void *st = open_sink(&env, "ev", 0, NULL);
  sl_arena *a = sl_arena_new(0);
  const char *keys[] = {"m9", NULL};
  const int ns[] = {7, 8};
  sl_error err;
  dead_count = 0;
  CU_ASSERT_EQUAL(put(st, a, keys, ns, 2, &err), SL_OK);
  CU_ASSERT_EQUAL(dead_count, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(dead_msg, "machine_id"));
  void *m;
  CU_ASSERT_EQUAL_FATAL(redisGetReply(sub, &m), REDIS_OK);
  rep = m;
  CU_ASSERT_EQUAL_FATAL(rep->elements, 3);
  CU_ASSERT_STRING_EQUAL(rep->element[2]->str,
                         "{\"type\":\"result\",\"cache\":\"ev\",\"key\":\"m9\","
                         "\"record\":{\"machine_id\":\"m9\",\"n\":7}}");
  freeReplyObject(rep);
  /* alerts publish too */
  sl_redis *r = reader();
  CU_ASSERT_EQUAL(sl_alerts_put_firing(r, "pc", "hot", "{\"machine_id\":\"m9\"}",
                                       "{\"alert\":\"hot\",\"state\":\"firing\"}", &err),
                  SL_OK);
  CU_ASSERT_EQUAL_FATAL(redisGetReply(sub, &m), REDIS_OK);
  rep = m;
  CU_ASSERT_STRING_EQUAL(rep->element[2]->str, "{\"type\":\"alert\",\"data\":{\"alert\":\"hot\",\"state\":\"firing\"}}");
  freeReplyObject(rep);
  sl_redis_free(r);
  redisFree(sub);
  sl_cache_sink.close(st);
  sl_arena_destroy(a);
}

static void test_alert_store(void) {
  sl_redis *r = reader();
  sl_error err;
  CU_ASSERT_EQUAL(sl_alerts_put_firing(r, "pa", "overheat", "{\"m\":\"1\"}",
                                       "{\"alert\":\"overheat\",\"state\":\"firing\",\"n\":1}",
                                       &err),
                  SL_OK);
  CU_ASSERT_EQUAL(sl_alerts_put_firing(r, "pa", "overheat", "{\"m\":\"2\"}",
                                       "{\"alert\":\"overheat\",\"state\":\"firing\",\"n\":2}",
                                       &err),
                  SL_OK);
  CU_ASSERT_EQUAL(sl_alerts_put_firing(r, "pb", "dead", "{\"m\":\"3\"}",
                                       "{\"alert\":\"dead\",\"state\":\"firing\",\"n\":3}", &err),
                  SL_OK);
  /* re-firing the same key replaces, not duplicates */
  CU_ASSERT_EQUAL(sl_alerts_put_firing(r, "pa", "overheat", "{\"m\":\"1\"}",
                                       "{\"alert\":\"overheat\",\"state\":\"firing\",\"n\":4}",
                                       &err),
                  SL_OK);
  CU_ASSERT_EQUAL(sl_alerts_resolve(r, "pa", "overheat", "{\"m\":\"2\"}",
                                    "{\"alert\":\"overheat\",\"state\":\"resolved\"}", &err),
                  SL_OK);
  char *s;
  CU_ASSERT_EQUAL(sl_alerts_list(r, "pa", "firing", &s, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[{\"alert\":\"overheat\",\"state\":\"firing\",\"n\":4}]");
  free(s);
  CU_ASSERT_EQUAL(sl_alerts_list(r, NULL, NULL, &s, &err), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"n\":4"));
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"n\":3"));
  CU_ASSERT_PTR_NULL(strstr(s, "\"n\":2"));
  CU_ASSERT_PTR_NULL(strstr(s, "\"n\":1"));
  free(s);
  CU_ASSERT_EQUAL(sl_alerts_list(r, NULL, "resolved", &s, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[]");
  free(s);
  CU_ASSERT_EQUAL(sl_alerts_list(r, "nobody", NULL, &s, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[]");
  free(s);
  sl_redis_free(r);
}

/* A burst in one call: 1000 keys fire, then half of them resolve, and one
 * key fires and resolves within the same call (order is kept). */
static void test_alert_burst(void) {
  sl_redis *r = reader();
  sl_error err;
  enum { N = 1000 };
  static char keys[N][32], bodies[N][96];
  static sl_alert_change ch[N + 2];
  for (int i = 0; i < N; i++) {
    snprintf(keys[i], sizeof keys[i], "{\"m\":\"%d\"}", i);
    snprintf(bodies[i], sizeof bodies[i], "{\"alert\":\"silent\",\"state\":\"firing\",\"i\":%d}", i);
    ch[i] = (sl_alert_change){"silent", keys[i], bodies[i], 1};
  }
  CU_ASSERT_EQUAL(sl_alerts_apply(r, "burst", ch, N, &err), SL_OK);
  for (int i = 0; i < N / 2; i++)
    ch[i] = (sl_alert_change){"silent", keys[2 * i], NULL, 0};
  ch[N / 2] = (sl_alert_change){"other", "{}", "{\"alert\":\"other\",\"state\":\"firing\"}", 1};
  ch[N / 2 + 1] = (sl_alert_change){"other", "{}", NULL, 0};
  CU_ASSERT_EQUAL(sl_alerts_apply(r, "burst", ch, N / 2 + 2, &err), SL_OK);
  char *s;
  CU_ASSERT_EQUAL_FATAL(sl_alerts_list(r, "burst", "firing", &s, &err), SL_OK);
  int n = 0, odd = 1;
  for (const char *p = s; (p = strstr(p, "\"i\":")) != NULL; p++, n++)
    odd &= atoi(p + 4) % 2 == 1;
  CU_ASSERT_EQUAL(n, N / 2);
  CU_ASSERT(odd);
  CU_ASSERT_PTR_NULL(strstr(s, "other"));
  free(s);
  ch[0] = (sl_alert_change){"x", "{}", NULL, 1}; /* firing needs its JSON */
  CU_ASSERT_EQUAL(sl_alerts_apply(r, "burst", ch, 1, &err), SL_ERR_INVALID);
  sl_redis_free(r);
}

static void test_redis_down_keeps_batch(void) {
  rf_server s2;
  CU_ASSERT_EQUAL_FATAL(rf_start(&s2, NULL), 0);
  char u2[256];
  sl_connector_env env = env_for(rf_url(&s2, NULL, NULL, 0, u2, sizeof u2));
  void *st = open_sink(&env, "down", 2, NULL);
  sl_arena *a = sl_arena_new(0);
  const char *k1[] = {"x"};
  const int n1[] = {1};
  sl_error err;
  CU_ASSERT_EQUAL(put(st, a, k1, n1, 1, &err), SL_OK); /* connected and acknowledged */
  rf_kill9(&s2);                                       /* no persistence: Redis comes back empty */
  const char *k2[] = {"y", "x"};
  const int n2[] = {2, 3};
  CU_ASSERT_EQUAL(put(st, a, k2, n2, 2, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT(err.retriable);
  CU_ASSERT_EQUAL(sl_cache_sink.flush(st, 100, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_EQUAL_FATAL(rf_restart(&s2), 0);
  CU_ASSERT_EQUAL(sl_cache_sink.flush(st, 1000, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_cache_sink.flush(st, 1000, &err), SL_OK); /* nothing pending */
  sl_redis *r = sl_redis_new(u2, NULL, &err);
  char *s;
  CU_ASSERT_EQUAL(sl_cache_get_latest(r, "down", "y", &s, &err), SL_OK);
  free(s);
  CU_ASSERT_EQUAL(sl_cache_history(r, "down", "x", 0, &s, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(s, "[{\"machine_id\":\"x\",\"n\":3}]"); /* n=1 died with Redis */
  free(s);
  sl_redis_free(r);
  sl_cache_sink.close(st);
  sl_arena_destroy(a);
  rf_stop(&s2);
}

static void test_bad_config(void) {
  sl_connector_env env = env_for(url);
  sl_config *c = sl_config_new("p.lua", 1);
  sl_config_put_string(c, "key", "id");
  void *st = NULL;
  sl_error err;
  CU_ASSERT_EQUAL(sl_cache_sink.open(&env, c, &st, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NULL(st);
  sl_config_put_string(c, "name", "ok");
  sl_config_put_number(c, "history", -1);
  CU_ASSERT_EQUAL(sl_cache_sink.open(&env, c, &st, &err), SL_ERR_INVALID);
  sl_config_destroy(c);
  CU_ASSERT_STRING_EQUAL(sl_cache_sink.name, "cache");
  sl_cache_sink.close(NULL);
}

int suite_connectors_redis_cache(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_cache", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "latest and history", test_latest_and_history);
  CU_add_test(s, "latest only, ttl", test_latest_only_and_ttl);
  CU_add_test(s, "prefix listing with cursor", test_prefix_listing);
  CU_add_test(s, "events and dead letters", test_events_and_dead_letters);
  CU_add_test(s, "alert store", test_alert_store);
  CU_add_test(s, "a burst of alerts in one call", test_alert_burst);
  CU_add_test(s, "Redis down keeps the batch", test_redis_down_keeps_batch);
  CU_add_test(s, "bad config", test_bad_config);
  return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
