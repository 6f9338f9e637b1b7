/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP API's Redis connection (core/http/http_redis.c) against a real
 * redis-server that stops answering (CLIENT PAUSE ... ALL: alive, connected,
 * silent) or closes idle connections (`timeout`): a read answers 503 naming
 * Redis and the deadline instead of hanging, /readyz too, a reply that comes
 * after its request timed out never reaches a later request, and a connection
 * the server closed while idle does not cost the next read a 503. The
 * deadline is 500 ms (SLUICE_API_REDIS_TIMEOUT_MS); waits are polled with
 * bounds, and the only time bound asserted is 3x the deadline. */
#define _GNU_SOURCE
#include <CUnit/CUnit.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_server.h"
#include "redis_fixture.h"

#define DEADLINE_MS 500

static rf_server redis;
static sl_http_server *srv;
static char url[96], want_reason[128];

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* One command on a fresh connection (the server's idle timeout may have
 * closed any older one); 1 when Redis did not answer with an error. */
static int redis_ok(const char *fmt, const char *arg) {
  redisContext *c = redisConnect("127.0.0.1", redis.port);
  redisReply *r = c && !c->err ? redisCommand(c, fmt, arg) : NULL;
  int ok = r && r->type != REDIS_REPLY_ERROR;
  freeReplyObject(r);
  redisFree(c);
  return ok;
}

static int get(const char *path, char *out, size_t cap) {
  return rf_http_get(sl_http_port(srv), path, out, cap);
}

/* Poll path until it answers `want` (at most secs); the last response in out. */
static int wait_for(const char *path, int want, double secs, char *out, size_t cap) {
  double end = now_s() + secs;
  while (now_s() < end) {
    if (get(path, out, cap) == want)
      return 1;
    sleep_ms(50);
  }
  return 0;
}

static int setup(void) {
  if (rf_start(&redis, NULL) != 0)
    return -1;
  rf_url(&redis, NULL, NULL, 0, url, sizeof url);
  snprintf(want_reason, sizeof want_reason, "Redis at 127.0.0.1:%d did not answer within %d ms",
           redis.port, DEADLINE_MS);
  unsetenv("SLUICE_API_TOKEN");
  setenv("SLUICE_API_REDIS_TIMEOUT_MS", "500", 1);
  static const char *const pipes[] = {"assembly"};
  sl_http_config cfg = {0};
  cfg.listen = "127.0.0.1:0";
  cfg.redis_url = url;
  cfg.pipelines = pipes;
  cfg.npipelines = 1;
  cfg.rate_per_sec = -1;
  sl_error err = {0};
  srv = sl_http_start(&cfg, &err);
  unsetenv("SLUICE_API_REDIS_TIMEOUT_MS");
  if (!srv) {
    fprintf(stderr, "start: %s\n", err.message);
    return -1;
  }
  char body[1024];
  if (!redis_ok("SET sl:cache:m:v:a %s", "{\"v\":\"A\"}") ||
      !redis_ok("SET sl:cache:m:v:b %s", "{\"v\":\"B\"}"))
    return -1;
  return wait_for("/readyz", 200, 10, body, sizeof body) ? 0 : -1;
}

static int teardown(void) {
  sl_http_stop(srv);
  rf_stop(&redis);
  return 0;
}

static void test_silent_redis(void) {
  char body[4096];
  CU_ASSERT_EQUAL(get("/api/v1/caches/m/a", body, sizeof body), 200);
  CU_ASSERT_FATAL(redis_ok("CLIENT PAUSE %s ALL", "1500"));
  double t0 = now_s();
  /* A: its reply comes once the pause ends, on a connection already dropped. */
  CU_ASSERT_EQUAL(get("/api/v1/caches/m/a", body, sizeof body), 503);
  CU_ASSERT(now_s() - t0 < 3 * DEADLINE_MS / 1000.0);
  CU_ASSERT_PTR_NOT_NULL(strstr(body, want_reason));
  /* B, once Redis answers again, gets its own value. */
  CU_ASSERT_FATAL(wait_for("/api/v1/caches/m/b", 200, 10, body, sizeof body));
  CU_ASSERT_PTR_NOT_NULL(strstr(body, "{\"v\":\"B\"}"));
  CU_ASSERT_EQUAL(get("/api/v1/caches/m/a", body, sizeof body), 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(body, "{\"v\":\"A\"}"));
}

static void test_readyz_does_not_hang(void) {
  char body[4096];
  CU_ASSERT_FATAL(wait_for("/readyz", 200, 10, body, sizeof body));
  CU_ASSERT_FATAL(redis_ok("CLIENT PAUSE %s ALL", "1500"));
  double t0 = now_s();
  CU_ASSERT_EQUAL(get("/readyz", body, sizeof body), 503);
  CU_ASSERT(now_s() - t0 < 3 * DEADLINE_MS / 1000.0);
  CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"redis\":\"unreachable\""));
  CU_ASSERT(wait_for("/readyz", 200, 10, body, sizeof body));
}

/* The id of the API's connection: the one client that is not this one. */
static long long api_client_id(void) {
  redisContext *c = redisConnect("127.0.0.1", redis.port);
  redisReply *me = c && !c->err ? redisCommand(c, "CLIENT ID") : NULL;
  redisReply *list = me ? redisCommand(c, "CLIENT LIST TYPE normal") : NULL;
  long long id = -1;
  for (const char *p = list && list->type == REDIS_REPLY_STRING ? list->str : NULL; p && *p;) {
    long long k = strtoll(p + 3, NULL, 10); /* "id=N ..." */
    if (strncmp(p, "id=", 3) == 0 && k != me->integer)
      id = k;
    p = strchr(p, '\n');
    p = p ? p + 1 : NULL;
  }
  freeReplyObject(list);
  freeReplyObject(me);
  redisFree(c);
  return id;
}

static int client_listed(long long id) {
  char want[48];
  snprintf(want, sizeof want, "%lld", id);
  redisContext *c = redisConnect("127.0.0.1", redis.port);
  redisReply *r = c && !c->err ? redisCommand(c, "CLIENT LIST ID %s", want) : NULL;
  int listed = !r || (r->type == REDIS_REPLY_STRING && r->len > 0);
  freeReplyObject(r);
  redisFree(c);
  return listed;
}

static void test_idle_close(void) {
  char body[4096];
  CU_ASSERT_FATAL(wait_for("/api/v1/caches/m/a", 200, 10, body, sizeof body));
  long long id = api_client_id();
  CU_ASSERT_FATAL(id >= 0);
  CU_ASSERT_FATAL(redis_ok("CONFIG SET timeout %s", "1"));
  double end = now_s() + 10;
  while (client_listed(id) && now_s() < end)
    sleep_ms(20);
  CU_ASSERT_FATAL(!client_listed(id)); /* Redis closed the idle connection */
  /* The first read after it: no 503 while the API reconnects. */
  CU_ASSERT_EQUAL(get("/api/v1/caches/m/a", body, sizeof body), 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(body, "{\"v\":\"A\"}"));
  CU_ASSERT(redis_ok("CONFIG SET timeout %s", "0"));
}

int suite_core_http_redis(void) {
  CU_pSuite s = CU_add_suite("core_http_redis", setup, teardown);
  if (!s ||
      !CU_add_test(s, "a silent Redis: 503 with the reason, no late reply", test_silent_redis) ||
      !CU_add_test(s, "a silent Redis: /readyz answers 503", test_readyz_does_not_hang) ||
      !CU_add_test(s, "a connection closed while idle: the next read succeeds", test_idle_close))
    return -1;
  return 0;
}
