/* SPDX-License-Identifier: Apache-2.0 */
/* Redis Cluster routing for the blocking connection (hiredis 0.14 has none):
 * the CRC16 hash slot of a key, the slot map from CLUSTER SLOTS, one
 * context per primary, and a queue of pipelined commands so that callers
 * pipeline exactly as with one server: each command goes to the node owning
 * its slot (pipelined per node), replies are read back in append order
 * (each node answers in order), and MOVED / ASK replies are followed there,
 * transparently. A MOVED updates that slot at once and the whole map is
 * reloaded before the next pipeline; a lost connection drops every node and
 * the next connection reloads the map from any node that answers (after a
 * failover the promoted replica owns the slots). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

#define NSLOTS SL_CLUSTER_SLOTS
#define NO_NODE 0xffff
#define MAX_REDIRECTS 5

typedef struct node {
  char host[256];
  int port;
  redisContext *ctx; /* NULL until used */
  int dirty;         /* written since the last WAIT */
} node;

typedef struct pending {
  int node;
  char *cmd; /* the formatted command, kept to resend it on a redirection */
  size_t len;
  redisReply *ready; /* read ahead of its turn during a redirection */
} pending;

struct sl_cluster {
  node *nodes;
  int nnodes;
  int cur; /* keyless commands go here */
  int stale_map;
  int hold_map; /* no reload now: node indices must stay (WAIT per node) */
  uint16_t slot[NSLOTS];
  pending *q;
  size_t qhead, qlen, qcap; /* q[qhead .. qhead+qlen) */
};

int sl_redis_is_cluster(const sl_redis *r) { return r && r->cluster != NULL; }

/* ---- nodes and the slot map ------------------------------------------------ */

static int find_node(const sl_cluster *c, const char *host, int port) {
  for (int i = 0; i < c->nnodes; i++)
    if (c->nodes[i].port == port && strcmp(c->nodes[i].host, host) == 0)
      return i;
  return -1;
}

static int add_node(sl_cluster *c, const char *host, size_t hlen, int port) {
  char h[256];
  if (hlen >= sizeof h)
    return -1;
  memcpy(h, host, hlen);
  h[hlen] = '\0';
  int i = find_node(c, h, port);
  if (i >= 0)
    return i;
  node *n = realloc(c->nodes, (size_t)(c->nnodes + 1) * sizeof *n);
  if (!n)
    return -1;
  c->nodes = n;
  n = &c->nodes[c->nnodes];
  memset(n, 0, sizeof *n);
  memcpy(n->host, h, hlen + 1);
  n->port = port;
  return c->nnodes++;
}

static void drop_queue(sl_cluster *c) {
  for (size_t i = 0; i < c->qlen; i++) {
    pending *p = &c->q[(c->qhead + i) % c->qcap];
    free(p->cmd);
    if (p->ready)
      freeReplyObject(p->ready);
  }
  c->qhead = c->qlen = 0;
}

void sl_cluster_disconnect(sl_redis *r) {
  sl_cluster *c = r->cluster;
  drop_queue(c);
  for (int i = 0; i < c->nnodes; i++)
    if (c->nodes[i].ctx) {
      redisFree(c->nodes[i].ctx);
      c->nodes[i].ctx = NULL;
      c->nodes[i].dirty = 0;
    }
  c->stale_map = 1;
  r->ctx = NULL;
}

void sl_cluster_free(sl_cluster *c) {
  if (!c)
    return;
  drop_queue(c);
  for (int i = 0; i < c->nnodes; i++)
    if (c->nodes[i].ctx)
      redisFree(c->nodes[i].ctx);
  free(c->nodes);
  free(c->q);
  free(c);
}

sl_cluster *sl_cluster_new(void) {
  sl_cluster *c = calloc(1, sizeof *c);
  if (c) {
    memset(c->slot, 0xff, sizeof c->slot);
    c->stale_map = 1;
  }
  return c;
}

/* Open node i's connection (AUTH, PING) when it has none. */
static int node_ctx(sl_redis *r, int i, sl_error *err) {
  node *n = &r->cluster->nodes[i];
  if (n->ctx)
    return SL_OK;
  return sl_redis_open(r, n->host, n->port, &n->ctx, err);
}

/* Free `ctx` unless a node owns it (a map that could not be loaded from a
 * new connection must not leak it). */
static void drop_unowned(sl_cluster *c, redisContext *ctx) {
  for (int i = 0; i < c->nnodes; i++)
    if (c->nodes[i].ctx == ctx)
      return;
  redisFree(ctx);
}

/* Load the map from CLUSTER SLOTS on `ctx` (of node `host`:`port`, with no
 * reply pending). Nodes no longer primaries are closed. */
static int load_map(sl_redis *r, redisContext *ctx, const char *host, int port, sl_error *err) {
  sl_cluster *c = r->cluster;
  redisReply *rep = redisCommand(ctx, "CLUSTER SLOTS");
  int rc = SL_OK;
  if (!rep) {
    rc = sl_error_set(err, SL_ERR_UNAVAILABLE, "Redis Cluster node %s:%d: %s", host, port,
                      ctx->errstr[0] ? ctx->errstr : "connection lost");
    drop_unowned(c, ctx);
    return rc;
  }
  if (rep->type == REDIS_REPLY_ERROR) {
    rc = sl_redis_reply_error(r, rep, "CLUSTER SLOTS", err);
    freeReplyObject(rep);
    drop_unowned(c, ctx);
    return rc;
  }
  sl_cluster_map m;
  rc = sl_cluster_map_parse(rep, host, port, &m, err);
  freeReplyObject(rep);
  sl_cluster fresh;
  memset(&fresh, 0, sizeof fresh);
  for (int i = 0; rc == SL_OK && i < m.nnodes; i++)
    if (add_node(&fresh, m.nodes[i].host, strlen(m.nodes[i].host), m.nodes[i].port) < 0)
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  memcpy(fresh.slot, m.slot, sizeof fresh.slot); /* node indices equal: added in order */
  sl_cluster_map_free(&m);
  if (rc != SL_OK) {
    free(fresh.nodes);
    drop_unowned(c, ctx);
    return rc;
  }
  /* Keep the connections to nodes that are still primaries. */
  for (int i = 0; i < c->nnodes; i++) {
    int k = find_node(&fresh, c->nodes[i].host, c->nodes[i].port);
    if (k >= 0 && !fresh.nodes[k].ctx) {
      fresh.nodes[k].ctx = c->nodes[i].ctx;
      fresh.nodes[k].dirty = c->nodes[i].dirty;
    } else if (c->nodes[i].ctx && c->nodes[i].ctx != ctx) {
      redisFree(c->nodes[i].ctx);
    }
  }
  int self = find_node(&fresh, host, port);
  if (self >= 0 && !fresh.nodes[self].ctx)
    fresh.nodes[self].ctx = ctx;
  else if (self < 0 || fresh.nodes[self].ctx != ctx)
    redisFree(ctx); /* a replica (or unlisted) seed: not used for commands */
  free(c->nodes);
  c->nodes = fresh.nodes;
  c->nnodes = fresh.nnodes;
  memcpy(c->slot, fresh.slot, sizeof c->slot);
  c->stale_map = 0;
  r->ctx = NULL;
  /* Keyless commands go to this node, or to the first primary that
   * answers (one may be down, its failover not done yet). */
  int first = self >= 0 ? self : 0;
  for (int k = 0; k < c->nnodes; k++) {
    c->cur = (first + k) % c->nnodes;
    if ((rc = node_ctx(r, c->cur, err)) == SL_OK) {
      r->ctx = c->nodes[c->cur].ctx;
      break;
    }
  }
  return rc;
}

int sl_cluster_detect(sl_redis *r, sl_error *err) {
  redisReply *rep = redisCommand(r->ctx, "CLUSTER SLOTS");
  if (!rep)
    return sl_redis_io_error(r, "CLUSTER SLOTS (is this a Redis Cluster?)", err);
  int standalone = rep->type == REDIS_REPLY_ERROR;
  /* "ERR This instance has cluster support disabled"; a NOPERM also leaves
   * us standalone: a cluster would then answer MOVED, reported clearly. */
  freeReplyObject(rep);
  if (standalone)
    return SL_OK;
  if (r->url.db)
    return sl_error_set(err, SL_ERR_INVALID,
                        "Redis at %s is a Redis Cluster, which has database 0 only: drop '/%d' "
                        "from SLUICE_REDIS_URL",
                        r->describe, r->url.db);
  r->cluster = sl_cluster_new();
  if (!r->cluster)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  redisContext *ctx = r->ctx;
  r->ctx = NULL;
  return load_map(r, ctx, r->url.host, r->url.port, err);
}

/* Connect to any node (known primaries first, then the URL's seeds) and
 * load the map there. */
int sl_cluster_connect(sl_redis *r, sl_error *err) {
  sl_cluster *c = r->cluster;
  sl_cluster_disconnect(r);
  sl_redis_addr cand[SL_REDIS_MAX_SENTINELS + 16];
  int n = 0;
  for (int i = 0; i < c->nnodes && n < 16; i++) {
    snprintf(cand[n].host, sizeof cand[n].host, "%s", c->nodes[i].host);
    cand[n++].port = c->nodes[i].port;
  }
  for (int i = 0; i < r->url.nseeds; i++)
    cand[n++] = r->url.seeds[i];
  if (!r->url.nseeds) {
    snprintf(cand[n].host, sizeof cand[n].host, "%s", r->url.host);
    cand[n++].port = r->url.port;
  }
  char sum[600] = "";
  int rc = SL_ERR_UNAVAILABLE;
  for (int i = 0; i < n; i++) {
    redisContext *ctx = NULL;
    sl_error e;
    sl_error_clear(&e);
    rc = sl_redis_open(r, cand[i].host, cand[i].port, &ctx, &e);
    if (rc == SL_OK) {
      rc = load_map(r, ctx, cand[i].host, cand[i].port, &e);
      if (rc == SL_OK)
        return SL_OK;
      if (rc == SL_ERR_INTERNAL && strstr(e.message, "cluster support disabled"))
        return sl_error_set(err, SL_ERR_INVALID,
                            "Redis at %s:%d is not a Redis Cluster node, but SLUICE_REDIS_URL "
                            "lists several nodes (seeds of a cluster)",
                            cand[i].host, cand[i].port);
    }
    if (rc == SL_ERR_INVALID || rc == SL_ERR_NOMEM) {
      if (err)
        *err = e;
      return rc;
    }
    size_t k = strlen(sum);
    if (k + 1 < sizeof sum)
      snprintf(sum + k, sizeof sum - k, "%s%.150s", k ? "; " : "", e.message);
  }
  return sl_error_set(err, SL_ERR_UNAVAILABLE, "no node of the Redis Cluster answered: %s", sum);
}

/* Reload the map on the connection in use (no reply pending), keeping the
 * other connections and what they owe a WAIT. */
static int refresh(sl_redis *r) {
  sl_cluster *c = r->cluster;
  const node *n = &c->nodes[c->cur];
  if (!n->ctx)
    return SL_ERR_UNAVAILABLE;
  char host[256];
  int port = n->port;
  snprintf(host, sizeof host, "%s", n->host);
  return load_map(r, n->ctx, host, port, NULL);
}

int sl_redis_nprimaries(sl_redis *r) {
  if (!r->ctx) /* whether it is a cluster is known once connected */
    (void)sl_redis_connect(r, NULL);
  if (!r->cluster)
    return 1;
  if (r->cluster->stale_map && !r->cluster->qlen && (!r->ctx || refresh(r) != SL_OK))
    (void)sl_cluster_connect(r, NULL);
  return r->cluster->nnodes ? r->cluster->nnodes : 1;
}

int sl_redis_pin(sl_redis *r, int i, sl_error *err) {
  if (!r->cluster)
    return sl_redis_ctx(r, err) ? SL_OK : (err ? err->code : SL_ERR_UNAVAILABLE);
  if (!r->ctx && sl_redis_connect(r, err) != SL_OK)
    return err ? err->code : SL_ERR_UNAVAILABLE;
  sl_cluster *c = r->cluster;
  if (i < 0 || i >= c->nnodes)
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "Redis Cluster: the map changed (node %d gone)",
                        i);
  int rc = node_ctx(r, i, err);
  if (rc != SL_OK) {
    sl_cluster_disconnect(r);
    return rc;
  }
  c->cur = i;
  r->ctx = c->nodes[i].ctx;
  return SL_OK;
}

/* ---- pipelining with redirections -------------------------------------- */

static int push(sl_cluster *c, int nd, char *cmd, size_t len) {
  if (c->qlen == c->qcap) {
    size_t cap = c->qcap ? c->qcap * 2 : 64;
    pending *q = malloc(cap * sizeof *q);
    if (!q)
      return SL_ERR_NOMEM;
    for (size_t i = 0; i < c->qlen; i++)
      q[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = q;
    c->qcap = cap;
    c->qhead = 0;
  }
  c->q[(c->qhead + c->qlen++) % c->qcap] = (pending){nd, cmd, len, NULL};
  return SL_OK;
}

/* I/O failure on node i: drop every connection (a failover is likely). */
static int node_failed(sl_redis *r, int i, const char *what, sl_error *err) {
  const node *n = &r->cluster->nodes[i];
  sl_error_set(err, SL_ERR_UNAVAILABLE, "Redis Cluster node %s:%d unreachable during %s: %s",
               n->host, n->port, what,
               n->ctx && n->ctx->errstr[0] ? n->ctx->errstr : "connection lost");
  sl_cluster_disconnect(r);
  r->state_ready = 0;
  return SL_ERR_UNAVAILABLE;
}

int sl_redis_append(sl_redis *r, int argc, const char **argv, const size_t *lens, const char *what,
                    sl_error *err) {
  if (!r->cluster) {
    redisContext *ctx = sl_redis_ctx(r, err);
    if (!ctx)
      return err ? err->code : SL_ERR_UNAVAILABLE;
    if (!r->cluster) { /* connecting may find a cluster */
      if (redisAppendCommandArgv(ctx, argc, argv, lens) != REDIS_OK)
        return sl_redis_io_error(r, what, err);
      return SL_OK;
    }
  }
  sl_cluster *c = r->cluster;
  if (r->stale && !c->qlen) { /* a node written is a replica now: start over */
    sl_cluster_disconnect(r);
    r->stale = 0;
  }
  if (r->ctx && c->stale_map && !c->qlen && !c->hold_map && refresh(r) != SL_OK)
    sl_cluster_disconnect(r);
  if (!r->ctx && sl_cluster_connect(r, err) != SL_OK)
    return err ? err->code : SL_ERR_UNAVAILABLE;
  const char *k;
  size_t kl;
  int nd = c->cur;
  if (sl_cluster_cmd_key(argc, argv, lens, &k, &kl)) {
    int s = sl_redis_key_slot(k, kl);
    if (c->slot[s] == NO_NODE) {
      /* Drop the pipeline so far too: callers resend it all. */
      sl_cluster_disconnect(r);
      return sl_error_set(err, SL_ERR_UNAVAILABLE,
                          "Redis Cluster: no node serves hash slot %d now (cluster down or "
                          "resharding): %s waits",
                          s, what);
    }
    nd = c->slot[s];
  }
  int rc = node_ctx(r, nd, err);
  if (rc != SL_OK) {
    sl_cluster_disconnect(r);
    return rc;
  }
  char *cmd = NULL;
  int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
  if (len < 0 || push(c, nd, cmd, (size_t)len) != SL_OK) {
    free(cmd);
    sl_cluster_disconnect(r);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  if (redisAppendFormattedCommand(c->nodes[nd].ctx, cmd, (size_t)len) != REDIS_OK)
    return node_failed(r, nd, what, err);
  c->nodes[nd].dirty = 1;
  r->ctx = c->nodes[nd].ctx;
  return SL_OK;
}

/* Resend the head command to the node named in a redirection; *rep gets
 * its reply. Replies the node owes to later commands are read first. */
static int redirect(sl_redis *r, pending *p, int ask, int slot, const char *host, size_t hlen,
                    int port, redisReply **rep, const char *what, sl_error *err) {
  sl_cluster *c = r->cluster;
  int m = add_node(c, host, hlen, port);
  if (m < 0)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (!ask) {
    c->slot[slot] = (uint16_t)m;
    c->stale_map = 1; /* reload the whole map before the next pipeline */
  }
  int rc = node_ctx(r, m, err);
  if (rc != SL_OK) {
    sl_cluster_disconnect(r);
    return rc;
  }
  redisContext *ctx = c->nodes[m].ctx;
  for (size_t i = 1; i < c->qlen; i++) {
    pending *q = &c->q[(c->qhead + i) % c->qcap];
    void *x = NULL;
    if (q->node == m && !q->ready) {
      if (redisGetReply(ctx, &x) != REDIS_OK || !x)
        return node_failed(r, m, what, err);
      q->ready = x;
    }
  }
  if ((ask && redisAppendCommand(ctx, "ASKING") != REDIS_OK) ||
      redisAppendFormattedCommand(ctx, p->cmd, p->len) != REDIS_OK)
    return node_failed(r, m, what, err);
  void *x = NULL;
  if (ask) {
    if (redisGetReply(ctx, &x) != REDIS_OK || !x)
      return node_failed(r, m, what, err);
    freeReplyObject(x); /* +OK */
    x = NULL;
  }
  if (redisGetReply(ctx, &x) != REDIS_OK || !x)
    return node_failed(r, m, what, err);
  p->node = m;
  c->nodes[m].dirty = 1;
  *rep = x;
  return SL_OK;
}

int sl_cluster_read(sl_redis *r, redisReply **rep, const char *what, sl_error *err) {
  sl_cluster *c = r->cluster;
  *rep = NULL;
  if (!c->qlen)
    return r->ctx ? sl_error_set(err, SL_ERR_INTERNAL, "Redis Cluster: no reply pending (%s)", what)
                  : sl_redis_io_error(r, what, err);
  pending *p = &c->q[c->qhead];
  redisReply *x = p->ready;
  p->ready = NULL;
  int rc = SL_OK;
  if (!x) {
    void *v = NULL;
    redisContext *ctx = c->nodes[p->node].ctx;
    if (!ctx || redisGetReply(ctx, &v) != REDIS_OK || !v) {
      if (v)
        freeReplyObject(v);
      return node_failed(r, p->node, what, err);
    }
    x = v;
  }
  int ask, slot, port;
  char h[256];
  for (int hop = 0; rc == SL_OK && sl_cluster_parse_redirect(x, &ask, &slot, h, sizeof h, &port);
       hop++) {
    if (hop == MAX_REDIRECTS)
      break; /* the caller sees the redirection as an error reply */
    freeReplyObject(x);
    x = NULL;
    rc = redirect(r, p, ask, slot, h, strlen(h), port, &x, what, err);
  }
  if (rc != SL_OK)
    return rc; /* the queue was dropped with the connections */
  free(p->cmd);
  c->qhead = (c->qhead + 1) % c->qcap;
  c->qlen--;
  *rep = x;
  return SL_OK;
}

int sl_cluster_wait(sl_redis *r, const char *what, sl_error *err) {
  sl_cluster *c = r->cluster;
  /* WAIT on the very connections that wrote (a new one has nothing to
   * wait for), so the map must not be reloaded in between; a node demoted
   * meanwhile refuses WAIT, and the checkpoint is retried. */
  c->hold_map = 1;
  int rc = SL_OK;
  for (int i = 0; i < c->nnodes && rc == SL_OK; i++) {
    if (!c->nodes[i].dirty || !c->nodes[i].ctx)
      continue;
    c->cur = i;
    r->ctx = c->nodes[i].ctx;
    if ((rc = sl_redis_wait_one(r, what, err)) == SL_OK)
      c->nodes[i].dirty = 0;
  }
  c->hold_map = 0;
  return rc;
}
