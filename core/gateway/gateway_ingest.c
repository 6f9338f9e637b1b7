/* SPDX-License-Identifier: Apache-2.0 */
/* One MQTT message into Kafka, synchronously: the MQTT client acknowledges
 * the message to its broker when this returns SL_OK, so SL_OK must mean
 * "in Kafka" (or, for a payload Kafka will never take, "in the dead-letter
 * topic", or logged without one: refusing it would stall the subscription,
 * since the broker redelivers it first, forever). Transient failures are
 * returned, so that the broker redelivers. The caller's thread blocks on a
 * condition variable until every delivery report of the message arrived;
 * the reports are served by the gateway's event loop on another thread
 * (sl_gw_producer_poll). */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "gateway/gateway.h"

typedef struct sync_wait {
  sl_gw_waiter w; /* first: the delivery report's opaque */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t outstanding;
  int err;       /* first error */
  int transient; /* the first error a retry can fix, 0 if none */
} sync_wait;

static void on_done(sl_gw_waiter *w, int err) {
  sync_wait *s = (sync_wait *)w;
  pthread_mutex_lock(&s->mu);
  if (err && !s->err)
    s->err = err;
  if (err && !s->transient && !sl_gw_kafka_permanent(err))
    s->transient = err;
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

/* After every report of `s`: SL_ERR_UNAVAILABLE when a retry may succeed
 * for some record (Kafka down, timed out), else the sends' own error (`rc`,
 * with `err` set: SL_ERR_LIMIT or SL_ERR_UNAVAILABLE to retry,
 * SL_ERR_INVALID for good), else SL_ERR_INVALID when Kafka refused a
 * record for good (sl_gw_kafka_permanent). */
static int outcome(const sync_wait *s, int rc, const char *what, sl_error *err) {
  if (s->transient)
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "%s: %s", what, rd_kafka_err2str(s->transient));
  if (rc != SL_OK)
    return rc;
  if (s->err)
    return sl_error_set(err, SL_ERR_INVALID, "%s: %s", what, rd_kafka_err2str(s->err));
  return SL_OK;
}

/* The dead letter in the pipelines' Kafka form (docs/kafka.md, "Dead-letter
 * topic format"): the original payload as the value, the device as the key,
 * the reason in sluice-error / sluice-reason / sluice-source-topic headers. */
static int dead_letter(sl_gw_ingest *g, const sl_gw_mqtt *m, const char *mqtt_topic,
                       const char *device, const void *payload, size_t len, const char *reason,
                       const char *why, sl_error *err) {
  const char *headers[] = {"sluice-error",        why,       "sluice-reason", reason,
                           "sluice-source-topic", mqtt_topic};
  sync_wait s = {.w = {on_done}, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  int rc = send_one(g, &s, m->dead_letter, device, payload, len, headers, 3, err);
  wait_all(&s);
  char what[300];
  snprintf(what, sizeof what, "dead-letter topic %s", m->dead_letter);
  return outcome(&s, rc, what, err);
}

static void count(const sl_gw_ingest *g, const char *result, double n) {
  char labels[300];
  snprintf(labels, sizeof labels, "gateway=%s,result=%s", g->conf->name, result);
  sl_metric_add(
      sl_metrics_counter("sluice_gateway_mqtt_messages_total", "MQTT messages by outcome", labels),
      n);
}

/* A message Kafka will never take as it is (invalid, or refused for good):
 * into the dead-letter topic, or logged without one. SL_OK (acknowledge)
 * unless the dead-letter topic is transiently unavailable: refusing it
 * again would stall the subscription forever, as the broker redelivers it
 * first, again and again. `reason` is the sluice-reason header. */
static int set_aside(sl_gw_ingest *g, const sl_gw_mqtt *m, const char *mqtt_topic,
                     const char *device, const void *payload, size_t len, const char *reason,
                     const char *why, sl_error *err) {
  if (!m->dead_letter) {
    sl_log_limited("gateway-mqtt-invalid", 10, SL_LOG_WARN, "gateway",
                   "message on %s dropped: %s (add dead_letter = \"TOPIC\" to keep it)",
                   mqtt_topic, why);
    return SL_OK;
  }
  int rc = dead_letter(g, m, mqtt_topic, device, payload, len, reason, why, err);
  if (rc != SL_ERR_INVALID)
    return rc;
  count(g, "dropped", 1);
  sl_log_limited("gateway-mqtt-dropped", 10, SL_LOG_ERROR, "gateway",
                 "message on %s dropped: %s; the dead-letter topic refused it too (%s)",
                 mqtt_topic, why, err->message);
  return SL_OK;
}

static int invalid(sl_gw_ingest *g, const sl_gw_mqtt *m, const char *mqtt_topic, const char *device,
                   const void *payload, size_t len, const char *why, sl_error *err) {
  count(g, "invalid", 1);
  return set_aside(g, m, mqtt_topic, device, payload, len, "invalid", why, err);
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
  return outcome(&s, rc, "kafka", err);
}

int sl_gw_ingest_mqtt(sl_gw_ingest *g, const sl_gw_mqtt *m, const char *mqtt_topic,
                      const void *payload, size_t len, sl_error *err) {
  size_t dl = 0;
  const char *lvl = sl_gw_topic_level(mqtt_topic, m->device_level, &dl);
  const sl_gw_topic *t = sl_gw_conf_topic(g->conf, m->topic, strlen(m->topic));
  if (!t || !lvl || !sl_gw_device_id_valid(lvl, dl)) /* as for the devices file */
    return invalid(g, m, mqtt_topic, NULL, payload, len,
                   "no valid device id in the MQTT topic (1-128 printable characters without "
                   "quotes or backslashes)",
                   err);
  char device[256]; /* valid: at most 128 */
  snprintf(device, sizeof device, "%.*s", (int)dl, lvl);
  sl_gw_batch b;
  if (sl_gw_batch_init(&b) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_error perr;
  sl_error_clear(&perr);
  char why[600];
  b.max_message = sl_gw_producer_max_message(g->producer);
  int rc = sl_gw_batch_parse(&b, t, device, payload, len, (size_t)g->conf->max_inflight, &perr);
  if (rc == SL_ERR_NOMEM) {
    rc = sl_error_set(err, rc, "out of memory");
  } else if (rc != SL_OK || b.invalid) {
    if (rc != SL_OK)
      snprintf(why, sizeof why, "%s", perr.message);
    else
      first_reason(&b, why, sizeof why);
    rc = invalid(g, m, mqtt_topic, device, payload, len, why, err);
  } else if ((rc = produce_batch(g, t, device, &b, err)) == SL_ERR_INVALID) {
    /* Kafka refuses it for good (too large, unknown topic, not authorised):
     * redelivery cannot help. An array is set aside whole, so records of
     * it that were stored may also be in the dead-letter topic. */
    count(g, "refused", 1);
    snprintf(why, sizeof why, "Kafka refused it: %s", err->message);
    rc = set_aside(g, m, mqtt_topic, device, payload, len, "sink", why, err);
  } else {
    count(g, rc == SL_OK ? "accepted" : "failed", 1);
  }
  sl_gw_batch_release(&b);
  return rc;
}
