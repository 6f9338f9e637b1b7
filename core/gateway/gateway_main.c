/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice gateway FILE.lua`: load the gateway file and the devices file,
 * start the producer, the HTTP endpoints and the MQTT subscribers on one
 * libevent loop, and stop gracefully on SIGTERM/SIGINT: refuse new requests,
 * stop the MQTT subscribers, wait for every delivery report (bounded), let
 * the last replies be written, exit 0 (3 when records were still
 * unacknowledged at the deadline). Exit codes follow SPEC.md section 2:
 * 1 invalid file, 3 runtime failure. */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/exit_code.h"
#include "base/log.h"
#include "gateway/gateway.h"
#include "gateway/gateway_coap.h"
#include "mqtt.h"

/* Past the delivery timeout every record has its report; then a little more. */
#define STOP_GRACE_SEC 2
/* After a missed deadline: how long late reports may still answer requests. */
#define LATE_FLUSH_MS 1000
#define LATE_WRITE_USEC 500000

typedef struct gw_run {
  sl_gw_conf *conf;
  sl_gw_devices *devices;
  sl_gw_producer *producer;
  sl_gw_gate gate; /* admission shared by HTTP and CoAP */
  sl_gw_http *http;
  sl_gw_coap *coap;
  sl_gw_ingest ingest;
  sl_mqtt_client **mqtt;
  size_t nmqtt;
  struct event_base *base;
  struct event *reports, *sigterm, *sigint, *tick;
  time_t stop_deadline; /* 0 while running */
  int idle_ticks;       /* during a stop: ticks in a row with nothing pending */
  int unacked;          /* records were still unacknowledged at the deadline */
} gw_run;

static void on_reports(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sl_gw_producer_poll(arg);
}

static int mqtt_busy(const gw_run *g) {
  for (size_t i = 0; i < g->nmqtt; i++)
    if (sl_mqtt_busy(g->mqtt[i]))
      return 1;
  return 0;
}

/* The subscribers wait for delivery reports that this thread serves: keep
 * serving them until no subscriber holds a message, then join them. */
static void stop_mqtt(gw_run *g) {
  for (size_t i = 0; i < g->nmqtt; i++)
    sl_mqtt_request_stop(g->mqtt[i]);
  while (g->producer && mqtt_busy(g))
    sl_gw_producer_poll_wait(g->producer, 50);
  for (size_t i = 0; i < g->nmqtt; i++) {
    sl_mqtt_stop(g->mqtt[i]);
    g->mqtt[i] = NULL;
  }
}

/* Every 100 ms: readiness of MQTT, and during a stop whether all is acknowledged. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  gw_run *g = arg;
  int ready = 1;
  for (size_t i = 0; i < g->nmqtt; i++)
    ready &= g->mqtt[i] ? sl_mqtt_connected(g->mqtt[i]) : 0;
  if (g->http)
    sl_gw_http_set_mqtt_ready(g->http, ready || g->stop_deadline);
  sl_gw_producer_poll(g->producer);
  if (!g->stop_deadline)
    return;
  size_t pending = g->gate.pending;
  int64_t inflight = sl_gw_producer_inflight(g->producer);
  if (pending == 0 && !mqtt_busy(g) && inflight == 0) {
    /* The last replies may have been handed to libevent just before this
     * tick; their bufferevents write them on later turns. Nothing pending
     * for a whole tick means they are out. */
    if (++g->idle_ticks >= 2)
      event_base_loopexit(g->base, NULL);
    return;
  }
  g->idle_ticks = 0;
  if (time(NULL) >= g->stop_deadline) {
    sl_log(SL_LOG_ERROR, "gateway",
           "stop deadline passed with %zu requests and %lld records unacknowledged by Kafka",
           pending, (long long)inflight);
    g->unacked = pending > 0 || inflight > 0; /* a busy MQTT client acks nothing: no loss */
    event_base_loopexit(g->base, NULL);
  }
}

/* After a missed deadline: reports that still come (bounded) answer their
 * requests, and the loop runs a little longer, without the tick, so that
 * those answers are written rather than dropped with the connections. */
static void answer_late(gw_run *g) {
  if (sl_gw_producer_flush(g->producer, LATE_FLUSH_MS) != SL_OK)
    sl_log(SL_LOG_ERROR, "gateway", "stopped with %lld records unacknowledged by Kafka",
           (long long)sl_gw_producer_inflight(g->producer));
  struct timeval t = {0, LATE_WRITE_USEC};
  event_del(g->tick);
  event_base_loopexit(g->base, &t);
  event_base_dispatch(g->base);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg) {
  (void)what;
  gw_run *g = arg;
  if (g->stop_deadline)
    return;
  sl_log(SL_LOG_INFO, "gateway", "signal %d: refusing new requests, waiting for Kafka", (int)sig);
  g->stop_deadline = time(NULL) + STOP_GRACE_SEC + g->conf->timeout_ms / 1000;
  g->gate.draining = 1;
  for (size_t i = 0; i < g->nmqtt; i++)
    sl_mqtt_request_stop(g->mqtt[i]); /* never blocks: the loop must serve reports */
}

static int load(gw_run *g, const char *file, const char *const *sets, size_t nsets,
                const char *listen) {
  sl_error err;
  sl_error_clear(&err);
  g->conf = sl_gw_conf_load(file, sets, nsets, &err);
  if (!g->conf) {
    fprintf(stderr, "%s\n", err.message);
    return err.code == SL_ERR_NOT_FOUND ? SL_EXIT_INVALID : SL_EXIT_RUNTIME;
  }
  for (size_t i = 0; i < g->conf->nerrors; i++)
    fprintf(stderr, "%s\n", g->conf->errors[i]);
  if (g->conf->nerrors)
    return SL_EXIT_INVALID;
  if (listen) {
    free(g->conf->listen);
    if (!(g->conf->listen = strdup(listen)))
      return SL_EXIT_RUNTIME;
  }
  if (sl_gw_conf_open(g->conf, &err) != SL_OK) {
    fprintf(stderr, "%s\n", err.message);
    return SL_EXIT_INVALID;
  }
  if ((strcmp(g->conf->listen, "off") != 0 || g->conf->coap.listen) &&
      !(g->devices = sl_gw_devices_load(g->conf->devices, &err))) {
    fprintf(stderr, "%s\n", err.message);
    return SL_EXIT_INVALID;
  }
  return SL_EXIT_OK;
}

static int start_kafka(gw_run *g) {
  sl_error err;
  sl_error_clear(&err);
  if (!(g->producer = sl_gw_producer_new(g->conf, &err))) {
    fprintf(stderr, "sluice: %s\n", err.message);
    return err.code == SL_ERR_INVALID ? SL_EXIT_INVALID : SL_EXIT_RUNTIME;
  }
  for (size_t i = 0; i < g->conf->ntopics; i++) /* fail fast on a registry problem */
    if (sl_format_register(g->conf->topics[i].fmt, &err) != SL_OK) {
      fprintf(stderr, "sluice: topic '%s': %s\n", g->conf->topics[i].name, err.message);
      return SL_EXIT_RUNTIME;
    }
  sl_gw_gate_init(&g->gate, g->conf, g->producer);
  g->ingest.conf = g->conf;
  g->ingest.producer = g->producer;
  return SL_EXIT_OK;
}

static int start_loop(gw_run *g, const sl_gw_http_options *o) {
  sl_error err;
  sl_error_clear(&err);
  struct timeval tick = {0, 100000};
  g->base = event_base_new();
  if (!g->base)
    return SL_EXIT_RUNTIME;
  g->reports = event_new(g->base, sl_gw_producer_fd(g->producer), EV_READ | EV_PERSIST, on_reports,
                         g->producer);
  g->tick = event_new(g->base, -1, EV_PERSIST, on_tick, g);
  g->sigterm = evsignal_new(g->base, SIGTERM, on_stop_signal, g);
  g->sigint = evsignal_new(g->base, SIGINT, on_stop_signal, g);
  if (!g->reports || !g->tick || !g->sigterm || !g->sigint || event_add(g->reports, NULL) ||
      event_add(g->tick, &tick) || event_add(g->sigterm, NULL) || event_add(g->sigint, NULL))
    return SL_EXIT_RUNTIME;
  if (strcmp(g->conf->listen, "off") != 0 &&
      !(g->http = sl_gw_http_start(g->base, g->conf, g->devices, &g->gate, o, &err))) {
    fprintf(stderr, "sluice: %s\n", err.message);
    return SL_EXIT_RUNTIME;
  }
  if (g->conf->coap.line &&
      !(g->coap = sl_gw_coap_start(g->base, g->conf, g->devices, &g->gate, &err))) {
    fprintf(stderr, "%s:%d: %s\n", g->conf->file, g->conf->coap.line, err.message);
    return err.code == SL_ERR_IO ? SL_EXIT_RUNTIME : SL_EXIT_INVALID;
  }
  return SL_EXIT_OK;
}

static int start_mqtt(gw_run *g) {
  if (!g->conf->nmqtt)
    return SL_EXIT_OK;
  g->mqtt = calloc(g->conf->nmqtt, sizeof *g->mqtt);
  if (!g->mqtt)
    return SL_EXIT_RUNTIME;
  g->nmqtt = g->conf->nmqtt;
  for (size_t i = 0; i < g->nmqtt; i++) {
    sl_error err;
    sl_error_clear(&err);
    if (!(g->mqtt[i] = sl_mqtt_start(&g->conf->mqtt[i], &g->ingest, &err))) {
      fprintf(stderr, "%s:%d: %s\n", g->conf->file, g->conf->mqtt[i].line, err.message);
      return SL_EXIT_RUNTIME;
    }
  }
  return SL_EXIT_OK;
}

static void cleanup(gw_run *g) {
  stop_mqtt(g);
  free(g->mqtt);
  /* The producer first: its last delivery reports answer requests on `http`. */
  sl_gw_producer_free(g->producer);
  sl_gw_http_free(g->http);
  sl_gw_coap_free(g->coap);
  struct event *events[] = {g->reports, g->tick, g->sigterm, g->sigint};
  for (size_t i = 0; i < sizeof events / sizeof *events; i++)
    if (events[i]) /* event_free(NULL) crashes */
      event_free(events[i]);
  if (g->base)
    event_base_free(g->base);
  sl_gw_devices_free(g->devices);
  sl_gw_conf_free(g->conf);
}

static void log_coap(const sl_gw_coap *c) {
  char udp[24] = "off", dtls[24] = "off";
  if (sl_gw_coap_port(c))
    snprintf(udp, sizeof udp, "on udp port %d", sl_gw_coap_port(c));
  if (sl_gw_coap_dtls_port(c))
    snprintf(dtls, sizeof dtls, "on udp port %d", sl_gw_coap_dtls_port(c));
  sl_log(SL_LOG_INFO, "gateway", "CoAP: coap:// %s, coaps:// (DTLS-PSK) %s", udp, dtls);
}

int sl_gateway_main(const char *file, const char *const *sets, size_t nsets, const char *listen,
                    const char *tls_cert, const char *tls_key) {
  gw_run g;
  memset(&g, 0, sizeof g);
  sl_gw_http_options o = {tls_cert, tls_key};
  signal(SIGPIPE, SIG_IGN);
  int code = load(&g, file, sets, nsets, listen);
  if (code == SL_EXIT_OK)
    code = start_kafka(&g);
  if (code == SL_EXIT_OK)
    code = start_loop(&g, &o);
  if (code == SL_EXIT_OK)
    code = start_mqtt(&g);
  if (code == SL_EXIT_OK) {
    sl_log(SL_LOG_INFO, "gateway",
           "gateway '%s': %zu topics, %zu devices, HTTP on %s (port %d), %zu MQTT subscriptions",
           g.conf->name, g.conf->ntopics, sl_gw_devices_count(g.devices), g.conf->listen,
           g.http ? sl_gw_http_port(g.http) : 0, g.nmqtt);
    if (g.coap)
      log_coap(g.coap);
    event_base_dispatch(g.base);
    if (g.unacked) {
      answer_late(&g);
      code = SL_EXIT_RUNTIME; /* an orchestrator should know records may be missing */
    }
    sl_log(SL_LOG_INFO, "gateway", "gateway '%s' stopped", g.conf->name);
  }
  cleanup(&g);
  return code;
}

int sl_gateway_hash_main(int argc, char **argv) {
  char line[4096];
  const char *key = argc > 3 ? argv[3] : NULL;
  if (argc != 4) {
    fprintf(stderr, "usage: sluice gateway --hash-key KEY   (or - to read the key from stdin)\n");
    return SL_EXIT_USAGE;
  }
  if (strcmp(key, "-") == 0) {
    if (!fgets(line, sizeof line, stdin))
      return SL_EXIT_USAGE;
    line[strcspn(line, "\r\n")] = '\0';
    key = line;
  }
  char hex[65];
  sl_gw_hash_key(key, strlen(key), hex);
  printf("%s\n", hex);
  return SL_EXIT_OK;
}
