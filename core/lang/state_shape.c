/* SPDX-License-Identifier: Apache-2.0 */
/* The stateful nodes of a pipeline and the shape of their state: the
 * options that decide how stored state is laid out and what it means
 * (state_compat.h). Options that only change what happens next (a filter,
 * an alert's condition, a window's delay or lateness) are not part of it. */
#include <stdlib.h>
#include <string.h>

#include "base/hash64.h"
#include "lang/state_compat.h"

/* Aggregate specs compare without white space: "avg( t )" is "avg(t)". */
static void put_compact(sl_buf *b, const char *s) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
      sl_buf_putc(b, *s);
}

static void put_list_line(sl_buf *b, const char *name, const sl_config *c, const char *key) {
  sl_buf_printf(b, "%s=", name);
  for (size_t i = 0; i < sl_config_list_len(c, key); i++)
    sl_buf_printf(b, "%s%s", i ? "," : "", sl_config_list_string(c, key, i));
  sl_buf_putc(b, '\n');
}

static void window_shape(sl_buf *b, const sl_config *c) {
  static const char *const kinds[] = {"tumbling", "hopping", "session"};
  sl_buf_puts(b, "window=");
  for (size_t i = 0; i < 3; i++)
    if (sl_config_has(c, kinds[i])) {
      sl_buf_printf(b, "%s ", kinds[i]);
      sl_graph_put_duration(b, sl_config_duration_ms(c, kinds[i], 0));
      if (i == 1) {
        sl_buf_puts(b, " every ");
        sl_graph_put_duration(b, sl_config_duration_ms(c, "every", 0));
      }
    }
  sl_buf_putc(b, '\n');
  put_list_line(b, "key", c, "key");
  const sl_config *agg = sl_config_table(c, "aggregate");
  for (size_t i = 0; i < sl_config_count(agg); i++) { /* config keys are sorted */
    const char *out = sl_config_key_at(agg, i);
    sl_buf_printf(b, "aggregate.%s=", out);
    put_compact(b, sl_config_string(agg, out, ""));
    sl_buf_putc(b, '\n');
  }
}

static char *shape_of(const sl_node_desc *n) {
  sl_buf b = SL_BUF_INIT;
  if (strcmp(n->type, "window") == 0)
    window_shape(&b, n->config);
  else if (strcmp(n->type, "alert") == 0)
    put_list_line(&b, "key", n->config, "key");
  else
    sl_buf_printf(&b, "operator=%s\n", n->type);
  char *s = b.data ? strndup(b.data, b.len) : strdup("");
  sl_buf_free(&b);
  return s;
}

static const char *root_topic(const sl_graph_desc *g, size_t i) {
  int id = (int)i;
  while (g->nodes[id].parent >= 0)
    id = g->nodes[id].parent;
  const sl_node_desc *src = &g->nodes[id];
  const char *t = sl_config_string(src->config, "topic", NULL);
  if (!t)
    t = sl_config_string(src->config, "path", NULL);
  return t ? t : src->type;
}

int sl_state_nodes(const sl_graph_desc *g, const sl_registry *reg, sl_state_node **out, size_t *n) {
  *out = NULL;
  *n = 0;
  sl_state_node *v = calloc(g->count ? g->count : 1, sizeof *v);
  if (!v)
    return SL_ERR_NOMEM;
  size_t k = 0;
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *d = &g->nodes[i];
    const sl_operator_desc *op =
        d->kind == SL_NODE_OPERATOR ? sl_registry_operator(reg, d->type) : NULL;
    if (!op || !op->snapshot || !op->restore)
      continue;
    sl_state_node *s = &v[k++];
    s->id = strdup(d->label);
    s->type = strdup(d->type);
    s->topic = strdup(root_topic(g, i));
    s->shape = shape_of(d);
    s->line = d->line;
    if (!s->id || !s->type || !s->topic || !s->shape) {
      sl_state_nodes_free(v, k);
      return SL_ERR_NOMEM;
    }
  }
  *out = v;
  *n = k;
  return SL_OK;
}

void sl_state_nodes_free(sl_state_node *v, size_t n) {
  for (size_t i = 0; v && i < n; i++) {
    free(v[i].id);
    free(v[i].type);
    free(v[i].topic);
    free(v[i].shape);
  }
  free(v);
}

void sl_state_fingerprint(const char *shape, char *out) {
  uint64_t h = sl_hash64(shape, strlen(shape), 0x5ea7e);
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++)
    out[i] = hex[(h >> (60 - 4 * i)) & 15];
  out[16] = '\0';
}
