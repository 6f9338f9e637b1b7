/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice check` of a graph against the registry: unknown types, options,
 * expressions (with the column inside the pipeline file), a dry-run init of
 * every operator against the runtime's host (engine/host.c), then the passes
 * of lang/ (table declarations, connectors, fields, ids, source time). It
 * lives in engine/ because of that init: lang/ never calls the engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph_validate.h"
#include "engine/host.h"
#include "expr/expr.h"
#include "lang/source_time.h"
#include "lang/table_decl.h"

/* The 0-based line `line` of `text` (1-based) into buf. */
static const char *source_line(const char *text, int line, char *buf, size_t n) {
  if (!text || line < 1)
    return NULL;
  const char *p = text;
  for (int l = 1; l < line && p; l++) {
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  if (!p)
    return NULL;
  size_t len = strcspn(p, "\n");
  if (len >= n)
    len = n - 1;
  memcpy(buf, p, len);
  buf[len] = '\0';
  return buf;
}

/* Compile an expression option to report its errors with file line and
 * column (the column of the expression inside the pipeline file). */
static void check_expr(sl_graph_desc *g, const sl_node_desc *n, const char *key, const char *text,
                       const char *source_text) {
  sl_error err;
  sl_error_clear(&err);
  sl_expr *e = sl_expr_compile(text, n->line, &err);
  if (e) {
    sl_expr_free(e);
    return;
  }
  int col = err.column;
  char linebuf[2048];
  const char *first = text;
  size_t firstlen = strcspn(text, "\n");
  const char *src = source_line(source_text, err.line, linebuf, sizeof linebuf);
  if (src && err.line == n->line && firstlen > 0) {
    char needle[512];
    snprintf(needle, sizeof needle, "%.*s", (int)(firstlen < 511 ? firstlen : 511), first);
    const char *at = strstr(src, needle);
    if (at)
      col += (int)(at - src);
  }
  if (col > 0)
    sl_graph_error(g, err.line ? err.line : n->line, "%s: %s '%s': %s (column %d)", n->type, key,
                   text, err.message, col);
  else
    sl_graph_error(g, err.line ? err.line : n->line, "%s: %s: %s", n->type, key, err.message);
}

typedef struct problem_ctx {
  sl_graph_desc *g;
  int line;
} problem_ctx;

static void on_problem(void *ud, const sl_config *c, const char *msg) {
  problem_ctx *p = ud;
  (void)c;
  sl_graph_error(p->g, p->line, "%s", msg);
}

static void check_operator(sl_graph_desc *g, const sl_node_desc *n, const sl_operator_desc *d,
                           const char *source_text) {
  problem_ctx pc = {g, n->line};
  /* Option problems and expression problems are reported together; only
   * init (which stops at its first complaint) waits until both are clean. */
  int option_errors = sl_config_validate(n->config, d, on_problem, &pc);
  int expr_errors = 0;
  size_t before = g->nerrors;
  for (size_t i = 0; i < sl_config_count(n->config); i++) {
    const char *key = sl_config_key_at(n->config, i);
    sl_config_type t = d->free_key_type;
    int known = 0;
    for (const sl_config_entry *e = d->config; e && e->key; e++)
      if (strcmp(e->key, key) == 0) {
        t = e->type;
        known = 1;
      }
    if (!known && !(d->flags & SL_OP_FREE_KEYS))
      continue;
    if ((t == SL_CFG_EXPR || t == SL_CFG_EXPR_OR_FUNCTION) &&
        sl_config_kind_of(n->config, key) == SL_CV_STRING)
      check_expr(g, n, key, sl_config_string(n->config, key, ""), source_text);
  }
  expr_errors = g->nerrors > before;
  /* init would compile the broken expressions again; option problems it does
   * not see (a bad duration reads as the default), so it still runs and adds
   * what only it knows (an unknown aggregate function, `every` missing). */
  (void)option_errors;
  if (expr_errors)
    return;
  sl_error err;
  sl_error_clear(&err);
  if (sl_host_check_operator(d, n->config, n->label, &err) != SL_OK) {
    /* One problem per line (an operator may list several). Operators name
     * themselves in some ("window: hopping windows need `every`"): prefix
     * only those that do not, never "window: window:". */
    size_t tl = strlen(n->type);
    for (char *line = err.message, *next; line && *line; line = next) {
      next = strchr(line, '\n');
      if (next)
        *next++ = '\0';
      int named = strncmp(line, n->type, tl) == 0 && line[tl] == ':';
      sl_graph_error(g, n->line, "%s%s%s", named ? "" : n->type, named ? "" : ": ", line);
    }
  }
}

static const sl_config_entry dead_letter_map[] = {
    {"path", SL_CFG_STRING, 0, NULL, "JSON Lines file receiving failed records"},
    {"topic", SL_CFG_STRING, 0, NULL, "Kafka topic receiving failed records"},
    {NULL, 0, 0, NULL, NULL},
};
static const sl_operator_desc dead_letter_desc = {.name = "dead_letter", .config = dead_letter_map};

void sl_graph_validate(sl_graph_desc *g, const sl_registry *reg, const char *source_text) {
  /* After a Lua error the script stopped before declaring everything:
   * "no pipeline declared" or "no source" would be false (and sort first). */
  if (!g->pipeline && !g->aborted)
    sl_graph_error(g, 1,
                   "no pipeline declared: start with local p = sl.pipeline { name = "
                   "\"...\" } (and local sl = require \"sluice\")");
  sl_graph_assign_ids(g);
  size_t sources = 0;
  for (size_t i = 0; i < g->count; i++) {
    sl_node_desc *n = &g->nodes[i];
    problem_ctx pc = {g, n->line};
    if (n->open) {
      if (n->open == 1)
        sl_graph_error(g, n->line, "window must be followed by :aggregate{...}");
      continue;
    }
    if (n->kind == SL_NODE_SOURCE) {
      sources++;
      const sl_source_desc *d = sl_registry_source(reg, n->type);
      sl_operator_desc shim = {.name = d->name, .config = d->config};
      sl_config_validate(n->config, &shim, on_problem, &pc);
    } else if (n->kind == SL_NODE_SINK) {
      if (strcmp(n->type, "dead_letter") == 0) {
        sl_config_validate(n->config, &dead_letter_desc, on_problem, &pc);
        int has_path = sl_config_has(n->config, "path"),
            has_topic = sl_config_has(n->config, "topic");
        if (has_path == has_topic)
          sl_graph_error(g, n->line,
                         "dead_letter needs exactly one of path = FILE or topic = NAME");
        continue;
      }
      const sl_sink_desc *d = sl_registry_sink(reg, n->type);
      sl_operator_desc shim = {.name = d->name, .config = d->config};
      sl_config_validate(n->config, &shim, on_problem, &pc);
    } else {
      const sl_operator_desc *d = sl_registry_operator(reg, n->type);
      if (!d) {
        sl_graph_error(g, n->line, "unknown operator '%s'", n->type);
        continue;
      }
      check_operator(g, n, d, source_text);
    }
  }
  sl_table_decls_validate(g);
  sl_graph_check_connectors(g, reg);
  sl_graph_check_fields(g);
  if (g->nerrors == 0)
    sl_graph_warn_fragile_ids(g, reg);
  if (g->pipeline && sources == 0 && !g->aborted)
    sl_graph_error(
        g, g->pipeline_line,
        "the pipeline has no source: add one such as p:file_source{path = \"in.jsonl\"}");
  sl_source_time_prepare(g, reg);
}
