/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the http_*.c files; everything here runs on the server
 * thread unless said otherwise. */
#ifndef SLUICE_HTTP_INTERNAL_H
#define SLUICE_HTTP_INTERNAL_H

#include <event2/event.h>
#include <event2/http.h>
#include <hiredis/async.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>

#include "base/metrics.h"
#include "http/http_server.h"
#include "redis.h"

typedef struct sse_client sse_client;

/* One tracked client connection (the conn table enforces max_connections). */
typedef struct http_conn {
  struct evhttp_connection *evcon;
  sse_client *sse; /* set while the connection streams events */
} http_conn;

typedef struct rate_bucket rate_bucket;

typedef struct http_redis {
  sl_redis_url *url; /* parsed SLUICE_REDIS_URL (redis.h); password wiped on free */
  char host[256];    /* where the contexts connect: the URL's host, or the
                        primary the sentinels named at the last attempt */
  int port;
  int sentinel_first;     /* Sentinel: the one to ask first (rotates on a bad answer) */
  redisAsyncContext *ac;  /* commands; NULL while disconnected */
  int connected;          /* connect callback reported success */
  redisAsyncContext *sub; /* serve mode: SUBSCRIBE sl:events */
  struct event *retry;    /* reconnect timer */
  int stopping;
  /* Redis Cluster (a seed list, or cluster_enabled:1 in INFO cluster): the
   * reads go through `acl`, routed by slot; `ac` is then unused and `sub`
   * connects to the sub_next-th known node. */
  int cluster;
  int detected; /* INFO cluster answered once (until then reads are guarded) */
  struct sl_acluster *acl;
  int sub_next;
  /* Every read has a deadline (timeout_ms, SLUICE_API_REDIS_TIMEOUT_MS): while
   * `pending` reads wait on `ac`, the connection must answer something within
   * timeout_ms of `since_ms` (the first send or the last reply), else it is
   * dropped and its reads answer 503 with `why`. */
  int timeout_ms;
  int pending;
  int64_t since_ms, connected_ms;
  struct event *deadline;
  const redisAsyncContext *expiring; /* being freed for a timeout: no resend */
  const redisAsyncContext *dropped;  /* lost while connected: its reads go once more */
  char why[400];
} http_redis;

struct sl_http_server {
  sl_http_config cfg; /* strings below are our own copies */
  char *listen, *token, *tls_cert, *tls_key, *redis_url;
  char **pipelines;
  size_t token_len;
  int token_set; /* cfg.api_token was given (maybe "": no auth) */
  struct event_base *base;
  struct evhttp *http;
  int port;
  SSL_CTX *ssl;
  pthread_t thread;
  int thread_started;

  http_conn *conns; /* max_connections slots */
  size_t nconns;
  rate_bucket **rate_table; /* chained hash by client address */
  size_t rate_count;
  double rate_last_sweep;

  http_redis redis;
  sse_client *sse_list;
  size_t sse_count;

  sl_metric *m_requests[6]; /* sluice_http_requests_total by status class 1xx..5xx */
  sl_metric *m_sse_clients, *m_sse_dropped, *m_rate_limited;
};

/* "HOST:PORT" or "[IPV6]:PORT" into host (NUL-terminated) and port, or
 * SL_ERR_INVALID naming the expected form. Also the gateway's CoAP address. */
int http_parse_listen(const char *addr, char *host, size_t hostcap, int *port, sl_error *err);
/* http_server.c: bind `http` to "HOST:PORT" or "[IPV6]:PORT" (port 0: any
 * free one, put in *bound_port). SL_ERR_INVALID for a malformed address,
 * SL_ERR_IO when the address cannot be bound. Shared by the API server and
 * the gateway. */
int http_bind(struct evhttp *http, const char *listen, int *bound_port, sl_error *err);
/* http_reply.c: replies. Every error body is {"error":msg,"status":code}. */
void http_reply(sl_http_server *s, struct evhttp_request *req, int code, const char *ctype,
                const char *body, size_t len);
void http_reply_json(sl_http_server *s, struct evhttp_request *req, int code, const sl_buf *b);
void http_reply_error(sl_http_server *s, struct evhttp_request *req, int code, const char *msg);
void http_count(sl_http_server *s, int code);

/* http_auth.c */
int http_auth_load(sl_http_server *s, sl_error *err);
/* 1 when the request may pass (no token configured or the right bearer). */
int http_auth_ok(const sl_http_server *s, struct evhttp_request *req);
SSL_CTX *http_tls_ctx(const char *cert, const char *key, sl_error *err);

/* http_limits.c */
int http_limits_init(sl_http_server *s);
void http_limits_free(sl_http_server *s);
/* Track the request's connection; NULL when max_connections is reached. */
http_conn *http_conn_track(sl_http_server *s, struct evhttp_connection *evcon);
http_conn *http_conn_find(sl_http_server *s, struct evhttp_connection *evcon);
/* 0 to pass, else seconds the client should wait (Retry-After). */
int http_rate_check(sl_http_server *s, const char *addr);

/* http_redis.c */
int http_redis_init(sl_http_server *s, sl_error *err);
void http_redis_start(sl_http_server *s);
void http_redis_free(sl_http_server *s);
/* Queue a command (on a Redis Cluster: routed by key slot, MGET split per
 * key, PING to every primary, SCAN over every primary behind one cursor).
 * SL_OK: the callback runs once (with NULL reply on disconnect, no answer
 * within redis.timeout_ms, a cluster that reports itself down, or shutdown;
 * http_redis_why names the cause when known); otherwise (SL_ERR_UNAVAILABLE) it does not
 * run. */
int http_redis_argv(sl_http_server *s, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                    const size_t *lens);
/* Why the last read could not be served (for the 503's message), or NULL. */
const char *http_redis_why(const sl_http_server *s);

/* http_api.c: /api/v1/... ; `path` is the raw path. */
void http_api_route(sl_http_server *s, struct evhttp_request *req, const char *path);
void http_readyz(sl_http_server *s, struct evhttp_request *req);

/* http_sse.c */
void http_sse_start(sl_http_server *s, struct evhttp_request *req, http_conn *conn);
void http_sse_closed(sl_http_server *s, sse_client *c);
void http_sse_free_all(sl_http_server *s);

/* dashboard (generated from core/http/dashboard/index.html) */
extern const unsigned char sl_dashboard_html[];
extern const size_t sl_dashboard_html_len;

#endif
