/* SPDX-License-Identifier: Apache-2.0 */
/* Bearer-token authentication and the TLS context of the HTTP server.
 * Tokens are compared through their SHA-256 digests with CRYPTO_memcmp, so the
 * time taken depends on neither the position of the first wrong byte nor the
 * length of the expected token. */
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

static char *read_token_file(const char *path, sl_error *err) {
  FILE *f = fopen(path, "r");
  if (!f) {
    sl_error_set(err, SL_ERR_IO, "cannot read the API token file %s", path);
    return NULL;
  }
  char line[1024];
  char *tok = NULL;
  if (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    tok = strdup(line);
  }
  fclose(f);
  OPENSSL_cleanse(line, sizeof line);
  if (!tok || !*tok) {
    free(tok);
    sl_error_set(err, SL_ERR_INVALID, "the API token file %s is empty", path);
    return NULL;
  }
  return tok;
}

int http_auth_load(sl_http_server *s, sl_error *err) {
  const sl_http_config *c = &s->cfg;
  const char *tok = NULL;
  /* copy_config cleared cfg.api_token; sl_http_start kept it in s->token. */
  if (s->token_set)
    return SL_OK;
  if (c->token_file) {
    s->token = read_token_file(c->token_file, err);
    if (!s->token)
      return err ? err->code : SL_ERR_IO;
    s->token_len = strlen(s->token);
    return SL_OK;
  }
  tok = getenv("SLUICE_API_TOKEN");
  if (tok && *tok) {
    if (!(s->token = strdup(tok)))
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    s->token_len = strlen(tok);
  }
  return SL_OK;
}

int http_auth_ok(const sl_http_server *s, struct evhttp_request *req) {
  if (!s->token)
    return 1;
  const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  if (!h || strncasecmp(h, "Bearer ", 7) != 0)
    return 0;
  h += 7;
  while (*h == ' ')
    h++;
  unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)s->token, s->token_len, want);
  SHA256((const unsigned char *)h, strlen(h), got);
  return CRYPTO_memcmp(want, got, sizeof want) == 0;
}

SSL_CTX *http_tls_ctx(const char *cert, const char *key, sl_error *err) {
  if (!cert || !key) {
    sl_error_set(err, SL_ERR_INVALID, "TLS needs both a certificate and a key file");
    return NULL;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    sl_error_set(err, SL_ERR_NOMEM, "cannot create a TLS context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    sl_error_set(err, SL_ERR_IO, "cannot load the TLS certificate %s: %s", cert,
                 ERR_reason_error_string(ERR_get_error()));
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    sl_error_set(err, SL_ERR_IO, "cannot load the TLS key %s or it does not match %s: %s", key,
                 cert, ERR_reason_error_string(ERR_get_error()));
    goto fail;
  }
  return ctx;
fail:
  ERR_clear_error();
  SSL_CTX_free(ctx);
  return NULL;
}
