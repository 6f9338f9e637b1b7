/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's HTTP side on the caller's libevent loop: POST /ingest/{topic}
 * plus /healthz, /readyz and /metrics. An ingest request is validated as a
 * whole before anything is produced (all or nothing: a client fixes and
 * resends one batch), then every record is produced and the request waits,
 * unanswered, until Kafka has acknowledged each one: 202 means "stored".
 * The loop never blocks: the answer is sent from the delivery-report
 * callback of the request's last record. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/log.h"
#include "base/metrics.h"
#include "gateway/gateway.h"
#include "http/http_internal.h"

#define RETRY_OVERLOAD "1"    /* seconds: in-flight records drain in milliseconds */
#define RETRY_UNAVAILABLE "5" /* seconds: Kafka is down or shutting down */

typedef struct ingest_req ingest_req;

struct sl_gw_http {
  struct event_base *base;
  struct evhttp *http;
  SSL_CTX *ssl;
  int port;
  const sl_gw_conf *conf;
  const sl_gw_devices *devices;
  sl_gw_gate *gate; /* shared with CoAP */
  sl_gw_producer *producer;
  int mqtt_ready;
  ingest_req *requests; /* requests waiting for Kafka (to detach them at free) */
  char labels[256]; /* gateway=NAME */
  sl_metric *m_inflight;
};

struct ingest_req {
  sl_gw_send s; /* first: the records on their way (gateway_send.c) */
  sl_gw_http *h;
  struct evhttp_request *req; /* NULL once answered or freed by libevent */
  int gone;                   /* the client went away: `req` is ours to free */
  ingest_req *prev, *next;
};

/* ---- replies ---------------------------------------------------------------- */

static const char *reason(int code) {
  switch (code) {
  case 200: return "OK";
  case 202: return "Accepted";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Payload Too Large";
  case 429: return "Too Many Requests";
  case 503: return "Service Unavailable";
  default: return "Error";
  }
}

static void count(sl_gw_http *h, const char *family, const char *help, const char *labels,
                  double n) {
  sl_gw_count(h->conf, family, help, labels, n);
}

static void reply(sl_gw_http *h, struct evhttp_request *req, int code, const char *ctype,
                  const sl_buf *b) {
  struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
  evhttp_add_header(hd, "Content-Type", ctype);
  evhttp_add_header(hd, "Cache-Control", "no-store");
  struct evbuffer *out = evbuffer_new();
  if (out && b->len)
    evbuffer_add(out, b->data, b->len);
  char label[32];
  snprintf(label, sizeof label, "code=%d", code);
  count(h, "sluice_gateway_requests_total", "HTTP requests answered, by status code", label, 1);
  evhttp_send_reply(req, code, reason(code), out);
  if (out)
    evbuffer_free(out);
}

/* {"error":msg,"status":code} with Retry-After when `retry` is set. */
static void reply_error(sl_gw_http *h, struct evhttp_request *req, int code, const char *retry,
                        const char *msg) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_puts(&b, "{\"error\":");
  sl_buf_json_string(&b, msg, strlen(msg));
  sl_buf_printf(&b, ",\"status\":%d}", code);
  struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
  if (retry)
    evhttp_add_header(hd, "Retry-After", retry);
  if (code == 401)
    evhttp_add_header(hd, "WWW-Authenticate", "Bearer realm=\"sluice-gateway\"");
  reply(h, req, code, "application/json", &b);
  sl_buf_free(&b);
}

/* 400 with the reason of each invalid record. */
static void reply_invalid(sl_gw_http *h, struct evhttp_request *req, const sl_gw_batch *b) {
  sl_buf out = SL_BUF_INIT;
  sl_gw_invalid_json(b, 400, &out);
  reply(h, req, 400, "application/json", &out);
  sl_buf_free(&out);
}

/* ---- ingest ------------------------------------------------------------------- */

/* The connection is being freed. When the client went away (EOF, timeout)
 * libevent 2.1 first detaches a request that was not answered yet
 * (evhttp_connection_incoming_fail: req->evcon = NULL, removed from the
 * connection's list): it is not freed with the connection, it is ours. In
 * other cases it is still attached and goes with the connection. */
static void on_client_gone(struct evhttp_connection *evcon, void *arg) {
  (void)evcon;
  ingest_req *r = arg;
  if (r->req && !evhttp_request_get_connection(r->req))
    r->gone = 1;
  else
    r->req = NULL;
}

static void req_free(ingest_req *r) {
  sl_gw_http *h = r->h;
  if (r->req && r->gone) {
    evhttp_request_free(r->req); /* detached: nobody else will */
    r->req = NULL;
  }
  if (r->req)
    evhttp_connection_set_closecb(evhttp_request_get_connection(r->req), NULL, NULL);
  if (r->prev)
    r->prev->next = r->next;
  else
    h->requests = r->next;
  if (r->next)
    r->next->prev = r->prev;
  sl_gw_send_release(&r->s);
  free(r);
}

static void finish(sl_gw_send *s) {
  ingest_req *r = (ingest_req *)s;
  sl_gw_http *h = r->h;
  sl_metric_set(h->m_inflight, (double)sl_gw_producer_inflight(h->producer));
  if (r->req && !r->gone) {
    char msg[512];
    sl_buf b = SL_BUF_INIT;
    /* Detach first: once replied to, the request belongs to libevent. */
    evhttp_connection_set_closecb(evhttp_request_get_connection(r->req), NULL, NULL);
    sl_gw_send_outcome(s, msg, sizeof msg);
    if (!s->failed && !s->limited) {
      sl_buf_printf(&b, "{\"accepted\":%zu}", s->delivered);
      reply(h, r->req, 202, "application/json", &b);
    } else {
      reply_error(h, r->req, s->failed ? 503 : 429, s->failed ? RETRY_UNAVAILABLE : RETRY_OVERLOAD,
                  msg);
    }
    sl_buf_free(&b);
    r->req = NULL;
  }
  req_free(r); /* frees a request whose client went away */
}

/* The device of the request's API key, or NULL after answering 401. */
static const char *authenticate(sl_gw_http *h, struct evhttp_request *req) {
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  const char *auth = evhttp_find_header(in, "Authorization");
  const char *key = evhttp_find_header(in, "X-API-Key");
  if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
    key = auth + 7;
  const char *device = key ? sl_gw_devices_auth(h->devices, key, strlen(key)) : NULL;
  if (!device) {
    count(h, "sluice_gateway_rejected_total", "requests refused before producing, by reason",
          "reason=unauthorized", 1);
    reply_error(h, req, 401, NULL,
                key ? "unknown API key" : "missing API key: send Authorization: Bearer KEY");
  }
  return device;
}

/* 0 to go on; else the request was answered 503. */
static int refuse_if_unavailable(sl_gw_http *h, struct evhttp_request *req) {
  const char *why = sl_gw_gate_unavailable(h->gate);
  if (!why)
    return 0;
  count(h, "sluice_gateway_rejected_total", "requests refused before producing, by reason",
        "reason=unavailable", 1);
  reply_error(h, req, 503, RETRY_UNAVAILABLE, why);
  return 1;
}

/* 0 to go on; else the request was answered 429. */
static int refuse_if_overloaded(sl_gw_http *h, struct evhttp_request *req, size_t n) {
  if (!sl_gw_gate_overloaded(h->gate, n))
    return 0;
  count(h, "sluice_gateway_rejected_total", "requests refused before producing, by reason",
        "reason=overload", 1);
  reply_error(h, req, 429, RETRY_OVERLOAD, "overloaded: too many records waiting for Kafka");
  return 1;
}

/* 0 to go on; else the request was answered 429. */
static int refuse_if_memory(sl_gw_http *h, struct evhttp_request *req, size_t need) {
  if (!sl_gw_gate_over_memory(h->gate, need))
    return 0;
  count(h, "sluice_gateway_rejected_total", "requests refused before producing, by reason",
        "reason=memory", 1);
  reply_error(h, req, 429, RETRY_OVERLOAD,
              "overloaded: too many bytes of requests waiting for Kafka (max_pending_bytes)");
  return 1;
}

static int parse_body(sl_gw_http *h, ingest_req *r, const char *device) {
  struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
  size_t len = evbuffer_get_length(in);
  const char *body = (const char *)evbuffer_pullup(in, -1);
  sl_error e;
  sl_error_clear(&e);
  int rc = sl_gw_send_parse(&r->s, device, body, len, &e);
  if (rc != SL_OK) {
    reply_error(h, r->req,
                rc == SL_ERR_LIMIT   ? 413
                : rc == SL_ERR_NOMEM ? 503
                                     : 400,
                rc == SL_ERR_NOMEM ? RETRY_OVERLOAD : NULL, e.message);
    return rc;
  }
  if (r->s.batch.invalid) {
    reply_invalid(h, r->req, &r->s.batch);
    return SL_ERR_INVALID;
  }
  return SL_OK;
}

static void ingest(sl_gw_http *h, struct evhttp_request *req, const char *topic) {
  if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
    reply_error(h, req, 405, NULL, "use POST with a JSON object or array");
    return;
  }
  const char *device = authenticate(h, req);
  if (!device)
    return;
  const sl_gw_topic *t = sl_gw_conf_topic(h->conf, topic, strlen(topic));
  if (!t) {
    reply_error(h, req, 404, NULL, "no such topic: the gateway file declares g:topic{...}");
    return;
  }
  size_t body = evbuffer_get_length(evhttp_request_get_input_buffer(req));
  if (refuse_if_unavailable(h, req) || refuse_if_overloaded(h, req, 1) ||
      refuse_if_memory(h, req, body + SL_GW_BATCH_ARENA))
    return;
  ingest_req *r = calloc(1, sizeof *r);
  if (!r || sl_gw_send_init(&r->s, h->gate, t, finish) != SL_OK) {
    free(r);
    reply_error(h, req, 503, RETRY_OVERLOAD, "out of memory");
    return;
  }
  r->s.family = "sluice_gateway_records_total";
  r->h = h;
  r->req = req;
  r->next = h->requests;
  if (h->requests)
    h->requests->prev = r;
  h->requests = r;
  if (parse_body(h, r, device) != SL_OK || refuse_if_overloaded(h, req, r->s.batch.n) ||
      refuse_if_memory(h, req, sl_gw_send_held_bytes(&r->s, body))) {
    r->req = NULL; /* answered */
    req_free(r);
    return;
  }
  sl_gw_send_hold(&r->s, body);
  evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_client_gone, r);
  sl_gw_send_produce(&r->s, device);
  sl_metric_set(h->m_inflight, (double)sl_gw_producer_inflight(h->producer));
}

/* ---- operations endpoints and routing ----------------------------------------- */

static void ops(sl_gw_http *h, struct evhttp_request *req, const char *path) {
  sl_buf b = SL_BUF_INIT;
  if (strcmp(path, "/metrics") == 0) {
    sl_metric_set(h->m_inflight, (double)sl_gw_producer_inflight(h->producer));
    sl_metrics_render(&b);
    reply(h, req, 200, "text/plain; version=0.0.4", &b);
  } else if (sl_gw_producer_fatal(h->producer)) {
    /* Both probes: liveness failing is what makes Kubernetes restart us. */
    reply_error(h, req, 503, RETRY_UNAVAILABLE,
                "the Kafka producer failed for good (see the log): restart the gateway");
  } else if (strcmp(path, "/healthz") == 0) {
    sl_buf_puts(&b, "{\"status\":\"ok\"}");
    reply(h, req, 200, "application/json", &b);
  } else if (sl_gw_producer_down(h->producer) || !h->mqtt_ready || h->gate->draining) {
    reply_error(h, req, 503, RETRY_UNAVAILABLE,
                h->gate->draining ? "shutting down"
                : !h->mqtt_ready  ? "not connected to the MQTT broker"
                                  : "Kafka is unreachable");
  } else {
    sl_buf_puts(&b, "{\"status\":\"ready\"}");
    reply(h, req, 200, "application/json", &b);
  }
  sl_buf_free(&b);
}

static void route(struct evhttp_request *req, void *arg) {
  sl_gw_http *h = arg;
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
  if (!path)
    path = "/";
  if (strncmp(path, "/ingest/", 8) == 0 && path[8] && !strchr(path + 8, '/')) {
    ingest(h, req, path + 8);
  } else if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
             strcmp(path, "/metrics") == 0) {
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
      reply_error(h, req, 405, NULL, "use GET");
    else
      ops(h, req, path);
  } else {
    reply_error(h, req, 404, NULL, "not found: POST /ingest/{topic}");
  }
}

/* ---- lifecycle ------------------------------------------------------------------ */

static struct bufferevent *make_bev(struct event_base *base, void *arg) {
  sl_gw_http *h = arg;
  SSL *ssl = SSL_new(h->ssl);
  if (!ssl)
    return NULL;
  return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                        BEV_OPT_CLOSE_ON_FREE);
}

sl_gw_http *sl_gw_http_start(struct event_base *base, const sl_gw_conf *conf,
                             const sl_gw_devices *devices, sl_gw_gate *gate,
                             const sl_gw_http_options *o, sl_error *err) {
  sl_gw_http *h = calloc(1, sizeof *h);
  if (!h || !(h->http = evhttp_new(base))) {
    free(h);
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  h->base = base;
  h->conf = conf;
  h->devices = devices;
  h->gate = gate;
  h->producer = gate->producer;
  h->mqtt_ready = 1;
  snprintf(h->labels, sizeof h->labels, "gateway=%s", conf->name);
  h->m_inflight = sl_metrics_gauge("sluice_gateway_inflight_records",
                                   "records produced and not yet acknowledged by Kafka", h->labels);
  evhttp_set_max_body_size(h->http, (ev_ssize_t)conf->max_body);
  evhttp_set_max_headers_size(h->http, 8192);
  evhttp_set_timeout(h->http, 60);
  evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
  evhttp_set_gencb(h->http, route, h);
  if (o && o->tls_cert) {
    if (!(h->ssl = http_tls_ctx(o->tls_cert, o->tls_key, err)))
      goto fail;
    evhttp_set_bevcb(h->http, make_bev, h);
  }
  if (http_bind(h->http, conf->listen, &h->port, err) != SL_OK)
    goto fail;
  return h;
fail:
  sl_gw_http_free(h);
  return NULL;
}

int sl_gw_http_port(const sl_gw_http *h) { return h->port; }
void sl_gw_http_set_mqtt_ready(sl_gw_http *h, int ready) { h->mqtt_ready = ready; }

void sl_gw_http_free(sl_gw_http *h) {
  if (!h)
    return;
  /* Requests still waiting keep their delivery reports pointing at them:
   * the caller flushes the producer before freeing, so none should be left. */
  while (h->requests) {
    ingest_req *r = h->requests;
    if (r->s.outstanding)
      sl_log(SL_LOG_ERROR, "gateway", "freeing a request with %zu records in flight",
             r->s.outstanding);
    req_free(r);
  }
  if (h->http)
    evhttp_free(h->http);
  if (h->ssl)
    SSL_CTX_free(h->ssl);
  free(h);
}
