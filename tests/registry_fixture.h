/* SPDX-License-Identifier: Apache-2.0 */
/* A fake Confluent schema registry for tests: evhttp on a free loopback port
 * in its own thread. Serves GET /schemas/ids/{id} from a table and
 * POST /subjects/{subject}/versions (same schema text -> same id), counts
 * requests per id and remembers the last Authorization header. */
#ifndef SLUICE_TEST_REGISTRY_FIXTURE_H
#define SLUICE_TEST_REGISTRY_FIXTURE_H

#include <openssl/ssl.h>
#include <pthread.h>

#define FR_MAX 16

typedef struct fr_schema {
  int id;
  char *json;
  char subject[128]; /* "" when preloaded */
} fr_schema;

typedef struct fr_server {
  struct event_base *base;
  struct evhttp *http;
  pthread_t thread;
  pthread_mutex_t mu;
  int port;
  char url[64];      /* http://127.0.0.1:PORT */
  int answer_status; /* nonzero: answer every request with this status */
  int requests;      /* all requests */
  int gets[FR_MAX];  /* GET requests per schema slot */
  int unknown_gets;  /* GETs of ids not in the table */
  int posts;
  fr_schema schemas[FR_MAX];
  int nschemas;
  int next_id;    /* for registrations; starts at 100 */
  char auth[256]; /* Authorization of the last request */
  char last_path[256];
  SSL_CTX *tls; /* https when set */
} fr_server;

/* 0 on success. */
int fr_start(fr_server *s);
/* The same over https with `tls` (tests/tls_fixture.h; the server owns it
 * from then on): url is https://127.0.0.1:PORT. */
int fr_start_tls(fr_server *s, SSL_CTX *tls);
void fr_stop(fr_server *s);
/* Serve `json` under `id`. Call before requests are made or under no load. */
void fr_add(fr_server *s, int id, const char *json);
/* Thread-safe reads. */
int fr_requests(fr_server *s);
int fr_gets(fr_server *s, int id); /* GETs of a served id */
void fr_auth(fr_server *s, char *out, size_t n);
/* Schema registered under `subject`, its id in *id; NULL if none. Copy in out. */
int fr_registered(fr_server *s, const char *subject, int *id, char *out, size_t n);

/* A loopback port with nothing listening (connections refused). */
int fr_closed_port(void);
/* A listening socket that never accepts: connects succeed, nothing answers.
 * Returns the fd (close it after); *port gets its port. */
int fr_silent_listener(int *port);

#endif
