/* SPDX-License-Identifier: Apache-2.0 */
/* A gateway for integration tests: a gateway file written to a temp dir,
 * its producer on the embedded broker (or SLUICE_TEST_KAFKA_BROKERS), and a
 * thread running the event loop that serves delivery reports and, with HTTP
 * on, the endpoints on a free loopback port. Records are read back with a
 * plain consumer assigned to every partition. Waits are bounded polls on
 * the broker or blocking reads with a timeout, never sleeps. */
#ifndef SLUICE_TEST_GATEWAY_FIXTURE_H
#define SLUICE_TEST_GATEWAY_FIXTURE_H

#include <pthread.h>
#include <stddef.h>

#include "gateway/gateway.h"
#include "gateway/gateway_coap.h"

#define GF_KEY1 "demo-key-m0001" /* device m0001 of pipelines/devices.example.txt */
#define GF_KEY2 "demo-key-m0002"

typedef struct gf_gateway {
  char dir[128];
  sl_gw_conf *conf;
  sl_gw_devices *devices;
  sl_gw_producer *producer;
  sl_gw_ingest ingest;
  sl_gw_gate gate;
  sl_gw_http *http;
  sl_gw_coap *coap; /* when `options` declare coap = {...} */
  struct event_base *base;
  struct event *reports;
  pthread_t thread;
  int running, embedded;
  char topic[96]; /* a fresh Kafka topic per gateway: "telemetry" in the file */
  char dlq[112];
} gf_gateway;

typedef struct gf_message {
  char key[64];
  char value[512];
  char error_header[256]; /* sluice-error, when present */
} gf_message;

typedef struct gf_reply {
  int status;
  char retry_after[16];
  char body[4096];
} gf_reply;

/* The test broker: "embedded" or SLUICE_TEST_KAFKA_BROKERS. */
int gf_is_embedded(void);
/* Start a gateway whose file declares topic `telemetry` (format json with
 * the machine_reading schema, key machine_id) and, with `mqtt`, a g:mqtt
 * (never connected) with dead_letter. `options` is Lua inserted into
 * sl.gateway{...}. `http`: also serve HTTP. 0 on success. */
int gf_start(gf_gateway *g, const char *options, int http);
void gf_stop(gf_gateway *g);
/* POST `body` to /ingest/{topic} with `key` (NULL: no Authorization). */
int gf_post(gf_gateway *g, const char *topic, const char *key, const char *body, gf_reply *r);
int gf_get(gf_gateway *g, const char *path, gf_reply *r);
/* The same in two steps: send (returns a socket, -1 on error), then read. */
int gf_post_start(gf_gateway *g, const char *topic, const char *key, const char *body);
int gf_post_finish(int fd, gf_reply *r);
/* Read `topic` from the start until `want` messages or ~20 s; returns how
 * many were read (up to `cap`), waiting a little more for extra ones. */
size_t gf_consume(const char *topic, size_t want, gf_message *out, size_t cap);

#endif
