/* SPDX-License-Identifier: Apache-2.0 */
/* What both Redis Cluster clients share (the blocking one of the workers,
 * redis_cluster.c, and the asynchronous one of the HTTP API,
 * redis_cluster_async.c): the CRC16 hash slot of a key, the key that routes
 * a command, the slot map parsed from a CLUSTER SLOTS reply, and MOVED / ASK
 * redirections. No I/O here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redis_internal.h"

/* ---- hash slots ----------------------------------------------------------- */

static uint16_t crc16(const char *p, size_t n) { /* CRC16-CCITT (XMODEM) */
  uint16_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint16_t)((unsigned char)p[i] << 8);
    for (int b = 0; b < 8; b++)
      crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc;
}

int sl_redis_key_slot(const char *key, size_t len) {
  const char *open = memchr(key, '{', len);
  if (open) {
    size_t rest = len - (size_t)(open - key) - 1;
    const char *close = memchr(open + 1, '}', rest);
    if (close && close > open + 1) /* "{}" is no tag: the whole key counts */
      return crc16(open + 1, (size_t)(close - open - 1)) & (SL_CLUSTER_SLOTS - 1);
  }
  return crc16(key, len) & (SL_CLUSTER_SLOTS - 1);
}

int sl_cluster_cmd_key(int argc, const char **argv, const size_t *lens, const char **k,
                       size_t *kl) {
  static const char *const keyless[] = {"PUBLISH", "SCAN",   "PING",  "WAIT",   "ROLE",
                                        "INFO",    "SCRIPT", "ACL",   "CONFIG", "CLUSTER",
                                        "AUTH",    "SELECT", "ASKING"};
  if (argc < 2)
    return 0;
  for (size_t i = 0; i < sizeof keyless / sizeof keyless[0]; i++)
    if (lens[0] == strlen(keyless[i]) && strncasecmp(argv[0], keyless[i], lens[0]) == 0)
      return 0;
  if ((lens[0] == 4 && strncasecmp(argv[0], "EVAL", 4) == 0) ||
      (lens[0] == 7 && strncasecmp(argv[0], "EVALSHA", 7) == 0)) {
    if (argc < 4 || (lens[2] == 1 && argv[2][0] == '0'))
      return 0;
    *k = argv[3];
    *kl = lens[3];
    return 1;
  }
  *k = argv[1];
  *kl = lens[1];
  return 1;
}

/* ---- the slot map ----------------------------------------------------------- */

int sl_cluster_map_node(sl_cluster_map *m, const char *host, size_t hlen, int port) {
  if (hlen >= sizeof m->nodes[0].host)
    return -1;
  for (int i = 0; i < m->nnodes; i++)
    if (m->nodes[i].port == port && strlen(m->nodes[i].host) == hlen &&
        memcmp(m->nodes[i].host, host, hlen) == 0)
      return i;
  sl_redis_addr *n = realloc(m->nodes, (size_t)(m->nnodes + 1) * sizeof *n);
  if (!n)
    return -1;
  m->nodes = n;
  memcpy(n[m->nnodes].host, host, hlen);
  n[m->nnodes].host[hlen] = '\0';
  n[m->nnodes].port = port;
  return m->nnodes++;
}

void sl_cluster_map_free(sl_cluster_map *m) {
  free(m->nodes);
  m->nodes = NULL;
  m->nnodes = 0;
}

int sl_cluster_map_parse(const redisReply *rep, const char *host, int port, sl_cluster_map *m,
                         sl_error *err) {
  memset(m, 0, sizeof *m);
  memset(m->slot, 0xff, sizeof m->slot);
  int rc = SL_OK;
  for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && rc == SL_OK; i++) {
    const redisReply *e = rep->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER ||
        e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
        e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
        e->element[2]->element[1]->type != REDIS_REPLY_INTEGER) {
      rc = sl_error_set(err, SL_ERR_INTERNAL,
                        "Redis Cluster node %s:%d: unexpected CLUSTER SLOTS reply", host, port);
      break;
    }
    long long lo = e->element[0]->integer, hi = e->element[1]->integer;
    const redisReply *h = e->element[2]->element[0];
    /* An empty host means "the address you reached me at". */
    int k = h->len ? sl_cluster_map_node(m, h->str, h->len, (int)e->element[2]->element[1]->integer)
                   : sl_cluster_map_node(m, host, strlen(host), port);
    if (k < 0 || lo < 0 || hi >= SL_CLUSTER_SLOTS || lo > hi) {
      rc = sl_error_set(err, k < 0 ? SL_ERR_NOMEM : SL_ERR_INTERNAL,
                        "Redis Cluster node %s:%d: bad slot range in CLUSTER SLOTS", host, port);
      break;
    }
    for (long long s = lo; s <= hi; s++)
      m->slot[s] = (uint16_t)k;
  }
  if (rc == SL_OK && !m->nnodes)
    rc = sl_error_set(err, SL_ERR_UNAVAILABLE,
                      "Redis Cluster node %s:%d serves no slots yet (cluster being created?)", host,
                      port);
  if (rc != SL_OK)
    sl_cluster_map_free(m);
  return rc;
}

/* ---- redirections ------------------------------------------------------------- */

int sl_cluster_parse_redirect(const redisReply *rep, int *ask, int *slot, char *host, size_t cap,
                              int *port) {
  if (!rep || rep->type != REDIS_REPLY_ERROR)
    return 0;
  const char *s = rep->str;
  if (strncmp(s, "MOVED ", 6) == 0)
    *ask = 0, s += 6;
  else if (strncmp(s, "ASK ", 4) == 0)
    *ask = 1, s += 4;
  else
    return 0;
  char *end;
  long sl = strtol(s, &end, 10);
  const char *colon = end[0] == ' ' ? strrchr(end + 1, ':') : NULL;
  if (sl < 0 || sl >= SL_CLUSTER_SLOTS || !colon)
    return 0;
  long p = strtol(colon + 1, NULL, 10);
  size_t hlen = (size_t)(colon - end - 1);
  if (p <= 0 || p > 65535 || hlen >= cap)
    return 0;
  memcpy(host, end + 1, hlen);
  host[hlen] = '\0';
  *slot = (int)sl;
  *port = (int)p;
  return 1;
}
