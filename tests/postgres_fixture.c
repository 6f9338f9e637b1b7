/* SPDX-License-Identifier: Apache-2.0 */
/* Test fixture: a private PostgreSQL cluster per suite (postgres_fixture.h).
 * The server tools run from scripts/postgres-server.sh, the same helper the
 * end-to-end script, the benchmark and the demo use: one way to start it. */
#include "postgres_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define PGF_SCRIPT SLUICE_SOURCE_DIR "/scripts/postgres-server.sh"

/* Run the helper with `cmd`; its stdout (first line) into `out`. */
static int helper(pgf_server *s, const char *cmd, char *out, size_t cap) {
  char line[512];
  snprintf(line, sizeof line, "'%s' %s '%s'", PGF_SCRIPT, cmd, s->dir);
  FILE *p = popen(line, "r");
  if (!p)
    return -1;
  char buf[256] = "";
  if (!fgets(buf, sizeof buf, p))
    buf[0] = '\0';
  int st = pclose(p);
  buf[strcspn(buf, "\n")] = '\0';
  if (out)
    snprintf(out, cap, "%s", buf);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int pgf_start(pgf_server *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "/tmp/sluice-pg-XXXXXX");
  if (!mkdtemp(s->dir))
    return -1;
  char line[200];
  if (helper(s, "start", line, sizeof line) != 0 || strncmp(line, "SLUICE_POSTGRES_URL=", 20)) {
    fprintf(stderr, "postgres fixture: cannot start a server in %s\n", s->dir);
    pgf_stop(s);
    return -1;
  }
  snprintf(s->url, sizeof s->url, "%s", line + 20);
  s->running = 1;
  return 0;
}

int pgf_restart(pgf_server *s) { return helper(s, "restart", NULL, 0); }

int pgf_down(pgf_server *s) {
  int rc = helper(s, "stop", NULL, 0);
  s->running = rc != 0;
  return rc;
}

int pgf_start_again(pgf_server *s) {
  int rc = helper(s, "start-again", NULL, 0);
  s->running = rc == 0;
  return rc;
}

void pgf_stop(pgf_server *s) {
  if (!s->dir[0])
    return;
  if (s->running)
    helper(s, "stop", NULL, 0);
  s->running = 0;
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "postgres fixture: cannot remove %s\n", s->dir);
  s->dir[0] = '\0';
}

int pgf_query(pgf_server *s, const char *sql, char *out, size_t cap) {
  char path[160], cmd[512];
  snprintf(path, sizeof path, "%s/query.sql", s->dir);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fputs(sql, f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "psql '%s' -X -q -At -F '|' -v ON_ERROR_STOP=1 -f '%s' 2>&1", s->url,
           path);
  FILE *p = popen(cmd, "r");
  if (!p)
    return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  while (n && out[n - 1] == '\n')
    out[--n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}
