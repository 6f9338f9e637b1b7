/* SPDX-License-Identifier: Apache-2.0 */
/* The graph description: building, walking and DOT/JSON renderings.
 * Problems are recorded by graph_error.c; validation against the registry
 * (which inits operators against the runtime's host) is engine/graph_validate.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/graph.h"
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
