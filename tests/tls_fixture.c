/* SPDX-License-Identifier: Apache-2.0 */
/* https for the tests' fake servers (see tls_fixture.h). */
#include <event2/bufferevent_ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tls_fixture.h"

SSL_CTX *tls_fixture_server(char *dir, size_t dirlen) {
  snprintf(dir, dirlen, "/tmp/sluice-tls-XXXXXX");
  if (!mkdtemp(dir))
    return NULL;
  char cmd[1024], cert[300], key[300];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
           "-subj /CN=sluice-test -addext subjectAltName=IP:127.0.0.1 "
           "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
           dir, dir);
  if (system(cmd) != 0)
    return NULL;
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

struct bufferevent *tls_fixture_bevcb(struct event_base *base, void *ctx) {
  return bufferevent_openssl_socket_new(base, -1, SSL_new(ctx), BUFFEREVENT_SSL_ACCEPTING,
                                        BEV_OPT_CLOSE_ON_FREE);
}

void tls_fixture_cleanup(const char *dir) {
  char f[300];
  snprintf(f, sizeof f, "%s/cert.pem", dir);
  unlink(f);
  snprintf(f, sizeof f, "%s/key.pem", dir);
  unlink(f);
  rmdir(dir);
}
