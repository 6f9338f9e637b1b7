/* SPDX-License-Identifier: Apache-2.0 */
/* TLS for sluice's outgoing HTTP clients (webhook, schema registry): one
 * place decides what is trusted and how the server is checked. Internal. */
#ifndef SLUICE_HTTPS_CLIENT_H
#define SLUICE_HTTPS_CLIENT_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "sluice/error.h"

struct event_base;
struct bufferevent;
struct evhttp_connection;

/* A client context verifying servers against `ca` (a PEM file) or, when
 * NULL, the system's CA store. `who` prefixes the error ("webhook"). NULL
 * with err set on failure; free with SSL_CTX_free. */
SSL_CTX *sl_https_ctx_new(const char *ca, const char *who, sl_error *err);
/* A connecting TLS bufferevent for `host`: a name is checked against the
 * certificate's DNS names and sent as SNI, an address against its IP
 * names. NULL on failure. */
struct bufferevent *sl_https_bev(struct event_base *base, SSL_CTX *ctx, const char *host);
/* When the connection's TLS handshake refused the server's certificate,
 * writes why into buf ("TLS: the server's certificate: ...") and returns
 * buf; NULL otherwise (and for plain http connections). */
const char *sl_https_refusal(struct evhttp_connection *conn, char *buf, size_t len);

#endif
