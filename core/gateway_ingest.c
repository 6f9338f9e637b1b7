/* SPDX-License-Identifier: Apache-2.0 */
/* One MQTT message into Kafka, synchronously: the MQTT client acknowledges
 * the message to its broker when this returns SL_OK, so SL_OK must mean
 * "in Kafka" (or, for an invalid payload, "in the dead-letter topic"). The
 * caller's thread blocks on a condition variable until every delivery
 * report of the message arrived; the reports are served by the gateway's
 * event loop on another thread (sl_gw_producer_poll). */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "log.h"
#include "metrics.h"

typedef struct sync_wait {
  sl_gw_waiter w; /* first: the delivery report's opaque */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t outstanding;
  int err; /* first error */
} sync_wait;

static void on_done(sl_gw_waiter *w, int err) {
  sync_wait *s = (sync_wait *)w;
  pthread_mutex_lock(&s->mu);
  if (err && !s->err)
    s->err = err;
  s->outstanding--;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void wait_all(sync_wait *s) {
  pthread_mutex_lock(&s->mu);
  while (s->outstanding)
    pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}

static int send_one(sl_gw_ingest *g, sync_wait *s, const char *topic, const char *key,
                    const void *value, size_t len, const char *const *headers, size_t nheaders,
                    sl_error *err) {
  pthread_mutex_lock(&s->mu);
  s->outstanding++; /* before producing: the report may come at once */
  pthread_mutex_unlock(&s->mu);
  int rc = sl_gw_producer_send(g->producer, topic, key, key ? strlen(key) : 0, value, len, headers,
                               nheaders, &s->w, err);
  if (rc != SL_OK) {
    pthread_mutex_lock(&s->mu);
    s->outstanding--;
    pthread_mutex_unlock(&s->mu);
  }
  return rc;
}

/* The dead letter in the pipelines' Kafka form (docs/kafka.md, "Dead-letter
 * topic format"): the original payload as the value, the device as the key,
 * the reason in sluice-error / sluice-reason / sluice-source-topic headers. */
static int dead_letter(sl_gw_ingest *g, const sl_gw_mqtt *m, const char *mqtt_topic,
                       const char *device, const void *payload, size_t len, const char *why,
                       sl_error *err) {
  const char *headers[] = {"sluice-error",        why,       "sluice-reason", "invalid",
                           "sluice-source-topic", mqtt_topic};
  sync_wait s = {.w = {on_done}, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  int rc = send_one(g, &s, m->dead_letter, device, payload, len, headers, 3, err);
  wait_all(&s);
  if (rc == SL_OK && s.err)
    rc = sl_error_set(err, SL_ERR_UNAVAILABLE, "dead-letter topic %s: %s", m->dead_letter,
                      rd_kafka_err2str(s.err));
  return rc;
}

static void count(const sl_gw_ingest *g, const char *result, double n) {
  char labels[300];
  snprintf(labels, sizeof labels, "gateway=%s,result=%s", g->conf->name, result);
  sl_metric_add(
      sl_metrics_counter("sluice_gateway_mqtt_messages_total", "MQTT messages by outcome", labels),
      n);
}

static int invalid(sl_gw_ingest *g, const sl_gw_mqtt *m, const char *mqtt_topic, const char *device,
                   const void *payload, size_t len, const char *why, sl_error *err) {
  count(g, "invalid", 1);
  if (!m->dead_letter) {
    sl_log_limited("gateway-mqtt-invalid", 10, SL_LOG_WARN, "gateway",
                   "invalid message on %s dropped: %s (add dead_letter = \"TOPIC\" to keep it)",
                   mqtt_topic, why);
    return SL_OK;
  }
  return dead_letter(g, m, mqtt_topic, device, payload, len, why, err);
}

/* The first invalid record's reason, as "record I: why" for arrays. */
static void first_reason(const sl_gw_batch *b, char *out, size_t cap) {
  for (size_t i = 0; i < b->n; i++)
    if (b->items[i].error) {
      if (b->n == 1)
        snprintf(out, cap, "%s", b->items[i].error);
      else
        snprintf(out, cap, "record %zu: %s (%zu of %zu invalid)", i, b->items[i].error, b->invalid,
                 b->n);
      return;
    }
}

static int produce_batch(sl_gw_ingest *g, const sl_gw_topic *t, const char *device,
                         const sl_gw_batch *b, sl_error *err) {
  sync_wait s = {.w = {on_done}, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  int rc = SL_OK;
  for (size_t i = 0; i < b->n && rc == SL_OK; i++)
    rc = send_one(g, &s, t->name, device, b->bytes.data + b->items[i].off, b->items[i].len, NULL, 0,
                  err);
  wait_all(&s); /* also after a failed send: earlier records hold &s */
  if (rc == SL_OK && s.err)
    rc = sl_error_set(err, SL_ERR_UNAVAILABLE, "kafka: %s", rd_kafka_err2str(s.err));
  return rc;
}

int sl_gw_ingest_mqtt(sl_gw_ingest *g, const sl_gw_mqtt *m, const char *mqtt_topic,
                      const void *payload, size_t len, sl_error *err) {
  size_t dl = 0;
  const char *lvl = sl_gw_topic_level(mqtt_topic, m->device_level, &dl);
  char device[256];
  snprintf(device, sizeof device, "%.*s", lvl ? (int)dl : 0, lvl ? lvl : "");
  const sl_gw_topic *t = sl_gw_conf_topic(g->conf, m->topic, strlen(m->topic));
  if (!t || !*device)
    return invalid(g, m, mqtt_topic, NULL, payload, len, "no device id in the MQTT topic", err);
  sl_gw_batch b;
  if (sl_gw_batch_init(&b) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_error perr;
  sl_error_clear(&perr);
  char why[600];
  int rc = sl_gw_batch_parse(&b, t, device, payload, len, (size_t)g->conf->max_inflight, &perr);
  if (rc == SL_ERR_NOMEM) {
    rc = sl_error_set(err, rc, "out of memory");
  } else if (rc != SL_OK || b.invalid) {
    if (rc != SL_OK)
      snprintf(why, sizeof why, "%s", perr.message);
    else
      first_reason(&b, why, sizeof why);
    rc = invalid(g, m, mqtt_topic, device, payload, len, why, err);
  } else {
    rc = produce_batch(g, t, device, &b, err);
    count(g, rc == SL_OK ? "accepted" : "failed", 1);
  }
  sl_gw_batch_release(&b);
  return rc;
}
