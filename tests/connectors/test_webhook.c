/* SPDX-License-Identifier: Apache-2.0 */
/* The webhook sink against an in-process HTTP receiver (evhttp on a free
 * loopback port, in its own thread): delivery with headers, a receiver that
 * fails the first attempts (delivered once it recovers), one that never
 * recovers and one that is not there (dead-lettered with reason "sink"),
 * backpressure from a full queue, flush timeouts and bad configs. Retries use
 * a 1 ms backoff: outcomes never depend on timing, and nothing sleeps. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/config.h"
#include "base/record_internal.h"
#include "codec/json_codec.h"
#include "lang/connector.h"
#include "tls_fixture.h"

extern const sl_sink_desc sl_webhook_sink;

/* ---- the receiver ------------------------------------------------------- */

#define RX_MAX 16

typedef struct receiver {
  struct event_base *base;
  struct evhttp *http;
  int port;
  pthread_t thread;
  pthread_mutex_t mu;
  int fail_first; /* answer 500 to this many requests; -1: always */
  int requests;
  int nbodies; /* delivered (answered 200) */
  char bodies[RX_MAX][512];
  char token[64];        /* X-Token of the last request */
  char content_type[64]; /* Content-Type of the last request */
  char path[128];
  SSL_CTX *tls; /* serve https (rx_start_tls) */
} receiver;

static void rx_handle(struct evhttp_request *req, void *arg) {
  receiver *rx = arg;
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  char body[512] = "";
  if (n >= sizeof body)
    n = sizeof body - 1;
  evbuffer_copyout(in, body, n);
  body[n] = '\0';
  struct evkeyvalq *h = evhttp_request_get_input_headers(req);
  const char *tok = evhttp_find_header(h, "X-Token"), *ct = evhttp_find_header(h, "Content-Type");
  pthread_mutex_lock(&rx->mu);
  rx->requests++;
  int fail = rx->fail_first < 0 || rx->requests <= rx->fail_first;
  snprintf(rx->token, sizeof rx->token, "%s", tok ? tok : "");
  snprintf(rx->content_type, sizeof rx->content_type, "%s", ct ? ct : "");
  snprintf(rx->path, sizeof rx->path, "%s", evhttp_request_get_uri(req));
  if (!fail && rx->nbodies < RX_MAX)
    memcpy(rx->bodies[rx->nbodies++], body, n + 1);
  pthread_mutex_unlock(&rx->mu);
  evhttp_send_reply(req, fail ? 500 : 200, fail ? "Internal Server Error" : "OK", NULL);
}

static void *rx_run(void *arg) {
  receiver *rx = arg;
  event_base_dispatch(rx->base);
  return NULL;
}

static int rx_start_with(receiver *rx, int fail_first, SSL_CTX *tls) {
  static int threads_on;
  if (!threads_on && evthread_use_pthreads() == 0)
    threads_on = 1; /* loopexit from the test thread */
  memset(rx, 0, sizeof *rx);
  rx->fail_first = fail_first;
  rx->tls = tls;
  pthread_mutex_init(&rx->mu, NULL);
  rx->base = event_base_new();
  rx->http = rx->base ? evhttp_new(rx->base) : NULL;
  if (!rx->http)
    return -1;
  evhttp_set_gencb(rx->http, rx_handle, rx);
  if (rx->tls)
    evhttp_set_bevcb(rx->http, tls_fixture_bevcb, tls);
  struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(rx->http, "127.0.0.1", 0);
  if (!bs)
    return -1;
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &len);
  rx->port = ntohs(sa.sin_port);
  return pthread_create(&rx->thread, NULL, rx_run, rx);
}

static int rx_start(receiver *rx, int fail_first) { return rx_start_with(rx, fail_first, NULL); }

static void rx_stop(receiver *rx) {
  event_base_loopexit(rx->base, NULL);
  pthread_join(rx->thread, NULL);
  evhttp_free(rx->http);
  event_base_free(rx->base);
  pthread_mutex_destroy(&rx->mu);
  SSL_CTX_free(rx->tls);
}

/* An https receiver (tests/tls_fixture.h); dir/cert.pem is its CA. */
static int rx_start_tls(receiver *rx, char *dir, size_t dirlen) {
  SSL_CTX *ctx = tls_fixture_server(dir, dirlen);
  return ctx ? rx_start_with(rx, 0, ctx) : -1;
}

static int rx_requests(receiver *rx) {
  pthread_mutex_lock(&rx->mu);
  int n = rx->requests;
  pthread_mutex_unlock(&rx->mu);
  return n;
}

/* A loopback port with nothing listening. */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  bind(fd, (struct sockaddr *)&sa, sizeof sa);
  getsockname(fd, (struct sockaddr *)&sa, &len);
  close(fd);
  return ntohs(sa.sin_port);
}

/* ---- a fake runtime ----------------------------------------------------- */

typedef struct fake_rt {
  sl_arena *arena;
  sl_record *dead[8];
  char reason[8][16];
  char message[8][320];
  int ndead;
  double retries;
} fake_rt;

static void f_log(void *rt, sl_log_level level, const char *fmt, ...) {
  (void)rt, (void)level, (void)fmt;
}

static void f_counter(void *rt, const char *name, double delta) {
  if (strcmp(name, "sluice_webhook_retries_total") == 0)
    ((fake_rt *)rt)->retries += delta;
}

static int f_dead(void *runtime, const sl_record *r, const char *reason, const char *message) {
  fake_rt *rt = runtime;
  if (rt->ndead == 8)
    return SL_ERR_LIMIT;
  rt->dead[rt->ndead] = sl_record_clone(rt->arena, r);
  snprintf(rt->reason[rt->ndead], sizeof rt->reason[0], "%s", reason);
  snprintf(rt->message[rt->ndead], sizeof rt->message[0], "%s", message);
  rt->ndead++;
  return SL_OK;
}

typedef struct fx {
  fake_rt rt;
  sl_connector_env env;
  void *sink;
  sl_batch batch;
  sl_error err;
} fx;

static sl_config *wh_cfg(int port, int retries, const char *backoff) {
  sl_config *c = sl_config_new("alerts.lua", 3);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/alerts?src=sluice", port);
  sl_config_put_string(c, "url", url);
  sl_config_put_number(c, "retries", retries);
  sl_config_put_string(c, "backoff", backoff);
  sl_config_put_string(c, "timeout", "2s");
  sl_config *h = sl_config_new("alerts.lua", 3);
  sl_config_put_string(h, "X-Token", "s3cret");
  sl_config_put_table(c, "headers", h);
  return c;
}

static int fx_open(fx *f, sl_config *c) {
  memset(f, 0, sizeof *f);
  f->rt.arena = sl_arena_new(0);
  f->env.pipeline = "p";
  f->env.node_name = "webhook#1";
  f->env.runtime = &f->rt;
  f->env.log = f_log;
  f->env.counter_add = f_counter;
  f->env.dead_letter = f_dead;
  sl_batch_init(&f->batch, f->rt.arena);
  int rc = sl_webhook_sink.open(&f->env, c, &f->sink, &f->err);
  sl_config_destroy(c);
  return rc;
}

static void fx_close(fx *f) {
  sl_webhook_sink.close(f->sink);
  sl_batch_release(&f->batch);
  sl_arena_destroy(f->rt.arena);
}

static void add_alert(fx *f, int i) {
  sl_record *r = sl_record_new(f->rt.arena, 3);
  sl_record_set(r, sl_name_cstr("alert"), sl_value_string("overheat", 8));
  sl_record_set(r, sl_name_cstr("state"), sl_value_string("firing", 6));
  sl_record_set(r, sl_name_cstr("ts"), sl_value_int(1700000010000 + i));
  sl_batch_push(&f->batch, r);
}

static void expect_body(receiver *rx, int i, int n) {
  char want[128];
  snprintf(want, sizeof want, "{\"alert\":\"overheat\",\"state\":\"firing\",\"ts\":%lld}",
           1700000010000LL + n);
  CU_ASSERT_STRING_EQUAL(rx->bodies[i], want);
}

/* ---- tests -------------------------------------------------------------- */

static void test_recovers_after_failures(void) {
  receiver rx;
  CU_ASSERT_EQUAL_FATAL(rx_start(&rx, 2), 0);
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, wh_cfg(rx.port, 5, "1ms")), SL_OK);
  for (int i = 0; i < 3; i++)
    add_alert(&f, i);
  size_t written = 0;
  CU_ASSERT_EQUAL(sl_webhook_sink.write(f.sink, &f.batch, &written, &f.err), SL_OK);
  CU_ASSERT_EQUAL(written, 3);
  CU_ASSERT_EQUAL(sl_webhook_sink.flush(f.sink, 10000, &f.err), SL_OK);
  CU_ASSERT_EQUAL(rx_requests(&rx), 5); /* 2 failures of the first, then 3 deliveries */
  CU_ASSERT_EQUAL_FATAL(rx.nbodies, 3);
  for (int i = 0; i < 3; i++)
    expect_body(&rx, i, i); /* in order */
  CU_ASSERT_STRING_EQUAL(rx.token, "s3cret");
  CU_ASSERT_STRING_EQUAL(rx.content_type, "application/json");
  CU_ASSERT_STRING_EQUAL(rx.path, "/hooks/alerts?src=sluice");
  CU_ASSERT_EQUAL(f.rt.ndead, 0);
  CU_ASSERT_EQUAL(f.rt.retries, 2);
  CU_ASSERT_EQUAL(sl_webhook_sink.flush(f.sink, 0, &f.err), SL_OK); /* nothing pending */
  fx_close(&f);
  rx_stop(&rx);
}

static void test_never_recovers_dead_letters(void) {
  receiver rx;
  CU_ASSERT_EQUAL_FATAL(rx_start(&rx, -1), 0);
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, wh_cfg(rx.port, 2, "1ms")), SL_OK);
  add_alert(&f, 7);
  size_t written = 0;
  CU_ASSERT_EQUAL(sl_webhook_sink.write(f.sink, &f.batch, &written, &f.err), SL_OK);
  CU_ASSERT_EQUAL(sl_webhook_sink.flush(f.sink, 10000, &f.err), SL_OK);
  CU_ASSERT_EQUAL(rx_requests(&rx), 3); /* the first attempt and 2 retries */
  CU_ASSERT_EQUAL(rx.nbodies, 0);
  CU_ASSERT_EQUAL_FATAL(f.rt.ndead, 1);
  CU_ASSERT_STRING_EQUAL(f.rt.reason[0], "sink");
  CU_ASSERT_PTR_NOT_NULL(strstr(f.rt.message[0], "HTTP 500"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.rt.message[0], "3 attempts"));
  const sl_value *ts = sl_record_get_cstr(f.rt.dead[0], "ts");
  CU_ASSERT_TRUE(ts && ts->type == SL_TYPE_INT && ts->as.i == 1700000010007);
  size_t rawlen;
  CU_ASSERT_PTR_NOT_NULL(sl_record_raw(f.rt.dead[0], &rawlen));
  fx_close(&f);
  rx_stop(&rx);
}

/* A record failing inside poll() waits for the next write() or flush() to
 * be dead-lettered (the runtime writes dead letters raised there). */
static void test_dead_letters_not_from_poll(void) {
  receiver rx;
  CU_ASSERT_EQUAL_FATAL(rx_start(&rx, -1), 0);
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, wh_cfg(rx.port, 0, "1ms")), SL_OK);
  add_alert(&f, 3);
  size_t written = 0;
  CU_ASSERT_EQUAL(sl_webhook_sink.write(f.sink, &f.batch, &written, &f.err), SL_OK);
  /* On a fast (or busy) machine the 500 may already come back inside write(),
   * which may dead-letter it: what must never dead-letter is poll(). */
  size_t after_write = f.rt.ndead;
  for (int i = 0; i < 200000 && rx_requests(&rx) == 0; i++)
    sl_webhook_sink.poll(f.sink);
  for (int i = 0; i < 2000; i++)
    sl_webhook_sink.poll(f.sink);
  CU_ASSERT_EQUAL(f.rt.ndead, after_write);
  CU_ASSERT_EQUAL(sl_webhook_sink.flush(f.sink, 10000, &f.err), SL_OK);
  CU_ASSERT_EQUAL(f.rt.ndead, 1);
  fx_close(&f);
  rx_stop(&rx);
}

static void test_unreachable_dead_letters(void) {
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, wh_cfg(closed_port(), 1, "1ms")), SL_OK);
  add_alert(&f, 1);
  add_alert(&f, 2);
  size_t written = 0;
  CU_ASSERT_EQUAL(sl_webhook_sink.write(f.sink, &f.batch, &written, &f.err), SL_OK);
  CU_ASSERT_EQUAL(sl_webhook_sink.flush(f.sink, 10000, &f.err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(f.rt.ndead, 2);
  CU_ASSERT_STRING_EQUAL(f.rt.reason[1], "sink");
  CU_ASSERT_PTR_NOT_NULL(strstr(f.rt.message[0], "2 attempts"));
  fx_close(&f);
}

/* A full queue answers SL_ERR_LIMIT; the runtime's loop (flush, write the
 * rest) then delivers everything in order. */
static void test_backpressure(void) {
  receiver rx;
  CU_ASSERT_EQUAL_FATAL(rx_start(&rx, 0), 0);
  fx f;
  sl_config *c = wh_cfg(rx.port, 0, "1ms");
  sl_config_put_number(c, "queue", 2);
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, c), SL_OK);
  for (int i = 0; i < 5; i++)
    add_alert(&f, i);
  size_t done = 0;
  int limits = 0;
  while (done < 5) {
    sl_batch view = f.batch;
    view.records += done;
    view.count -= done;
    size_t written = 0;
    int rc = sl_webhook_sink.write(f.sink, &view, &written, &f.err);
    done += written;
    if (rc == SL_ERR_LIMIT) {
      /* How many fit depends on how many deliveries completed while
       * write() served its loop (a queue of 2 plus those): only that some
       * were refused is certain. Found flaky in CI with `written <= 2`. */
      limits++;
      CU_ASSERT(written < view.count);
      int frc = sl_webhook_sink.flush(f.sink, 5000, &f.err);
      CU_ASSERT(frc == SL_OK);
    } else {
      CU_ASSERT_EQUAL(rc, SL_OK);
    }
    if (limits > 10)
      break;
  }
  CU_ASSERT(limits >= 1);
  CU_ASSERT_EQUAL(sl_webhook_sink.flush(f.sink, 10000, &f.err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(rx.nbodies, 5);
  for (int i = 0; i < 5; i++)
    expect_body(&rx, i, i);
  fx_close(&f);
  rx_stop(&rx);
}

static void test_flush_timeout(void) {
  receiver rx;
  CU_ASSERT_EQUAL_FATAL(rx_start(&rx, -1), 0);
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, wh_cfg(rx.port, 3, "1h")), SL_OK);
  add_alert(&f, 1);
  size_t written = 0;
  CU_ASSERT_EQUAL(sl_webhook_sink.write(f.sink, &f.batch, &written, &f.err), SL_OK);
  /* the first attempt fails at once; its retry is due in half an hour or more */
  CU_ASSERT_EQUAL(sl_webhook_sink.flush(f.sink, 300, &f.err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "1 record(s) not yet delivered"));
  CU_ASSERT_EQUAL(f.rt.ndead, 0);
  fx_close(&f);
  rx_stop(&rx);
}

static void expect_bad(sl_config *c, const char *needle) {
  fx f;
  CU_ASSERT_EQUAL(fx_open(&f, c), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, needle));
  sl_batch_release(&f.batch);
  sl_arena_destroy(f.rt.arena);
}

static sl_config *https_cfg(int port, const char *ca) {
  sl_config *c = wh_cfg(port, 0, "1ms");
  char url[128];
  snprintf(url, sizeof url, "https://127.0.0.1:%d/hooks/alerts?src=sluice", port);
  sl_config_put_string(c, "url", url);
  if (ca)
    sl_config_put_string(c, "ca", ca);
  return c;
}

/* https to a receiver with a private CA's certificate: delivered when `ca`
 * names that CA (the certificate's IP SAN matches the URL's address), and
 * dead-lettered with the TLS failure against the system CAs. */
static void test_https_private_ca(void) {
  receiver rx;
  char dir[64], ca[96];
  if (rx_start_tls(&rx, dir, sizeof dir) != 0) {
    CU_FAIL("cannot start the https receiver (openssl(1) missing?)");
    return;
  }
  snprintf(ca, sizeof ca, "%s/cert.pem", dir);
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, https_cfg(rx.port, ca)), SL_OK);
  add_alert(&f, 1);
  size_t written = 0;
  CU_ASSERT_EQUAL(sl_webhook_sink.write(f.sink, &f.batch, &written, &f.err), SL_OK);
  CU_ASSERT_EQUAL(sl_webhook_sink.flush(f.sink, 10000, &f.err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(rx.nbodies, 1);
  expect_body(&rx, 0, 1);
  CU_ASSERT_STRING_EQUAL(rx.token, "s3cret");
  CU_ASSERT_EQUAL(f.rt.ndead, 0);
  fx_close(&f);

  CU_ASSERT_EQUAL_FATAL(fx_open(&f, https_cfg(rx.port, NULL)), SL_OK); /* system CAs */
  add_alert(&f, 2);
  CU_ASSERT_EQUAL(sl_webhook_sink.write(f.sink, &f.batch, &written, &f.err), SL_OK);
  CU_ASSERT_EQUAL(sl_webhook_sink.flush(f.sink, 10000, &f.err), SL_OK);
  CU_ASSERT_EQUAL(rx.nbodies, 1); /* nothing more reached it */
  CU_ASSERT_EQUAL_FATAL(f.rt.ndead, 1);
  CU_ASSERT_STRING_EQUAL(f.rt.reason[0], "sink");
  CU_ASSERT_PTR_NOT_NULL(strstr(f.rt.message[0], "TLS: the server's certificate: self-signed"));
  fx_close(&f);

  CU_ASSERT_EQUAL(fx_open(&f, https_cfg(rx.port, "/nonexistent/ca.pem")), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "cannot read CA certificates from '/nonexistent/ca.pem'"));
  sl_batch_release(&f.batch);
  sl_arena_destroy(f.rt.arena);
  rx_stop(&rx);
  tls_fixture_cleanup(dir);
}

static void test_bad_config(void) {
  sl_config *c = sl_config_new("a.lua", 1);
  sl_config_put_string(c, "url", "ftp://example.com/x");
  expect_bad(c, "not an http:// or https:// URL");
  c = sl_config_new("a.lua", 1);
  sl_config_put_string(c, "url", "not a url");
  expect_bad(c, "not an http:// or https:// URL");
  c = wh_cfg(80, -1, "1ms");
  expect_bad(c, "retries");
  c = wh_cfg(80, 1, "1ms");
  sl_config_put_number(c, "queue", 0);
  expect_bad(c, "queue");
  c = wh_cfg(80, 1, "1ms");
  sl_config *h = sl_config_new("a.lua", 1);
  sl_config_put_string(h, "X-Evil", "a\r\nInjected: 1");
  sl_config_put_table(c, "headers", h);
  expect_bad(c, "one-line");
  sl_webhook_sink.close(NULL);
}

int suite_connectors_webhook(void) {
  CU_pSuite s = CU_add_suite("connectors_webhook", NULL, NULL);
  if (!s || !CU_add_test(s, "recovers after failures", test_recovers_after_failures) ||
      !CU_add_test(s, "never recovers: dead-lettered", test_never_recovers_dead_letters) ||
      !CU_add_test(s, "unreachable: dead-lettered", test_unreachable_dead_letters) ||
      !CU_add_test(s, "no dead letters from poll()", test_dead_letters_not_from_poll) ||
      !CU_add_test(s, "backpressure from a full queue", test_backpressure) ||
      !CU_add_test(s, "flush timeout", test_flush_timeout) ||
      !CU_add_test(s, "https with a private CA", test_https_private_ca) ||
      !CU_add_test(s, "bad config and close(NULL)", test_bad_config))
    return -1;
  return 0;
}
