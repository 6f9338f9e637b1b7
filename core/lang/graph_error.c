/* SPDX-License-Identifier: Apache-2.0 */
/* The problems of a pipeline file, each recorded as "file:line: message" in
 * the graph description. The bottom of the graph files: the Lua loader, the
 * table declarations, every check pass and the validation in
 * engine/graph_validate.c report through here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/graph.h"

/* Append "file:line: <kind>message" to a growing list. */
static void add_message(const sl_graph_desc *g, char ***list, size_t *n, size_t *cap, int line,
                        const char *kind, const char *fmt, va_list ap) {
  char msg[900], full[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  snprintf(full, sizeof full, "%s:%d: %s%s", g->file, line, kind, msg);
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 8;
    char **ne = realloc(*list, ncap * sizeof *ne);
    if (!ne)
      return;
    *list = ne;
    *cap = ncap;
  }
  char *copy = strdup(full);
  if (copy)
    (*list)[(*n)++] = copy;
}

void sl_graph_error(sl_graph_desc *g, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_message(g, &g->errors, &g->nerrors, &g->caperrors, line, "", fmt, ap);
  va_end(ap);
}

void sl_graph_warning(sl_graph_desc *g, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_message(g, &g->warnings, &g->nwarnings, &g->capwarnings, line, "warning: ", fmt, ap);
  va_end(ap);
}
