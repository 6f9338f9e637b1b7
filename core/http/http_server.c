/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server's life cycle and front door: binding, the server thread,
 * TLS bufferevents, connection and rate limits, authentication, routing of
 * the operations endpoints. Replies (http_reply.c), the API, SSE, Redis,
 * limits and auth details live in their own http_*.c files. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http_internal.h"

static void on_conn_close(struct evhttp_connection *evcon, void *arg) {
  sl_http_server *s = arg;
  http_conn *c = http_conn_find(s, evcon);
  if (!c)
    return;
  if (c->sse)
    http_sse_closed(s, c->sse);
  *c = s->conns[--s->nconns]; /* unordered removal */
}

static int method_allowed(struct evhttp_request *req) {
  enum evhttp_cmd_type m = evhttp_request_get_command(req);
  return m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
}

static void serve_metrics(sl_http_server *s, struct evhttp_request *req) {
  sl_metric_set(s->m_sse_clients, (double)s->sse_count);
  sl_buf b = SL_BUF_INIT;
  if (sl_metrics_render(&b) != SL_OK) {
    sl_buf_free(&b);
    http_reply_error(s, req, 500, "out of memory rendering metrics");
    return;
  }
  http_reply(s, req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
  sl_buf_free(&b);
}

static void serve_dashboard(sl_http_server *s, struct evhttp_request *req) {
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  /* Everything is inline: forbid any other origin for scripts and styles. */
  evhttp_add_header(h, "Content-Security-Policy",
                    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'");
  evhttp_add_header(h, "Referrer-Policy", "no-referrer");
  http_reply(s, req, 200, "text/html; charset=utf-8", (const char *)sl_dashboard_html,
             sl_dashboard_html_len);
}

static void on_request(struct evhttp_request *req, void *arg) {
  sl_http_server *s = arg;
  struct evhttp_connection *evcon = evhttp_request_get_connection(req);
  http_conn *conn = http_conn_find(s, evcon);
  if (!conn) {
    conn = http_conn_track(s, evcon);
    if (!conn) {
      evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
      http_reply_error(s, req, 503, "too many connections");
      return;
    }
    evhttp_connection_set_closecb(evcon, on_conn_close, s);
  }
  char *addr = NULL;
  ev_uint16_t port = 0;
  evhttp_connection_get_peer(evcon, &addr, &port);
  int wait = http_rate_check(s, addr ? addr : "");
  if (wait > 0) {
    char v[16];
    snprintf(v, sizeof v, "%d", wait);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
    sl_metric_add(s->m_rate_limited, 1);
    http_reply_error(s, req, 429, "rate limit exceeded");
    return;
  }
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
  if (!path || !*path)
    path = "/";
  int ops = strcmp(path, "/") == 0 || strcmp(path, "/healthz") == 0 ||
            strcmp(path, "/readyz") == 0 || strcmp(path, "/metrics") == 0 ||
            strcmp(path, "/index.html") == 0;
  int api = strncmp(path, "/api/", 5) == 0;
  if (!ops && !api) {
    http_reply_error(s, req, 404, "no such endpoint");
    return;
  }
  if (!method_allowed(req)) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
    http_reply_error(s, req, 405, "method not allowed");
    return;
  }
  if ((api || strcmp(path, "/metrics") == 0) && !http_auth_ok(s, req)) {
    http_reply_error(s, req, 401, "missing or wrong bearer token");
    return;
  }
  if (strcmp(path, "/healthz") == 0) {
    static const char ok[] = "{\"status\":\"ok\"}";
    http_reply(s, req, 200, "application/json", ok, sizeof ok - 1);
  } else if (strcmp(path, "/readyz") == 0) {
    http_readyz(s, req);
  } else if (strcmp(path, "/metrics") == 0) {
    serve_metrics(s, req);
  } else if (!api) {
    serve_dashboard(s, req);
  } else if (strcmp(path, "/api/v1/events") == 0) {
    http_sse_start(s, req, conn);
  } else {
    http_api_route(s, req, path);
  }
}

static struct bufferevent *make_bev(struct event_base *base, void *arg) {
  sl_http_server *s = arg;
  SSL *ssl = SSL_new(s->ssl);
  if (!ssl)
    return NULL;
  return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                        BEV_OPT_CLOSE_ON_FREE);
}

/* Split "host:port" or "[v6]:port" into a host and a port. */
int http_parse_listen(const char *addr, char *host, size_t hostcap, int *port, sl_error *err) {
  const char *colon;
  size_t hl;
  if (addr[0] == '[') {
    const char *end = strchr(addr, ']');
    if (!end || end[1] != ':')
      goto bad;
    hl = (size_t)(end - addr - 1);
    memcpy(host, addr + 1, hl < hostcap ? hl : 0);
    colon = end + 1;
  } else {
    colon = strrchr(addr, ':');
    if (!colon)
      goto bad;
    hl = (size_t)(colon - addr);
    if (hl < hostcap)
      memcpy(host, addr, hl);
  }
  if (hl == 0 || hl >= hostcap)
    goto bad;
  host[hl] = '\0';
  char *endp;
  long p = strtol(colon + 1, &endp, 10);
  if (*endp || endp == colon + 1 || p < 0 || p > 65535)
    goto bad;
  *port = (int)p;
  return SL_OK;
bad:
  return sl_error_set(err, SL_ERR_INVALID,
                      "invalid listen address '%s' (expected HOST:PORT or [IPV6]:PORT)", addr);
}

static void *server_main(void *arg) {
  sl_http_server *s = arg;
  http_redis_start(s);
  event_base_dispatch(s->base);
  return NULL;
}

static char *dup_or_null(const char *p) { return p ? strdup(p) : NULL; }

static void init_metrics(sl_http_server *s) {
  static const char *classes[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (int i = 1; i <= 5; i++) {
    char labels[32];
    snprintf(labels, sizeof labels, "code=%s", classes[i]);
    s->m_requests[i] =
        sl_metrics_counter("sluice_http_requests_total", "HTTP responses by status class.", labels);
  }
  s->m_sse_clients = sl_metrics_gauge("sluice_http_sse_clients", "Connected SSE clients.", NULL);
  s->m_sse_dropped = sl_metrics_counter("sluice_http_sse_dropped_total",
                                        "SSE clients dropped for being too slow.", NULL);
  s->m_rate_limited = sl_metrics_counter("sluice_http_rate_limited_total",
                                         "Requests refused with 429 by the rate limit.", NULL);
}

static int copy_config(sl_http_server *s, const sl_http_config *cfg) {
  s->cfg = *cfg;
  s->listen = strdup(cfg->listen ? cfg->listen : "127.0.0.1:8080");
  s->tls_cert = dup_or_null(cfg->tls_cert);
  s->tls_key = dup_or_null(cfg->tls_key);
  const char *url = cfg->redis_url ? cfg->redis_url : getenv("SLUICE_REDIS_URL");
  s->redis_url = strdup(url && *url ? url : "redis://127.0.0.1:6379");
  s->pipelines = calloc(cfg->npipelines + 1, sizeof *s->pipelines);
  if (!s->listen || !s->redis_url || !s->pipelines)
    return SL_ERR_NOMEM;
  for (size_t i = 0; i < cfg->npipelines; i++)
    if (!(s->pipelines[i] = strdup(cfg->pipelines[i])))
      return SL_ERR_NOMEM;
  if (cfg->api_token) { /* "" disables auth even when $SLUICE_API_TOKEN is set */
    s->token = *cfg->api_token ? strdup(cfg->api_token) : NULL;
    s->token_len = strlen(cfg->api_token);
    if (*cfg->api_token && !s->token)
      return SL_ERR_NOMEM;
    s->cfg.token_file = NULL;
    s->token_set = 1;
  }
  s->cfg.api_token = NULL; /* only s->token is used after start */
  s->cfg.pipelines = (const char *const *)s->pipelines;
  if (!s->cfg.max_header_bytes)
    s->cfg.max_header_bytes = 8192;
  if (!s->cfg.max_body_bytes)
    s->cfg.max_body_bytes = 65536;
  if (!s->cfg.max_connections)
    s->cfg.max_connections = 256;
  if (s->cfg.rate_per_sec == 0)
    s->cfg.rate_per_sec = 100;
  if (s->cfg.rate_burst <= 0)
    s->cfg.rate_burst = s->cfg.rate_per_sec > 0 ? 2 * s->cfg.rate_per_sec : 0;
  if (!s->cfg.timeout_sec)
    s->cfg.timeout_sec = 60;
  if (!s->cfg.sse_keepalive_ms)
    s->cfg.sse_keepalive_ms = 15000;
  if (!s->cfg.sse_max_events)
    s->cfg.sse_max_events = 256;
  if (!s->cfg.sse_max_bytes)
    s->cfg.sse_max_bytes = 1u << 20;
  return SL_OK;
}

int http_bind(struct evhttp *http, const char *listen, int *bound_port, sl_error *err) {
  char host[256];
  int port = 0;
  int rc = http_parse_listen(listen, host, sizeof host, &port, err);
  if (rc != SL_OK)
    return rc;
  struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
  if (!bs)
    return sl_error_set(err, SL_ERR_IO,
                        "cannot listen on %s: address in use, not local, or not permitted",
                        listen);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
    *bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return SL_OK;
}

static int bind_listen(sl_http_server *s, sl_error *err) {
  return http_bind(s->http, s->listen, &s->port, err);
}

static void use_threads(void) { evthread_use_pthreads(); }

sl_http_server *sl_http_start(const sl_http_config *cfg, sl_error *err) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  /* libevent locking must be on before the first event_base is created. */
  pthread_once(&once, use_threads);
  sl_http_server *s = calloc(1, sizeof *s);
  if (!s) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory starting the HTTP server");
    return NULL;
  }
  int rc = copy_config(s, cfg);
  if (rc != SL_OK) {
    sl_error_set(err, rc, "out of memory starting the HTTP server");
    goto fail;
  }
  if (http_auth_load(s, err) != SL_OK)
    goto fail;
  if ((s->tls_cert || s->tls_key) && !(s->ssl = http_tls_ctx(s->tls_cert, s->tls_key, err)))
    goto fail;
  if (http_redis_init(s, err) != SL_OK)
    goto fail;
  if (http_limits_init(s) != SL_OK) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory starting the HTTP server");
    goto fail;
  }
  s->base = event_base_new();
  s->http = s->base ? evhttp_new(s->base) : NULL;
  if (!s->http) {
    sl_error_set(err, SL_ERR_NOMEM, "cannot create the HTTP event loop");
    goto fail;
  }
  init_metrics(s);
  evhttp_set_max_headers_size(s->http, (ev_ssize_t)s->cfg.max_header_bytes);
  evhttp_set_max_body_size(s->http, (ev_ssize_t)s->cfg.max_body_bytes);
  evhttp_set_timeout(s->http, (int)s->cfg.timeout_sec);
  /* Let every method reach on_request so wrong ones get a JSON 405 with Allow. */
  evhttp_set_allowed_methods(s->http, 0x1ff);
  evhttp_set_gencb(s->http, on_request, s);
  if (s->ssl)
    evhttp_set_bevcb(s->http, make_bev, s);
  if (bind_listen(s, err) != SL_OK)
    goto fail;
  if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
    sl_error_set(err, SL_ERR_INTERNAL, "cannot start the HTTP server thread");
    goto fail;
  }
  s->thread_started = 1;
  return s;
fail:
  sl_http_stop(s);
  return NULL;
}

int sl_http_port(const sl_http_server *s) { return s ? s->port : 0; }

static void break_loop(evutil_socket_t fd, short what, void *base) {
  (void)fd, (void)what;
  event_base_loopbreak(base);
}

void sl_http_stop(sl_http_server *s) {
  if (!s)
    return;
  if (s->thread_started) {
    /* Break from inside the loop: event_base_loop() forgets a loopbreak
     * made before it started, so a stop right after the start (a run that
     * ends within milliseconds) hung here. A pending zero timeout fires as
     * soon as the loop runs, whenever that is. */
    const struct timeval now = {0, 0};
    if (event_base_once(s->base, -1, EV_TIMEOUT, break_loop, s->base, &now) != 0)
      event_base_loopbreak(s->base);
    pthread_join(s->thread, NULL);
  }
  /* Redis first: its pending callbacks answer their requests (503) while the
   * connections still exist; then the connections, whose close callbacks
   * release SSE clients. */
  http_redis_free(s);
  if (s->http)
    evhttp_free(s->http);
  http_sse_free_all(s);
  if (s->base)
    event_base_free(s->base);
  http_limits_free(s);
  if (s->ssl)
    SSL_CTX_free(s->ssl);
  for (size_t i = 0; s->pipelines && s->pipelines[i]; i++)
    free(s->pipelines[i]);
  free(s->pipelines);
  if (s->token)
    OPENSSL_cleanse(s->token, s->token_len);
  free(s->token);
  free(s->listen);
  free(s->tls_cert);
  free(s->tls_key);
  free(s->redis_url);
  free(s);
}
