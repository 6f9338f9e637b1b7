/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server's Redis connections: one hiredis async context attached to
 * the server's event_base for API reads (commands pipeline on one socket and
 * never block the loop), plus in serve mode a second one subscribed to
 * `sl:events` that relays each message to the event bus. Both reconnect every
 * second while Redis is away; meanwhile API reads answer 503. With a
 * redis+sentinel:// URL each (re)connection first asks the sentinels for the
 * primary (a short blocking exchange, bounded by SENTINEL_TIMEOUT_MS per
 * sentinel), so after a failover both follow the new primary. */
#include <hiredis/adapters/libevent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "http/events.h"
#include "http/http_internal.h"

#define RETRY_MS 1000
#define SENTINEL_TIMEOUT_MS 300

static void connect_all(sl_http_server *s);

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

/* hiredis frees a context after its failed-connect or disconnect callback:
 * drop our pointer to it and try again later. */
static void forget_context(sl_http_server *s, const redisAsyncContext *ac) {
  if (ac == s->redis.ac) {
    s->redis.ac = NULL;
    s->redis.connected = 0;
  } else if (ac == s->redis.sub) {
    s->redis.sub = NULL;
  }
  schedule_retry(s);
}

static void on_connect(const redisAsyncContext *ac, int status) {
  sl_http_server *s = ac->data;
  if (status == REDIS_OK) {
    if (ac == s->redis.ac)
      s->redis.connected = 1;
    return;
  }
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

/* INFO cluster on the command connection: a cluster node's URL. */
static void on_cluster_info(redisAsyncContext *ac, void *reply, void *priv) {
  (void)priv;
  const redisReply *r = reply;
  sl_http_server *s = ac->data;
  if (!r || r->type != REDIS_REPLY_STRING || !strstr(r->str, "cluster_enabled:1") ||
      s->redis.cluster)
    return;
  s->redis.cluster = 1;
  sl_log(SL_LOG_WARN, "http",
         "Redis at %s:%d is a Redis Cluster node: the HTTP API's cache and alert reads answer "
         "501 (not routed by slot yet; docs/state.md, \"Redis Cluster\"); /readyz works",
         s->redis.host, s->redis.port);
}

static redisAsyncContext *open_ctx(sl_http_server *s) {
  http_redis *r = &s->redis;
  const sl_redis_url *u = r->url;
  redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
  if (!ac)
    return NULL;
  if (ac->err) {
    redisAsyncFree(ac);
    return NULL;
  }
  ac->data = s;
  redisLibeventAttach(ac, s->base);
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  /* Queued before anything else, so they run first on the new socket. */
  if (u->user[0] && u->password[0])
    redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", u->user, u->password);
  else if (u->password[0])
    redisAsyncCommand(ac, NULL, NULL, "AUTH %s", u->password);
  if (u->db)
    redisAsyncCommand(ac, NULL, NULL, "SELECT %d", u->db);
  if (u->nsentinels)
    redisAsyncCommand(ac, on_role, NULL, "ROLE");
  else
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
  if (!r->ac && !(r->ac = open_ctx(s)))
    failed = 1;
  if (s->cfg.serve_mode && !r->sub) {
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
  r->cluster = r->url->nseeds > 0; /* any seed serves SUBSCRIBE and PING */
  return SL_OK;
}

void http_redis_start(sl_http_server *s) {
  s->redis.retry = evtimer_new(s->base, on_retry, s);
  connect_all(s);
}

int http_redis_argv(sl_http_server *s, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                    const size_t *lens) {
  if (!s->redis.ac || !s->redis.connected)
    return SL_ERR_UNAVAILABLE;
  /* One connection cannot read keys spread over a cluster's nodes. */
  if (s->redis.cluster && !(lens[0] == 4 && strncasecmp(argv[0], "PING", 4) == 0))
    return SL_ERR_INVALID;
  if (redisAsyncCommandArgv(s->redis.ac, fn, priv, argc, argv, lens) != REDIS_OK)
    return SL_ERR_UNAVAILABLE;
  return SL_OK;
}

void http_redis_free(sl_http_server *s) {
  http_redis *r = &s->redis;
  r->stopping = 1;
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
