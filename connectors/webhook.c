/* SPDX-License-Identifier: Apache-2.0 */
/* The `webhook` sink: each record (usually an alert) is POSTed as one JSON
 * object to `url` with libevent's HTTP client (https through
 * bufferevent_openssl). Records wait in a bounded queue (full -> SL_ERR_LIMIT,
 * the runtime's backpressure); one request is in flight at a time, so a
 * receiver sees alerts in order unless one is being retried. A non-2xx
 * answer, a timeout or a refused connection is retried `retries` times with
 * exponential backoff and full jitter; after that the record goes to the
 * dead-letter sink with reason "sink", never dropped.
 *
 * The sink owns its event_base and runs it only from write()/poll()/flush()
 * (the runtime is single-threaded): poll() never blocks, flush() blocks at
 * most its timeout. Every attempt uses a fresh connection, so a failed TLS or
 * TCP state never leaks into the next attempt; alerts are rare enough for
 * that to cost nothing. */
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "codec/json_codec.h"
#include "https_client.h"
#include "lang/connector.h"

#define WH_BACKOFF_MAX_MS 60000

typedef struct wh_item {
  char *body; /* malloc'd JSON */
  size_t len;
  int attempts; /* made so far */
  int64_t due;  /* monotonic ms before which it is not sent again */
} wh_item;

/* A record that ran out of retries, waiting to be dead-lettered. */
typedef struct wh_failed {
  sl_record *record; /* in dl_arena */
  char *message;     /* in dl_arena */
} wh_failed;

typedef struct wh_header {
  char *name, *value; /* malloc'd */
} wh_header;

typedef struct webhook {
  const sl_connector_env *env;
  struct event_base *base;
  struct event *timer; /* wakes the queue when a retry is due */
  SSL_CTX *ssl_ctx;    /* https only */
  struct evhttp_connection *conn; /* of the request in flight or just finished */
  struct evhttp_connection *spent; /* freed at the next call (never inside its callback) */
  char *url, *host, *path; /* malloc'd */
  int port, https;
  wh_header *headers;
  size_t nheaders;
  int64_t timeout_ms, backoff_ms;
  int retries;
  wh_item *ring; /* bounded queue, capacity `cap` */
  size_t cap, head, count;
  int in_flight;
  uint32_t rng; /* xorshift state for jitter */
  sl_arena *dl_arena; /* dead-lettered records: borrowed by the runtime, kept until close */
  wh_failed *failed;  /* waiting for write()/flush() to dead-letter them */
  size_t nfailed, failed_cap;
  int may_dead_letter; /* inside write()/flush(): see release_failed() */
  char last_error[160];
} webhook;

static const sl_config_entry webhook_config[] = {
    {"url", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "http:// or https:// URL to POST to"},
    {"headers", SL_CFG_TABLE, 0, NULL, "extra request headers, name = value"},
    {"timeout", SL_CFG_DURATION, 0, "5s", "time limit of one attempt"},
    {"retries", SL_CFG_INT, 0, "5", "attempts after the first before dead-lettering"},
    {"backoff", SL_CFG_DURATION, 0, "500ms", "first retry delay, doubled per attempt, jittered"},
    {"queue", SL_CFG_INT, 0, "1000", "records waiting before write() applies backpressure"},
    {"ca", SL_CFG_STRING, 0, NULL, "PEM file of the CA(s) to trust for https (default: the system's)"},
    {NULL, 0, 0, NULL, NULL},
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval tv_ms(int64_t ms) {
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  return tv;
}

static wh_item *front(webhook *s) { return s->count ? &s->ring[s->head] : NULL; }

static void pop_front(webhook *s) {
  free(s->ring[s->head].body);
  s->head = (s->head + 1) % s->cap;
  s->count--;
}

static void start_next(webhook *s);

/* Full jitter: a uniform delay in [base/2, base] for base = backoff * 2^(n-1). */
static int64_t backoff_delay(webhook *s, int attempts) {
  int64_t d = s->backoff_ms;
  for (int i = 1; i < attempts && d < WH_BACKOFF_MAX_MS; i++)
    d *= 2;
  if (d > WH_BACKOFF_MAX_MS)
    d = WH_BACKOFF_MAX_MS;
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 17;
  s->rng ^= s->rng << 5;
  return d / 2 + (int64_t)(s->rng % (uint32_t)(d / 2 + 1));
}

/* Hand failed records to the dead-letter sink. Only from write() and
 * flush(): the runtime writes dead letters raised there, while one raised
 * from poll() would land after the runtime flushed its dead letters for the
 * traversal. The records live in dl_arena, which outlives the runtime's use. */
static void release_failed(webhook *s) {
  for (size_t i = 0; i < s->nfailed; i++)
    s->env->dead_letter(s->env->runtime, s->failed[i].record, "sink", s->failed[i].message);
  s->nfailed = 0;
}

static void dead_letter_front(webhook *s) {
  wh_item *it = front(s);
  char msg[320];
  snprintf(msg, sizeof msg, "webhook %s: not delivered after %d attempts (last: %s)", s->url,
           it->attempts, s->last_error);
  s->env->log(s->env->runtime, SL_LOG_WARN, "%s", msg);
  s->env->counter_add(s->env->runtime, "sluice_webhook_dead_letters_total", 1);
  sl_record *r = NULL;
  sl_error err;
  char *raw = sl_arena_strndup(s->dl_arena, it->body, it->len);
  char *m = sl_arena_strndup(s->dl_arena, msg, strlen(msg));
  if (raw && sl_json_decode(raw, it->len, s->dl_arena, &r, &err) != SL_OK)
    r = sl_record_new(s->dl_arena, 1);
  if (r && raw)
    sl_record_set_raw(r, raw, it->len);
  if (s->nfailed == s->failed_cap) {
    size_t cap = s->failed_cap ? s->failed_cap * 2 : 8;
    wh_failed *f = realloc(s->failed, cap * sizeof *f);
    if (f) {
      s->failed = f;
      s->failed_cap = cap;
    }
  }
  if (r && m && s->nfailed < s->failed_cap) {
    s->failed[s->nfailed].record = r;
    s->failed[s->nfailed++].message = m;
  } else {
    s->env->log(s->env->runtime, SL_LOG_ERROR, "webhook %s: out of memory, alert lost: %.*s",
                s->url, (int)it->len, it->body);
  }
  pop_front(s);
  if (s->may_dead_letter)
    release_failed(s);
}

/* One attempt ended: success pops the record, failure schedules a retry or
 * dead-letters it. Runs inside libevent's request callback, where the
 * connection must not be freed: the next attempt starts from the timer. */
static void attempt_done(webhook *s, int status) {
  s->in_flight = 0;
  s->spent = s->conn;
  s->conn = NULL;
  wh_item *it = front(s);
  if (it && status >= 200 && status < 300) {
    pop_front(s);
  } else if (it) {
    if (status > 0)
      snprintf(s->last_error, sizeof s->last_error, "HTTP %d", status);
    else if (!s->last_error[0])
      snprintf(s->last_error, sizeof s->last_error,
               "no response (connection refused, reset or timed out)");
    if (it->attempts > s->retries) {
      dead_letter_front(s);
    } else {
      it->due = mono_ms() + backoff_delay(s, it->attempts);
      s->env->counter_add(s->env->runtime, "sluice_webhook_retries_total", 1);
    }
  }
  struct timeval now = {0, 0};
  evtimer_add(s->timer, &now);
}

/* libevent calls on_error (when the attempt failed) and then on_response
 * (with NULL) for the same request: only the latter settles the attempt. */
static void on_response(struct evhttp_request *req, void *arg) {
  webhook *s = arg;
  if (s->in_flight)
    attempt_done(s, req ? evhttp_request_get_response_code(req) : 0);
}

static void on_error(enum evhttp_request_error e, void *arg) {
  webhook *s = arg;
  static const char *const names[] = {"timed out", "connection closed (EOF)", "connection failed",
                                      "cancelled", "invalid response"};
  snprintf(s->last_error, sizeof s->last_error, "%s",
           (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "request failed");
  /* A refused certificate otherwise shows as a closed connection. */
  char why[160];
  if (s->https && sl_https_refusal(s->conn, why, sizeof why))
    snprintf(s->last_error, sizeof s->last_error, "%s", why);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  start_next(arg);
}

static struct evhttp_connection *connect_to(webhook *s) {
  struct bufferevent *bev = NULL;
  if (s->https) {
    if (!(bev = sl_https_bev(s->base, s->ssl_ctx, s->host)))
      return NULL;
  }
  struct evhttp_connection *c =
      evhttp_connection_base_bufferevent_new(s->base, NULL, bev, s->host, (unsigned short)s->port);
  if (!c)
    return NULL;
  evhttp_connection_set_retries(c, 0); /* retries are ours, with backoff */
  struct timeval tv = tv_ms(s->timeout_ms);
  evhttp_connection_set_timeout_tv(c, &tv);
  return c;
}

static int send_front(webhook *s) {
  wh_item *it = front(s);
  it->attempts++;
  s->conn = connect_to(s);
  if (!s->conn)
    return -1;
  struct evhttp_request *req = evhttp_request_new(on_response, s);
  if (!req)
    return -1;
  evhttp_request_set_error_cb(req, on_error);
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  char hostport[300];
  snprintf(hostport, sizeof hostport, "%s:%d", s->host, s->port);
  evhttp_add_header(h, "Host", hostport);
  evhttp_add_header(h, "Content-Type", "application/json");
  evhttp_add_header(h, "User-Agent", "sluice/" SLUICE_VERSION);
  for (size_t i = 0; i < s->nheaders; i++)
    evhttp_add_header(h, s->headers[i].name, s->headers[i].value);
  evbuffer_add(evhttp_request_get_output_buffer(req), it->body, it->len);
  s->in_flight = 1;
  s->last_error[0] = '\0';
  if (evhttp_make_request(s->conn, req, EVHTTP_REQ_POST, s->path) != 0) {
    s->in_flight = 0; /* libevent freed the request */
    return -1;
  }
  return 0;
}

/* Send the front record if it is due, else arm the timer for when it is. */
static void start_next(webhook *s) {
  while (!s->in_flight && s->count) {
    if (s->spent) {
      evhttp_connection_free(s->spent);
      s->spent = NULL;
    }
    int64_t wait = front(s)->due - mono_ms();
    if (wait > 0) {
      struct timeval tv = tv_ms(wait);
      evtimer_add(s->timer, &tv);
      return;
    }
    if (send_front(s) == 0)
      return;
    snprintf(s->last_error, sizeof s->last_error, "cannot start a request to %s", s->url);
    attempt_done(s, 0); /* counts as a failed attempt: retried from the timer */
    return;
  }
}

/* ---- configuration ------------------------------------------------------ */

static int parse_url(webhook *s, const char *url, sl_error *err) {
  struct evhttp_uri *u = evhttp_uri_parse(url);
  const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
  const char *host = u ? evhttp_uri_get_host(u) : NULL;
  int rc = SL_OK;
  if (!scheme || !host || !host[0] || (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
    rc = sl_error_set(err, SL_ERR_INVALID,
                      "webhook: url '%s' is not an http:// or https:// URL with a host", url);
    goto out;
  }
  s->https = strcmp(scheme, "https") == 0;
  s->port = evhttp_uri_get_port(u);
  if (s->port < 0)
    s->port = s->https ? 443 : 80;
  const char *path = evhttp_uri_get_path(u), *query = evhttp_uri_get_query(u);
  size_t n = strlen(path && path[0] ? path : "/") + (query ? strlen(query) + 1 : 0) + 1;
  s->path = malloc(n);
  s->host = strdup(host);
  s->url = strdup(url);
  if (!s->path || !s->host || !s->url) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out;
  }
  snprintf(s->path, n, "%s%s%s", path && path[0] ? path : "/", query ? "?" : "",
           query ? query : "");
out:
  if (u)
    evhttp_uri_free(u);
  return rc;
}

static int config_headers(webhook *s, const sl_config *cfg, sl_error *err) {
  const sl_config *h = sl_config_table(cfg, "headers");
  size_t n = h ? sl_config_count(h) : 0;
  if (!n)
    return SL_OK;
  s->headers = calloc(n, sizeof *s->headers);
  if (!s->headers)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const char *name = sl_config_key_at(h, i), *value = sl_config_string(h, name, NULL);
    if (!value || strpbrk(value, "\r\n") || strpbrk(name, "\r\n: "))
      return sl_error_set(err, SL_ERR_INVALID,
                          "webhook: header '%s' needs a one-line string value", name);
    s->headers[i].name = strdup(name);
    s->headers[i].value = strdup(value);
    s->nheaders++;
    if (!s->headers[i].name || !s->headers[i].value)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  return SL_OK;
}

static int config_numbers(webhook *s, const sl_config *cfg, sl_error *err) {
  s->timeout_ms = sl_config_duration_ms(cfg, "timeout", 5000);
  s->backoff_ms = sl_config_duration_ms(cfg, "backoff", 500);
  int64_t retries = sl_config_int(cfg, "retries", 5), queue = sl_config_int(cfg, "queue", 1000);
  if (s->timeout_ms <= 0 || s->backoff_ms <= 0)
    return sl_error_set(err, SL_ERR_INVALID, "webhook: timeout and backoff must be positive");
  if (retries < 0 || retries > 100)
    return sl_error_set(err, SL_ERR_INVALID, "webhook: retries must be between 0 and 100");
  if (queue < 1 || queue > 1000000)
    return sl_error_set(err, SL_ERR_INVALID, "webhook: queue must be between 1 and 1000000");
  s->retries = (int)retries;
  s->cap = (size_t)queue;
  return SL_OK;
}

/* Receivers inside a plant often have certificates of a private CA: `ca`
 * names it; the server's certificate must still match the URL's host. */
static int setup_tls(webhook *s, const char *ca, sl_error *err) {
  if (!s->https)
    return ca ? sl_error_set(err, SL_ERR_INVALID, "webhook: `ca` needs an https:// url") : SL_OK;
  s->ssl_ctx = sl_https_ctx_new(ca, "webhook", err);
  return s->ssl_ctx ? SL_OK : err->code;
}

static void webhook_close(void *state);

static int webhook_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                        sl_error *err) {
  webhook *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->env = env;
  s->rng = (uint32_t)mono_ms() | 1u;
  int rc = parse_url(s, sl_config_string(cfg, "url", ""), err);
  if (rc == SL_OK)
    rc = config_headers(s, cfg, err);
  if (rc == SL_OK)
    rc = config_numbers(s, cfg, err);
  if (rc == SL_OK)
    rc = setup_tls(s, sl_config_string(cfg, "ca", NULL), err);
  if (rc != SL_OK)
    goto out_close;
  s->ring = calloc(s->cap, sizeof *s->ring);
  s->base = event_base_new();
  s->timer = s->base ? evtimer_new(s->base, on_timer, s) : NULL;
  s->dl_arena = sl_arena_new(0);
  if (!s->ring || !s->base || !s->timer || !s->dl_arena) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "webhook: cannot create the event loop");
    goto out_close;
  }
  *state = s;
  return SL_OK;
out_close:
  webhook_close(s);
  return rc;
}

/* Every configuration step of open() on a scratch sink, each problem
 * reported (not only the first); nothing is connected. */
static void webhook_check(const sl_config *cfg, sl_check_report report, void *ud) {
  webhook *s = calloc(1, sizeof *s);
  sl_error err;
  if (!s) {
    report(ud, 0, "webhook: out of memory");
    return;
  }
  sl_error_clear(&err);
  int url_ok = parse_url(s, sl_config_string(cfg, "url", ""), &err) == SL_OK;
  if (!url_ok)
    report(ud, 0, err.message);
  if (config_headers(s, cfg, &err) != SL_OK)
    report(ud, 0, err.message);
  if (config_numbers(s, cfg, &err) != SL_OK)
    report(ud, 0, err.message);
  if (url_ok && setup_tls(s, sl_config_string(cfg, "ca", NULL), &err) != SL_OK)
    report(ud, 0, err.message);
  webhook_close(s);
}

/* ---- the sink API ------------------------------------------------------- */

static void webhook_poll(void *state) {
  webhook *s = state;
  start_next(s);
  event_base_loop(s->base, EVLOOP_NONBLOCK);
}

static int webhook_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  webhook *s = state;
  sl_buf body = SL_BUF_INIT;
  *written = 0;
  int rc = SL_OK;
  s->may_dead_letter = 1;
  release_failed(s);
  for (size_t i = 0; i < sl_batch_count(in); i++) {
    if (s->count == s->cap) {
      webhook_poll(s);
      if (s->count == s->cap) {
        rc = sl_error_set(err, SL_ERR_LIMIT, "webhook %s: queue full (%zu)", s->url, s->cap);
        break;
      }
    }
    sl_error e;
    sl_buf_reset(&body);
    const sl_record *r = sl_batch_at(in, i);
    if (sl_json_encode(r, &body, &e) != SL_OK) {
      rc = s->env->dead_letter(s->env->runtime, r, "encode", e.message);
      if (rc != SL_OK)
        break;
    } else {
      wh_item *it = &s->ring[(s->head + s->count) % s->cap];
      memset(it, 0, sizeof *it);
      it->body = body.data; /* ownership moves to the queue */
      it->len = body.len;
      body = (sl_buf)SL_BUF_INIT;
      s->count++;
    }
    (*written)++;
  }
  sl_buf_free(&body);
  webhook_poll(s);
  s->may_dead_letter = 0;
  return rc;
}

static void on_flush_deadline(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  event_base_loopbreak(arg);
}

/* Run the loop until the queue is empty or `timeout_ms` passed. */
static int webhook_flush(void *state, int timeout_ms, sl_error *err) {
  webhook *s = state;
  int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  struct event *stop = evtimer_new(s->base, on_flush_deadline, s->base);
  if (!stop)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->may_dead_letter = 1;
  release_failed(s);
  while (s->count) {
    start_next(s);
    int64_t left = deadline - mono_ms();
    if (left <= 0 || !s->count)
      break;
    struct timeval tv = tv_ms(left < 20 ? left : 20); /* re-check the queue every 20 ms */
    evtimer_add(stop, &tv);
    event_base_loop(s->base, EVLOOP_ONCE);
    evtimer_del(stop);
  }
  event_free(stop);
  s->may_dead_letter = 0;
  if (!s->count)
    return SL_OK;
  return sl_error_set(err, SL_ERR_UNAVAILABLE, "webhook %s: %zu record(s) not yet delivered%s%s",
                      s->url, s->count, s->last_error[0] ? ", last error: " : "", s->last_error);
}

static void webhook_close(void *state) {
  webhook *s = state;
  if (!s)
    return;
  if (s->count)
    s->env->log(s->env->runtime, SL_LOG_WARN,
                "webhook %s: closing with %zu record(s) undelivered", s->url ? s->url : "?",
                s->count);
  if (s->nfailed)
    s->env->log(s->env->runtime, SL_LOG_ERROR,
                "webhook %s: closing with %zu failed record(s) not dead-lettered", s->url,
                s->nfailed);
  while (s->ring && s->count)
    pop_front(s);
  if (s->conn)
    evhttp_connection_free(s->conn);
  if (s->spent)
    evhttp_connection_free(s->spent);
  if (s->timer)
    event_free(s->timer);
  if (s->base)
    event_base_free(s->base);
  if (s->ssl_ctx)
    SSL_CTX_free(s->ssl_ctx);
  for (size_t i = 0; i < s->nheaders; i++) {
    free(s->headers[i].name);
    free(s->headers[i].value);
  }
  free(s->headers);
  free(s->failed);
  free(s->ring);
  free(s->url);
  free(s->host);
  free(s->path);
  sl_arena_destroy(s->dl_arena);
  free(s);
}

const sl_sink_desc sl_webhook_sink = {
    .name = "webhook",
    .summary = "POST each record (alert) as JSON to an HTTP(S) endpoint, with retries",
    .config = webhook_config,
    .positional = "url",
    .open = webhook_open,
    .write = webhook_write,
    .flush = webhook_flush,
    .poll = webhook_poll,
    .close = webhook_close,
    .check = webhook_check,
};
