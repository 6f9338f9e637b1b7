/* SPDX-License-Identifier: Apache-2.0 */
/* The answers of finished CoAP exchanges, by (peer, message id), for
 * EXCHANGE_LIFETIME (RFC 7252 section 4.8.2). libcoap 4.3.1 answers a
 * retransmission itself only while the separate response is pending (it
 * finds the request's async state by token); once the response went out
 * the async state is gone and a late duplicate of the request would reach
 * the handler again and be produced twice. This table answers it instead.
 * A ring in arrival order (so the oldest entry is the one to drop, and
 * expiry is a walk from the tail) plus hash chains for the lookup; fixed
 * size, nothing allocated per request. */
#include <stdlib.h>
#include <string.h>

#include "base/hash64.h"
#include "gateway/gateway_coap.h"

#define NONE UINT32_MAX

typedef struct entry {
  uint8_t addr[SL_GW_COAP_ADDR_MAX];
  uint8_t addrlen;
  uint16_t mid;
  sl_gw_coap_answer answer;
  int64_t expires_ms;
  uint32_t next; /* hash chain */
} entry;

struct sl_gw_coap_dedup {
  entry *ring;
  uint32_t cap, head, count; /* entries [head - count, head) mod cap are live */
  uint32_t *buckets;
  uint32_t nbuckets; /* a power of two */
  int64_t lifetime_ms;
};

sl_gw_coap_dedup *sl_gw_coap_dedup_new(uint32_t cap, int64_t lifetime_ms) {
  sl_gw_coap_dedup *d = calloc(1, sizeof *d);
  if (!d)
    return NULL;
  d->cap = cap ? cap : 1;
  d->nbuckets = 1;
  while (d->nbuckets < d->cap)
    d->nbuckets <<= 1;
  d->ring = calloc(d->cap, sizeof *d->ring);
  d->buckets = malloc(d->nbuckets * sizeof *d->buckets);
  if (!d->ring || !d->buckets) {
    sl_gw_coap_dedup_free(d);
    return NULL;
  }
  memset(d->buckets, 0xff, d->nbuckets * sizeof *d->buckets);
  d->lifetime_ms = lifetime_ms;
  return d;
}

void sl_gw_coap_dedup_free(sl_gw_coap_dedup *d) {
  if (!d)
    return;
  free(d->ring);
  free(d->buckets);
  free(d);
}

static uint32_t bucket(const sl_gw_coap_dedup *d, const void *addr, size_t len, uint16_t mid) {
  uint64_t h = sl_hash64(addr, len, mid);
  return (uint32_t)(h & (d->nbuckets - 1));
}

/* Drop the oldest entry: unlink it from its chain. */
static void drop_tail(sl_gw_coap_dedup *d) {
  uint32_t i = (d->head + d->cap - d->count) % d->cap;
  entry *e = &d->ring[i];
  uint32_t *link = &d->buckets[bucket(d, e->addr, e->addrlen, e->mid)];
  while (*link != NONE && *link != i)
    link = &d->ring[*link].next;
  if (*link == i)
    *link = e->next;
  d->count--;
}

static void expire(sl_gw_coap_dedup *d, int64_t now_ms) {
  while (d->count && d->ring[(d->head + d->cap - d->count) % d->cap].expires_ms <= now_ms)
    drop_tail(d);
}

const sl_gw_coap_answer *sl_gw_coap_dedup_find(sl_gw_coap_dedup *d, const void *addr, size_t len,
                                               uint16_t mid, int64_t now_ms) {
  expire(d, now_ms);
  if (len > SL_GW_COAP_ADDR_MAX)
    return NULL;
  for (uint32_t i = d->buckets[bucket(d, addr, len, mid)]; i != NONE; i = d->ring[i].next) {
    const entry *e = &d->ring[i];
    if (e->mid == mid && e->addrlen == len && memcmp(e->addr, addr, len) == 0)
      return &e->answer;
  }
  return NULL;
}

void sl_gw_coap_dedup_put(sl_gw_coap_dedup *d, const void *addr, size_t len, uint16_t mid,
                          const sl_gw_coap_answer *a, int64_t now_ms) {
  if (len > SL_GW_COAP_ADDR_MAX)
    return;
  expire(d, now_ms);
  if (d->count == d->cap)
    drop_tail(d); /* full: the oldest exchange loses its protection first */
  uint32_t i = d->head;
  entry *e = &d->ring[i];
  memcpy(e->addr, addr, len);
  e->addrlen = (uint8_t)len;
  e->mid = mid;
  e->answer = *a;
  e->expires_ms = now_ms + d->lifetime_ms;
  uint32_t b = bucket(d, addr, len, mid);
  e->next = d->buckets[b];
  d->buckets[b] = i;
  d->head = (d->head + 1) % d->cap;
  d->count++;
}

size_t sl_gw_coap_dedup_count(const sl_gw_coap_dedup *d) { return d->count; }
