/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's Kafka producer: idempotent, acks=all, configured like the
 * pipelines' clients (kafka_conf.c: SLUICE_KAFKA_BROKERS incl. "embedded",
 * SLUICE_KAFKA_* properties, the gateway's kafka table). Delivery reports
 * are what the gateway answers on, so they wake the event loop: librdkafka
 * writes a byte to a pipe when its main queue becomes non-empty
 * (rd_kafka_queue_io_event_enable), the loop watches the pipe and drains
 * the queue. No thread of our own, no polling timer. */
#define _GNU_SOURCE /* pipe2 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "gateway/gateway.h"
#include "kafka.h"
#include "kafka_conf.h"

struct sl_gw_producer {
  rd_kafka_t *rk;
  rd_kafka_queue_t *mainq;
  int embedded;
  size_t max_message; /* message.max.bytes */
  int fds[2]; /* librdkafka writes to [1] when reports wait; the loop reads [0] */
  atomic_llong inflight;
  atomic_int down;  /* all brokers down and no delivery since */
  atomic_int fatal; /* librdkafka failed for good: sticky, only a restart helps */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  sl_gw_producer *p = opaque;
  atomic_fetch_sub(&p->inflight, 1);
  if (!m->err)
    atomic_store(&p->down, 0);
  sl_gw_waiter *w = m->_private;
  if (w)
    w->done(w, m->err);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  sl_gw_producer *p = opaque;
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    atomic_store(&p->down, 1);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char why[512];
    rd_kafka_fatal_error(rk, why, sizeof why);
    sl_log(SL_LOG_ERROR, "gateway", "kafka producer failed for good (restart needed): %s", why);
    atomic_store(&p->fatal, 1); /* never cleared: brokers being up does not revive it */
    return;
  }
  sl_log_limited("gateway-kafka", 10, SL_LOG_WARN, "gateway", "kafka: %s", reason);
}

/* librdkafka says when every broker went down, not when one came back: the
 * periodic statistics do, so that readiness recovers without traffic (a
 * gateway that is not ready gets no traffic from its load balancer). */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
  (void)rk;
  (void)len;
  sl_gw_producer *p = opaque;
  if (strstr(json, "\"state\":\"UP\""))
    atomic_store(&p->down, 0);
  return 0; /* librdkafka frees `json` */
}

static void env_log(void *rt, sl_log_level level, const char *fmt, ...) {
  (void)rt;
  va_list ap;
  va_start(ap, fmt);
  sl_logv(level, "gateway", fmt, ap);
  va_end(ap);
}

static rd_kafka_conf_t *make_conf(const sl_gw_conf *c, sl_gw_producer *p, sl_error *err) {
  char timeout[32], queue[32];
  snprintf(timeout, sizeof timeout, "%lld", (long long)c->timeout_ms);
  /* Room for every record the gateway lets in flight, so max_inflight (a
   * clean 429) trips before librdkafka's queue does. */
  snprintf(queue, sizeof queue, "%lld", (long long)(c->max_inflight * 2 + 1000));
  const sl_kafka_prop defaults[] = {
      {"linger.ms", "5"},
      {"queue.buffering.max.messages", queue},
      {"statistics.interval.ms", "2000"},
  };
  /* What the delivery contract rests on, applied after the user's settings:
   * every request and MQTT message waits for one report per record, so a
   * success must be reported too (delivery.report.only.error=false, else
   * they wait forever), and within the file's `timeout` (the stop deadline
   * and the MQTT keepalive are derived from it). */
  const sl_kafka_prop forced[] = {{"enable.idempotence", "true"},
                                  {"acks", "all"},
                                  {"delivery.report.only.error", "false"},
                                  {"message.timeout.ms", timeout}};
  sl_connector_env env = {0};
  env.pipeline = c->name;
  env.kafka = c->kafka;
  env.node_name = "gateway";
  env.log = env_log;
  rd_kafka_conf_t *conf;
  if (sl_kafka_conf_new(&env, defaults, sizeof defaults / sizeof *defaults, forced,
                        sizeof forced / sizeof *forced, &conf, &p->embedded, err) != SL_OK)
    return NULL;
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_stats_cb(conf, on_stats);
  rd_kafka_conf_set_opaque(conf, p);
  return conf;
}

sl_gw_producer *sl_gw_producer_new(const sl_gw_conf *c, sl_error *err) {
  sl_gw_producer *p = calloc(1, sizeof *p);
  if (!p) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  p->fds[0] = p->fds[1] = -1;
  rd_kafka_conf_t *conf = make_conf(c, p, err);
  if (!conf)
    goto fail;
  char errstr[512];
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!p->rk) {
    rd_kafka_conf_destroy(conf);
    sl_error_set(err, SL_ERR_INVALID, "kafka producer: %s", errstr);
    goto fail;
  }
  if (pipe2(p->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    sl_error_set(err, SL_ERR_IO, "cannot create the delivery-report pipe");
    goto fail;
  }
  char mmb[32] = "";
  size_t mmbn = sizeof mmb;
  if (rd_kafka_conf_get(rd_kafka_conf(p->rk), "message.max.bytes", mmb, &mmbn) == RD_KAFKA_CONF_OK)
    p->max_message = (size_t)strtoull(mmb, NULL, 10);
  p->mainq = rd_kafka_queue_get_main(p->rk);
  rd_kafka_queue_io_event_enable(p->mainq, p->fds[1], "1", 1);
  return p;
fail:
  sl_gw_producer_free(p);
  return NULL;
}

void sl_gw_producer_free(sl_gw_producer *p) {
  if (!p)
    return;
  if (p->rk) {
    if (rd_kafka_flush(p->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
      sl_log(SL_LOG_ERROR, "gateway", "%d records still unacknowledged at exit",
             rd_kafka_outq_len(p->rk));
    if (p->mainq) {
      rd_kafka_queue_io_event_enable(p->mainq, -1, NULL, 0);
      rd_kafka_queue_destroy(p->mainq);
    }
    rd_kafka_destroy(p->rk);
  }
  if (p->embedded)
    sl_kafka_embedded_release();
  for (int i = 0; i < 2; i++)
    if (p->fds[i] >= 0)
      close(p->fds[i]);
  free(p);
}

static rd_kafka_headers_t *make_headers(const char *const *h, size_t n) {
  if (!n)
    return NULL;
  rd_kafka_headers_t *hs = rd_kafka_headers_new(n);
  for (size_t i = 0; hs && i < n; i++)
    rd_kafka_header_add(hs, h[2 * i], -1, h[2 * i + 1], -1);
  return hs;
}

int sl_gw_producer_send(sl_gw_producer *p, const char *topic, const void *key, size_t keylen,
                        const void *value, size_t len, const char *const *headers, size_t nheaders,
                        sl_gw_waiter *w, sl_error *err) {
  rd_kafka_headers_t *hs = make_headers(headers, nheaders);
  atomic_fetch_add(&p->inflight, 1);
  rd_kafka_resp_err_t e = rd_kafka_producev(
      p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY((void *)key, keylen),
      RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_HEADERS(hs), RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
  if (!e)
    return SL_OK;
  atomic_fetch_sub(&p->inflight, 1);
  if (hs)
    rd_kafka_headers_destroy(hs); /* ours again when producev fails */
  if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
    return sl_error_set(err, SL_ERR_LIMIT, "the Kafka producer queue is full");
  if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
    return sl_error_set(err, SL_ERR_INVALID,
                        "kafka: a record of %zu bytes is larger than message.max.bytes (%zu)", len,
                        p->max_message);
  return sl_error_set(err, sl_gw_kafka_permanent(e) ? SL_ERR_INVALID : SL_ERR_UNAVAILABLE,
                      "kafka: %s", rd_kafka_err2str(e));
}

int sl_gw_kafka_permanent(int kafka_err) {
  switch (kafka_err) {
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_INVALID_RECORD:
  case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
  case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
  case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR_POLICY_VIOLATION: return 1;
  default: return 0;
  }
}

size_t sl_gw_producer_max_message(const sl_gw_producer *p) { return p->max_message; }

void sl_gw_producer_poll(sl_gw_producer *p) {
  char drain[64];
  while (read(p->fds[0], drain, sizeof drain) > 0)
    ;
  /* The pipe fires when the queue becomes non-empty: empty it entirely. */
  while (rd_kafka_poll(p->rk, 0) > 0)
    ;
}

void sl_gw_producer_poll_wait(sl_gw_producer *p, int timeout_ms) {
  rd_kafka_poll(p->rk, timeout_ms);
  sl_gw_producer_poll(p);
}

int sl_gw_producer_fd(const sl_gw_producer *p) { return p->fds[0]; }

int64_t sl_gw_producer_inflight(const sl_gw_producer *p) {
  return atomic_load(&((sl_gw_producer *)p)->inflight);
}

int sl_gw_producer_down(const sl_gw_producer *p) {
  return atomic_load(&((sl_gw_producer *)p)->down) || sl_gw_producer_fatal(p);
}

int sl_gw_producer_fatal(const sl_gw_producer *p) {
  return atomic_load(&((sl_gw_producer *)p)->fatal);
}

int sl_gw_producer_flush(sl_gw_producer *p, int timeout_ms) {
  return rd_kafka_flush(p->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? SL_OK
                                                                         : SL_ERR_UNAVAILABLE;
}

rd_kafka_t *sl_gw_producer_client(sl_gw_producer *p) { return p->rk; }
