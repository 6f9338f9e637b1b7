/* SPDX-License-Identifier: Apache-2.0 */
/* CoAP at the gateway: POST coap://HOST/ingest/{topic} (one resource per
 * g:topic) on libcoap, driven by the gateway's libevent loop through
 * libcoap's epoll descriptor (sockets and its retransmission timer). A
 * request goes through the same admission, validation and production as an
 * HTTP one (gateway_send.c); only the answers differ.
 *
 * "2.04 only after Kafka acknowledged" while Kafka's acks may take longer
 * than a CoAP client waits for an ACK (2-3 s): the request is registered as
 * libcoap async state and answered with an empty ACK at once; when the last
 * delivery report arrives the async state is triggered, libcoap calls the
 * handler again with the stored request and the answer goes out as a
 * separate (confirmable) response. While that state exists libcoap answers
 * retransmissions itself (it finds the state by token); after it, the
 * dedup table (gateway_coap_dedup.c) does, so a duplicate message id is
 * never produced twice.
 *
 * Authentication: coaps:// with DTLS-PSK, the identity being the device id
 * and the key from the PSK file; coap:// with ?key=API_KEY checked against
 * the devices file like an HTTP bearer key. */
#include <coap3/coap.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/log.h"
#include "base/metrics.h"
#include "gateway/gateway_coap.h"
#include "http/http_internal.h"

#define MAX_AGE_OVERLOAD 1    /* seconds: in-flight records drain in milliseconds */
#define MAX_AGE_UNAVAILABLE 5 /* seconds: Kafka is down or the gateway stops */
#define DIAG_MAX 480          /* bytes of a diagnostic payload: fits any datagram */
#define REQUESTS "sluice_gateway_coap_requests_total"
#define RECORDS "sluice_gateway_coap_records_total"

typedef struct coap_req coap_req;

typedef struct coap_topic {
  sl_gw_coap *c;
  const sl_gw_topic *topic;
} coap_topic;

struct sl_gw_coap {
  coap_context_t *ctx;
  struct event *ev; /* libcoap's epoll descriptor is readable */
  const sl_gw_conf *conf;
  const sl_gw_devices *devices;
  sl_gw_psks *psks;
  sl_gw_gate *gate;
  sl_gw_coap_dedup *dedup;
  coap_topic *topics;
  coap_topic unknown; /* any other path: 4.04, counted like the others */
  coap_req *requests; /* waiting for Kafka or for their answer to be sent */
  int port, dtls_port;
  coap_bin_const_t psk; /* handed to libcoap, which copies it */
  sl_metric *m_inflight;
};

struct coap_req {
  sl_gw_send s; /* first: the records on their way (gateway_send.c) */
  sl_gw_coap *c;
  coap_async_t *async; /* libcoap's state of the exchange; triggered when done */
  uint8_t peer[SL_GW_COAP_ADDR_MAX];
  size_t peerlen;
  uint16_t mid; /* of the request as the device sent it */
  coap_req *prev, *next;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- answers ------------------------------------------------------------------ */

static void count_answer(sl_gw_coap *c, uint8_t code) {
  char label[32];
  snprintf(label, sizeof label, "code=%d.%02d", code >> 5, code & 31);
  sl_gw_count(c->conf, REQUESTS, "CoAP requests answered, by response code", label, 1);
}

/* Set the response: `code` as CoAP's class*100+detail (404), Max-Age when
 * `max_age`, Size1 when `size1`, the payload (JSON when `json`). */
static void answer(sl_gw_coap *c, coap_pdu_t *resp, int code, unsigned max_age, size_t size1,
                   int json, const char *payload, size_t len) {
  uint8_t buf[8];
  coap_pdu_code_t pc = COAP_RESPONSE_CODE(code);
  coap_pdu_set_code(resp, pc);
  if (json)
    coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(buf, sizeof buf, COAP_MEDIATYPE_APPLICATION_JSON), buf);
  if (max_age)
    coap_add_option(resp, COAP_OPTION_MAXAGE, coap_encode_var_safe(buf, sizeof buf, max_age), buf);
  if (size1)
    coap_add_option(resp, COAP_OPTION_SIZE1, coap_encode_var_safe(buf, sizeof buf, (unsigned)size1),
                    buf);
  if (payload && len)
    coap_add_data(resp, len > DIAG_MAX && !json ? DIAG_MAX : len, (const uint8_t *)payload);
  count_answer(c, (uint8_t)pc);
}

static void answer_text(sl_gw_coap *c, coap_pdu_t *resp, int code, unsigned max_age,
                        const char *msg) {
  answer(c, resp, code, max_age, 0, 0, msg, strlen(msg));
}

/* 2.04 with {"accepted":N}, or 5.03 with Max-Age and `why`. */
static void answer_outcome(sl_gw_coap *c, coap_pdu_t *resp, const sl_gw_coap_answer *a,
                           const char *why) {
  char body[64];
  if (a->code == COAP_RESPONSE_CODE(204)) {
    int n = snprintf(body, sizeof body, "{\"accepted\":%u}", (unsigned)a->records);
    answer(c, resp, 204, 0, 0, 1, body, (size_t)n);
  } else {
    answer_text(c, resp, 503, a->max_age, why);
  }
}

/* 4.00 with the reason of each invalid record as JSON, or, when that list
 * would not fit a datagram, the first reason as text. */
static void answer_invalid(sl_gw_coap *c, coap_pdu_t *resp, const sl_gw_batch *b) {
  sl_buf out = SL_BUF_INIT;
  sl_gw_invalid_json(b, 400, &out);
  if (out.len && out.len <= DIAG_MAX) {
    answer(c, resp, 400, 0, 0, 1, out.data, out.len);
  } else {
    char msg[DIAG_MAX];
    for (size_t i = 0; i < b->n; i++)
      if (b->items[i].error) {
        snprintf(msg, sizeof msg,
                 "%zu of %zu records are invalid; nothing was stored; record %zu: %s", b->invalid,
                 b->n, i, b->items[i].error);
        break;
      }
    answer_text(c, resp, 400, 0, msg);
  }
  sl_buf_free(&out);
}

/* ---- requests ----------------------------------------------------------------- */

static void req_free(coap_req *r) {
  sl_gw_coap *c = r->c;
  if (r->prev)
    r->prev->next = r->next;
  else
    c->requests = r->next;
  if (r->next)
    r->next->prev = r->prev;
  sl_gw_send_release(&r->s);
  free(r);
}

/* The last delivery report is in: have libcoap call the handler again. */
static void on_finished(sl_gw_send *s) {
  coap_req *r = (coap_req *)s;
  sl_metric_set(r->c->m_inflight, (double)sl_gw_producer_inflight(r->c->gate->producer));
  coap_async_trigger(r->async);
}

/* The handler's second call, for a triggered exchange: the real answer. */
static void answer_finished(sl_gw_coap *c, coap_async_t *async, coap_pdu_t *resp) {
  /* Only a triggered state reaches here (libcoap answers copies of a request
   * whose state waits itself), and it fires at the start of the next
   * coap_io_process, before any datagram is read: once per exchange. */
  coap_req *r = coap_async_get_app_data(async);
  if (!r)
    return;
  sl_gw_coap_answer a = {COAP_RESPONSE_CODE(204), 0, (uint32_t)r->s.delivered};
  char why[512];
  sl_gw_send_outcome(&r->s, why, sizeof why);
  if (r->s.failed || r->s.limited) {
    a.code = COAP_RESPONSE_CODE(503);
    a.max_age = r->s.failed ? MAX_AGE_UNAVAILABLE : MAX_AGE_OVERLOAD;
  }
  sl_gw_coap_dedup_put(c->dedup, r->peer, r->peerlen, r->mid, &a, now_ms());
  answer_outcome(c, resp, &a, why);
  coap_async_set_app_data(async, NULL);
  req_free(r); /* libcoap frees the async state once this returns */
}

static void count_rejected(sl_gw_coap *c, const char *reason) {
  char label[64];
  snprintf(label, sizeof label, "reason=%s", reason);
  sl_gw_count(c->conf, "sluice_gateway_coap_rejected_total",
              "CoAP requests refused before producing, by reason", label, 1);
}

/* (protocol, port, address) of the session's peer: the dedup key. */
static size_t peer_key(coap_session_t *session, uint8_t out[SL_GW_COAP_ADDR_MAX]) {
  const coap_address_t *a = coap_session_get_addr_remote(session);
  out[0] = (uint8_t)coap_session_get_proto(session);
  if (a->addr.sa.sa_family == AF_INET) {
    memcpy(out + 1, &a->addr.sin.sin_port, 2);
    memcpy(out + 3, &a->addr.sin.sin_addr, 4);
    return 7;
  }
  memcpy(out + 1, &a->addr.sin6.sin6_port, 2);
  memcpy(out + 3, &a->addr.sin6.sin6_addr, 16);
  return 19;
}

/* The query parameter `key`, or NULL. */
static const char *query_key(const coap_string_t *q, char *out, size_t cap) {
  if (!q)
    return NULL;
  const char *p = (const char *)q->s, *end = p + q->length;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p);
    if (n >= 4 && memcmp(p, "key=", 4) == 0 && n - 4 < cap) {
      memcpy(out, p + 4, n - 4);
      out[n - 4] = '\0';
      return out;
    }
    p += n + 1;
  }
  return NULL;
}

/* The device, or NULL after answering 4.01. */
static const char *authenticate(sl_gw_coap *c, coap_session_t *session, const coap_string_t *query,
                                coap_pdu_t *resp) {
  const char *device = NULL;
  const char *why = "unknown device";
  if (coap_session_get_proto(session) == COAP_PROTO_DTLS) {
    const coap_bin_const_t *id = coap_session_get_psk_identity(session);
    const uint8_t *key;
    size_t keylen;
    device = id ? sl_gw_psks_find(c->psks, id->s, id->length, &key, &keylen) : NULL;
  } else {
    char key[512];
    const char *k = query_key(query, key, sizeof key);
    device = k && c->devices ? sl_gw_devices_auth(c->devices, k, strlen(k)) : NULL;
    if (!k)
      why = "missing key: POST coap://HOST/ingest/TOPIC?key=API_KEY, or use coaps:// with a PSK";
    else
      why = "unknown API key";
  }
  if (!device) {
    count_rejected(c, "unauthorized");
    answer_text(c, resp, 401, 0, why);
  }
  return device;
}

static int refuse(sl_gw_coap *c, coap_pdu_t *resp, const char *reason, unsigned max_age,
                  const char *why) {
  count_rejected(c, reason);
  answer_text(c, resp, 503, max_age, why);
  return 1;
}

/* 0 to go on; else answered 5.03 with Max-Age. */
static int refuse_if_busy(sl_gw_coap *c, coap_pdu_t *resp, size_t records, size_t bytes) {
  const char *why = sl_gw_gate_unavailable(c->gate);
  if (why)
    return refuse(c, resp, "unavailable", MAX_AGE_UNAVAILABLE, why);
  if (sl_gw_gate_overloaded(c->gate, records))
    return refuse(c, resp, "overload", MAX_AGE_OVERLOAD,
                  "overloaded: too many records waiting for Kafka");
  if (sl_gw_gate_over_memory(c->gate, bytes))
    return refuse(c, resp, "memory", MAX_AGE_OVERLOAD,
                  "overloaded: too many bytes of requests waiting for Kafka (max_pending_bytes)");
  return 0;
}

/* 0 when the body may be parsed; else answered 4.13. */
static int refuse_if_large(sl_gw_coap *c, const coap_pdu_t *request, size_t len, coap_pdu_t *resp) {
  coap_opt_iterator_t it;
  if (coap_check_option(request, COAP_OPTION_BLOCK1, &it)) {
    answer_text(c, resp, 413, 0,
                "block-wise requests are not supported: send at most one datagram, or split "
                "the array into several requests");
    return 1;
  }
  if (len > (size_t)c->conf->max_body) {
    answer(c, resp, 413, 0, (size_t)c->conf->max_body, 0, "payload larger than max_body",
           strlen("payload larger than max_body"));
    return 1;
  }
  return 0;
}

static void parse_failed(sl_gw_coap *c, coap_pdu_t *resp, int rc, const char *msg) {
  if (rc == SL_ERR_LIMIT)
    answer_text(c, resp, 413, 0, msg);
  else if (rc == SL_ERR_NOMEM)
    answer_text(c, resp, 503, MAX_AGE_OVERLOAD, "out of memory");
  else
    answer_text(c, resp, 400, 0, msg);
}

/* The handler's first call: check, parse and produce; the answer waits. */
static void start(sl_gw_coap *c, const sl_gw_topic *t, coap_session_t *session,
                  const coap_pdu_t *request, const coap_string_t *query, coap_pdu_t *resp,
                  const uint8_t *peer, size_t peerlen) {
  const char *device = authenticate(c, session, query, resp);
  if (!device)
    return;
  size_t len = 0;
  const uint8_t *data = NULL;
  if (!coap_get_data(request, &len, &data))
    len = 0;
  if (refuse_if_large(c, request, len, resp) || refuse_if_busy(c, resp, 1, len + SL_GW_BATCH_ARENA))
    return;
  coap_req *r = calloc(1, sizeof *r);
  if (!r || sl_gw_send_init(&r->s, c->gate, t, on_finished) != SL_OK) {
    free(r);
    answer_text(c, resp, 503, MAX_AGE_OVERLOAD, "out of memory");
    return;
  }
  r->s.family = RECORDS;
  r->c = c;
  r->next = c->requests;
  if (c->requests)
    c->requests->prev = r;
  c->requests = r;
  sl_error e;
  sl_error_clear(&e);
  int rc = sl_gw_send_parse(&r->s, device, (const char *)data, len, &e);
  if (rc != SL_OK)
    parse_failed(c, resp, rc, e.message);
  else if (r->s.batch.invalid)
    answer_invalid(c, resp, &r->s.batch);
  else if (!refuse_if_busy(c, resp, r->s.batch.n, sl_gw_send_held_bytes(&r->s, len)) &&
           !(r->async = coap_register_async(session, request, 0)))
    answer_text(c, resp, 503, MAX_AGE_OVERLOAD, "cannot keep the exchange: out of memory");
  if (!r->async) {
    req_free(r);
    return;
  }
  memcpy(r->peer, peer, peerlen);
  r->peerlen = peerlen;
  r->mid = (uint16_t)coap_pdu_get_mid(request);
  coap_async_set_app_data(r->async, r);
  sl_gw_send_hold(&r->s, len);
  sl_gw_send_produce(&r->s, device); /* may finish at once: then triggered already */
  sl_metric_set(c->m_inflight, (double)sl_gw_producer_inflight(c->gate->producer));
  /* The response stays empty: libcoap ACKs a CON now, sends nothing for a NON. */
}

static void on_ingest(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *request,
                      const coap_string_t *query, coap_pdu_t *resp) {
  coap_topic *ct = coap_resource_get_userdata(res);
  sl_gw_coap *c = ct->c;
  if (!ct->topic) { /* libcoap's resource for any other path */
    answer_text(c, resp, 404, 0,
                "no such topic: POST /ingest/TOPIC for a g:topic{...} of the file");
    return;
  }
  coap_async_t *async = coap_find_async(session, coap_pdu_get_token(request));
  if (async) {
    answer_finished(c, async, resp);
    return;
  }
  uint8_t peer[SL_GW_COAP_ADDR_MAX];
  size_t peerlen = peer_key(session, peer);
  const sl_gw_coap_answer *dup =
      sl_gw_coap_dedup_find(c->dedup, peer, peerlen, (uint16_t)coap_pdu_get_mid(request), now_ms());
  if (dup) { /* a late retransmission of a finished exchange: same answer, no produce */
    sl_gw_count(c->conf, "sluice_gateway_coap_duplicates_total",
                "CoAP requests answered from the deduplication table", "result=answered", 1);
    answer_outcome(c, resp, dup, "Kafka did not acknowledge the records of this request");
    return;
  }
  start(c, ct->topic, session, request, query, resp, peer, peerlen);
}

/* ---- DTLS ---------------------------------------------------------------------- */

/* The PSK of the identity the client presents; NULL fails the handshake. */
static const coap_bin_const_t *on_identity(coap_bin_const_t *identity, coap_session_t *session,
                                           void *arg) {
  (void)session;
  sl_gw_coap *c = arg;
  const uint8_t *key;
  size_t keylen;
  if (!sl_gw_psks_find(c->psks, identity->s, identity->length, &key, &keylen)) {
    count_rejected(c, "unauthorized");
    sl_log_limited("gateway-coap-psk", 10, SL_LOG_WARN, "gateway",
                   "coaps: handshake refused for unknown PSK identity '%.*s'",
                   (int)(identity->length > 128 ? 128 : identity->length),
                   (const char *)identity->s);
    return NULL;
  }
  c->psk.s = key;
  c->psk.length = keylen;
  return &c->psk; /* libcoap copies it */
}

/* ---- libcoap plumbing ------------------------------------------------------------ */

static void on_coap_log(coap_log_t level, const char *message) {
  size_t n = strlen(message);
  while (n && (message[n - 1] == '\n' || message[n - 1] == '\r'))
    n--;
  sl_log_limited("gateway-coap", 10, level <= LOG_ERR ? SL_LOG_ERROR : SL_LOG_WARN, "gateway",
                 "libcoap: %.*s", (int)n, message);
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sl_gw_coap *c = arg;
  coap_io_process(c->ctx, COAP_IO_NO_WAIT);
}

static int add_endpoint(sl_gw_coap *c, const char *listen, coap_proto_t proto, int *port,
                        sl_error *err) {
  char host[256], ps[16];
  int p = 0;
  if (http_parse_listen(listen, host, sizeof host, &p, err) != SL_OK)
    return SL_ERR_INVALID;
  snprintf(ps, sizeof ps, "%d", p);
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
    return sl_error_set(err, SL_ERR_INVALID, "coap: cannot resolve '%s'", listen);
  coap_address_t a;
  coap_address_init(&a);
  memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
  a.size = ai->ai_addrlen;
  freeaddrinfo(ai);
  coap_endpoint_t *ep = coap_new_endpoint(c->ctx, &a, proto);
  if (!ep)
    return sl_error_set(err, SL_ERR_IO,
                        "coap: cannot listen on %s (UDP): address in use, not local, or not "
                        "permitted",
                        listen);
  /* libcoap reads datagrams of up to COAP_RXBUFFER_SIZE bytes but refuses
   * (with a RST) those over the session's MTU, 1152 by default: accept what
   * it can read. */
  coap_endpoint_set_default_mtu(ep, COAP_RXBUFFER_SIZE);
  /* "127.0.0.1:5683 UDP" or "[::]:5684 DTLS": the bound port, also for :0 */
  const char *s = coap_endpoint_str(ep), *sp = strrchr(s, ' ');
  const char *colon = s;
  for (const char *q = s; *q && q != sp; q++)
    if (*q == ':')
      colon = q;
  *port = atoi(colon + 1);
  return SL_OK;
}

static int add_topics(sl_gw_coap *c, sl_error *err) {
  c->topics = calloc(c->conf->ntopics, sizeof *c->topics);
  if (!c->topics)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < c->conf->ntopics; i++) {
    char path[600];
    snprintf(path, sizeof path, "ingest/%s", c->conf->topics[i].name);
    coap_str_const_t *uri = coap_new_str_const((const uint8_t *)path, strlen(path));
    coap_resource_t *r = uri ? coap_resource_init(uri, COAP_RESOURCE_FLAGS_RELEASE_URI) : NULL;
    if (!r) {
      coap_delete_str_const(uri);
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    c->topics[i].c = c;
    c->topics[i].topic = &c->conf->topics[i];
    coap_resource_set_userdata(r, &c->topics[i]);
    coap_register_request_handler(r, COAP_REQUEST_POST, on_ingest);
    coap_add_resource(c->ctx, r);
  }
  coap_resource_t *r = coap_resource_unknown_init2(on_ingest, 0);
  if (!r)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  c->unknown.c = c;
  coap_resource_set_userdata(r, &c->unknown);
  coap_register_request_handler(r, COAP_REQUEST_POST, on_ingest);
  coap_add_resource(c->ctx, r);
  return SL_OK;
}

static int open_dtls(sl_gw_coap *c, sl_error *err) {
  if (!coap_dtls_is_supported())
    return sl_error_set(err, SL_ERR_INVALID,
                        "coap: dtls needs libcoap with DTLS support (libcoap-3-openssl)");
  if (!(c->psks = sl_gw_psks_load(c->conf->coap.psk, err))) {
    err->code = SL_ERR_INVALID; /* a file to fix, like the devices file: exit 1 */
    return SL_ERR_INVALID;
  }
  coap_dtls_spsk_t spsk;
  memset(&spsk, 0, sizeof spsk);
  spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
  spsk.validate_id_call_back = on_identity;
  spsk.id_call_back_arg = c;
  if (!coap_context_set_psk2(c->ctx, &spsk))
    return sl_error_set(err, SL_ERR_IO, "coap: cannot set up DTLS-PSK");
  return add_endpoint(c, c->conf->coap.dtls, COAP_PROTO_DTLS, &c->dtls_port, err);
}

sl_gw_coap *sl_gw_coap_start(struct event_base *base, const sl_gw_conf *conf,
                             const sl_gw_devices *devices, sl_gw_gate *gate, sl_error *err) {
  coap_startup();
  coap_set_log_handler(on_coap_log);
  coap_set_log_level(LOG_ERR);
  coap_dtls_set_log_level(LOG_ERR);
  sl_gw_coap *c = calloc(1, sizeof *c);
  if (!c || !(c->ctx = coap_new_context(NULL)) ||
      !(c->dedup = sl_gw_coap_dedup_new(SL_GW_COAP_DEDUP_MAX, SL_GW_COAP_EXCHANGE_LIFETIME_MS))) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto fail;
  }
  c->conf = conf;
  c->devices = devices;
  c->gate = gate;
  char labels[300];
  snprintf(labels, sizeof labels, "gateway=%s", conf->name);
  c->m_inflight = sl_metrics_gauge("sluice_gateway_inflight_records",
                                   "records produced and not yet acknowledged by Kafka", labels);
  if (add_topics(c, err) != SL_OK)
    goto fail;
  if (conf->coap.listen &&
      add_endpoint(c, conf->coap.listen, COAP_PROTO_UDP, &c->port, err) != SL_OK)
    goto fail;
  if (conf->coap.dtls && open_dtls(c, err) != SL_OK)
    goto fail;
  int fd = coap_context_get_coap_fd(c->ctx);
  if (fd < 0) {
    sl_error_set(err, SL_ERR_IO, "coap: libcoap was built without epoll support");
    goto fail;
  }
  c->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, c);
  if (!c->ev || event_add(c->ev, NULL) != 0) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto fail;
  }
  return c;
fail:
  sl_gw_coap_free(c);
  return NULL;
}

int sl_gw_coap_port(const sl_gw_coap *c) { return c->port; }
int sl_gw_coap_dtls_port(const sl_gw_coap *c) { return c->dtls_port; }

void sl_gw_coap_free(sl_gw_coap *c) {
  if (!c)
    return;
  if (c->ev)
    event_free(c->ev);
  if (c->ctx) {
    coap_io_process(c->ctx, COAP_IO_NO_WAIT); /* answers triggered by the last reports */
    coap_free_context(c->ctx);                /* and with it every async state */
  }
  while (c->requests) {
    if (c->requests->s.outstanding)
      sl_log(SL_LOG_ERROR, "gateway", "coap: freeing a request with %zu records in flight",
             c->requests->s.outstanding);
    req_free(c->requests);
  }
  sl_gw_psks_free(c->psks);
  sl_gw_coap_dedup_free(c->dedup);
  free(c->topics);
  free(c);
}
