/* SPDX-License-Identifier: Apache-2.0 */
/* A throwaway PostgreSQL cluster for integration tests, run through
 * scripts/postgres-server.sh (an unprivileged cluster in a fresh temp dir on
 * a free loopback port; as root it runs as the `postgres` user). */
#ifndef SLUICE_TEST_POSTGRES_FIXTURE_H
#define SLUICE_TEST_POSTGRES_FIXTURE_H

#include <stddef.h>

typedef struct pgf_server {
  char dir[128];
  char url[256]; /* postgresql://postgres@127.0.0.1:PORT/postgres */
  int running;
} pgf_server;

/* Start a new cluster; 0 on success, -1 otherwise (message on stderr). */
int pgf_start(pgf_server *s);
/* Fast shutdown (clients are disconnected) and start on the same port. */
int pgf_restart(pgf_server *s);
/* Fast shutdown, keeping the data; pgf_start_again brings it back. */
int pgf_down(pgf_server *s);
int pgf_start_again(pgf_server *s);
/* Stop and remove the dir. Safe to call twice. */
void pgf_stop(pgf_server *s);
/* Run `sql` with psql (unaligned, '|' between fields, one row a line);
 * the output into `out` (NUL-terminated, trailing newline removed).
 * 0 on success, -1 when psql failed (its error in `out`). */
int pgf_query(pgf_server *s, const char *sql, char *out, size_t cap);

#endif
