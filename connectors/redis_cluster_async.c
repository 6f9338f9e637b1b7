/* SPDX-License-Identifier: Apache-2.0 */
/* Asynchronous Redis Cluster client of the HTTP API (see the header). One
 * hiredis async context per primary, opened on first use; a separate "probe"
 * context asks CLUSTER SLOTS whenever the map is stale: at start, after a
 * MOVED, and every second while a node of the map is unreachable (so that a
 * replica's promotion is seen about a second after it happens). A node that
 * refused a connection is refused at once for RETRY_MS (503 with its
 * address) rather than retried by every request; a read whose connection was
 * lost is sent once more on a new one. A node connection that leaves a read
 * unanswered past the deadline (hiredis async has none of its own) is
 * dropped, so no late reply can reach another read: its reads answer NULL
 * with the reason, and the node is refused for RETRY_MS. Slot and map
 * parsing are shared with the workers' blocking client
 * (redis_cluster_map.c). */
#include <hiredis/adapters/libevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "redis_cluster_async.h"
#include "redis_internal.h"

#define RETRY_MS 1000
#define MAX_REDIRECTS 5

typedef struct anode {
  redisAsyncContext *ac; /* NULL until used, or after a failure */
  int64_t down_until_ms; /* failed: refused until then; 0 when fine */
  int pending;           /* reads waiting on ac */
  int64_t since_ms;      /* the first send or the last reply while pending */
} anode;

struct sl_acluster {
  struct event_base *base;
  const sl_redis_url *url;
  sl_redis_addr first; /* the URL's node (or the one the API detected) */
  sl_cluster_map map;  /* map.nodes[i] is served by nodes[i] */
  anode *nodes;
  int have_map, stale;
  redisAsyncContext *probe; /* CLUSTER SLOTS */
  sl_redis_addr probe_addr;
  int probe_next, probing;
  struct event *tick;
  int64_t probe_ms; /* when CLUSTER SLOTS was sent */
  int timeout_ms;
  struct event *deadline;
  const redisAsyncContext *expiring; /* being freed for a timeout: no resend */
  int stopping;
  char why[640];
};

/* A read split over several commands: MGET (a GET per key) or PING (one per
 * primary). The combined reply is built when the last part answers. */
typedef struct afan {
  redisCallbackFn *fn;
  void *priv;
  int ping;
  size_t left;
  redisReply *out;   /* MGET: the array being filled (elements owned) */
  redisReply *error; /* the first error reply (a copy) */
  int lost;          /* a part had no reply */
} afan;

typedef struct areq {
  sl_acluster *c;
  redisCallbackFn *fn; /* or fan/part */
  void *priv;
  afan *fan;
  size_t part;
  char *cmd; /* formatted, kept to resend on a redirection */
  size_t len;
  int hops;
  int scan_from; /* SCAN: the first slot of the node scanned; -1 otherwise */
  int slot;      /* the slot that routes it, or -1 (keyless: `node`) */
  int node;      /* where it was sent last */
  int retried;   /* sent again after its connection was lost */
} areq;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

redisAsyncContext *sl_redis_async_open(struct event_base *base, const sl_redis_url *u,
                                       const char *host, int port, int db, void *data,
                                       redisConnectCallback *on_connect,
                                       redisDisconnectCallback *on_disconnect) {
  redisAsyncContext *ac = redisAsyncConnect(host, port);
  if (!ac)
    return NULL;
  if (ac->err) {
    redisAsyncFree(ac);
    return NULL;
  }
  ac->data = data;
  redisLibeventAttach(ac, base);
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  /* Queued before anything else, so they run first on the new socket. */
  if (u->user[0] && u->password[0])
    redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", u->user, u->password);
  else if (u->password[0])
    redisAsyncCommand(ac, NULL, NULL, "AUTH %s", u->password);
  if (db)
    redisAsyncCommand(ac, NULL, NULL, "SELECT %d", db);
  return ac;
}

/* ---- nodes ------------------------------------------------------------------ */

static int node_of(const sl_acluster *c, const redisAsyncContext *ac) {
  for (int i = 0; i < c->map.nnodes; i++)
    if (c->nodes[i].ac == ac)
      return i;
  return -1;
}

/* ac failed (refused: could not connect; else: lost). A refused node is
 * refused at once for RETRY_MS; a lost connection (a server's idle timeout
 * closes them too) is simply opened again by the next read. */
static void node_failed(sl_acluster *c, const redisAsyncContext *ac, int refused) {
  c->stale = 1;
  if (ac == c->probe) {
    c->probe = NULL;
    c->probe_next++;
    return;
  }
  int i = node_of(c, ac);
  if (i < 0)
    return; /* a node dropped from the map meanwhile */
  c->nodes[i].ac = NULL;
  c->nodes[i].pending = 0;
  if (refused)
    c->nodes[i].down_until_ms = now_ms() + RETRY_MS;
  if (!c->stopping)
    snprintf(c->why, sizeof c->why, "Redis Cluster node %.256s:%d %s: %.128s", c->map.nodes[i].host,
             c->map.nodes[i].port, refused ? "unreachable" : "lost",
             ac->errstr[0] ? ac->errstr : "connection lost");
}

static void on_connect(const redisAsyncContext *ac, int status) {
  sl_acluster *c = ac->data;
  int i = node_of(c, ac);
  if (status != REDIS_OK) /* hiredis frees ac after this */
    node_failed(c, ac, 1);
  else if (i >= 0)
    c->nodes[i].down_until_ms = 0;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  sl_acluster *c = ac->data;
  if (status == REDIS_OK && ac != c->probe) { /* asked for: a node left the map */
    int i = node_of(c, ac);
    if (i >= 0)
      c->nodes[i].ac = NULL;
    return;
  }
  node_failed(c, ac, 0);
}

/* The connection of node i, opened when needed; NULL (why set) while it is
 * refused after a failure. */
static redisAsyncContext *node_ac(sl_acluster *c, int i) {
  anode *n = &c->nodes[i];
  if (n->ac)
    return n->ac;
  if (n->down_until_ms && now_ms() < n->down_until_ms) {
    snprintf(c->why, sizeof c->why,
             "Redis Cluster node %.256s:%d is unreachable (a failover may be under way)",
             c->map.nodes[i].host, c->map.nodes[i].port);
    return NULL;
  }
  n->ac = sl_redis_async_open(c->base, c->url, c->map.nodes[i].host, c->map.nodes[i].port, 0, c,
                              on_connect, on_disconnect);
  if (!n->ac)
    snprintf(c->why, sizeof c->why, "Redis Cluster node %.256s:%d: cannot open a connection",
             c->map.nodes[i].host, c->map.nodes[i].port);
  return n->ac;
}

/* The index of host:port, added to the map (with no slot yet) when new. */
static int node_index(sl_acluster *c, const char *host, int port) {
  int n = c->map.nnodes;
  int i = sl_cluster_map_node(&c->map, host, strlen(host), port);
  if (i == n && i >= 0) {
    anode *nn = realloc(c->nodes, (size_t)(n + 1) * sizeof *nn);
    if (!nn) {
      c->map.nnodes--; /* keep both arrays the same length */
      return -1;
    }
    c->nodes = nn;
    memset(&nn[n], 0, sizeof nn[n]);
  }
  return i;
}

/* ---- the slot map ------------------------------------------------------------- */

/* Take a freshly parsed map: connections to nodes still in it are kept,
 * the others closed once their pending replies are in. */
static void apply_map(sl_acluster *c, sl_cluster_map *m) {
  anode *nn = calloc((size_t)m->nnodes, sizeof *nn);
  if (!nn) {
    sl_cluster_map_free(m);
    return;
  }
  for (int i = 0; i < c->map.nnodes; i++) {
    int k = -1;
    for (int j = 0; j < m->nnodes && k < 0; j++)
      if (m->nodes[j].port == c->map.nodes[i].port &&
          strcmp(m->nodes[j].host, c->map.nodes[i].host) == 0)
        k = j;
    if (k >= 0)
      nn[k] = c->nodes[i];
    else if (c->nodes[i].ac)
      redisAsyncDisconnect(c->nodes[i].ac); /* its on_disconnect finds no node */
  }
  sl_cluster_map_free(&c->map);
  free(c->nodes);
  c->map = *m;
  c->nodes = nn;
  c->have_map = 1;
  c->stale = 0;
}

static void on_slots(redisAsyncContext *ac, void *reply, void *priv) {
  (void)priv;
  sl_acluster *c = ac->data;
  c->probing = 0;
  if (c->stopping || !reply)
    return;
  sl_cluster_map m;
  sl_error err;
  sl_error_clear(&err);
  const redisReply *r = reply;
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(c->why, sizeof c->why, "Redis Cluster node %.256s:%d: CLUSTER SLOTS: %.200s",
             c->probe_addr.host, c->probe_addr.port, r->str);
  } else if (sl_cluster_map_parse(r, c->probe_addr.host, c->probe_addr.port, &m, &err) != SL_OK) {
    snprintf(c->why, sizeof c->why, "%.500s", err.message);
  } else {
    apply_map(c, &m);
    return;
  }
  /* Ask another node next time. */
  c->probe_next++;
  if (c->probe == ac) {
    c->probe = NULL;
    redisAsyncDisconnect(ac);
  }
}

static int ncandidates(const sl_acluster *c) {
  return c->map.nnodes + (c->url->nseeds ? c->url->nseeds : 1);
}

void sl_acluster_node(const sl_acluster *c, int k, char *host, size_t cap, int *port) {
  int n = ncandidates(c);
  k = ((k % n) + n) % n;
  const sl_redis_addr *a = k < c->map.nnodes ? &c->map.nodes[k]
                           : c->url->nseeds  ? &c->url->seeds[k - c->map.nnodes]
                                             : &c->first;
  snprintf(host, cap, "%s", a->host);
  *port = a->port;
}

static void refresh(sl_acluster *c) {
  if (c->stopping || c->probing)
    return;
  if (!c->probe) {
    sl_acluster_node(c, c->probe_next, c->probe_addr.host, sizeof c->probe_addr.host,
                     &c->probe_addr.port);
    c->probe = sl_redis_async_open(c->base, c->url, c->probe_addr.host, c->probe_addr.port, 0, c,
                                   on_connect, on_disconnect);
    if (!c->probe) {
      c->probe_next++;
      return;
    }
  }
  if (redisAsyncCommand(c->probe, on_slots, NULL, "CLUSTER SLOTS") == REDIS_OK) {
    c->probing = 1;
    c->probe_ms = now_ms();
  }
}

/* Free ac, which did not answer in time: its pending callbacks run with NULL
 * (and resend nothing). The caller has dropped its pointer to it. */
static void expire(sl_acluster *c, redisAsyncContext *ac, const char *host, int port) {
  snprintf(c->why, sizeof c->why, "Redis Cluster node %.256s:%d did not answer within %d ms", host,
           port, c->timeout_ms);
  c->stale = 1;
  c->expiring = ac;
  redisAsyncFree(ac);
  c->expiring = NULL;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sl_acluster *c = arg;
  if (c->probing && c->probe && now_ms() - c->probe_ms >= c->timeout_ms) {
    redisAsyncContext *ac = c->probe;
    c->probe = NULL;
    c->probe_next++; /* ask another node */
    expire(c, ac, c->probe_addr.host, c->probe_addr.port);
  }
  int down = 0;
  for (int i = 0; i < c->map.nnodes; i++)
    down |= c->nodes[i].down_until_ms != 0 && !c->nodes[i].ac;
  if (!c->have_map || c->stale || down)
    refresh(c);
}

/* ---- replies -------------------------------------------------------------------- */

static redisReply *new_reply(int type, const char *s, size_t len) {
  redisReply *r = calloc(1, sizeof *r);
  if (r && s) {
    if (!(r->str = malloc(len + 1))) {
      free(r);
      return NULL;
    }
    memcpy(r->str, s, len);
    r->str[len] = '\0';
    r->len = len;
  }
  if (r)
    r->type = type;
  return r;
}

static void fan_done(afan *f) {
  redisReply *out = f->lost ? NULL : f->error ? f->error : f->out;
  if (!f->lost && !f->error && f->ping)
    out = f->out = new_reply(REDIS_REPLY_STATUS, "PONG", 4);
  f->fn(NULL, out, f->priv);
  if (f->out)
    freeReplyObject(f->out);
  if (f->error)
    freeReplyObject(f->error);
  free(f);
}

static void fan_part(afan *f, size_t i, const redisReply *r) {
  if (!r) {
    f->lost = 1;
  } else if (r->type == REDIS_REPLY_ERROR && !(!f->ping && strncmp(r->str, "WRONGTYPE", 9) == 0)) {
    if (!f->error && !(f->error = new_reply(REDIS_REPLY_ERROR, r->str, r->len)))
      f->lost = 1;
  } else if (!f->ping) { /* MGET: a value or nil (a non-string is nil, as MGET says) */
    redisReply *e = r->type == REDIS_REPLY_STRING ? new_reply(r->type, r->str, r->len)
                                                  : new_reply(REDIS_REPLY_NIL, NULL, 0);
    if (!e)
      f->lost = 1;
    f->out->element[i] = e;
  }
  if (--f->left == 0)
    fan_done(f);
}

static void req_free(areq *q) {
  free(q->cmd);
  free(q);
}

/* The lowest slot of the node that comes after the one scanned from `from`
 * (nodes in the order of their lowest slots), or -1 after the last. */
static int next_scan_slot(const sl_acluster *c, int from) {
  int best = -1;
  int *first = malloc((size_t)c->map.nnodes * sizeof *first);
  if (!first)
    return -1;
  for (int i = 0; i < c->map.nnodes; i++)
    first[i] = -1;
  for (int s = 0; s < SL_CLUSTER_SLOTS; s++) {
    int n = c->map.slot[s];
    if (n != SL_CLUSTER_NO_NODE && first[n] < 0)
      first[n] = s;
  }
  for (int i = 0; i < c->map.nnodes; i++)
    if (first[i] > from && (best < 0 || first[i] < best))
      best = first[i];
  free(first);
  return best;
}

/* SCAN's reply with the node's cursor turned into ours: "SLOT:CURSOR" while
 * a node remains, "0" after the last. */
static void scan_deliver(areq *q, redisAsyncContext *ac, redisReply *r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_STRING) {
    q->fn(ac, r, q->priv);
    return;
  }
  char cur[48];
  int next =
      strcmp(r->element[0]->str, "0") == 0 ? next_scan_slot(q->c, q->scan_from) : q->scan_from;
  if (next < 0)
    snprintf(cur, sizeof cur, "0");
  else
    snprintf(cur, sizeof cur, "%d:%.30s", next, next == q->scan_from ? r->element[0]->str : "0");
  redisReply shell = *r, *els[2] = {new_reply(REDIS_REPLY_STRING, cur, strlen(cur)), r->element[1]};
  shell.element = els;
  q->fn(ac, els[0] ? &shell : NULL, q->priv);
  if (els[0])
    freeReplyObject(els[0]);
}

static void finish(areq *q, redisAsyncContext *ac, redisReply *r) {
  if (q->fan)
    fan_part(q->fan, q->part, r);
  else if (q->scan_from >= 0)
    scan_deliver(q, ac, r);
  else
    q->fn(ac, r, q->priv);
  req_free(q);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* The deadline timer, set for the node that has waited longest. */
static void arm_deadline(sl_acluster *c) {
  int64_t first = -1;
  for (int i = 0; i < c->map.nnodes; i++)
    if (c->nodes[i].ac && c->nodes[i].pending && (first < 0 || c->nodes[i].since_ms < first))
      first = c->nodes[i].since_ms;
  if (first < 0) {
    evtimer_del(c->deadline);
    return;
  }
  int64_t left = first + c->timeout_ms - now_ms();
  if (left < 0)
    left = 0;
  struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
  evtimer_add(c->deadline, &tv);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sl_acluster *c = arg;
  int64_t now = now_ms();
  for (int i = 0; i < c->map.nnodes; i++) {
    anode *n = &c->nodes[i];
    if (!n->ac || !n->pending || now - n->since_ms < c->timeout_ms)
      continue;
    redisAsyncContext *ac = n->ac;
    n->ac = NULL;
    n->pending = 0;
    n->down_until_ms = now + RETRY_MS;
    expire(c, ac, c->map.nodes[i].host, c->map.nodes[i].port);
  }
  arm_deadline(c);
}

/* Send q to node i (after ASKING for an ASK). SL_OK or SL_ERR_UNAVAILABLE. */
static int send_to(sl_acluster *c, areq *q, int i, int asking) {
  redisAsyncContext *ac = node_ac(c, i);
  if (!ac)
    return SL_ERR_UNAVAILABLE;
  if ((asking && redisAsyncCommand(ac, NULL, NULL, "ASKING") != REDIS_OK) ||
      redisAsyncFormattedCommand(ac, on_reply, q, q->cmd, q->len) != REDIS_OK) {
    snprintf(c->why, sizeof c->why, "Redis Cluster node %.256s:%d: connection closing",
             c->map.nodes[i].host, c->map.nodes[i].port);
    return SL_ERR_UNAVAILABLE;
  }
  q->node = i;
  if (c->nodes[i].pending++ == 0) {
    c->nodes[i].since_ms = now_ms();
    arm_deadline(c);
  }
  return SL_OK;
}

static int transient(const redisReply *r) {
  static const char *const codes[] = {"CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "LOADING"};
  for (size_t i = 0; r->type == REDIS_REPLY_ERROR && i < sizeof codes / sizeof codes[0]; i++)
    if (strncmp(r->str, codes[i], strlen(codes[i])) == 0)
      return 1;
  return 0;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv) {
  areq *q = priv;
  sl_acluster *c = q->c;
  redisReply *r = reply;
  int ask, slot, port;
  char host[256];
  int from = node_of(c, ac);
  if (from >= 0 && c->nodes[from].pending > 0) { /* progress: its deadline restarts */
    c->nodes[from].pending--;
    c->nodes[from].since_ms = now_ms();
    arm_deadline(c);
  }
  if (r && !c->stopping && q->hops < MAX_REDIRECTS &&
      sl_cluster_parse_redirect(r, &ask, &slot, host, sizeof host, &port)) {
    q->hops++;
    int i = node_index(c, host, port);
    if (i >= 0 && !ask) {
      c->map.slot[slot] = (uint16_t)i;
      c->stale = 1; /* the rest of the map may have moved too */
    }
    if (i >= 0 && send_to(c, q, i, ask) == SL_OK)
      return;
    r = NULL;
  } else if (!r && !c->stopping && ac != c->expiring) {
    int i = node_of(c, ac);
    if (i >= 0) { /* hiredis is freeing ac: a new read opens a new connection */
      snprintf(c->why, sizeof c->why, "Redis Cluster node %.256s:%d: connection lost",
               c->map.nodes[i].host, c->map.nodes[i].port);
      c->nodes[i].ac = NULL;
    }
    c->stale = 1;
    /* Reads are idempotent: once more, on a new connection (an idle one
     * closed by the server); a node that is gone refuses it at once. */
    int n = q->slot >= 0 ? c->map.slot[q->slot] : q->node;
    if (!q->retried && n != SL_CLUSTER_NO_NODE && n < c->map.nnodes) {
      q->retried = 1;
      if (send_to(c, q, n, 0) == SL_OK)
        return;
    }
  } else if (r && transient(r)) {
    snprintf(c->why, sizeof c->why, "Redis Cluster: %.250s", r->str);
    c->stale = 1;
    r = NULL;
  }
  finish(q, ac, r);
}

/* ---- commands -------------------------------------------------------------------- */

static areq *new_req(sl_acluster *c, int argc, const char **argv, const size_t *lens) {
  areq *q = calloc(1, sizeof *q);
  char *cmd = NULL;
  int len = q ? redisFormatCommandArgv(&cmd, argc, argv, lens) : -1;
  if (len < 0) {
    free(q);
    snprintf(c->why, sizeof c->why, "out of memory");
    return NULL;
  }
  q->c = c;
  q->cmd = cmd;
  q->len = (size_t)len;
  q->scan_from = -1;
  q->slot = -1;
  return q;
}

static int first_slot(const sl_acluster *c, int node) {
  for (int s = 0; s < SL_CLUSTER_SLOTS; s++)
    if (c->map.slot[s] == node)
      return s;
  return -1;
}

/* The node serving `key`, or -1 (why set). */
static int key_node(sl_acluster *c, const char *key, size_t len) {
  int s = sl_redis_key_slot(key, len);
  if (c->map.slot[s] != SL_CLUSTER_NO_NODE)
    return c->map.slot[s];
  snprintf(c->why, sizeof c->why, "Redis Cluster: no primary serves hash slot %d now", s);
  c->stale = 1;
  return -1;
}

/* MGET k1 k2 ... as one GET per key, or PING on every primary. */
static int fan_out(sl_acluster *c, redisCallbackFn *fn, void *priv, int ping, int argc,
                   const char **argv, const size_t *lens) {
  size_t n = ping ? (size_t)c->map.nnodes : (size_t)argc - 1;
  afan *f = calloc(1, sizeof *f);
  if (!f || (!ping && !(f->out = new_reply(REDIS_REPLY_ARRAY, NULL, 0))) ||
      (!ping && !(f->out->element = calloc(n, sizeof *f->out->element)))) {
    if (f && f->out)
      freeReplyObject(f->out);
    free(f);
    snprintf(c->why, sizeof c->why, "out of memory");
    return SL_ERR_UNAVAILABLE;
  }
  if (!ping)
    f->out->elements = n;
  f->fn = fn;
  f->priv = priv;
  f->ping = ping;
  f->left = n + 1; /* one held until every part is queued */
  size_t queued = 0;
  for (size_t i = 0; i < n; i++) {
    const char *get[2] = {"GET", ping ? "" : argv[i + 1]};
    size_t glen[2] = {3, ping ? 0 : lens[i + 1]};
    areq *q = ping ? new_req(c, 1, argv, lens) : new_req(c, 2, get, glen);
    int node = !q ? -1 : ping ? (int)i : key_node(c, argv[i + 1], lens[i + 1]);
    if (q && !ping)
      q->slot = sl_redis_key_slot(argv[i + 1], lens[i + 1]);
    if (q && node >= 0 && (q->fan = f, q->part = i, send_to(c, q, node, 0) == SL_OK)) {
      queued++;
      continue;
    }
    if (q)
      req_free(q);
    f->lost = 1;
    f->left--;
  }
  if (!queued) {
    if (f->out)
      freeReplyObject(f->out);
    free(f);
    return SL_ERR_UNAVAILABLE;
  }
  f->left--; /* parts answer on later loop turns, never during this call */
  return SL_OK;
}

static int is_cmd(const char *name, const char *arg, size_t len) {
  return strlen(name) == len && strncasecmp(name, arg, len) == 0;
}

static int send_new(sl_acluster *c, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                    const size_t *lens, int node, int slot, int scan_from) {
  areq *q = new_req(c, argc, argv, lens);
  if (!q)
    return SL_ERR_UNAVAILABLE;
  q->fn = fn;
  q->priv = priv;
  q->slot = slot;
  q->scan_from = scan_from;
  if (send_to(c, q, node, 0) != SL_OK) {
    req_free(q);
    return SL_ERR_UNAVAILABLE;
  }
  return SL_OK;
}

/* SCAN with our cursor: "0" starts on the node of the first slot served,
 * "SLOT:CURSOR" goes on with CURSOR on that slot's node. */
static int scan(sl_acluster *c, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                const size_t *lens) {
  int slot = 0;
  const char *inner = "0";
  char *end = NULL, given[48], cursor[48];
  if (argc > 16 || lens[1] >= sizeof given)
    return SL_ERR_INVALID;
  memcpy(given, argv[1], lens[1]);
  given[lens[1]] = '\0';
  if (strcmp(given, "0") != 0) {
    slot = (int)strtol(given, &end, 10);
    if (!end || *end != ':' || slot < 0 || slot >= SL_CLUSTER_SLOTS)
      return SL_ERR_INVALID;
    inner = end + 1;
  } else {
    while (slot < SL_CLUSTER_SLOTS - 1 && c->map.slot[slot] == SL_CLUSTER_NO_NODE)
      slot++;
  }
  int node = c->map.slot[slot];
  if (node == SL_CLUSTER_NO_NODE) {
    snprintf(c->why, sizeof c->why, "Redis Cluster: no primary serves hash slot %d now", slot);
    return SL_ERR_UNAVAILABLE;
  }
  snprintf(cursor, sizeof cursor, "%.40s", inner);
  const char *args[16];
  size_t alens[16];
  for (int i = 0; i < argc; i++)
    args[i] = argv[i], alens[i] = lens[i];
  args[1] = cursor;
  alens[1] = strlen(cursor);
  int from = first_slot(c, node);
  return send_new(c, fn, priv, argc, args, alens, node, from, from);
}

int sl_acluster_command(sl_acluster *c, redisCallbackFn *fn, void *priv, int argc,
                        const char **argv, const size_t *lens) {
  if (c->stopping)
    return SL_ERR_UNAVAILABLE;
  if (!c->have_map) {
    if (!c->why[0])
      snprintf(c->why, sizeof c->why, "Redis Cluster: the slot map is not loaded yet");
    return SL_ERR_UNAVAILABLE;
  }
  if (argc >= 2 && is_cmd("MGET", argv[0], lens[0]))
    return fan_out(c, fn, priv, 0, argc, argv, lens);
  if (argc == 1 && is_cmd("PING", argv[0], lens[0]))
    return fan_out(c, fn, priv, 1, argc, argv, lens);
  if (argc >= 2 && is_cmd("SCAN", argv[0], lens[0]))
    return scan(c, fn, priv, argc, argv, lens);
  int node = -1, slot = -1;
  const char *key;
  size_t klen;
  if (sl_cluster_cmd_key(argc, argv, lens, &key, &klen)) {
    if ((node = key_node(c, key, klen)) < 0)
      return SL_ERR_UNAVAILABLE;
    slot = sl_redis_key_slot(key, klen);
  } else { /* keyless: the first node not known to be down */
    for (int i = 0; i < c->map.nnodes && node < 0; i++)
      if (!c->nodes[i].down_until_ms)
        node = i;
    if (node < 0)
      node = 0;
  }
  return send_new(c, fn, priv, argc, argv, lens, node, slot, -1);
}

const char *sl_acluster_why(const sl_acluster *c) { return c->why; }

sl_acluster *sl_acluster_new(struct event_base *base, const sl_redis_url *u, const char *host,
                             int port, int timeout_ms) {
  sl_acluster *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->base = base;
  c->url = u;
  snprintf(c->first.host, sizeof c->first.host, "%s", host);
  c->first.port = port;
  c->timeout_ms = timeout_ms;
  memset(c->map.slot, 0xff, sizeof c->map.slot);
  c->tick = event_new(base, -1, EV_PERSIST, on_tick, c);
  c->deadline = evtimer_new(base, on_deadline, c);
  if (!c->tick || !c->deadline) {
    if (c->tick)
      event_free(c->tick);
    if (c->deadline)
      event_free(c->deadline);
    free(c);
    return NULL;
  }
  struct timeval tv = {RETRY_MS / 1000, (RETRY_MS % 1000) * 1000};
  evtimer_add(c->tick, &tv);
  refresh(c);
  return c;
}

void sl_acluster_free(sl_acluster *c) {
  if (!c)
    return;
  c->stopping = 1;
  event_free(c->tick);
  event_free(c->deadline);
  /* redisAsyncFree runs the pending callbacks with NULL, then on_disconnect,
   * which must find the node still listed: clear our pointer afterwards. */
  for (int i = 0; i < c->map.nnodes; i++)
    if (c->nodes[i].ac)
      redisAsyncFree(c->nodes[i].ac);
  if (c->probe)
    redisAsyncFree(c->probe);
  sl_cluster_map_free(&c->map);
  free(c->nodes);
  free(c);
}
