/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server: operations endpoints (/healthz, /readyz, /metrics), the
 * application API (/api/v1/...), Server-Sent Events and the dashboard.
 *
 * It runs in its own thread with its own libevent event_base and reaches the
 * rest of sluice only through thread-safe APIs: the metrics registry, the
 * event bus, Redis, and the callbacks below (which it calls on its thread). */
#ifndef SLUICE_HTTP_SERVER_H
#define SLUICE_HTTP_SERVER_H

#include <stddef.h>

#include "base/buf.h"
#include "sluice/error.h"

typedef struct sl_http_server sl_http_server;

typedef struct sl_http_config {
  const char *listen;    /* "127.0.0.1:8080", "[::1]:8080", port 0 = any; NULL = default */
  const char *api_token; /* bearer token for /api/... and /metrics; "" = no auth;
                            NULL = token_file, else $SLUICE_API_TOKEN, else no auth */
  const char *token_file; /* file whose first line is the token (used when api_token NULL) */
  const char *tls_cert;   /* PEM certificate chain; with tls_key, serve HTTPS only */
  const char *tls_key;    /* PEM private key */
  const char *redis_url;  /* redis://... or redis+sentinel://... (connectors/redis.h);
                             NULL = $SLUICE_REDIS_URL or redis://127.0.0.1:6379 */
  const char *const *pipelines; /* pipeline names whose sl:alerts:<name> are listed */
  size_t npipelines;
  int serve_mode; /* `sluice serve`: relay Redis pub/sub `sl:events` to SSE clients
                     and SCAN sl:alerts:* for alerts */

  /* Limits; 0 picks the default given in brackets. */
  size_t max_header_bytes; /* [8192] request line + headers */
  size_t max_body_bytes;   /* [65536] */
  size_t max_connections;  /* [256] concurrent client connections */
  double rate_per_sec;     /* [100] requests per second per client IP; < 0 disables */
  double rate_burst;       /* [200] */
  unsigned timeout_sec;    /* [60] idle read/write timeout of a connection */
  unsigned sse_keepalive_ms; /* [15000] comment line sent to idle SSE clients */
  size_t sse_max_events;     /* [256] events queued per SSE client before it is dropped */
  size_t sse_max_bytes;      /* [1 MiB] bytes queued per SSE client before it is dropped */

  /* Runtime callbacks, called on the server thread (the runtime makes them
   * thread-safe). Both may be NULL (serve mode). */
  int (*ready)(void *ud); /* nonzero when sources are assigned and processing */
  /* Why not ready (static text, or written into buf of cap bytes: the
   * dependency that failed and its error), NULL when ready; may be NULL,
   * then /readyz gives a generic reason. */
  const char *(*not_ready)(void *ud, char *buf, size_t cap);
  /* Append the pipelines document to `out`:
   * {"pipelines":[{"name":..,"status":"running","nodes":[{"id":..,"kind":..,"label":..}],
   *   "edges":[{"from":..,"to":..}],"caches":[..]}]}; return SL_OK or a status. */
  int (*pipelines_json)(void *ud, sl_buf *out);
  /* GET /api/v1/tables/{table}/{key} (lookup tables, p:table{}): the entry
   * as a JSON object into `out`; SL_ERR_NOT_FOUND for no such table or key.
   * May be NULL (serve mode: 404). */
  int (*table_entry)(void *ud, const char *table, const char *key, sl_buf *out);
  void *ud;
} sl_http_config;

/* Bind the listening socket, connect to Redis (asynchronously: an unreachable
 * Redis only makes /readyz fail), and start the server thread. `cfg` is
 * copied. Returns NULL with `err` filled when the address is invalid or in use,
 * the token file or TLS files cannot be read, or memory runs out. */
sl_http_server *sl_http_start(const sl_http_config *cfg, sl_error *err);
/* The bound TCP port (useful with port 0). */
int sl_http_port(const sl_http_server *s);
/* Stop the thread, close every connection, free everything. NULL is a no-op. */
void sl_http_stop(sl_http_server *s);

#endif
