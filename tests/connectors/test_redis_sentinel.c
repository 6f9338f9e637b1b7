/* SPDX-License-Identifier: Apache-2.0 */
/* Redis behind Sentinel with real servers (connectors/redis_sentinel.c): a
 * primary, its replica and one sentinel on loopback. Resolution through
 * the sentinels (one of them down, an unknown primary name), checkpoints
 * that WAIT for the replica, and a failover (SENTINEL FAILOVER): a handle
 * still connected to the demoted primary must refuse to write there and
 * follow the sentinels to the new primary; a (fake) stale sentinel naming a
 * replica is not trusted, by the worker's connections nor by the HTTP
 * server's. Waits are bounded polls. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../connectors/redis.h"
#include "http/http_server.h"
#include "redis_fixture.h"

static rf_server primary, replica, sentinel;

static void pause_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The integer or string reply of a command on a raw connection to `port`,
 * copied into out; 0 on success. */
static int raw(int port, const char *cmd, char *out, size_t cap) {
  redisContext *c = redisConnect("127.0.0.1", port);
  if (!c || c->err) {
    redisFree(c);
    return -1;
  }
  redisReply *r = redisCommand(c, cmd);
  int rc = -1;
  if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)) {
    snprintf(out, cap, "%s", r->str);
    rc = 0;
  } else if (r && r->type == REDIS_REPLY_INTEGER) {
    snprintf(out, cap, "%lld", r->integer);
    rc = 0;
  } else if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
             r->element[0]->type == REDIS_REPLY_STRING) {
    snprintf(out, cap, "%s", r->element[0]->str); /* ROLE: the role */
    rc = 0;
  } else if (r && r->type == REDIS_REPLY_ARRAY) {
    snprintf(out, cap, "%zu", r->elements);
    rc = 0;
  }
  if (r)
    freeReplyObject(r);
  redisFree(c);
  return rc;
}

/* Until `cmd` on `port` answers a reply containing `want` (20 s at most). */
static int wait_for(int port, const char *cmd, const char *want) {
  char got[256] = "";
  for (int i = 0; i < 200; i++) {
    if (raw(port, cmd, got, sizeof got) == 0 && strstr(got, want))
      return 0;
    pause_ms(100);
  }
  fprintf(stderr, "sentinel test: '%s' on %d answered '%s', not '%s'\n", cmd, port, got, want);
  return -1;
}

static int setup(void) {
  if (rf_start(&primary, NULL) != 0)
    return -1;
  rf_opts ro = {.replicaof = primary.port};
  if (rf_start(&replica, &ro) != 0)
    return -1;
  /* The sentinel learns of the replica from the primary's INFO: make sure
   * the replica is attached first, then that the sentinel saw it. */
  if (wait_for(primary.port, "INFO replication", "state=online") != 0)
    return -1;
  rf_opts so = {.sentinel_of = primary.port};
  if (rf_start(&sentinel, &so) != 0)
    return -1;
  return wait_for(sentinel.port, "SENTINEL replicas mymaster", "1");
}

static int teardown(void) {
  rf_stop(&sentinel);
  rf_stop(&replica);
  rf_stop(&primary);
  return 0;
}

static void url(char *buf, size_t cap, int first_port, const char *name, const char *params) {
  snprintf(buf, cap, "redis+sentinel://127.0.0.1:%d,127.0.0.1:%d/%s%s", first_port, sentinel.port,
           name, params);
}

static void test_resolve(void) {
  char u[256], host[256];
  sl_redis_url p;
  sl_error err;
  int port = 0, used = -1;
  /* The first sentinel is down: the second answers. */
  url(u, sizeof u, rf_free_port(), "mymaster", "");
  CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse(u, &p, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_redis_sentinel_resolve(&p, 0, 500, host, sizeof host, &port, &used, &err),
                  SL_OK);
  CU_ASSERT_STRING_EQUAL(host, "127.0.0.1");
  CU_ASSERT_EQUAL(port, primary.port);
  CU_ASSERT_EQUAL(used, 1);
  /* Asked from index 1 first, the live one answers at once. */
  CU_ASSERT_EQUAL(sl_redis_sentinel_resolve(&p, 1, 500, host, sizeof host, &port, &used, &err),
                  SL_OK);
  CU_ASSERT_EQUAL(used, 1);

  /* A name no sentinel monitors is a configuration error... */
  snprintf(u, sizeof u, "redis+sentinel://127.0.0.1:%d/nosuch", sentinel.port);
  CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse(u, &p, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_redis_sentinel_resolve(&p, 0, 500, host, sizeof host, &port, NULL, &err),
                  SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'nosuch'"));
  /* ... no sentinel reachable is retriable (they may be restarting). */
  snprintf(u, sizeof u, "redis+sentinel://127.0.0.1:%d/mymaster", rf_free_port());
  CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse(u, &p, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_redis_sentinel_resolve(&p, 0, 500, host, sizeof host, &port, NULL, &err),
                  SL_ERR_UNAVAILABLE);
  CU_ASSERT(err.retriable);
}

static int64_t last_epoch;

/* A new epoch (INCR) and a checkpoint of state w/k = val at offset 42. */
/* Sentinels that require a password: sentinel_password in the URL. */
static void test_sentinel_password(void) {
  rf_server ps;
  rf_opts o = {.sentinel_of = primary.port, .password = "s3nt"};
  CU_ASSERT_EQUAL_FATAL(rf_start(&ps, &o), 0);
  char u[256], host[256];
  sl_redis_url p;
  sl_error err;
  int port = 0;
  snprintf(u, sizeof u, "redis+sentinel://127.0.0.1:%d/mymaster?sentinel_password=s3nt", ps.port);
  CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse(u, &p, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_redis_sentinel_resolve(&p, 0, 500, host, sizeof host, &port, NULL, &err),
                  SL_OK);
  CU_ASSERT_EQUAL(port, primary.port);
  /* Wrong or missing: a configuration error, the password never echoed. */
  snprintf(u, sizeof u, "redis+sentinel://127.0.0.1:%d/mymaster?sentinel_password=wr0ng", ps.port);
  CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse(u, &p, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_redis_sentinel_resolve(&p, 0, 500, host, sizeof host, &port, NULL, &err),
                  SL_ERR_INVALID);
  CU_ASSERT_PTR_NULL(strstr(err.message, "wr0ng"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "sentinel_password"));
  snprintf(u, sizeof u, "redis+sentinel://127.0.0.1:%d/mymaster", ps.port);
  CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse(u, &p, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_redis_sentinel_resolve(&p, 0, 500, host, sizeof host, &port, NULL, &err),
                  SL_ERR_INVALID);
  rf_stop(&ps);
}

static int stage(sl_checkpoint *cp, sl_redis *r, const char *val, sl_error *err) {
  int rc = sl_state_acquire_epoch(r, "sp", "t", 0, &last_epoch, err);
  if (rc != SL_OK)
    return rc;
  sl_checkpoint_reset(cp);
  if (sl_checkpoint_put(cp, "t", 0, "w", "k", 1, val, strlen(val)) != SL_OK ||
      sl_checkpoint_offset(cp, "t", 0, last_epoch, 42) != SL_OK)
    return SL_ERR_NOMEM;
  return SL_OK;
}

/* The same with the epoch we hold (no write before the checkpoint). */
static void restage(sl_checkpoint *cp, const char *val) {
  sl_checkpoint_reset(cp);
  CU_ASSERT_EQUAL(sl_checkpoint_put(cp, "t", 0, "w", "k", 1, val, strlen(val)), SL_OK);
  CU_ASSERT_EQUAL(sl_checkpoint_offset(cp, "t", 0, last_epoch, 43), SL_OK);
}

/* wait_replicas=1: once commit returns, the replica holds the checkpoint;
 * asking for more replicas than exist fails (retriable) instead of
 * pretending. */
static void test_checkpoint_waits_for_replica(void) {
  char u[256], got[64] = "";
  sl_error err;
  url(u, sizeof u, sentinel.port, "mymaster", "?wait_replicas=1&wait_timeout_ms=2000");
  sl_redis *r = sl_redis_new(u, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  sl_checkpoint *cp = sl_checkpoint_new("sp");
  int rc = stage(cp, r, "v1", &err);
  if (rc != SL_OK)
    fprintf(stderr, "stage: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
  CU_ASSERT_EQUAL(sl_checkpoint_commit(r, cp, NULL, NULL, &err), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(sl_redis_describe(r), "(primary 127.0.0.1:"));
  CU_ASSERT_EQUAL(raw(replica.port, "GET sl:{sp:t:0}:offset", got, sizeof got), 0);
  CU_ASSERT_STRING_EQUAL(got, "42");
  sl_checkpoint_free(cp);
  sl_redis_free(r);

  url(u, sizeof u, sentinel.port, "mymaster", "?wait_replicas=2&wait_timeout_ms=100");
  r = sl_redis_new(u, NULL, &err);
  cp = sl_checkpoint_new("sp");
  CU_ASSERT_EQUAL(stage(cp, r, "v2", &err), SL_ERR_UNAVAILABLE); /* the epoch waits too */
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "only 1 of the 2 replicas"));
  sl_checkpoint_free(cp);
  sl_redis_free(r);
}

/* A failover while a handle is connected to the old primary. */
static void test_failover(void) {
  char u[256], got[64];
  sl_error err;
  url(u, sizeof u, sentinel.port, "mymaster", "?wait_replicas=1");
  sl_redis *r = sl_redis_new(u, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  sl_checkpoint *cp = sl_checkpoint_new("sp");
  CU_ASSERT_EQUAL_FATAL(stage(cp, r, "before", &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_checkpoint_commit(r, cp, NULL, NULL, &err), SL_OK);

  CU_ASSERT_EQUAL_FATAL(raw(sentinel.port, "SENTINEL FAILOVER mymaster", got, sizeof got), 0);
  /* Deterministic from here: the old primary has become a replica (our
   * connections to it stay open) and the replica the primary. */
  CU_ASSERT_EQUAL_FATAL(wait_for(primary.port, "ROLE", "slave"), 0);
  CU_ASSERT_EQUAL_FATAL(wait_for(replica.port, "ROLE", "master"), 0);
  CU_ASSERT(sl_redis_is_connected(r));

  /* The sentinel closed our connections to the demoted node (CLIENT KILL
   * after reconfiguring it): the checkpoint fails, retriable. */
  restage(cp, "after");
  CU_ASSERT_EQUAL(sl_checkpoint_commit(r, cp, NULL, NULL, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT(err.retriable);
  /* The retry asks the sentinel, which names the new primary once it has
   * seen the promotion (bounded). The epoch survived: it was WAITed for. */
  int rc = SL_ERR_UNAVAILABLE;
  for (int i = 0; i < 100 && rc != SL_OK; i++) {
    rc = sl_checkpoint_commit(r, cp, NULL, NULL, &err);
    if (rc != SL_OK)
      pause_ms(100);
  }
  CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
  char want[32];
  snprintf(want, sizeof want, ":%d)", replica.port);
  CU_ASSERT_PTR_NOT_NULL(strstr(sl_redis_describe(r), want));
  CU_ASSERT_EQUAL(raw(replica.port, "HGET sl:{sp:t:0}:state:w k", got, sizeof got), 0);
  CU_ASSERT_STRING_EQUAL(got, "after");
  CU_ASSERT_EQUAL(raw(replica.port, "GET sl:{sp:t:0}:offset", got, sizeof got), 0);
  CU_ASSERT_STRING_EQUAL(got, "43");

  sl_checkpoint_free(cp);
  sl_redis_free(r);
}

/* A stale sentinel (here a fake one, which always names the old primary,
 * now a replica) is not trusted: ROLE on connect refuses the node. */
typedef struct fake_sentinel {
  int fd, port, target, served;
  pthread_t thread;
} fake_sentinel;

static void *fake_run(void *arg) {
  fake_sentinel *f = arg;
  for (;;) {
    int c = accept(f->fd, NULL, NULL);
    if (c < 0)
      return NULL;
    char buf[512], reply[128];
    if (read(c, buf, sizeof buf) > 0) {
      char port[16];
      int n = snprintf(port, sizeof port, "%d", __atomic_load_n(&f->target, __ATOMIC_SEQ_CST));
      int len = snprintf(reply, sizeof reply, "*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%s\r\n", n, port);
      if (write(c, reply, (size_t)len) < 0)
        perror("fake sentinel");
      __atomic_add_fetch(&f->served, 1, __ATOMIC_SEQ_CST);
    }
    close(c);
  }
}

/* A "sentinel" that answers every question with 127.0.0.1:target. */
static int fake_start(fake_sentinel *f, int target) {
  *f = (fake_sentinel){.target = target};
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  f->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->fd, 8) != 0 ||
      getsockname(f->fd, (struct sockaddr *)&a, &len) != 0)
    return -1;
  f->port = ntohs(a.sin_port);
  return pthread_create(&f->thread, NULL, fake_run, f) == 0 ? 0 : -1;
}

static void fake_stop(fake_sentinel *f) {
  shutdown(f->fd, SHUT_RDWR);
  close(f->fd);
  pthread_join(f->thread, NULL);
}

static void test_replica_refused(void) {
  /* The real sentinel would undo the role changes below: stop it. */
  rf_stop(&sentinel);
  fake_sentinel f;
  CU_ASSERT_EQUAL_FATAL(fake_start(&f, primary.port), 0); /* demoted by test_failover */
  char u[128], got[64], cmd[64];
  snprintf(u, sizeof u, "redis+sentinel://127.0.0.1:%d/mymaster", f.port);
  sl_error err;

  /* On connect: ROLE names a replica, so no connection is kept. */
  sl_redis *r = sl_redis_new(u, NULL, &err);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "reports itself a slave"));
  CU_ASSERT(!sl_redis_is_connected(r));
  int64_t epoch;
  CU_ASSERT_EQUAL(sl_state_acquire_epoch(r, "sp", "t", 0, &epoch, &err), SL_ERR_UNAVAILABLE);

  /* Before a checkpoint: connected while the node was the primary, which
   * has since been demoted (REPLICAOF keeps client connections open). */
  sl_redis *w = sl_redis_new(u, NULL, &err);
  CU_ASSERT_EQUAL_FATAL(raw(primary.port, "REPLICAOF NO ONE", got, sizeof got), 0);
  CU_ASSERT_EQUAL_FATAL(sl_redis_connect(r, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_state_acquire_epoch(r, "sp", "t", 0, &epoch, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_redis_connect(w, &err), SL_OK);
  snprintf(cmd, sizeof cmd, "REPLICAOF 127.0.0.1 %d", replica.port);
  CU_ASSERT_EQUAL_FATAL(raw(primary.port, cmd, got, sizeof got), 0);
  CU_ASSERT(sl_redis_is_connected(r));
  sl_checkpoint *cp = sl_checkpoint_new("sp");
  CU_ASSERT_EQUAL(sl_checkpoint_put(cp, "t", 0, "w", "k", 1, "stale", 5), SL_OK);
  CU_ASSERT_EQUAL(sl_checkpoint_offset(cp, "t", 0, epoch, 44), SL_OK);
  CU_ASSERT_EQUAL(sl_checkpoint_commit(r, cp, NULL, NULL, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "reports itself a slave"));
  CU_ASSERT(!sl_redis_is_connected(r));
  CU_ASSERT_EQUAL(raw(replica.port, "HGET sl:{sp:t:0}:state:w k", got, sizeof got), 0);
  CU_ASSERT_STRING_EQUAL(got, "after"); /* not "stale" */

  /* Any other write meets READONLY; the next call asks the sentinels again
   * (which now name the new primary). */
  CU_ASSERT(sl_redis_is_connected(w));
  CU_ASSERT_EQUAL(sl_pipelines_announce(w, "sp", "{\"n\":2}", &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "READONLY"));
  __atomic_store_n(&f.target, replica.port, __ATOMIC_SEQ_CST);
  CU_ASSERT_EQUAL(sl_pipelines_announce(w, "sp", "{\"n\":2}", &err), SL_OK);
  CU_ASSERT_EQUAL(raw(replica.port, "HGET sl:pipelines sp", got, sizeof got), 0);
  CU_ASSERT_STRING_EQUAL(got, "{\"n\":2}");

  sl_checkpoint_free(cp);
  sl_redis_free(r);
  sl_redis_free(w);
  fake_stop(&f);
}

/* The HTTP server's async connections: a node that says it is a replica is
 * dropped (never answers /readyz), the sentinels are asked again, and the
 * primary they name next is used. */
static void test_http_follows_sentinels(void) {
  fake_sentinel f;
  CU_ASSERT_EQUAL_FATAL(fake_start(&f, primary.port), 0); /* a replica now */
  char u[128];
  snprintf(u, sizeof u, "redis+sentinel://127.0.0.1:%d/mymaster", f.port);
  sl_http_config cfg = {.listen = "127.0.0.1:0",
                        .api_token = "",
                        .redis_url = u,
                        .rate_per_sec = -1,
                        .serve_mode = 1};
  sl_error err;
  sl_http_server *s = sl_http_start(&cfg, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  /* Asked three times: the first two answers were refused by ROLE. */
  for (int i = 0; i < 100 && __atomic_load_n(&f.served, __ATOMIC_SEQ_CST) < 3; i++)
    pause_ms(100);
  CU_ASSERT(__atomic_load_n(&f.served, __ATOMIC_SEQ_CST) >= 3);
  CU_ASSERT_EQUAL(rf_http_status(sl_http_port(s), "/readyz"), 503);
  __atomic_store_n(&f.target, replica.port, __ATOMIC_SEQ_CST); /* the real primary */
  int st = -1;
  for (int i = 0; i < 100 && st != 200; i++) {
    st = rf_http_status(sl_http_port(s), "/readyz");
    if (st != 200)
      pause_ms(100);
  }
  CU_ASSERT_EQUAL(st, 200);
  sl_http_stop(s);
  fake_stop(&f);
}

/* ROLE and WAIT are in @dangerous, which a locked-down ACL user lacks: a
 * configuration error that names the permission, not a retry forever. */
static void test_acl_without_role_or_wait(void) {
  char got[64], u[256];
  CU_ASSERT_EQUAL_FATAL(
      raw(replica.port, "ACL SETUSER norole on >pw ~* &* +@all -role", got, sizeof got), 0);
  CU_ASSERT_EQUAL_FATAL(
      raw(replica.port, "ACL SETUSER nowait on >pw ~* &* +@all -wait", got, sizeof got), 0);
  fake_sentinel f;
  CU_ASSERT_EQUAL_FATAL(fake_start(&f, replica.port), 0); /* the primary now */
  sl_error err;
  snprintf(u, sizeof u, "redis+sentinel://norole:pw@127.0.0.1:%d/mymaster", f.port);
  sl_redis *r = sl_redis_new(u, NULL, &err);
  CU_ASSERT_EQUAL(sl_redis_connect(r, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "+role"));
  sl_redis_free(r);
  snprintf(u, sizeof u, "redis+sentinel://nowait:pw@127.0.0.1:%d/mymaster?wait_replicas=1", f.port);
  r = sl_redis_new(u, NULL, &err);
  int64_t epoch;
  CU_ASSERT_EQUAL(sl_state_acquire_epoch(r, "sp", "t", 1, &epoch, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "+wait"));
  sl_redis_free(r);
  fake_stop(&f);
}

int suite_connectors_redis_sentinel(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_sentinel", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "asking the sentinels for the primary", test_resolve);
  CU_add_test(s, "sentinels with a password", test_sentinel_password);
  CU_add_test(s, "checkpoints WAIT for the replica", test_checkpoint_waits_for_replica);
  CU_add_test(s, "failover: refuse the demoted node, follow the sentinels", test_failover);
  CU_add_test(s, "a node that reports itself a replica is refused", test_replica_refused);
  CU_add_test(s, "the HTTP API follows the sentinels", test_http_follows_sentinels);
  CU_add_test(s, "an ACL without ROLE or WAIT is a configuration error",
              test_acl_without_role_or_wait);
  return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
