/* SPDX-License-Identifier: Apache-2.0 */
/* https for the tests' fake servers: a fresh self-signed certificate for
 * 127.0.0.1 (made with openssl(1), which comes with ca-certificates) and an
 * evhttp bufferevent callback that serves TLS with it. */
#ifndef SLUICE_TEST_TLS_FIXTURE_H
#define SLUICE_TEST_TLS_FIXTURE_H

#include <stddef.h>
#include <openssl/ssl.h>

struct event_base;
struct bufferevent;

/* Makes dir (a new temporary directory) with cert.pem and key.pem and
 * returns a server context using them, NULL on failure. The certificate is
 * its own CA: clients trust it with dir/cert.pem. */
SSL_CTX *tls_fixture_server(char *dir, size_t dirlen);
/* For evhttp_set_bevcb(http, tls_fixture_bevcb, ctx). */
struct bufferevent *tls_fixture_bevcb(struct event_base *base, void *ctx);
/* Remove the files and the directory. */
void tls_fixture_cleanup(const char *dir);

#endif
