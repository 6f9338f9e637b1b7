/* SPDX-License-Identifier: Apache-2.0 */
/* The graph description: building, validation against the registry (every
 * problem reported as file:line: message), and DOT/JSON renderings. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/host.h"
#include "expr/expr.h"
#include "lang/graph.h"
#include "lang/source_time.h"
#include "lang/table_decl.h"

void sl_graph_desc_free(sl_graph_desc *g) {
  if (!g)
    return;
  for (size_t i = 0; i < g->count; i++) {
    free(g->nodes[i].type);
    free(g->nodes[i].label);
    sl_config_destroy(g->nodes[i].config);
  }
  free(g->nodes);
  for (size_t i = 0; i < g->nerrors; i++)
    free(g->errors[i]);
  free(g->errors);
  sl_table_decls_free(g);
  for (size_t i = 0; i < g->nwarnings; i++)
    free(g->warnings[i]);
  free(g->warnings);
  sl_config_destroy(g->pipeline);
  free(g->file);
  free(g->name);
  free(g->state);
  free(g);
}

int sl_graph_add_node(sl_graph_desc *g, sl_node_kind kind, const char *type, sl_config *cfg,
                      int parent, int line) {
  if (!cfg)
    return -1;
  if (g->count == g->cap) {
    size_t ncap = g->cap ? g->cap * 2 : 16;
    sl_node_desc *n = realloc(g->nodes, ncap * sizeof *n);
    if (!n) {
      sl_config_destroy(cfg);
      return -1;
    }
    g->nodes = n;
    g->cap = ncap;
  }
  sl_node_desc *n = &g->nodes[g->count];
  memset(n, 0, sizeof *n);
  n->id = (int)g->count;
  n->kind = kind;
  n->type = strdup(type);
  n->label = strdup(type); /* until sl_graph_assign_ids gives the stable id */
  n->config = cfg;
  n->parent = parent;
  n->line = line;
  if (!n->type || !n->label) {
    free(n->type);
    free(n->label);
    sl_config_destroy(cfg);
    return -1;
  }
  return (int)g->count++;
}

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

size_t sl_graph_children(const sl_graph_desc *g, int id, int *out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < g->count; i++)
    if (g->nodes[i].parent == id && n < max)
      out[n++] = (int)i;
  return n;
}

int sl_graph_sole_path(const sl_graph_desc *g, int id) {
  if (id < 0 || (size_t)id >= g->count)
    return 0;
  /* Each node has one parent, so the records reaching `id` went down the
   * chain of its ancestors; another branch sees them iff an ancestor has a
   * second child. */
  for (int n = g->nodes[id].parent; n >= 0; n = g->nodes[n].parent) {
    int kids[2];
    if (sl_graph_children(g, n, kids, 2) != 1)
      return 0;
  }
  return 1;
}

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
    sl_graph_error(g, 1, "no pipeline declared: start with local p = sl.pipeline { name = "
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
        int has_path = sl_config_has(n->config, "path"), has_topic = sl_config_has(n->config, "topic");
        if (has_path == has_topic)
          sl_graph_error(g, n->line, "dead_letter needs exactly one of path = FILE or topic = NAME");
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
    sl_graph_error(g, g->pipeline_line,
                   "the pipeline has no source: add one such as p:file_source{path = \"in.jsonl\"}");
  sl_source_time_prepare(g, reg);
}

int sl_graph_uses_redis(const sl_graph_desc *g) {
  if (g->state && strcmp(g->state, "redis") == 0)
    return 1;
  if (sl_config_has(g->pipeline, "redis"))
    return 1;
  for (size_t i = 0; i < g->count; i++)
    if (strcmp(g->nodes[i].type, "cache") == 0)
      return 1;
  return 0;
}

void sl_graph_attach_alert_stores(sl_graph_desc *g) {
  if (!sl_graph_uses_redis(g))
    return;
  size_t n = g->count;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(g->nodes[i].type, "alert") != 0)
      continue;
    int has = 0;
    for (size_t k = 0; k < g->count; k++)
      has |= g->nodes[k].parent == (int)i && strcmp(g->nodes[k].type, "alert_store") == 0;
    int id = has ? -1
                 : sl_graph_add_node(g, SL_NODE_SINK, "alert_store",
                                     sl_config_new(g->file, g->nodes[i].line), (int)i,
                                     g->nodes[i].line);
    if (id >= 0)
      g->nodes[id].implicit = 1;
  }
  sl_graph_assign_ids(g);
}

size_t sl_graph_declared_count(const sl_graph_desc *g) {
  size_t n = 0;
  for (size_t i = 0; i < g->count; i++)
    n += !g->nodes[i].implicit;
  return n;
}

static void dot_escape(sl_buf *out, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      sl_buf_putc(out, '\\');
    if (*s == '\n')
      sl_buf_puts(out, "\\n");
    else
      sl_buf_putc(out, *s);
  }
}

/* A short description of a node for humans: its main option. */
static void node_summary(const sl_node_desc *n, sl_buf *out) {
  static const char *const keys[] = {"expr", "topic", "path", "tumbling", "hopping", "session",
                                     "name", "url", "format", "when", "fields"};
  sl_buf_puts(out, n->type);
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const char *v = sl_config_string(n->config, keys[i], NULL);
    if (v) {
      sl_buf_printf(out, "\n%s = %.60s", keys[i], v);
      break;
    }
  }
  const char *key = sl_config_list_len(n->config, "key") ? sl_config_list_string(n->config, "key", 0) : NULL;
  if (key && n->kind == SL_NODE_OPERATOR)
    sl_buf_printf(out, "\nkey = %s", key);
}

int sl_graph_dot(const sl_graph_desc *g, sl_buf *out) {
  sl_buf_puts(out, "digraph \"");
  dot_escape(out, g->name ? g->name : "pipeline");
  sl_buf_puts(out, "\" {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    const char *shape = n->kind == SL_NODE_SOURCE ? "cds" : n->kind == SL_NODE_SINK ? "folder" : "box";
    sl_buf label = SL_BUF_INIT;
    node_summary(n, &label);
    sl_buf_printf(out, "  n%d [shape=%s, label=\"", n->id, shape);
    if (strcmp(n->label, n->type) != 0) { /* the stable id first: it names state and metrics */
      dot_escape(out, n->label);
      sl_buf_puts(out, "\\n");
    }
    dot_escape(out, label.data ? label.data : n->type);
    sl_buf_printf(out, "\"%s];\n", strcmp(n->type, "dead_letter") == 0 ? ", style=dashed" : "");
    sl_buf_free(&label);
  }
  for (size_t i = 0; i < g->count; i++)
    if (g->nodes[i].parent >= 0)
      sl_buf_printf(out, "  n%d -> n%d;\n", g->nodes[i].parent, g->nodes[i].id);
  return sl_buf_puts(out, "}\n");
}

int sl_graph_json(const sl_graph_desc *g, sl_buf *out) {
  sl_buf_puts(out, "{\"name\":");
  sl_buf_json_string(out, g->name, strlen(g->name));
  sl_buf_puts(out, ",\"state\":");
  sl_buf_json_string(out, g->state, strlen(g->state));
  sl_buf_puts(out, ",\"nodes\":[");
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    sl_buf label = SL_BUF_INIT;
    node_summary(n, &label);
    sl_buf_printf(out, "%s{\"id\":%d,\"kind\":\"%s\",\"type\":", i ? "," : "", n->id,
                  n->kind == SL_NODE_SOURCE ? "source" : n->kind == SL_NODE_SINK ? "sink" : "operator");
    sl_buf_json_string(out, n->type, strlen(n->type));
    sl_buf_puts(out, ",\"label\":");
    sl_buf_json_string(out, n->label, strlen(n->label));
    sl_buf_puts(out, ",\"summary\":");
    sl_buf_json_string(out, label.data ? label.data : "", label.len);
    sl_buf_printf(out, ",\"line\":%d}", n->line);
    sl_buf_free(&label);
  }
  sl_buf_puts(out, "],\"edges\":[");
  int first = 1;
  for (size_t i = 0; i < g->count; i++)
    if (g->nodes[i].parent >= 0) {
      sl_buf_printf(out, "%s[%d,%d]", first ? "" : ",", g->nodes[i].parent, g->nodes[i].id);
      first = 0;
    }
  return sl_buf_puts(out, "]}");
}
