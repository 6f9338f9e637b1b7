/* SPDX-License-Identifier: Apache-2.0 */
/* TLS for the HTTP clients (see https_client.h). */
#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/x509v3.h>
#include <stdio.h>

#include "https_client.h"

SSL_CTX *sl_https_ctx_new(const char *ca, const char *who, sl_error *err) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    sl_error_set(err, SL_ERR_INTERNAL, "%s: cannot create a TLS context", who);
    return NULL;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  if (ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
    sl_error_set(err, SL_ERR_INVALID,
                 "%s: cannot read CA certificates from '%s' (a PEM file is expected)", who, ca);
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (!ca && SSL_CTX_set_default_verify_paths(ctx) != 1) {
    sl_error_set(err, SL_ERR_INVALID, "%s: cannot load the system CA certificates", who);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

struct bufferevent *sl_https_bev(struct event_base *base, SSL_CTX *ctx, const char *host) {
  SSL *ssl = SSL_new(ctx);
  if (!ssl)
    return NULL;
  unsigned char ip[16];
  if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1) {
    /* an address: the certificate names it as an IP; SNI takes no addresses */
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
  } else {
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set1_host(ssl, host);
  }
  /* bufferevent_openssl frees ssl when it fails */
  return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

const char *sl_https_refusal(struct evhttp_connection *conn, char *buf, size_t len) {
  struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
  SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
  long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (v == X509_V_OK)
    return NULL;
  snprintf(buf, len, "TLS: the server's certificate: %s", X509_verify_cert_error_string(v));
  return buf;
}
