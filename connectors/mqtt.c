/* SPDX-License-Identifier: Apache-2.0 */
/* MQTT subscriber of the gateway on libmosquitto's threaded loop. The
 * guarantee rests on two facts: the session is persistent (clean_session =
 * false, a fixed client id), so the broker keeps every QoS 1 message that was
 * not acknowledged and resends it on the next connection; and libmosquitto
 * 2.0 sends the PUBACK only after on_message returns. So on_message hands the
 * message to Kafka and waits for the acknowledgement before returning; when
 * Kafka refuses, it shuts the socket down first, so that no PUBACK can leave:
 * the client reconnects (with backoff) and the broker redelivers. */
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "mqtt.h"

#define KEEPALIVE_SEC 30

struct sl_mqtt_client {
  struct mosquitto *mosq;
  const sl_gw_mqtt *m;
  sl_gw_ingest *g;
  atomic_int connected, stopping, busy;
  int loop_started;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_init(void) { mosquitto_lib_init(); }

static void on_connect(struct mosquitto *mosq, void *obj, int rc) {
  sl_mqtt_client *c = obj;
  if (rc != 0) {
    sl_log_limited("mqtt-connect", 6, SL_LOG_WARN, "mqtt", "%s:%d refused the connection: %s",
                   c->m->host, c->m->port, mosquitto_connack_string(rc));
    return;
  }
  /* Subscribing again on every connection is harmless with a persistent
   * session and needed when the broker lost it. */
  rc = mosquitto_subscribe(mosq, NULL, c->m->subscribe, 1);
  if (rc != MOSQ_ERR_SUCCESS)
    sl_log(SL_LOG_WARN, "mqtt", "subscribe %s: %s", c->m->subscribe, mosquitto_strerror(rc));
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *qos) {
  (void)mosq;
  (void)mid;
  sl_mqtt_client *c = obj;
  if (n < 1 || qos[0] > 2) {
    sl_log(SL_LOG_ERROR, "mqtt", "the broker refused the subscription to %s", c->m->subscribe);
    return;
  }
  atomic_store(&c->connected, 1);
  sl_log(SL_LOG_INFO, "mqtt", "subscribed to %s on %s:%d (QoS %d, client id %s)", c->m->subscribe,
         c->m->host, c->m->port, qos[0], c->m->client_id);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc) {
  (void)mosq;
  sl_mqtt_client *c = obj;
  atomic_store(&c->connected, 0);
  if (!atomic_load(&c->stopping))
    sl_log_limited("mqtt-disconnect", 6, SL_LOG_WARN, "mqtt",
                   "disconnected from %s:%d (%s); reconnecting", c->m->host, c->m->port,
                   rc ? mosquitto_strerror(rc) : "requested");
}

/* No PUBACK may leave for the message in hand: the broker will resend it. */
static void refuse(sl_mqtt_client *c) {
  int fd = mosquitto_socket(c->mosq);
  if (fd >= 0)
    shutdown(fd, SHUT_RDWR);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg) {
  (void)mosq;
  sl_mqtt_client *c = obj;
  atomic_store(&c->busy, 1); /* before reading `stopping`: see sl_mqtt_request_stop */
  if (atomic_load(&c->stopping)) {
    refuse(c);
  } else {
    sl_error err;
    sl_error_clear(&err);
    if (sl_gw_ingest_mqtt(c->g, c->m, msg->topic, msg->payload, (size_t)msg->payloadlen, &err) !=
        SL_OK) {
      sl_log_limited("mqtt-ingest", 10, SL_LOG_WARN, "mqtt",
                     "message on %s not stored (%s); the broker will redeliver it", msg->topic,
                     err.message);
      refuse(c);
    }
  }
  atomic_store(&c->busy, 0);
}

static int configure(sl_mqtt_client *c, sl_error *err) {
  c->mosq = mosquitto_new(c->m->client_id, false, c);
  if (!c->mosq)
    return sl_error_set(err, SL_ERR_NOMEM, "mqtt: cannot create a client");
  mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_reconnect_delay_set(c->mosq, 1, 30, true);
  mosquitto_connect_callback_set(c->mosq, on_connect);
  mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
  mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
  mosquitto_message_callback_set(c->mosq, on_message);
  return SL_OK;
}

sl_mqtt_client *sl_mqtt_start(const sl_gw_mqtt *m, sl_gw_ingest *g, sl_error *err) {
  pthread_once(&lib_once, lib_init);
  sl_mqtt_client *c = calloc(1, sizeof *c);
  if (!c) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  c->m = m;
  c->g = g;
  if (configure(c, err) != SL_OK)
    goto fail;
  int rc = mosquitto_connect_async(c->mosq, m->host, m->port, KEEPALIVE_SEC);
  if (rc != MOSQ_ERR_SUCCESS) /* the loop keeps retrying: the broker may come later */
    sl_log(SL_LOG_WARN, "mqtt", "cannot connect to %s:%d yet: %s", m->host, m->port,
           rc == MOSQ_ERR_ERRNO ? "connection failed" : mosquitto_strerror(rc));
  rc = mosquitto_loop_start(c->mosq);
  if (rc != MOSQ_ERR_SUCCESS) {
    sl_error_set(err, SL_ERR_INTERNAL, "mqtt: cannot start the client thread: %s",
                 mosquitto_strerror(rc));
    goto fail;
  }
  c->loop_started = 1;
  return c;
fail:
  sl_mqtt_stop(c);
  return NULL;
}

int sl_mqtt_connected(const sl_mqtt_client *c) {
  return atomic_load(&((sl_mqtt_client *)c)->connected);
}

void sl_mqtt_request_stop(sl_mqtt_client *c) {
  if (c)
    atomic_store(&c->stopping, 1);
}

int sl_mqtt_busy(const sl_mqtt_client *c) { return c && atomic_load(&((sl_mqtt_client *)c)->busy); }

void sl_mqtt_stop(sl_mqtt_client *c) {
  if (!c)
    return;
  atomic_store(&c->stopping, 1);
  if (c->mosq) {
    mosquitto_disconnect(c->mosq);
    if (c->loop_started)
      mosquitto_loop_stop(c->mosq, false);
    mosquitto_destroy(c->mosq);
  }
  free(c);
}
