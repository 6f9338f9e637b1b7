/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis connection: URL forms, AUTH with an ACL user, error classes,
 * backoff, and reconnection after Redis comes back. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../connectors/redis.h"
#include "redis_fixture.h"

static rf_server srv;

static int setup(void) {
  rf_opts o = {.user = "sluice", .password = "s3cret", .default_acl = "on >defpw ~* &* +@all"};
  return rf_start(&srv, &o);
}
static int teardown(void) {
  rf_stop(&srv);
  return 0;
}

static void test_url_table(void) {
  static const struct {
    const char *url;
    int ok;
    const char *host, *user, *pass;
    int port, db;
  } cases[] = {
      {"redis://127.0.0.1", 1, "127.0.0.1", "", "", 6379, 0},
      {"redis://localhost:6380", 1, "localhost", "", "", 6380, 0},
      {"redis://localhost:6380/3", 1, "localhost", "", "", 6380, 3},
      {"redis://h/", 1, "h", "", "", 6379, 0},
      {"redis://:pw@h", 1, "h", "", "pw", 6379, 0},
      {"redis://u:pw@h:1/2", 1, "h", "u", "pw", 1, 2},
      {"redis://u@h", 1, "h", "u", "", 6379, 0},
      {"redis://u:p%40ss%3Aw@h", 1, "h", "u", "p@ss:w", 6379, 0},
      {"redis://u:p@ss@h", 1, "h", "u", "p@ss", 6379, 0},
      {"redis://[::1]:7000/1", 1, "::1", "", "", 7000, 1},
      {"http://h", 0, NULL, NULL, NULL, 0, 0},
      {"rediss://h", 0, NULL, NULL, NULL, 0, 0},
      {"redis://", 0, NULL, NULL, NULL, 0, 0},
      {"redis://h:0", 0, NULL, NULL, NULL, 0, 0},
      {"redis://h:70000", 0, NULL, NULL, NULL, 0, 0},
      {"redis://h:x", 0, NULL, NULL, NULL, 0, 0},
      {"redis://h/db", 0, NULL, NULL, NULL, 0, 0},
      {"redis://u:@h", 0, NULL, NULL, NULL, 0, 0},
      {"redis://u:%zz@h", 0, NULL, NULL, NULL, 0, 0},
      {"redis://h?x=1", 0, NULL, NULL, NULL, 0, 0},
      {"redis://[::1", 0, NULL, NULL, NULL, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_redis_url u;
    sl_error err;
    sl_error_clear(&err);
    int rc = sl_redis_url_parse(cases[i].url, &u, &err);
    CU_ASSERT_EQUAL(rc == SL_OK, cases[i].ok);
    if (rc != SL_OK) {
      CU_ASSERT_EQUAL(rc, SL_ERR_INVALID);
      CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "URL"));
      continue;
    }
    CU_ASSERT_STRING_EQUAL(u.host, cases[i].host);
    CU_ASSERT_STRING_EQUAL(u.user, cases[i].user);
    CU_ASSERT_STRING_EQUAL(u.password, cases[i].pass);
    CU_ASSERT_EQUAL(u.port, cases[i].port);
    CU_ASSERT_EQUAL(u.db, cases[i].db);
  }
}

static void test_backoff(void) {
  uint32_t rng = 42;
  int64_t prev_base = 0;
  for (int a = 0; a < 12; a++) {
    int64_t d = sl_redis_backoff_ms(a, 100, 10000, &rng);
    int64_t base = 100;
    for (int i = 0; i < a && base < 10000; i++)
      base *= 2;
    if (base > 10000)
      base = 10000;
    CU_ASSERT(d >= base / 2 + base % 2 && d <= base);
    CU_ASSERT(base >= prev_base);
    prev_base = base;
  }
  /* Jitter: two workers with different seeds do not retry in lockstep. */
  uint32_t r1 = 1, r2 = 2;
  int differ = 0;
  for (int a = 3; a < 10; a++)
    differ |= sl_redis_backoff_ms(a, 100, 10000, &r1) != sl_redis_backoff_ms(a, 100, 10000, &r2);
  CU_ASSERT(differ);
}

static void test_auth_acl_user(void) {
  char url[256];
  sl_error err;
  sl_redis *r = sl_redis_new(rf_url(&srv, "sluice", "s3cret", 2, url, sizeof url), NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_OK);
  CU_ASSERT(sl_redis_is_connected(r));
  CU_ASSERT_PTR_NULL(strstr(sl_redis_describe(r), "s3cret"));
  CU_ASSERT_PTR_NOT_NULL(strstr(sl_redis_describe(r), "sluice@127.0.0.1"));
  /* SELECT 2 took effect: an epoch taken through r lands in db 2 only. */
  int64_t epoch = 0;
  CU_ASSERT_EQUAL(sl_state_acquire_epoch(r, "p", "t", 0, &epoch, &err), SL_OK);
  CU_ASSERT_EQUAL(epoch, 1);
  redisContext *c = redisConnect("127.0.0.1", srv.port);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  redisReply *rep = redisCommand(c, "AUTH sluice s3cret");
  freeReplyObject(rep);
  rep = redisCommand(c, "EXISTS sl:{p:t:0}:epoch");
  CU_ASSERT_EQUAL(rep->integer, 0);
  freeReplyObject(rep);
  rep = redisCommand(c, "SELECT 2");
  freeReplyObject(rep);
  rep = redisCommand(c, "GET sl:{p:t:0}:epoch");
  CU_ASSERT_STRING_EQUAL(rep->str, "1");
  freeReplyObject(rep);
  redisFree(c);
  sl_redis_free(r);
}

static void test_wrong_password_is_invalid(void) {
  char url[256];
  sl_error err;
  sl_redis *r = sl_redis_new(rf_url(&srv, "sluice", "nope-pw", 0, url, sizeof url), NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(err.retriable, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "WRONGPASS"));
  CU_ASSERT_PTR_NULL(strstr(err.message, "nope-pw"));
  CU_ASSERT(!sl_redis_is_connected(r));
  sl_redis_free(r);
  /* No credentials while `default` needs a password: NOAUTH -> invalid. */
  r = sl_redis_new(rf_url(&srv, NULL, NULL, 0, url, sizeof url), NULL, &err);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "NOAUTH"));
  sl_redis_free(r);
}

static void test_noperm_is_invalid(void) {
  redisContext *c = redisConnect("127.0.0.1", srv.port);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  redisReply *rep = redisCommand(c, "AUTH sluice s3cret");
  freeReplyObject(rep);
  rep = redisCommand(c, "ACL SETUSER reader on >rpw ~* +@read +ping +auth");
  CU_ASSERT_EQUAL(rep->type, REDIS_REPLY_STATUS);
  freeReplyObject(rep);
  redisFree(c);
  char url[256];
  sl_error err;
  sl_redis *r = sl_redis_new(rf_url(&srv, "reader", "rpw", 0, url, sizeof url), NULL, &err);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_OK);
  int64_t epoch;
  CU_ASSERT_EQUAL(sl_state_acquire_epoch(r, "p", "t", 9, &epoch, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "NOPERM"));
  CU_ASSERT_PTR_NULL(strstr(err.message, "rpw"));
  sl_redis_free(r);
}

static void test_down_then_back(void) {
  /* A second server we can stop: "Redis down" must fail fast and recover. */
  rf_server s2;
  CU_ASSERT_EQUAL_FATAL(rf_start(&s2, NULL), 0);
  char url[256];
  sl_error err;
  sl_redis_opts o = {.connect_timeout_ms = 300, .backoff_min_ms = 100, .backoff_max_ms = 1000};
  sl_redis *r = sl_redis_new(rf_url(&s2, NULL, NULL, 0, url, sizeof url), &o, &err);
  int64_t retry = -1, now = 1000;
  CU_ASSERT_EQUAL(sl_redis_ensure(r, now, &retry, &err), SL_OK);
  CU_ASSERT_EQUAL(retry, 0);
  CU_ASSERT_EQUAL(sl_redis_ping(r, &err), SL_OK);
  rf_kill9(&s2);
  CU_ASSERT(sl_redis_is_connected(r));                         /* not noticed yet ... */
  CU_ASSERT_EQUAL(sl_redis_ping(r, &err), SL_ERR_UNAVAILABLE); /* ... until used */
  int64_t epoch;
  CU_ASSERT_EQUAL(sl_state_acquire_epoch(r, "p", "t", 0, &epoch, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT(err.retriable);
  CU_ASSERT(!sl_redis_is_connected(r));
  /* Backoff is reported, not slept: the first failure asks for 50..100 ms. */
  CU_ASSERT_EQUAL(sl_redis_ensure(r, now, &retry, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT(retry >= 50 && retry <= 100);
  int64_t again;
  CU_ASSERT_EQUAL(sl_redis_ensure(r, now + 10, &again, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_EQUAL(again, retry - 10);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "127.0.0.1"));
  CU_ASSERT_EQUAL(sl_redis_ensure(r, now + retry, &again, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT(again >= 100 && again <= 200); /* second failure: doubled */
  CU_ASSERT_EQUAL_FATAL(rf_restart(&s2), 0);
  CU_ASSERT_EQUAL(sl_redis_ensure(r, now + retry + again, &retry, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_state_acquire_epoch(r, "p", "t", 0, &epoch, &err), SL_OK);
  sl_redis_free(r);
  rf_stop(&s2);
}

/* A peer that accepts TCP connections (the kernel does) but never answers:
 * the command timeout must turn it into SL_ERR_UNAVAILABLE, not a hang. */
static void test_silent_server_times_out(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  CU_ASSERT_EQUAL_FATAL(listen(fd, 8), 0);
  CU_ASSERT_EQUAL_FATAL(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", ntohs(a.sin_port));
  sl_redis_opts o = {.connect_timeout_ms = 200, .command_timeout_ms = 200};
  sl_error err;
  sl_redis *r = sl_redis_new(url, &o, &err);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT(err.retriable);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "PING"));
  CU_ASSERT(!sl_redis_is_connected(r));
  sl_redis_free(r);
  close(fd);
}

int suite_connectors_redis_conn(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_conn", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "URL forms", test_url_table);
  CU_add_test(s, "backoff with jitter", test_backoff);
  CU_add_test(s, "AUTH with an ACL user and SELECT", test_auth_acl_user);
  CU_add_test(s, "wrong password is a configuration error", test_wrong_password_is_invalid);
  CU_add_test(s, "NOPERM is a configuration error", test_noperm_is_invalid);
  CU_add_test(s, "Redis down, then back", test_down_then_back);
  CU_add_test(s, "a silent server times out", test_silent_server_times_out);
  return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
