/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server's Redis connections: one hiredis async context attached to
 * the server's event_base for API reads (commands pipeline on one socket and
 * never block the loop), plus in serve mode a second one subscribed to
 * `sl:events` that relays each message to the event bus. Both reconnect every
 * second while Redis is away; meanwhile API reads answer 503. With a
 * redis+sentinel:// URL each (re)connection first asks the sentinels for the
 * primary (a short blocking exchange, bounded by SENTINEL_TIMEOUT_MS per
 * sentinel), so after a failover both follow the new primary. With a Redis
 * Cluster (a seed list, or cluster_enabled:1 from the URL's node) the reads
 * go through connectors/redis_cluster_async.c instead, routed by slot, and
 * the subscriber connects to any node (PUBLISH reaches every node of a
 * cluster), trying the next one after a loss.
 *
 * hiredis async has no command timeout: a Redis that is alive but silent
 * (paused, hung, a black-holed network) would hold every API request forever.
 * So each read has a deadline; a connection that leaves a read unanswered that
 * long is dropped (a late reply then cannot reach another request), its reads
 * answer 503 naming Redis and the deadline, and it reconnects after RETRY_MS.
 * A connection that was up and is lost (Redis' idle `timeout`) is reopened at
 * once and the reads that were on it are sent once more. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "http/events.h"
#include "http/http_internal.h"
#include "redis_cluster_async.h"

#define RETRY_MS 1000
#define SENTINEL_TIMEOUT_MS 300
#define DEFAULT_TIMEOUT_MS 2000
#define MAX_TIMEOUT_MS 600000

static void connect_all(sl_http_server *s);
static void on_deadline(evutil_socket_t fd, short what, void *arg);

static void on_retry(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  connect_all(arg);
}

static void schedule_retry(sl_http_server *s) {
  if (s->redis.stopping || !s->redis.retry)
    return;
  struct timeval tv = {RETRY_MS / 1000, (RETRY_MS % 1000) * 1000};
  evtimer_add(s->redis.retry, &tv);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drop the command connection (the caller frees it or hiredis does). */
static void drop_ac(http_redis *r) {
  r->ac = NULL;
  r->connected = 0;
  r->pending = 0;
  if (r->deadline)
    evtimer_del(r->deadline);
}

/* hiredis frees a context after its failed-connect or disconnect callback:
 * drop our pointer to it and try again later; at once for a command
 * connection that had been up a while (closed by the server while idle), so
 * the next read finds a connection. */
static void forget_context(sl_http_server *s, const redisAsyncContext *ac) {
  if (ac == s->redis.dropped)
    s->redis.dropped = NULL;
  if (ac == s->redis.ac) {
    int lost = s->redis.connected && now_ms() - s->redis.connected_ms >= RETRY_MS;
    drop_ac(&s->redis);
    if (lost && !s->redis.stopping) {
      connect_all(s);
      return;
    }
  } else if (ac == s->redis.sub) {
    s->redis.sub = NULL;
    s->redis.sub_next++; /* a cluster: subscribe on another node next */
  }
  schedule_retry(s);
}

static void on_connect(const redisAsyncContext *ac, int status) {
  sl_http_server *s = ac->data;
  if (status == REDIS_OK) {
    if (ac == s->redis.ac) {
      s->redis.connected = 1;
      s->redis.connected_ms = now_ms();
      s->redis.why[0] = '\0';
    }
    return;
  }
  if (ac == s->redis.ac) /* replaces a deadline's reason that no longer holds */
    snprintf(s->redis.why, sizeof s->redis.why, "Redis at %.256s:%d unreachable: %.40s",
             s->redis.host, s->redis.port, ac->errstr[0] ? ac->errstr : "cannot connect");
  forget_context(s, ac);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  (void)status;
  forget_context(ac->data, ac);
}

/* The data of an event as the text the publisher wrote, without a round trip
 * through jansson, which prints doubles with 17 digits (53.363399999999999 where
 * the API, reading the same record, shows 53.3634). msg was parsed into doc;
 * recognises the two forms of connectors/redis_alerts.c ({"type":T,"data":D},
 * nothing else) and connectors/redis_cache.c ({"type":T,REST} without "data")
 * and returns the data as a new string, or NULL for any other layout (then the
 * caller re-encodes). */
static char *carve_data(const char *msg, size_t n, json_t *doc, const char *type) {
  char prefix[80];
  int k = snprintf(prefix, sizeof prefix, "{\"type\":\"%s\",", type);
  if (k <= 0 || (size_t)k >= sizeof prefix || n <= (size_t)k || msg[n - 1] != '}' ||
      memcmp(msg, prefix, (size_t)k) != 0)
    return NULL;
  if (json_object_get(doc, "data")) {
    static const char key[] = "\"data\":";
    if (json_object_size(doc) != 2 || n < (size_t)k + sizeof key ||
        memcmp(msg + k, key, sizeof key - 1) != 0)
      return NULL;
    size_t off = (size_t)k + sizeof key - 1;
    return strndup(msg + off, n - off - 1); /* D, without the closing brace */
  }
  char *text = strndup(msg + k - 1, n - (size_t)k + 1); /* ,REST */
  if (text)
    text[0] = '{';
  return text;
}

/* A message on sl:events -> the event bus: {"type":"result","data":{...}}, or
 * the flat form the cache sink writes, {"type":"result","cache":..,...},
 * whose fields but "type" are the data. */
static void on_message(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  (void)priv;
  redisReply *r = reply;
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
      r->element[2]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0)
    return;
  json_t *msg = json_loadb(r->element[2]->str, r->element[2]->len, 0, NULL);
  json_t *type = json_object_get(msg, "type"), *data = json_object_get(msg, "data");
  json_t *flat = NULL;
  char *text = NULL;
  if (json_is_string(type) && json_is_object(msg))
    text = carve_data(r->element[2]->str, r->element[2]->len, msg, json_string_value(type));
  if (!text && json_is_string(type) && !data && json_is_object(msg)) {
    flat = json_deep_copy(msg);
    json_object_del(flat, "type");
    data = flat;
  }
  if (!text && json_is_string(type) && data)
    text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text)
    sl_events_publish(json_string_value(type), text);
  free(text);
  json_decref(flat);
  json_decref(msg);
}

/* Sentinel: the node the sentinels named must say it is the primary; if
 * not (a sentinel that missed the last failover), drop the connection and
 * ask the next sentinel first on the retry. */
static void on_role(redisAsyncContext *ac, void *reply, void *priv) {
  (void)priv;
  const redisReply *r = reply;
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
      r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "master") == 0)
    return;
  sl_http_server *s = ac->data;
  sl_log(SL_LOG_WARN, "http",
         "Redis at %s:%d reports itself a %s, not the primary: asking the "
         "sentinels again",
         s->redis.host, s->redis.port, r->element[0]->str);
  s->redis.sentinel_first = (s->redis.sentinel_first + 1) % s->redis.url->nsentinels;
  redisAsyncDisconnect(ac);
}

/* Route the reads by slot from now on (a seed list, or a cluster node's URL). */
static void start_cluster(sl_http_server *s) {
  http_redis *r = &s->redis;
  if (r->acl)
    return;
  r->cluster = 1;
  r->acl = sl_acluster_new(s->base, r->url, r->url->host, r->url->port, r->timeout_ms);
  if (!r->acl)
    sl_log(SL_LOG_ERROR, "http", "out of memory starting the Redis Cluster client: retrying");
}

/* INFO cluster on the command connection: a cluster node's URL. */
static void on_cluster_info(redisAsyncContext *ac, void *reply, void *priv) {
  (void)priv;
  const redisReply *r = reply;
  sl_http_server *s = ac->data;
  if (r)
    s->redis.detected = 1;
  if (!r || r->type != REDIS_REPLY_STRING || !strstr(r->str, "cluster_enabled:1"))
    return;
  if (!s->redis.cluster)
    sl_log(SL_LOG_INFO, "http",
           "Redis at %s:%d is a Redis Cluster node: the API reads from the primary of each key's "
           "slot",
           s->redis.host, s->redis.port);
  start_cluster(s);
  /* The command connection is not used any more (whichever connection's
   * answer came first); the subscriber (serve) stays: any node relays the
   * cluster's messages. */
  if (ac == s->redis.ac)
    redisAsyncDisconnect(ac);
}

static redisAsyncContext *open_ctx(sl_http_server *s) {
  http_redis *r = &s->redis;
  const sl_redis_url *u = r->url;
  redisAsyncContext *ac =
      sl_redis_async_open(s->base, u, r->host, r->port, u->db, s, on_connect, on_disconnect);
  if (!ac)
    return NULL;
  if (u->nsentinels)
    redisAsyncCommand(ac, on_role, NULL, "ROLE");
  else if (!r->cluster)
    redisAsyncCommand(ac, on_cluster_info, NULL, "INFO cluster");
  return ac;
}

static void connect_all(sl_http_server *s) {
  http_redis *r = &s->redis;
  if (r->stopping)
    return;
  int failed = 0;
  if (r->url->nsentinels && (!r->ac || (s->cfg.serve_mode && !r->sub))) {
    sl_error err;
    if (sl_redis_sentinel_resolve(r->url, r->sentinel_first, SENTINEL_TIMEOUT_MS, r->host,
                                  sizeof r->host, &r->port, NULL, &err) != SL_OK) {
      schedule_retry(s);
      return;
    }
  }
  if (r->cluster && !r->acl)
    start_cluster(s);
  if (r->cluster && !r->acl)
    failed = 1;
  if (!r->cluster && !r->ac && !(r->ac = open_ctx(s)))
    failed = 1;
  if (s->cfg.serve_mode && !r->sub) {
    if (r->acl)
      sl_acluster_node(r->acl, r->sub_next, r->host, sizeof r->host, &r->port);
    r->sub = open_ctx(s);
    if (r->sub)
      redisAsyncCommand(r->sub, on_message, NULL, "SUBSCRIBE sl:events");
    else
      failed = 1;
  }
  if (failed)
    schedule_retry(s);
}

int http_redis_init(sl_http_server *s, sl_error *err) {
  http_redis *r = &s->redis;
  if (!(r->url = calloc(1, sizeof *r->url)))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  int rc = sl_redis_url_parse(s->redis_url, r->url, err);
  if (rc != SL_OK)
    return rc;
  snprintf(r->host, sizeof r->host, "%s", r->url->host);
  r->port = r->url->port;
  r->cluster = r->url->nseeds > 0; /* the client starts with the server */
  r->timeout_ms = DEFAULT_TIMEOUT_MS;
  const char *t = getenv("SLUICE_API_REDIS_TIMEOUT_MS");
  if (t && *t) {
    char *end = NULL;
    long v = strtol(t, &end, 10);
    if (*end || v < 1 || v > MAX_TIMEOUT_MS)
      return sl_error_set(err, SL_ERR_INVALID,
                          "SLUICE_API_REDIS_TIMEOUT_MS: expected milliseconds from 1 to %d, got "
                          "'%.40s'",
                          MAX_TIMEOUT_MS, t);
    r->timeout_ms = (int)v;
  }
  return SL_OK;
}

void http_redis_start(sl_http_server *s) {
  s->redis.retry = evtimer_new(s->base, on_retry, s);
  s->redis.deadline = evtimer_new(s->base, on_deadline, s);
  connect_all(s);
}

/* One API read on the command connection, kept formatted to be sent once
 * more after a lost connection. A read sent before INFO cluster answered
 * (`early`) went to the URL's node alone; if that is a cluster node, its
 * MOVED / ASK is no refusal of the read (502) but the wrong node:
 * unavailable (503, retriable), as the reads after it go by slot. */
typedef struct sread {
  sl_http_server *s;
  redisCallbackFn *fn;
  void *priv;
  char *cmd; /* owned */
  size_t len;
  int early, retried;
} sread;

static void arm_deadline(http_redis *r) {
  if (!r->deadline)
    return;
  if (!r->pending) {
    evtimer_del(r->deadline);
    return;
  }
  int64_t left = r->since_ms + r->timeout_ms - now_ms();
  if (left < 0)
    left = 0;
  struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
  evtimer_add(r->deadline, &tv);
}

static void on_read(redisAsyncContext *ac, void *reply, void *priv);

static int send_read(sl_http_server *s, sread *q) {
  http_redis *r = &s->redis;
  if (!r->ac || redisAsyncFormattedCommand(r->ac, on_read, q, q->cmd, q->len) != REDIS_OK)
    return SL_ERR_UNAVAILABLE;
  if (r->pending++ == 0) {
    r->since_ms = now_ms();
    arm_deadline(r);
  }
  return SL_OK;
}

static void on_read(redisAsyncContext *ac, void *reply, void *priv) {
  sread *q = priv;
  sl_http_server *s = q->s;
  http_redis *r = &s->redis;
  const redisReply *rep = reply;
  if (ac == r->ac && r->pending > 0) { /* progress: the deadline restarts */
    r->pending--;
    r->since_ms = now_ms();
    arm_deadline(r);
  }
  if (!rep && !r->stopping && ac != r->expiring && !q->retried &&
      ((ac == r->ac && r->connected) || ac == r->dropped)) {
    /* Lost while up (an idle connection closed by the server): reads are
     * idempotent, so once more on a new connection, opened now. */
    if (ac == r->ac) {
      r->dropped = ac;
      drop_ac(r);
      r->ac = open_ctx(s);
    }
    q->retried = 1;
    if (send_read(s, q) == SL_OK)
      return;
  }
  int redirect = q->early && rep && rep->type == REDIS_REPLY_ERROR &&
                 (strncmp(rep->str, "MOVED ", 6) == 0 || strncmp(rep->str, "ASK ", 4) == 0);
  q->fn(ac, redirect ? NULL : reply, q->priv);
  free(q->cmd);
  free(q);
}

/* The oldest read on the command connection is past its deadline: drop the
 * connection; its pending reads answer 503 with the reason. */
static void on_deadline(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sl_http_server *s = arg;
  http_redis *r = &s->redis;
  if (!r->ac || !r->pending)
    return;
  if (now_ms() - r->since_ms < r->timeout_ms) {
    arm_deadline(r);
    return;
  }
  snprintf(r->why, sizeof r->why, "Redis at %.256s:%d did not answer within %d ms", r->host,
           r->port, r->timeout_ms);
  sl_log(SL_LOG_WARN, "http", "%s: dropping the connection, reconnecting", r->why);
  redisAsyncContext *ac = r->ac;
  drop_ac(r);
  r->expiring = ac;
  redisAsyncFree(ac); /* runs the pending reads with NULL, then on_disconnect */
  r->expiring = NULL;
  schedule_retry(s);
}

int http_redis_argv(sl_http_server *s, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                    const size_t *lens) {
  if (s->redis.cluster)
    return s->redis.acl ? sl_acluster_command(s->redis.acl, fn, priv, argc, argv, lens)
                        : SL_ERR_UNAVAILABLE;
  /* A connection still connecting takes reads too (hiredis sends them once
   * it is up; one refused answers them NULL): after an idle close the next
   * read does not fail for the moment the reconnection takes. */
  if (!s->redis.ac)
    return SL_ERR_UNAVAILABLE;
  sread *q = calloc(1, sizeof *q);
  int len = q ? redisFormatCommandArgv(&q->cmd, argc, argv, lens) : -1;
  if (len < 0) {
    free(q);
    return SL_ERR_UNAVAILABLE;
  }
  q->s = s;
  q->fn = fn;
  q->priv = priv;
  q->len = (size_t)len;
  q->early = !s->redis.detected && !s->redis.url->nsentinels;
  if (send_read(s, q) != SL_OK) {
    free(q->cmd);
    free(q);
    return SL_ERR_UNAVAILABLE;
  }
  return SL_OK;
}

const char *http_redis_why(const sl_http_server *s) {
  if (s->redis.cluster)
    return s->redis.acl && *sl_acluster_why(s->redis.acl) ? sl_acluster_why(s->redis.acl) : NULL;
  return s->redis.why[0] ? s->redis.why : NULL;
}

void http_redis_free(sl_http_server *s) {
  http_redis *r = &s->redis;
  r->stopping = 1;
  sl_acluster_free(r->acl);
  r->acl = NULL;
  /* redisAsyncFree runs pending callbacks with a NULL reply, then the
   * disconnect callback, which sees `stopping` and does not retry. */
  if (r->ac) {
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    redisAsyncFree(ac);
  }
  if (r->sub) {
    redisAsyncContext *ac = r->sub;
    r->sub = NULL;
    redisAsyncFree(ac);
  }
  if (r->retry)
    event_free(r->retry);
  r->retry = NULL;
  if (r->deadline)
    event_free(r->deadline);
  r->deadline = NULL;
  if (r->url) { /* the password must not linger in freed memory */
    volatile char *pw = r->url->password;
    for (size_t i = 0; i < sizeof r->url->password; i++)
      pw[i] = 0;
    pw = r->url->sentinel_password;
    for (size_t i = 0; i < sizeof r->url->sentinel_password; i++)
      pw[i] = 0;
  }
  free(r->url);
  r->url = NULL;
}
