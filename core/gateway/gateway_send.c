/* SPDX-License-Identifier: Apache-2.0 */
/* What HTTP and CoAP requests share on the event loop: the admission gate
 * (shutting down, Kafka down with a probe every 2 s, max_inflight,
 * max_pending_bytes, counted across both protocols) and one request's
 * records on their way through Kafka: parsed and validated as a whole, then
 * produced, then `finished` once the last delivery report is in. The
 * protocol files only turn the outcome into their answers. Everything runs
 * on the loop's thread (delivery reports are served there), so no locks. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/metrics.h"
#include "gateway/gateway.h"

#define PROBE_EVERY_SEC 2 /* while Kafka is down, let one request through to probe it */

void sl_gw_gate_init(sl_gw_gate *g, const sl_gw_conf *c, sl_gw_producer *p) {
  memset(g, 0, sizeof *g);
  g->conf = c;
  g->producer = p;
}

const char *sl_gw_gate_unavailable(sl_gw_gate *g) {
  if (g->draining)
    return "the gateway is shutting down";
  if (sl_gw_producer_fatal(g->producer))
    return "the Kafka producer failed for good: the gateway must be restarted";
  if (sl_gw_producer_down(g->producer)) {
    time_t now = time(NULL);
    if (now - g->last_probe < PROBE_EVERY_SEC)
      return "Kafka is unreachable";
    g->last_probe = now; /* this request probes whether Kafka is back */
  }
  return NULL;
}

int sl_gw_gate_overloaded(const sl_gw_gate *g, size_t records) {
  return sl_gw_producer_inflight(g->producer) + (int64_t)records > g->conf->max_inflight;
}

int sl_gw_gate_over_memory(const sl_gw_gate *g, size_t need) {
  return g->pending_bytes != 0 && g->pending_bytes + need > (size_t)g->conf->max_pending_bytes;
}

void sl_gw_count(const sl_gw_conf *c, const char *family, const char *help, const char *labels,
                 double n) {
  char all[600];
  snprintf(all, sizeof all, "gateway=%s,%s", c->name, labels);
  sl_metric_add(sl_metrics_counter(family, help, all), n);
}

/* ---- one request's records ------------------------------------------------ */

int sl_gw_send_init(sl_gw_send *s, sl_gw_gate *g, const sl_gw_topic *t,
                    void (*finished)(sl_gw_send *s)) {
  memset(s, 0, sizeof *s);
  if (sl_gw_batch_init(&s->batch) != SL_OK)
    return SL_ERR_NOMEM;
  s->gate = g;
  s->topic = t;
  s->finished = finished;
  s->batch.max_message = sl_gw_producer_max_message(g->producer);
  g->pending++;
  return SL_OK;
}

void sl_gw_send_release(sl_gw_send *s) {
  s->gate->pending--;
  s->gate->pending_bytes -= s->held;
  sl_gw_batch_release(&s->batch);
}

int sl_gw_send_parse(sl_gw_send *s, const char *device, const char *body, size_t len,
                     sl_error *err) {
  int rc = sl_gw_batch_parse(&s->batch, s->topic, device, body ? body : "", len,
                             (size_t)s->gate->conf->max_inflight, err);
  if (rc == SL_OK && s->batch.invalid) {
    char label[300];
    snprintf(label, sizeof label, "topic=%s,result=invalid", s->topic->name);
    sl_gw_count(s->gate->conf, s->family, "records by outcome", label, (double)s->batch.invalid);
  }
  return rc;
}

size_t sl_gw_send_held_bytes(const sl_gw_send *s, size_t body) {
  size_t arena = sl_arena_used(s->batch.arena);
  return body + (arena > SL_GW_BATCH_ARENA ? arena : SL_GW_BATCH_ARENA) + s->batch.bytes.cap;
}

void sl_gw_send_hold(sl_gw_send *s, size_t body) {
  s->held = sl_gw_send_held_bytes(s, body);
  s->gate->pending_bytes += s->held;
}

static void finish(sl_gw_send *s) {
  char label[300];
  const sl_gw_conf *c = s->gate->conf;
  snprintf(label, sizeof label, "topic=%s,result=accepted", s->topic->name);
  sl_gw_count(c, s->family, "records by outcome", label, (double)s->delivered);
  snprintf(label, sizeof label, "topic=%s,result=failed", s->topic->name);
  sl_gw_count(c, s->family, "records by outcome", label, (double)(s->batch.n - s->delivered));
  s->finished(s); /* may free s */
}

static void on_delivered(sl_gw_waiter *w, int err) {
  sl_gw_send *s = (sl_gw_send *)w;
  s->outstanding--;
  if (err) {
    if (!s->failed++)
      snprintf(s->cause, sizeof s->cause, "%s", rd_kafka_err2str(err));
  } else {
    s->delivered++;
  }
  if (s->outstanding == 0 && !s->producing)
    finish(s);
}

void sl_gw_send_produce(sl_gw_send *s, const char *device) {
  size_t dl = strlen(device);
  s->w.done = on_delivered;
  s->producing = 1;
  for (size_t i = 0; i < s->batch.n && !s->limited && !s->failed; i++) {
    sl_error e;
    sl_error_clear(&e);
    const sl_gw_item *it = &s->batch.items[i];
    int rc = sl_gw_producer_send(s->gate->producer, s->topic->name, device, dl,
                                 s->batch.bytes.data + it->off, it->len, NULL, 0, &s->w, &e);
    if (rc == SL_OK) {
      s->outstanding++;
    } else if (rc == SL_ERR_LIMIT) { /* the producer queue is full: overload */
      s->limited = 1;
    } else {
      sl_log_limited("gateway-produce", 10, SL_LOG_WARN, "gateway", "produce: %s", e.message);
      if (!s->failed)
        snprintf(s->cause, sizeof s->cause, "%.200s", e.message);
      s->failed += s->batch.n - i;
    }
  }
  s->producing = 0;
  if (s->outstanding == 0)
    finish(s);
}

void sl_gw_send_outcome(const sl_gw_send *s, char *msg, size_t cap) {
  if (s->failed)
    snprintf(msg, cap, "Kafka did not acknowledge %zu of %zu records (%s); %zu were stored",
             s->failed, s->batch.n, s->cause, s->delivered);
  else if (s->limited)
    snprintf(msg, cap,
             "overloaded: the Kafka producer queue is full; %zu of %zu records were stored",
             s->delivered, s->batch.n);
  else
    snprintf(msg, cap, "%zu records stored", s->delivered);
}

void sl_gw_invalid_json(const sl_gw_batch *b, int status, sl_buf *out) {
  sl_buf_printf(out,
                "{\"error\":\"%zu of %zu records are invalid; nothing was stored\","
                "\"status\":%d,\"records\":[",
                b->invalid, b->n, status);
  int first = 1;
  for (size_t i = 0; i < b->n; i++) {
    if (!b->items[i].error)
      continue;
    sl_buf_printf(out, "%s{\"index\":%zu,\"error\":", first ? "" : ",", i);
    sl_buf_json_string(out, b->items[i].error, strlen(b->items[i].error));
    sl_buf_putc(out, '}');
    first = 0;
  }
  sl_buf_puts(out, "]}");
}
