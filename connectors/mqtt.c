/* SPDX-License-Identifier: Apache-2.0 */
/* MQTT subscriber of the gateway on libmosquitto's loop, one thread per
 * client (client_main). The guarantee rests on three facts:
 *  - the session is persistent (clean_session = false, a fixed client id),
 *    so the broker keeps every QoS 1 message that was not acknowledged and
 *    resends it on the next connection;
 *  - libmosquitto 2.0 does NOT wait for on_message: handle__publish calls
 *    send__puback() before the callback (eclipse-mosquitto/mosquitto#2884).
 *    But with mosquitto_threaded_set(true) packet__queue() only queues the
 *    PUBACK, and the loop writes it on its next pass, after on_message
 *    returned (without it, the PUBACK is written at once, before the
 *    message is in Kafka);
 *  - on_message hands the message to Kafka and waits for the
 *    acknowledgement; when Kafka refuses, refuse() shuts the socket down
 *    before returning, so the queued PUBACK can never be written: the loop
 *    fails, the client reconnects (with backoff), mosquitto_reconnect
 *    discards the packets still queued (packet__cleanup_all), and the broker
 *    redelivers the message.
 * Only QoS 1 messages are covered: a QoS 0 message is never redelivered, so
 * devices must publish with QoS 1 (the subscription's QoS caps theirs). */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "mqtt.h"

struct sl_mqtt_client {
  struct mosquitto *mosq;
  const sl_gw_mqtt *m;
  sl_gw_ingest *g;
  atomic_int connected, stopping, busy;
  pthread_t thread;
  int thread_started;
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
  if (!sl_mqtt_granted_ok(n, qos)) {
    /* QoS 0 would ack on receipt and never redeliver: nothing could be
     * guaranteed, so stay not ready (the log says why). */
    sl_log(SL_LOG_ERROR, "mqtt",
           "the broker %s the subscription to %s (granted QoS %d, QoS 1 needed): not ready",
           n >= 1 && qos[0] == 0 ? "downgraded" : "refused", c->m->subscribe, n >= 1 ? qos[0] : -1);
    return;
  }
  atomic_store(&c->connected, 1);
  sl_log(SL_LOG_INFO, "mqtt", "subscribed to %s on %s:%d (QoS %d, client id %s)", c->m->subscribe,
         c->m->host, c->m->port, qos[0], c->m->client_id);
}

int sl_mqtt_granted_ok(int n, const int *qos) { return n >= 1 && qos[0] >= 1 && qos[0] <= 2; }

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
  /* Load-bearing, not only for stop() disconnecting from another thread:
   * in threaded mode the PUBACK that libmosquitto queues before on_message
   * is written only on the loop's next pass, so refuse() can still keep it
   * from leaving (see the top of this file). Do not remove. */
  mosquitto_threaded_set(c->mosq, true);
  mosquitto_reconnect_delay_set(c->mosq, 1, 30, true);
  mosquitto_connect_callback_set(c->mosq, on_connect);
  mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
  mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
  mosquitto_message_callback_set(c->mosq, on_message);
  return SL_OK;
}

/* Sleep `sec` seconds, waking early when asked to stop. */
static void backoff(sl_mqtt_client *c, int sec) {
  for (int i = 0; i < sec * 10 && !atomic_load(&c->stopping); i++)
    usleep(100 * 1000);
}

/* The client's thread. libmosquitto's own threaded loop gives up for good
 * when the very first connection fails (the broker may start after us), so
 * connecting is retried here; once connected, mosquitto_loop_forever
 * reconnects by itself after a lost connection, and returns on
 * mosquitto_disconnect (stop) or a fatal error (retried here too). */
static void *client_main(void *arg) {
  sl_mqtt_client *c = arg;
  int delay = 1;
  while (!atomic_load(&c->stopping)) {
    /* The keepalive outlasts the longest on_message (sl_gw_keepalive): the
     * loop sends no PINGREQ while it waits for Kafka. */
    int rc = mosquitto_connect(c->mosq, c->m->host, c->m->port, c->m->keepalive);
    if (rc == MOSQ_ERR_SUCCESS && atomic_load(&c->stopping)) {
      /* sl_mqtt_stop's mosquitto_disconnect may have come before this
       * connection existed: without this, loop_forever would run on. */
      mosquitto_disconnect(c->mosq);
      break;
    }
    if (rc == MOSQ_ERR_SUCCESS) {
      delay = 1;
      rc = mosquitto_loop_forever(c->mosq, 1000, 1);
    }
    if (atomic_load(&c->stopping))
      break;
    sl_log_limited("mqtt-connect", 6, SL_LOG_WARN, "mqtt", "%s:%d: %s; retrying in %d s",
                   c->m->host, c->m->port,
                   rc == MOSQ_ERR_ERRNO ? "cannot connect" : mosquitto_strerror(rc), delay);
    backoff(c, delay);
    delay = delay < 30 ? delay * 2 : 30;
  }
  return NULL;
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
  if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
    sl_error_set(err, SL_ERR_INTERNAL, "mqtt: cannot start the client thread");
    goto fail;
  }
  c->thread_started = 1;
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
  if (c->thread_started) {
    mosquitto_disconnect(c->mosq); /* ends mosquitto_loop_forever */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    if (pthread_timedjoin_np(c->thread, NULL, &deadline) != 0) {
      /* Stuck in a TCP connect to an unreachable broker: the process is
       * exiting, so leave the thread and its client rather than hang. */
      sl_log(SL_LOG_WARN, "mqtt", "the client of %s:%d did not stop in time", c->m->host,
             c->m->port);
      pthread_detach(c->thread);
      return;
    }
  }
  if (c->mosq)
    mosquitto_destroy(c->mosq);
  free(c);
}
