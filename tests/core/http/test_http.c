/* SPDX-License-Identifier: Apache-2.0 */
/* Integration tests of the HTTP server against a real redis-server started
 * here (temp dir, free port, no persistence) with real HTTP requests over
 * sockets, plain and TLS. Waiting is done by polling a condition with a
 * deadline, never by sleeping a fixed time. */
#define _GNU_SOURCE
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/metrics.h"
#include "http/events.h"
#include "http/http_server.h"

static pid_t redis_pid;
static int redis_port;
static char tmpdir[64];
static char redis_url[64];
static redisContext *rc;
static sl_http_server *srv;
static int ready_flag;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(int ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd);
  return ntohs(a.sin_port);
}

static int connect_port(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

typedef struct resp {
  int status;
  char head[4096];
  char *body;
  size_t len;
} resp;

static void resp_free(resp *r) { free(r->body); r->body = NULL; }

/* Read one response with Content-Length (or until EOF). */
static int read_resp(int fd, SSL *ssl, resp *r) {
  memset(r, 0, sizeof *r);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  char *hend = NULL;
  long clen = -1;
  for (;;) {
    if (n + 4096 > cap)
      buf = realloc(buf, cap *= 2);
    ssize_t k = ssl ? SSL_read(ssl, buf + n, 4096) : read(fd, buf + n, 4096);
    if (k <= 0)
      break;
    n += (size_t)k;
    buf[n] = '\0';
    if (!hend && (hend = strstr(buf, "\r\n\r\n"))) {
      const char *cl = strcasestr(buf, "\r\nContent-Length:");
      if (cl && cl < hend)
        clen = strtol(cl + 17, NULL, 10);
    }
    if (hend && clen >= 0 && n >= (size_t)(hend + 4 - buf) + (size_t)clen)
      break;
  }
  if (!hend) {
    free(buf);
    return -1;
  }
  size_t hl = (size_t)(hend - buf);
  memcpy(r->head, buf, hl < sizeof r->head - 1 ? hl : sizeof r->head - 1);
  sscanf(buf, "HTTP/1.%*d %d", &r->status);
  r->len = n - hl - 4;
  r->body = malloc(r->len + 1);
  memcpy(r->body, hend + 4, r->len);
  r->body[r->len] = '\0';
  free(buf);
  return 0;
}

static int request_on(int port, const char *method, const char *path, const char *extra,
                      resp *r) {
  int fd = connect_port(port);
  if (fd < 0)
    return -1;
  char req[16384];
  snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n",
           method, path, extra ? extra : "");
  if (write(fd, req, strlen(req)) < 0) {
    close(fd);
    return -1;
  }
  int rc2 = read_resp(fd, NULL, r);
  close(fd);
  return rc2;
}

#define AUTH "Authorization: Bearer s3cret-token\r\n"

static int get(const char *path, const char *extra, resp *r) {
  return request_on(sl_http_port(srv), "GET", path, extra, r);
}

static int pipelines_cb(void *ud, sl_buf *out) {
  (void)ud;
  return sl_buf_puts(out, "{\"pipelines\":[{\"name\":\"assembly\",\"status\":\"running\","
                          "\"nodes\":[],\"edges\":[]}]}");
}

static int ready_cb(void *ud) {
  (void)ud;
  return ready_flag;
}

static const char *not_ready_cb(void *ud, char *buf, size_t cap) {
  (void)ud, (void)buf, (void)cap;
  return ready_flag ? NULL : "Kafka unreachable: offsets not committed (processing paused)";
}

static int redis_cmd_ok(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(rc, fmt, ap);
  va_end(ap);
  int ok = r && r->type != REDIS_REPLY_ERROR;
  freeReplyObject(r);
  return ok;
}

static int wait_status(const char *path, int want, double secs) {
  double end = now_s() + secs;
  while (now_s() < end) {
    resp r;
    if (get(path, AUTH, &r) == 0) {
      int st = r.status;
      resp_free(&r);
      if (st == want)
        return 1;
    }
    pause_ms(20);
  }
  return 0;
}

static int table_entry_cb(void *ud, const char *table, const char *key, sl_buf *out) {
  (void)ud;
  if (strcmp(table, "devices") != 0 || strcmp(key, "m/1") != 0)
    return SL_ERR_NOT_FOUND;
  return sl_buf_puts(out, "{\"machine_id\":\"m/1\",\"site\":\"north\"}");
}

static sl_http_config base_config(void) {
  static const char *const pipes[] = {"assembly"};
  sl_http_config c = {0};
  c.listen = "127.0.0.1:0";
  c.api_token = "s3cret-token";
  c.redis_url = redis_url;
  c.pipelines = pipes;
  c.npipelines = 1;
  c.rate_per_sec = -1;
  c.ready = ready_cb;
  c.not_ready = not_ready_cb;
  c.pipelines_json = pipelines_cb;
  c.table_entry = table_entry_cb;
  return c;
}

static int suite_init(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-http-XXXXXX");
  if (!mkdtemp(tmpdir))
    return -1;
  redis_port = free_port();
  snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", redis_port);
  redis_pid = fork();
  if (redis_pid == 0) {
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    int devnull = open("/dev/null", 1);
    dup2(devnull, 1);
    execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", tmpdir, (char *)NULL);
    _exit(127);
  }
  double end = now_s() + 10;
  while (now_s() < end && !rc) {
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    if (c && !c->err)
      rc = c;
    else {
      redisFree(c);
      pause_ms(20);
    }
  }
  if (!rc)
    return -1;
  sl_http_config cfg = base_config();
  sl_error err = {0};
  srv = sl_http_start(&cfg, &err);
  if (!srv) {
    fprintf(stderr, "start: %s\n", err.message);
    return -1;
  }
  ready_flag = 1;
  return wait_status("/readyz", 200, 10) ? 0 : -1;
}

static int suite_clean(void) {
  sl_http_stop(srv);
  if (rc)
    redisFree(rc);
  if (redis_pid > 0) {
    kill(redis_pid, SIGTERM);
    waitpid(redis_pid, NULL, 0);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_health_ready(void) {
  resp r;
  CU_ASSERT_EQUAL_FATAL(get("/healthz", NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_STRING_EQUAL(r.body, "{\"status\":\"ok\"}");
  CU_ASSERT_PTR_NOT_NULL(strcasestr(r.head, "Content-Type: application/json"));
  resp_free(&r);
  ready_flag = 0;
  CU_ASSERT_EQUAL_FATAL(get("/readyz", NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 503);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"status\":503"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"pipeline\":\"not ready\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"redis\":\"ok\""));
  /* The reason names the dependency that failed (issue 12: it said "sources
   * not assigned" whatever had failed). */
  CU_ASSERT_PTR_NOT_NULL(
      strstr(r.body, "not ready: Kafka unreachable: offsets not committed (processing paused)"));
  resp_free(&r);
  ready_flag = 1;
  CU_ASSERT_EQUAL_FATAL(get("/readyz", NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  resp_free(&r);
}

/* GET /api/v1/tables/{table}/{key} (percent-decoded key). */
static void test_tables(void) {
  resp r;
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/tables/devices/m%2F1", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"site\":\"north\""));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/tables/devices/m2", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 404);
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/tables/other/m%2F1", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 404);
  resp_free(&r);
}

static void test_auth(void) {
  resp r;
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/pipelines", NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 401);
  CU_ASSERT_PTR_NOT_NULL(strcasestr(r.head, "WWW-Authenticate: Bearer"));
  CU_ASSERT_STRING_EQUAL(r.body, "{\"error\":\"missing or wrong bearer token\",\"status\":401}");
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/pipelines", "Authorization: Bearer s3cret-tokeX\r\n", &r), 0);
  CU_ASSERT_EQUAL(r.status, 401);
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/pipelines", "Authorization: Bearer s3cret-token2\r\n", &r),
                        0);
  CU_ASSERT_EQUAL(r.status, 401);
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/pipelines", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"name\":\"assembly\""));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/metrics", NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 401);
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/metrics", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_PTR_NOT_NULL(strcasestr(r.head, "Content-Type: text/plain; version=0.0.4"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "# TYPE sluice_http_requests_total counter"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "sluice_http_requests_total{code=\"4xx\"} "));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "sluice_process_resident_memory_bytes "));
  resp_free(&r);
  /* the dashboard page itself needs no token */
  CU_ASSERT_EQUAL_FATAL(get("/", NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_PTR_NOT_NULL(strcasestr(r.head, "Content-Type: text/html"));
  CU_ASSERT_PTR_NOT_NULL(strcasestr(r.body, "<!doctype html>"));
  resp_free(&r);
}

static void test_errors(void) {
  resp r;
  CU_ASSERT_EQUAL_FATAL(get("/nope", NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 404);
  CU_ASSERT_STRING_EQUAL(r.body, "{\"error\":\"no such endpoint\",\"status\":404}");
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/nope", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 404);
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/c/k/other", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 404);
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/bad:name/k", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 400);
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(request_on(sl_http_port(srv), "POST", "/api/v1/pipelines",
                                   AUTH "Content-Length: 0\r\n", &r),
                        0);
  CU_ASSERT_EQUAL(r.status, 405);
  CU_ASSERT_PTR_NOT_NULL(strcasestr(r.head, "Allow: GET, HEAD"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"status\":405"));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(request_on(sl_http_port(srv), "DELETE", "/healthz", NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 405);
  resp_free(&r);
  /* headers over 8 KiB */
  char big[12000];
  memcpy(big, "X-Big: ", 7);
  memset(big + 7, 'a', 10000);
  strcpy(big + 10007, "\r\n");
  CU_ASSERT_EQUAL_FATAL(get("/healthz", big, &r), 0);
  CU_ASSERT(r.status == 400 || r.status == 413 || r.status == 431);
  resp_free(&r);
  /* a body over 64 KiB */
  int fd = connect_port(sl_http_port(srv));
  CU_ASSERT_FATAL(fd >= 0);
  const char *h = "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
  CU_ASSERT(write(fd, h, strlen(h)) > 0);
  char *body = calloc(1, 100000);
  CU_ASSERT(write(fd, body, 100000) > 0 || errno == EPIPE || errno == ECONNRESET);
  free(body);
  CU_ASSERT_EQUAL(read_resp(fd, NULL, &r), 0);
  CU_ASSERT(r.status == 413 || r.status == 400);
  resp_free(&r);
  close(fd);
}

static void test_cache_reads(void) {
  CU_ASSERT(redis_cmd_ok("SET sl:cache:machines:v:m1 %s", "{\"machine_id\":\"m1\",\"avg_temp\":71.5}"));
  CU_ASSERT(redis_cmd_ok("SET %s %s", "sl:cache:machines:v:line/1:m2", "{\"machine_id\":\"m2\"}"));
  resp r;
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/machines/m1", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_STRING_EQUAL(r.body, "{\"machine_id\":\"m1\",\"avg_temp\":71.5}");
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/machines/line%2F1%3Am2", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_STRING_EQUAL(r.body, "{\"machine_id\":\"m2\"}");
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/machines/m404", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 404);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"status\":404"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"error\":"));
  resp_free(&r);
}

static void test_history(void) {
  for (int i = 0; i < 15; i++)
    CU_ASSERT(redis_cmd_ok("LPUSH sl:cache:machines:h:m1 {\"n\":%d}", i));
  resp r;
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/machines/m1/history", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"items\":[{\"n\":14},{\"n\":13},"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "{\"n\":5}]"));
  CU_ASSERT_PTR_NULL(strstr(r.body, "{\"n\":4}"));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/machines/m1/history?limit=2", AUTH, &r), 0);
  CU_ASSERT_STRING_EQUAL(r.body,
                         "{\"cache\":\"machines\",\"key\":\"m1\",\"items\":[{\"n\":14},{\"n\":13}]}");
  resp_free(&r);
  const char *bad[] = {"0", "abc", "1001", "-1", "", "5x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/caches/machines/m1/history?limit=%s", bad[i]);
    CU_ASSERT_EQUAL_FATAL(get(path, AUTH, &r), 0);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"status\":400"));
    resp_free(&r);
  }
}

static void test_list_paging(void) {
  const char *keys[] = {"a1", "a2", "a3", "b1", "b2"};
  for (size_t i = 0; i < 5; i++) {
    CU_ASSERT(redis_cmd_ok("ZADD sl:cache:plant:keys 0 %s", keys[i]));
    CU_ASSERT(redis_cmd_ok("SET sl:cache:plant:v:%s {\"k\":\"%s\"}", keys[i], keys[i]));
  }
  resp r;
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/plant?limit=2", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_STRING_EQUAL(r.body, "{\"items\":[{\"key\":\"a1\",\"record\":{\"k\":\"a1\"}},"
                                 "{\"key\":\"a2\",\"record\":{\"k\":\"a2\"}}],\"next_cursor\":\"a2\"}");
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/plant?limit=2&cursor=a2", AUTH, &r), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"key\":\"a3\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"key\":\"b1\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"next_cursor\":\"b1\""));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/plant?prefix=a&limit=3", AUTH, &r), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"key\":\"a3\""));
  CU_ASSERT_PTR_NULL(strstr(r.body, "\"key\":\"b1\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"next_cursor\":null"));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/plant?prefix=b", AUTH, &r), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "{\"items\":[{\"key\":\"b1\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"next_cursor\":null"));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/empty", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_STRING_EQUAL(r.body, "{\"items\":[],\"next_cursor\":null}");
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/plant?limit=x", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 400);
  resp_free(&r);
}

static void test_alerts(void) {
  resp r;
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/alerts?state=firing", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_STRING_EQUAL(r.body, "{\"items\":[]}");
  resp_free(&r);
  CU_ASSERT(redis_cmd_ok("HSET sl:alerts:assembly %b %s", "overheat\x1f{\"machine_id\":\"m1\"}",
                         (size_t)29,
                         "{\"alert\":\"overheat\",\"state\":\"firing\",\"severity\":\"critical\","
                         "\"key\":{\"machine_id\":\"m1\"},\"ts\":1700000010000}"));
  CU_ASSERT(redis_cmd_ok("HSET sl:alerts:unlisted f {\"alert\":\"x\"}"));
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/alerts", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"alert\":\"overheat\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"pipeline\":\"assembly\""));
  CU_ASSERT_PTR_NULL(strstr(r.body, "unlisted")); /* not serve mode: only known pipelines */
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/alerts?state=resolved", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 400);
  resp_free(&r);
}

/* Read from an SSE stream until `needle` shows up (or 5 s pass). */
static int sse_wait(int fd, sl_buf *acc, const char *needle) {
  double end = now_s() + 5;
  while (now_s() < end) {
    if (acc->data && strstr(acc->data, needle))
      return 1;
    char buf[4096];
    ssize_t k = read(fd, buf, sizeof buf);
    if (k <= 0)
      return 0;
    sl_buf_append(acc, buf, (size_t)k);
  }
  return 0;
}

static int sse_open(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  const char *req = "GET /api/v1/events HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n";
  if (write(fd, req, strlen(req)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void test_sse_order(void) {
  int fd = sse_open(sl_http_port(srv), 0);
  CU_ASSERT_FATAL(fd >= 0);
  sl_buf acc = SL_BUF_INIT;
  CU_ASSERT_FATAL(sse_wait(fd, &acc, ": connected"));
  CU_ASSERT_PTR_NOT_NULL(strcasestr(acc.data, "Content-Type: text/event-stream"));
  CU_ASSERT_EQUAL(sl_events_publish("result", "{\"n\":1}"), 0);
  CU_ASSERT_EQUAL(sl_events_publish("alert", "{\"alert\":\"overheat\"}"), 0);
  CU_ASSERT_EQUAL(sl_events_publish("result", "{\"n\":\n3}"), 0);
  CU_ASSERT_EQUAL(sl_events_publish("bad\ntype", "{}"), SL_ERR_INVALID);
  int got3 = sse_wait(fd, &acc, "data: 3}\n\n");
  CU_ASSERT_FATAL(got3);
  const char *a = strstr(acc.data, "event: result\ndata: {\"n\":1}\n\n");
  const char *b = strstr(acc.data, "event: alert\ndata: {\"alert\":\"overheat\"}\n\n");
  const char *c = strstr(acc.data, "event: result\ndata: {\"n\":\ndata: 3}\n\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT(a < b && b < c);
  sl_buf_free(&acc);
  size_t before = sl_events_subscribers();
  close(fd);
  double end = now_s() + 5;
  while (now_s() < end && sl_events_subscribers() >= before)
    pause_ms(10);
  CU_ASSERT_EQUAL(sl_events_subscribers(), before - 1);
}

static void test_sse_slow_client_dropped(void) {
  sl_metric *dropped = sl_metrics_counter("sluice_http_sse_dropped_total", "", NULL);
  double d0 = sl_metric_value(dropped);
  int fd = sse_open(sl_http_port(srv), 4096);
  CU_ASSERT_FATAL(fd >= 0);
  sl_buf acc = SL_BUF_INIT;
  CU_ASSERT_FATAL(sse_wait(fd, &acc, ": connected"));
  sl_buf_free(&acc);
  /* The client now stops reading. 3000 events of 2 KiB (6 MiB) overflow the
   * socket buffers and the 1 MiB bound; publishing must not wait for it. */
  char *payload = malloc(2048);
  memset(payload, 'x', 2047);
  payload[0] = '"';
  payload[2046] = '"';
  payload[2047] = '\0';
  /* No timing assertions (they flake on a loaded machine): publishing
   * 6 MB to a client that reads nothing completes at all, every publish
   * succeeds, and the client is dropped — a publisher that waited for it
   * would hang here. */
  for (int i = 0; i < 3000; i++) {
    CU_ASSERT_EQUAL(sl_events_publish("result", payload), 0);
    if (i % 100 == 0)
      pause_ms(1); /* let the server thread drain into the socket */
  }
  free(payload);
  double end = now_s() + 5;
  while (now_s() < end && sl_metric_value(dropped) < d0 + 1)
    pause_ms(10);
  CU_ASSERT_EQUAL(sl_metric_value(dropped), d0 + 1);
  /* Drain what the kernel buffered: the stream must end (server closed it). */
  char buf[65536];
  ssize_t k;
  int closed = 0;
  end = now_s() + 5;
  while (now_s() < end) {
    k = read(fd, buf, sizeof buf);
    if (k == 0 || (k < 0 && errno == ECONNRESET)) {
      closed = 1;
      break;
    }
    if (k < 0)
      break;
  }
  CU_ASSERT(closed);
  close(fd);
}

/* Idle SSE streams outlive the connection timeout; keepalives flow. */
static void test_sse_keepalive(void) {
  sl_http_config cfg = base_config();
  cfg.timeout_sec = 1;
  cfg.sse_keepalive_ms = 1500; /* quieter than the 1 s timeout */
  sl_error err = {0};
  sl_http_server *s = sl_http_start(&cfg, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  int fd = sse_open(sl_http_port(s), 0);
  sl_buf acc = SL_BUF_INIT;
  CU_ASSERT_FATAL(sse_wait(fd, &acc, ": connected"));
  int n = 0;
  double end = now_s() + 5;
  while (n < 2 && now_s() < end) {
    sl_buf_reset(&acc);
    if (!sse_wait(fd, &acc, ": keepalive"))
      break;
    n++;
  }
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(sl_events_publish("result", "{\"after\":\"idle\"}"), 0);
  CU_ASSERT(sse_wait(fd, &acc, "data: {\"after\":\"idle\"}"));
  sl_buf_free(&acc);
  close(fd);
  sl_http_stop(s);
}

/* Regression: a run that ended within milliseconds of starting hung at
 * exit. The stop request came before the server thread entered its event
 * loop, and libevent forgets a loopbreak made before the loop starts. */
static void test_stop_right_after_start(void) {
  for (int i = 0; i < 300; i++) {
    sl_http_config cfg = base_config();
    sl_error err = {0};
    sl_http_server *s = sl_http_start(&cfg, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    sl_http_stop(s); /* returns: the test would hang here otherwise */
  }
}

static void test_rate_limit(void) {
  sl_http_config cfg = base_config();
  cfg.rate_per_sec = 1;
  cfg.rate_burst = 3;
  sl_error err = {0};
  sl_http_server *s = sl_http_start(&cfg, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  int ok = 0, limited = 0;
  for (int i = 0; i < 8; i++) {
    resp r;
    CU_ASSERT_EQUAL_FATAL(request_on(sl_http_port(s), "GET", "/healthz", NULL, &r), 0);
    if (r.status == 200)
      ok++;
    if (r.status == 429) {
      limited++;
      CU_ASSERT_PTR_NOT_NULL(strcasestr(r.head, "Retry-After: "));
      CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"status\":429"));
    }
    resp_free(&r);
  }
  CU_ASSERT(ok >= 3 && ok <= 4);
  CU_ASSERT_EQUAL(ok + limited, 8);
  sl_http_stop(s);
}

static void test_max_connections(void) {
  sl_http_config cfg = base_config();
  cfg.max_connections = 2;
  sl_error err = {0};
  sl_http_server *s = sl_http_start(&cfg, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  int fds[3];
  const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"; /* keep-alive */
  for (int i = 0; i < 3; i++) {
    fds[i] = connect_port(sl_http_port(s));
    CU_ASSERT_FATAL(fds[i] >= 0);
    CU_ASSERT(write(fds[i], req, strlen(req)) > 0);
    resp r;
    CU_ASSERT_EQUAL(read_resp(fds[i], NULL, &r), 0);
    CU_ASSERT_EQUAL(r.status, i < 2 ? 200 : 503);
    resp_free(&r);
  }
  for (int i = 0; i < 3; i++)
    close(fds[i]);
  sl_http_stop(s);
}

static void test_bad_config(void) {
  sl_http_config cfg = base_config();
  sl_error err = {0};
  cfg.listen = "localhost";
  CU_ASSERT_PTR_NULL(sl_http_start(&cfg, &err));
  CU_ASSERT_EQUAL(err.code, SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "localhost"));
  cfg = base_config();
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", sl_http_port(srv));
  cfg.listen = addr;
  CU_ASSERT_PTR_NULL(sl_http_start(&cfg, &err));
  CU_ASSERT_EQUAL(err.code, SL_ERR_IO);
  cfg = base_config();
  cfg.tls_cert = "/nonexistent/cert.pem";
  cfg.tls_key = "/nonexistent/key.pem";
  CU_ASSERT_PTR_NULL(sl_http_start(&cfg, &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "certificate"));
  cfg = base_config();
  cfg.redis_url = "http://nope";
  CU_ASSERT_PTR_NULL(sl_http_start(&cfg, &err));
  cfg = base_config();
  cfg.api_token = NULL;
  cfg.token_file = "/nonexistent/token";
  CU_ASSERT_PTR_NULL(sl_http_start(&cfg, &err));
  sl_http_stop(NULL);
}

static void test_ipv6_and_token_file(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/token", tmpdir);
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("file-token\n", f);
  fclose(f);
  sl_http_config cfg = base_config();
  cfg.api_token = NULL;
  cfg.token_file = path;
  cfg.listen = "[::1]:0";
  sl_error err = {0};
  sl_http_server *s = sl_http_start(&cfg, &err);
  if (!s) { /* no IPv6 loopback in this sandbox: nothing more to check */
    CU_ASSERT_EQUAL(err.code, SL_ERR_IO);
    return;
  }
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)sl_http_port(s)),
                           .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  const char *req = "GET /api/v1/pipelines HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    "Authorization: Bearer file-token\r\n\r\n";
  CU_ASSERT(write(fd, req, strlen(req)) > 0);
  resp r;
  CU_ASSERT_EQUAL(read_resp(fd, NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  resp_free(&r);
  close(fd);
  sl_http_stop(s);
}

static void test_tls(void) {
  char cert[128], key[128], cmd[512];
  snprintf(cert, sizeof cert, "%s/cert.pem", tmpdir);
  snprintf(key, sizeof key, "%s/key.pem", tmpdir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
           "-subj /CN=localhost >/dev/null 2>&1",
           key, cert);
  CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
  sl_http_config cfg = base_config();
  cfg.tls_cert = cert;
  cfg.tls_key = key;
  sl_error err = {0};
  sl_http_server *s = sl_http_start(&cfg, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  CU_ASSERT_EQUAL(SSL_CTX_load_verify_locations(ctx, cert, NULL), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  int fd = connect_port(sl_http_port(s));
  CU_ASSERT_FATAL(fd >= 0);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  CU_ASSERT_EQUAL_FATAL(SSL_connect(ssl), 1);
  const char *req = "GET /api/v1/caches/machines/m1 HTTP/1.1\r\nHost: localhost\r\n"
                    "Connection: close\r\n" AUTH "\r\n";
  CU_ASSERT(SSL_write(ssl, req, (int)strlen(req)) > 0);
  resp r;
  CU_ASSERT_EQUAL(read_resp(fd, ssl, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"avg_temp\":71.5"));
  resp_free(&r);
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  /* plain HTTP on the TLS port gets no HTTP answer */
  resp p;
  int got = request_on(sl_http_port(s), "GET", "/healthz", NULL, &p);
  CU_ASSERT(got != 0 || p.status != 200);
  if (got == 0)
    resp_free(&p);
  sl_http_stop(s);
}

/* Publishes msg on sl:events until the SSE stream fd shows expect (the
 * subscriber may connect a little after readiness). */
static int publish_until_seen(int fd, sl_buf *acc, const char *msg, const char *expect) {
  double end = now_s() + 5;
  while (now_s() < end) {
    redisReply *rep = redisCommand(rc, "PUBLISH sl:events %s", msg);
    freeReplyObject(rep);
    char buf[4096];
    ssize_t k = read(fd, buf, sizeof buf);
    if (k > 0)
      sl_buf_append(acc, buf, (size_t)k);
    if (acc->data && strstr(acc->data, expect))
      return 1;
  }
  return 0;
}

static void test_serve_mode(void) {
  sl_http_config cfg = base_config();
  cfg.serve_mode = 1;
  cfg.ready = NULL;
  cfg.pipelines_json = NULL;
  sl_error err = {0};
  sl_http_server *s = sl_http_start(&cfg, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  resp r;
  double end = now_s() + 5;
  int st = 0;
  while (now_s() < end && st != 200) {
    if (request_on(sl_http_port(s), "GET", "/readyz", NULL, &r) == 0) {
      st = r.status;
      if (st == 200)
        CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"pipeline\":\"n/a\""));
      resp_free(&r);
    }
    pause_ms(20);
  }
  CU_ASSERT_EQUAL_FATAL(st, 200);
  CU_ASSERT_EQUAL_FATAL(request_on(sl_http_port(s), "GET", "/api/v1/alerts", AUTH, &r), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"pipeline\":\"unlisted\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"pipeline\":\"assembly\""));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(request_on(sl_http_port(s), "GET", "/api/v1/pipelines", AUTH, &r), 0);
  CU_ASSERT_STRING_EQUAL(r.body, "{\"pipelines\":[]}");
  resp_free(&r);
  int fd = sse_open(sl_http_port(s), 0);
  sl_buf acc = SL_BUF_INIT;
  CU_ASSERT_FATAL(sse_wait(fd, &acc, ": connected"));
  struct timeval tv = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  CU_ASSERT(publish_until_seen(fd, &acc,
                               "{\"type\":\"result\",\"data\":{\"cache\":\"machines\",\"key\":\"m9\"}}",
                               "event: result\ndata: {\"cache\":\"machines\",\"key\":\"m9\"}\n"));
  /* Regression (SSE printed 53.363399999999999 where the API printed 53.3634):
   * the data reaches the browser as the worker wrote it, numbers and all. */
  CU_ASSERT(publish_until_seen(
      fd, &acc, "{\"type\":\"result\",\"cache\":\"machines\",\"key\":\"m8\",\"avg\":53.3634}",
      "event: result\ndata: {\"cache\":\"machines\",\"key\":\"m8\",\"avg\":53.3634}\n"));
  CU_ASSERT(publish_until_seen(fd, &acc, "{\"type\":\"alert\",\"data\":{\"alert\":\"hot\",\"v\":4.44}}",
                               "event: alert\ndata: {\"alert\":\"hot\",\"v\":4.44}\n"));
  /* A layout no writer of ours uses still gets through, re-encoded. */
  CU_ASSERT(publish_until_seen(fd, &acc, "{ \"type\" : \"result\", \"data\" : [1, 2] }",
                               "event: result\ndata: [1,2]\n"));
  CU_ASSERT_PTR_NULL(strstr(acc.data, "53.36339"));
  sl_buf_free(&acc);
  close(fd);
  sl_http_stop(s);
}

static void test_redis_down(void) {
  /* last test: stop Redis and watch readiness and reads fail cleanly */
  kill(redis_pid, SIGTERM);
  waitpid(redis_pid, NULL, 0);
  redis_pid = 0;
  CU_ASSERT(wait_status("/readyz", 503, 10));
  resp r;
  CU_ASSERT_EQUAL_FATAL(get("/readyz", NULL, &r), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"redis\":\"unreachable\""));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/api/v1/caches/machines/m1", AUTH, &r), 0);
  CU_ASSERT_EQUAL(r.status, 503);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"status\":503"));
  char why[96]; /* the reason names the server and the error */
  snprintf(why, sizeof why, "Redis at 127.0.0.1:%d unreachable: Connection refused", redis_port);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, why));
  resp_free(&r);
  CU_ASSERT_EQUAL_FATAL(get("/healthz", NULL, &r), 0);
  CU_ASSERT_EQUAL(r.status, 200);
  resp_free(&r);
}

int suite_core_http(void) {
  signal(SIGPIPE, SIG_IGN);
  CU_pSuite s = CU_add_suite("core_http", suite_init, suite_clean);
  if (!s || !CU_add_test(s, "healthz and readyz", test_health_ready) ||
      !CU_add_test(s, "lookup tables", test_tables) ||
      !CU_add_test(s, "bearer token", test_auth) ||
      !CU_add_test(s, "404, 405 and size limits", test_errors) ||
      !CU_add_test(s, "latest record", test_cache_reads) ||
      !CU_add_test(s, "history", test_history) ||
      !CU_add_test(s, "key listing with cursor", test_list_paging) ||
      !CU_add_test(s, "alerts", test_alerts) ||
      !CU_add_test(s, "SSE order", test_sse_order) ||
      !CU_add_test(s, "SSE slow client dropped", test_sse_slow_client_dropped) ||
      !CU_add_test(s, "SSE keepalive outlives the timeout", test_sse_keepalive) ||
      !CU_add_test(s, "rate limit", test_rate_limit) ||
      !CU_add_test(s, "max connections", test_max_connections) ||
      !CU_add_test(s, "bad configuration", test_bad_config) ||
      !CU_add_test(s, "IPv6 and token file", test_ipv6_and_token_file) ||
      !CU_add_test(s, "TLS", test_tls) ||
      !CU_add_test(s, "serve mode", test_serve_mode) ||
      !CU_add_test(s, "Redis down", test_redis_down) ||
      !CU_add_test(s, "stop right after start", test_stop_right_after_start))
    return -1;
  return 0;
}
