/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice gateway`: device traffic (HTTP POST /ingest/{topic}, MQTT) into
 * Kafka (SPEC.md section 10, docs/gateway.md). Internal, never installed.
 *
 * The pieces, one file each:
 *   gateway_lua.c      the gateway file: sl.gateway{}, g:topic{}, g:mqtt{}
 *   gateway_devices.c  the devices file and API-key authentication
 *   gateway_records.c  request bodies -> validated, keyed, encoded records
 *   gateway_kafka.c    the idempotent producer and its delivery reports
 *   gateway_http.c     the HTTP endpoints on a libevent loop
 *   gateway_ingest.c   what MQTT messages go through (produce, wait, dead letters)
 *   gateway_send.c     what HTTP and CoAP requests share: admission, async production
 *   gateway_coap*.c    CoAP (libcoap) on the same loop (gateway_coap.h)
 *   gateway_main.c     `sluice gateway`: wiring, signals, graceful stop
 *   connectors/mqtt.c  the MQTT subscriber (libmosquitto) */
#ifndef SLUICE_GATEWAY_H
#define SLUICE_GATEWAY_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "codec/avro_codec.h"
#include "codec/format.h"
#include "sluice/error.h"
#include "sluice/operator.h"

/* ---- configuration (gateway_lua.c) --------------------------------------- */

typedef struct sl_gw_topic {
  char *name;   /* Kafka topic and the {topic} of /ingest/{topic} */
  char *format; /* "avro" or "json" */
  char *key;    /* field holding the device id */
  int line;
  sl_config *cfg;        /* the g:topic{} options (format, schema, registry, subject) */
  sl_format *fmt;        /* opened by sl_gw_conf_open */
  sl_avro_schema *check; /* format json with a schema: validation only */
  sl_name key_name;
} sl_gw_topic;

typedef struct sl_gw_mqtt {
  char *host; /* from broker = "mqtt://host:port" */
  int port;
  char *subscribe;   /* topic filter, e.g. "plant/+/telemetry" */
  char *topic;       /* gateway topic the messages go to */
  int device_level;  /* 1-based level of the MQTT topic holding the device id */
  char *dead_letter; /* Kafka topic for invalid payloads, NULL: count and log */
  char *client_id;   /* fixed: the persistent session survives restarts */
  int keepalive;     /* seconds, outlasting the longest wait for Kafka (sl_gw_keepalive) */
  int line;
} sl_gw_mqtt;

/* sl.gateway{ coap = {...} } (docs/gateway.md, "CoAP"); line 0: no CoAP. */
typedef struct sl_gw_coap_conf {
  char *listen; /* coap:// address (UDP, ?key=API_KEY), NULL: none */
  char *dtls;   /* coaps:// address (DTLS-PSK), NULL: none */
  char *psk;    /* the PSK file (resolved against the file), with dtls */
  int line;
} sl_gw_coap_conf;

typedef struct sl_gw_conf {
  char *file;             /* the gateway file */
  char *name;             /* metrics label, MQTT client id prefix */
  char *listen;           /* HTTP address, "off" = no HTTP */
  char *devices;          /* path of the devices file (resolved against the file) */
  int64_t max_inflight;   /* records produced and not yet acknowledged */
  int64_t max_body;       /* bytes of one request body */
  int64_t max_pending_bytes; /* memory held by HTTP requests waiting for Kafka */
  int64_t timeout_ms;     /* delivery timeout (librdkafka message.timeout.ms) */
  sl_config *options;     /* the sl.gateway{} options */
  const sl_config *kafka; /* its librdkafka properties table, may be NULL */
  char *dead_letter;      /* default dead-letter topic for g:mqtt */
  sl_gw_topic *topics;
  size_t ntopics;
  sl_gw_mqtt *mqtt;
  size_t nmqtt;
  sl_gw_coap_conf coap;
  char **errors; /* "FILE:LINE: message", in file order */
  size_t nerrors;
  int declared; /* sl.gateway was called */
} sl_gw_conf;

/* Run the gateway file. NULL with `err` only when it cannot be run at all
 * (missing file, no memory); problems of the declaration are in ->errors. */
sl_gw_conf *sl_gw_conf_load(const char *path, const char *const *params, size_t nparams,
                            sl_error *err);
/* Open every topic's format (schemas, registry). "FILE:LINE: ..." in err. */
int sl_gw_conf_open(sl_gw_conf *c, sl_error *err);
void sl_gw_conf_free(sl_gw_conf *c); /* NULL is a no-op */
const sl_gw_topic *sl_gw_conf_topic(const sl_gw_conf *c, const char *name, size_t len);
/* The MQTT keepalive for a delivery timeout: the client's loop is blocked
 * while a message waits for Kafka (up to twice the timeout, with a dead
 * letter), and the broker drops a client silent for 1.5 keepalives. */
int sl_gw_keepalive(int64_t timeout_ms);

/* ---- devices (gateway_devices.c) ----------------------------------------- */

typedef struct sl_gw_devices sl_gw_devices;

/* Lines "DEVICE_ID SHA256_HEX_OF_KEY"; '#' comments and blank lines skipped.
 * `name` prefixes errors ("devices.txt:3: ..."). */
sl_gw_devices *sl_gw_devices_parse(const char *text, size_t len, const char *name, sl_error *err);
sl_gw_devices *sl_gw_devices_load(const char *path, sl_error *err);
void sl_gw_devices_free(sl_gw_devices *d);
/* Nonzero when `id` is a valid device id: 1 to 128 printable characters
 * without spaces, quotes or backslashes (the devices file's rule, also
 * applied to the device level of MQTT topics). */
int sl_gw_device_id_valid(const char *id, size_t len);
size_t sl_gw_devices_count(const sl_gw_devices *d);
/* The device whose key is `key`, or NULL. Compares every digest in
 * constant time, so timing says nothing about which device or how close. */
const char *sl_gw_devices_auth(const sl_gw_devices *d, const char *key, size_t len);
/* Lower-case hex SHA-256 of `key` into out[65]. */
void sl_gw_hash_key(const char *key, size_t len, char out[65]);

/* ---- records (gateway_records.c) ----------------------------------------- */

typedef struct sl_gw_item {
  const char *error; /* NULL when valid; else the reason (arena) */
  size_t off, len;   /* the encoded value in the batch's bytes */
} sl_gw_item;

/* librdkafka's framing of one message on top of its key and value (a v2
 * record: at most ~40 bytes), rounded up: a record fits Kafka when key +
 * value + this is at most the producer's message.max.bytes. */
#define SL_GW_MESSAGE_OVERHEAD 64

typedef struct sl_gw_batch {
  sl_arena *arena;
  sl_gw_item *items; /* arena */
  size_t n, invalid;
  sl_buf bytes;       /* every valid record's encoding, back to back */
  size_t max_message; /* the producer's message.max.bytes, 0: no limit; set before parsing */
} sl_gw_batch;

/* The arena's chunk: what a batch holds at least, however small. */
#define SL_GW_BATCH_ARENA (64 * 1024)

int sl_gw_batch_init(sl_gw_batch *b);
void sl_gw_batch_release(sl_gw_batch *b);
/* Parse `body` (one JSON object or an array of them), set or check each
 * record's key field against `device`, validate and encode it (a record
 * larger than b->max_message allows is invalid). A body that
 * is not JSON, not an object/array, an empty array or more than
 * `max_records` records fails as a whole (SL_ERR_PARSE/SL_ERR_LIMIT);
 * otherwise per-record problems land in items[i].error. */
int sl_gw_batch_parse(sl_gw_batch *b, const sl_gw_topic *t, const char *device, const char *body,
                      size_t len, size_t max_records, sl_error *err);
/* Validate, key and encode one record into `out` (appended). */
int sl_gw_record_encode(const sl_gw_topic *t, sl_record *r, const char *device, sl_buf *out,
                        sl_error *err);
/* The device id of an MQTT topic: level `level` (1-based), NULL if none. */
const char *sl_gw_topic_level(const char *topic, int level, size_t *len);
/* The topic filter that messages match: `filter` without the "$share/GROUP/"
 * of a shared subscription (messages arrive on the topic without it). NULL
 * for a malformed shared subscription (empty group or filter). */
const char *sl_gw_filter_topics(const char *filter);

/* ---- Kafka (gateway_kafka.c) --------------------------------------------- */

/* Something waiting for delivery reports: `done` runs once per message on
 * the thread that calls sl_gw_producer_poll, with 0 or an rd_kafka_resp_err_t. */
typedef struct sl_gw_waiter sl_gw_waiter;
struct sl_gw_waiter {
  void (*done)(sl_gw_waiter *w, int kafka_err);
};

typedef struct sl_gw_producer sl_gw_producer;

sl_gw_producer *sl_gw_producer_new(const sl_gw_conf *c, sl_error *err);
void sl_gw_producer_free(sl_gw_producer *p); /* flushes up to 10 s first */
/* Produce one record (value copied). SL_ERR_LIMIT when librdkafka's queue is
 * full (retry soon), SL_ERR_INVALID when Kafka can never take this record
 * (sl_gw_kafka_permanent), SL_ERR_UNAVAILABLE otherwise; the message names
 * librdkafka's reason. Thread-safe. */
int sl_gw_producer_send(sl_gw_producer *p, const char *topic, const void *key, size_t keylen,
                        const void *value, size_t len, const char *const *headers, size_t nheaders,
                        sl_gw_waiter *w, sl_error *err);
/* Serve delivery reports now (never blocks). */
void sl_gw_producer_poll(sl_gw_producer *p);
/* Serve delivery reports for up to `timeout_ms` (tests, shutdown). */
void sl_gw_producer_poll_wait(sl_gw_producer *p, int timeout_ms);
/* A file descriptor that becomes readable when delivery reports wait. */
int sl_gw_producer_fd(const sl_gw_producer *p);
/* Records produced and not yet reported. */
int64_t sl_gw_producer_inflight(const sl_gw_producer *p);
/* Nonzero while every broker is down (librdkafka reported it and no
 * delivery has succeeded since), and for good after a fatal error. */
int sl_gw_producer_down(const sl_gw_producer *p);
/* Nonzero once librdkafka raised a fatal error (RD_KAFKA_RESP_ERR__FATAL):
 * the producer refuses everything from then on, only a restart helps. */
int sl_gw_producer_fatal(const sl_gw_producer *p);
/* Wait until everything produced is reported, up to `timeout_ms`. */
int sl_gw_producer_flush(sl_gw_producer *p, int timeout_ms);
/* The producer's message.max.bytes: see SL_GW_MESSAGE_OVERHEAD. */
size_t sl_gw_producer_max_message(const sl_gw_producer *p);
/* Nonzero for a Kafka error that retrying the same record cannot fix
 * (record too large, unknown topic, not authorised): the record must go
 * elsewhere. Timeouts, unreachable brokers and fatal errors are not. */
int sl_gw_kafka_permanent(int kafka_err);
/* The librdkafka client (tests read its configuration and inject faults). */
rd_kafka_t *sl_gw_producer_client(sl_gw_producer *p);

/* ---- requests on the event loop: HTTP and CoAP (gateway_send.c) ---------- */

/* Admission shared by every protocol served on the loop: what is pending
 * is counted across them, so max_pending_bytes bounds their sum. */
typedef struct sl_gw_gate {
  const sl_gw_conf *conf;
  sl_gw_producer *producer;
  int draining;         /* shutting down: refuse new requests */
  size_t pending;       /* requests waiting for delivery reports */
  size_t pending_bytes; /* memory those requests hold (sl_gw_send_held_bytes) */
  time_t last_probe;
} sl_gw_gate;

void sl_gw_gate_init(sl_gw_gate *g, const sl_gw_conf *c, sl_gw_producer *p);
/* Why a request must be refused as unavailable now (static text), or NULL.
 * While Kafka is down one request every 2 s is let through to probe it. */
const char *sl_gw_gate_unavailable(sl_gw_gate *g);
/* Nonzero when `records` more would exceed max_inflight. */
int sl_gw_gate_overloaded(const sl_gw_gate *g, size_t records);
/* Nonzero when `need` more bytes would exceed max_pending_bytes (one
 * request is always let through, so a big one is never starved). */
int sl_gw_gate_over_memory(const sl_gw_gate *g, size_t need);
/* Add `n` to counter `family` with labels "gateway=NAME,<labels>". */
void sl_gw_count(const sl_gw_conf *c, const char *family, const char *help, const char *labels,
                 double n);

/* One request's records: parse (all or nothing), produce, and `finished`
 * once every record has its delivery report (or at once when none could be
 * produced). Embed it first in the protocol's request. */
typedef struct sl_gw_send sl_gw_send;
struct sl_gw_send {
  sl_gw_waiter w; /* first: the delivery report's opaque */
  sl_gw_gate *gate;
  const sl_gw_topic *topic;
  const char *family; /* records metric, e.g. "sluice_gateway_records_total" */
  sl_gw_batch batch;
  size_t outstanding, delivered, failed;
  size_t held; /* counted in gate->pending_bytes */
  int limited, producing;
  char cause[256];                 /* why the first record failed */
  void (*finished)(sl_gw_send *s); /* may free the request holding `s` */
};

/* Counts the request as pending in the gate; SL_ERR_NOMEM. */
int sl_gw_send_init(sl_gw_send *s, sl_gw_gate *g, const sl_gw_topic *t,
                    void (*finished)(sl_gw_send *s));
/* Not pending any more; frees the batch. */
void sl_gw_send_release(sl_gw_send *s);
/* sl_gw_batch_parse with the gateway's limits; counts invalid records. */
int sl_gw_send_parse(sl_gw_send *s, const char *device, const char *body, size_t len,
                     sl_error *err);
/* What the request holds until its last report: the body, the arena of its
 * decoded records (one chunk at least) and the encodings. */
size_t sl_gw_send_held_bytes(const sl_gw_send *s, size_t body);
void sl_gw_send_hold(sl_gw_send *s, size_t body); /* count it in the gate */
/* Produce every record keyed by `device`; stops at the first refusal. */
void sl_gw_send_produce(sl_gw_send *s, const char *device);
/* After `finished`: the outcome in words (for 429/503 and their CoAP twins). */
void sl_gw_send_outcome(const sl_gw_send *s, char *msg, size_t cap);
/* {"error":"N of M records are invalid; ...","status":S,"records":[...]} */
void sl_gw_invalid_json(const sl_gw_batch *b, int status, sl_buf *out);

/* ---- MQTT ingest (gateway_ingest.c) -------------------------------------- */

typedef struct sl_gw_ingest {
  const sl_gw_conf *conf;
  sl_gw_producer *producer;
} sl_gw_ingest;

/* One MQTT message: validated, produced and acknowledged by Kafka before it
 * returns (blocking; runs on the MQTT thread while another thread polls the
 * producer). SL_OK when the message may be acknowledged to the MQTT broker:
 * it is in Kafka, or it was invalid or refused by Kafka for good and is in
 * the dead-letter topic (or counted and logged). Otherwise (a transient
 * failure) the caller must not ack. */
int sl_gw_ingest_mqtt(sl_gw_ingest *g, const sl_gw_mqtt *m, const char *mqtt_topic,
                      const void *payload, size_t len, sl_error *err);

/* ---- the command (gateway_main.c, gateway_http.c) ------------------------ */

struct event_base;
typedef struct sl_gw_http sl_gw_http;

typedef struct sl_gw_http_options {
  const char *tls_cert, *tls_key; /* both or neither */
} sl_gw_http_options;

/* Listen on conf->listen on `base`; requests are admitted by `gate`
 * (gate->draining set: refused with 503 while those in flight finish). */
sl_gw_http *sl_gw_http_start(struct event_base *base, const sl_gw_conf *conf,
                             const sl_gw_devices *devices, sl_gw_gate *gate,
                             const sl_gw_http_options *o, sl_error *err);
int sl_gw_http_port(const sl_gw_http *h);
/* MQTT readiness for /readyz: set by the main loop. */
void sl_gw_http_set_mqtt_ready(sl_gw_http *h, int ready);
void sl_gw_http_free(sl_gw_http *h);

/* `sluice gateway FILE [--set K=V]... [--api ADDR]`: `listen` (may be NULL)
 * overrides the file's listen address. Returns an exit code. */
int sl_gateway_main(const char *file, const char *const *sets, size_t nsets, const char *listen,
                    const char *tls_cert, const char *tls_key);
/* `sluice gateway --hash-key KEY|-`: print the digest for the devices file. */
int sl_gateway_hash_main(int argc, char **argv);

#endif
