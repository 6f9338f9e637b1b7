/* SPDX-License-Identifier: Apache-2.0 */
/* Connection and request-rate limits of the HTTP server. Connections are
 * tracked from their first request (evhttp 2.1 has no accept hook) in a flat
 * table of max_connections slots. The rate limit is a token bucket per client
 * address in a small hash table; full buckets are swept once a minute so the
 * table stays as large as the set of recently active clients. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_internal.h"

#define RATE_BUCKETS 1024

struct rate_bucket {
  rate_bucket *next;
  double tokens, last; /* tokens left at time `last` (monotonic seconds) */
  char addr[48];
};

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int http_limits_init(sl_http_server *s) {
  s->conns = calloc(s->cfg.max_connections, sizeof *s->conns);
  s->rate_table = calloc(RATE_BUCKETS, sizeof *s->rate_table);
  s->rate_last_sweep = now_sec();
  return s->conns && s->rate_table ? SL_OK : SL_ERR_NOMEM;
}

void http_limits_free(sl_http_server *s) {
  for (size_t i = 0; s->rate_table && i < RATE_BUCKETS; i++) {
    rate_bucket *b = s->rate_table[i];
    while (b) {
      rate_bucket *n = b->next;
      free(b);
      b = n;
    }
  }
  free(s->rate_table);
  free(s->conns);
}

http_conn *http_conn_find(sl_http_server *s, struct evhttp_connection *evcon) {
  for (size_t i = 0; i < s->nconns; i++)
    if (s->conns[i].evcon == evcon)
      return &s->conns[i];
  return NULL;
}

http_conn *http_conn_track(sl_http_server *s, struct evhttp_connection *evcon) {
  if (s->nconns == s->cfg.max_connections)
    return NULL;
  http_conn *c = &s->conns[s->nconns++];
  c->evcon = evcon;
  c->sse = NULL;
  return c;
}

static unsigned hash_addr(const char *a) {
  unsigned h = 2166136261u;
  for (; *a; a++)
    h = (h ^ (unsigned char)*a) * 16777619u;
  return h % RATE_BUCKETS;
}

/* Forget clients whose bucket has refilled: they are indistinguishable from new. */
static void sweep(sl_http_server *s, double now) {
  for (size_t i = 0; i < RATE_BUCKETS; i++) {
    rate_bucket **pp = &s->rate_table[i];
    while (*pp) {
      rate_bucket *b = *pp;
      if (b->tokens + (now - b->last) * s->cfg.rate_per_sec >= s->cfg.rate_burst) {
        *pp = b->next;
        free(b);
        s->rate_count--;
      } else {
        pp = &b->next;
      }
    }
  }
  s->rate_last_sweep = now;
}

int http_rate_check(sl_http_server *s, const char *addr) {
  if (s->cfg.rate_per_sec < 0)
    return 0;
  double now = now_sec();
  if (now - s->rate_last_sweep > 60)
    sweep(s, now);
  unsigned h = hash_addr(addr);
  rate_bucket *b = s->rate_table[h];
  while (b && strcmp(b->addr, addr) != 0)
    b = b->next;
  if (!b) {
    b = calloc(1, sizeof *b);
    if (!b)
      return 0; /* fail open: memory pressure must not lock every client out */
    strncpy(b->addr, addr, sizeof b->addr - 1);
    b->tokens = s->cfg.rate_burst;
    b->last = now;
    b->next = s->rate_table[h];
    s->rate_table[h] = b;
    s->rate_count++;
  }
  b->tokens += (now - b->last) * s->cfg.rate_per_sec;
  if (b->tokens > s->cfg.rate_burst)
    b->tokens = s->cfg.rate_burst;
  b->last = now;
  if (b->tokens >= 1) {
    b->tokens -= 1;
    return 0;
  }
  int wait = (int)((1 - b->tokens) / s->cfg.rate_per_sec + 0.999);
  return wait < 1 ? 1 : wait;
}
