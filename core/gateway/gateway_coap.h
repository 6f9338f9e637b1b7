/* SPDX-License-Identifier: Apache-2.0 */
/* CoAP at the gateway (docs/gateway.md, "CoAP"): POST /ingest/{topic} on
 * libcoap, on the gateway's libevent loop. Internal, never installed.
 *   gateway_coap.c        the server: endpoints, authentication, answers
 *   gateway_coap_dedup.c  answers of finished exchanges, for duplicates
 * Device PSKs (coaps://) are read by gateway_devices.c. */
#ifndef SLUICE_GATEWAY_COAP_H
#define SLUICE_GATEWAY_COAP_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/gateway.h"

/* RFC 7252 section 4.8.2: how long a message id may come back. */
#define SL_GW_COAP_EXCHANGE_LIFETIME_MS 247000
/* Finished exchanges remembered (about 56 bytes each). */
#define SL_GW_COAP_DEDUP_MAX 65536
/* A peer address as bytes: a sockaddr_in6 fits. */
#define SL_GW_COAP_ADDR_MAX 32

/* ---- duplicates (gateway_coap_dedup.c) ----------------------------------- */

typedef struct sl_gw_coap_answer {
  uint8_t code;     /* CoAP code, e.g. COAP_RESPONSE_CODE(204) */
  uint8_t max_age;  /* seconds, for 5.03; 0: none */
  uint32_t records; /* accepted records, for 2.04 */
} sl_gw_coap_answer;

typedef struct sl_gw_coap_dedup sl_gw_coap_dedup;

/* `cap` entries kept for `lifetime_ms` each; when full the oldest goes. */
sl_gw_coap_dedup *sl_gw_coap_dedup_new(uint32_t cap, int64_t lifetime_ms);
void sl_gw_coap_dedup_free(sl_gw_coap_dedup *d); /* NULL is a no-op */
/* The answer given to (addr, mid), or NULL. Drops expired entries first.
 * The pointer is valid until the next call. */
const sl_gw_coap_answer *sl_gw_coap_dedup_find(sl_gw_coap_dedup *d, const void *addr, size_t len,
                                               uint16_t mid, int64_t now_ms);
/* Remember the answer (copied). An address longer than
 * SL_GW_COAP_ADDR_MAX is not remembered. */
void sl_gw_coap_dedup_put(sl_gw_coap_dedup *d, const void *addr, size_t len, uint16_t mid,
                          const sl_gw_coap_answer *a, int64_t now_ms);
size_t sl_gw_coap_dedup_count(const sl_gw_coap_dedup *d);

/* ---- device PSKs (gateway_devices.c) ------------------------------------- */

typedef struct sl_gw_psks sl_gw_psks;

/* Lines "DEVICE_ID KEY": the DTLS identity and its pre-shared key (16 to
 * 128 printable characters without spaces); '#' comments and blank lines
 * skipped. A secret file: `name` prefixes errors ("psk.txt:3: ..."). */
sl_gw_psks *sl_gw_psks_parse(const char *text, size_t len, const char *name, sl_error *err);
sl_gw_psks *sl_gw_psks_load(const char *path, sl_error *err);
void sl_gw_psks_free(sl_gw_psks *p); /* NULL is a no-op */
size_t sl_gw_psks_count(const sl_gw_psks *p);
/* The device whose id is `identity` (its NUL-terminated id), and its key in
 * key/keylen; NULL when unknown. */
const char *sl_gw_psks_find(const sl_gw_psks *p, const void *identity, size_t len,
                            const uint8_t **key, size_t *keylen);

/* ---- the server (gateway_coap.c) ----------------------------------------- */

struct event_base;
typedef struct sl_gw_coap sl_gw_coap;

/* Serve conf->coap on `base`: coap:// (keys in the query, checked against
 * `devices`) and/or coaps:// (DTLS-PSK from conf->coap.psk), admitted by
 * `gate`. */
sl_gw_coap *sl_gw_coap_start(struct event_base *base, const sl_gw_conf *conf,
                             const sl_gw_devices *devices, sl_gw_gate *gate, sl_error *err);
/* The bound UDP ports (0 when that endpoint is off). */
int sl_gw_coap_port(const sl_gw_coap *c);
int sl_gw_coap_dtls_port(const sl_gw_coap *c);
/* Call after the producer was flushed and freed: no report may come later. */
void sl_gw_coap_free(sl_gw_coap *c);

#endif
