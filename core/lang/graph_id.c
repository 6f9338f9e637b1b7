/* SPDX-License-Identifier: Apache-2.0 */
/* Stable node ids. State keys, metric labels, output ids and dead letters
 * are keyed by a node's id, so an id must not move when unrelated parts of
 * the pipeline change. A node's id is its `id = "..."` option or, without
 * one, is derived from the node's kind and the options that identify it
 * (a window's kind, size and key; a sink's topic; an alert's name), never
 * from its position. Where two derived ids collide, the first node in
 * declaration order keeps the bare id and the others get "~2", "~3": only
 * nodes of the colliding group are affected (docs/pipeline-language.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash64.h"
#include "base/log.h"
#include "lang/graph.h"

#define ID_MAX 100  /* longest explicit id */
#define PART_MAX 48 /* longest option value inside a derived id */

int sl_graph_set_node_id(sl_graph_desc *g, int node, const char *id) {
  if (node < 0 || (size_t)node >= g->count)
    return SL_ERR_INVALID;
  char *copy = strdup(id);
  if (!copy)
    return SL_ERR_NOMEM;
  free(g->nodes[node].label);
  g->nodes[node].label = copy;
  g->nodes[node].explicit_id = 1;
  return SL_OK;
}

int sl_graph_find_id(const sl_graph_desc *g, const char *id) {
  for (size_t i = 0; i < g->count; i++)
    if (g->nodes[i].label && strcmp(g->nodes[i].label, id) == 0)
      return (int)i;
  return -1;
}

static int id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         strchr("_-.:/#@~", c) != NULL;
}

/* Append `s` to the id being built, characters outside the id alphabet
 * replaced by '_', at most PART_MAX of them. */
static void put_part(sl_buf *b, const char *s) {
  for (size_t i = 0; s[i] && i < PART_MAX; i++)
    sl_buf_putc(b, id_char(s[i]) ? s[i] : '_');
}

/* A duration in its largest exact unit: "10s", "1500ms", "5m". Options
 * written as "10000ms" or "10s" give the same id. */
void sl_graph_put_duration(sl_buf *b, int64_t ms) {
  static const struct {
    int64_t ms;
    const char *unit;
  } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (ms > 0 && ms % units[i].ms == 0) {
      sl_buf_printf(b, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
      return;
    }
  sl_buf_printf(b, "%lldms", (long long)ms);
}

/* The text of a string-list option joined by ',' ("a,b"). */
static void put_list(sl_buf *b, const sl_config *c, const char *key) {
  for (size_t i = 0; i < sl_config_list_len(c, key); i++) {
    if (i)
      sl_buf_putc(b, ',');
    put_part(b, sl_config_list_string(c, key, i));
  }
}

/* A short hash of a text that is too free-form to sit in an id (a filter
 * expression, a URL that may carry credentials). Runs of white space count
 * as one space, so re-indenting an expression keeps the id. */
static void put_hash(sl_buf *b, const char *text) {
  sl_buf norm = SL_BUF_INIT;
  int space = 0;
  for (const char *p = text; *p; p++) {
    int ws = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
    if (ws) {
      space = norm.len > 0;
      continue;
    }
    if (space)
      sl_buf_putc(&norm, ' ');
    space = 0;
    sl_buf_putc(&norm, *p);
  }
  uint64_t h = sl_hash64(norm.data ? norm.data : "", norm.len, 0x51c1d);
  sl_buf_printf(b, "%08x", (unsigned)(h >> 32));
  sl_buf_free(&norm);
}

static void derive_window(sl_buf *b, const sl_config *c) {
  static const char *const kinds[] = {"tumbling", "hopping", "session"};
  for (size_t i = 0; i < 3; i++)
    if (sl_config_has(c, kinds[i])) {
      sl_buf_printf(b, ":%s-", kinds[i]);
      sl_graph_put_duration(b, sl_config_duration_ms(c, kinds[i], 0));
      if (i == 1 && sl_config_has(c, "every")) {
        sl_buf_putc(b, '-');
        sl_graph_put_duration(b, sl_config_duration_ms(c, "every", 0));
      }
      break;
    }
  if (sl_config_list_len(c, "key")) {
    sl_buf_putc(b, ':');
    put_list(b, c, "key");
  }
}

/* map{a = EXPR, b = EXPR}: the names of the fields it sets. */
static void derive_map(sl_buf *b, const sl_config *c) {
  size_t n = 0;
  for (size_t i = 0; i < sl_config_count(c); i++) {
    const char *k = sl_config_key_at(c, i);
    if (strcmp(k, "fn") == 0)
      continue;
    sl_buf_putc(b, n++ ? ',' : ':');
    put_part(b, k);
  }
  if (!n && sl_config_has(c, "fn"))
    sl_buf_puts(b, ":fn");
}

/* Options whose value names a node of a given type, first present wins. */
static const struct {
  const char *type;
  const char *keys[3];
} identifying[] = {
    {"kafka_source", {"topic"}}, {"file_source", {"path"}}, {"kafka_sink", {"topic"}},
    {"file_sink", {"path"}},     {"table", {"topic", "path"}}, {"cache", {"name"}},
    {"alert", {"name"}},         {"decode", {"format"}},    {"encode", {"format"}},
    {"postgres_sink", {"table"}}, {"enrich", {"table"}},    {"dead_letter", {NULL}},
    {"stdout_sink", {NULL}},     {"stdin_source", {NULL}},  {"simulator", {"topic"}},
};

void sl_graph_derive_id(const sl_graph_desc *g, size_t i, char *buf, size_t len) {
  const sl_node_desc *n = &g->nodes[i];
  const sl_config *c = n->config;
  sl_buf b = SL_BUF_INIT;
  sl_buf_puts(&b, n->type);
  if (strcmp(n->type, "window") == 0) {
    derive_window(&b, c);
  } else if (strcmp(n->type, "filter") == 0) {
    const char *expr = sl_config_kind_of(c, "expr") == SL_CV_STRING
                           ? sl_config_string(c, "expr", "")
                           : NULL;
    sl_buf_putc(&b, ':');
    if (expr)
      put_hash(&b, expr);
    else
      sl_buf_puts(&b, "fn");
  } else if (strcmp(n->type, "map") == 0) {
    derive_map(&b, c);
  } else if (strcmp(n->type, "select") == 0) {
    sl_buf_putc(&b, ':');
    put_list(&b, c, "fields");
  } else if (strcmp(n->type, "webhook") == 0) {
    sl_buf_putc(&b, ':');
    put_hash(&b, sl_config_string(c, "url", ""));
  } else if (strcmp(n->type, "alert_store") == 0 && n->parent >= 0) {
    /* One per alert, named after it, so it moves only with its alert. */
    sl_buf_putc(&b, ':');
    sl_buf_puts(&b, g->nodes[n->parent].label ? g->nodes[n->parent].label : "");
  } else {
    const char *const *keys = NULL;
    for (size_t k = 0; k < sizeof identifying / sizeof identifying[0]; k++)
      if (strcmp(identifying[k].type, n->type) == 0)
        keys = identifying[k].keys;
    /* Plugin operators and anything not listed: their `name` option, if any. */
    static const char *const fallback[] = {"name", NULL};
    for (const char *const *k = keys ? keys : fallback; *k; k++)
      if (sl_config_kind_of(c, *k) == SL_CV_STRING) {
        sl_buf_putc(&b, ':');
        put_part(&b, sl_config_string(c, *k, ""));
        break;
      }
  }
  snprintf(buf, len, "%s", b.data ? b.data : n->type);
  sl_buf_free(&b);
}

static int check_explicit(sl_graph_desc *g, size_t i) {
  const sl_node_desc *n = &g->nodes[i];
  const char *id = n->label;
  size_t len = strlen(id);
  if (len == 0 || len > ID_MAX) {
    sl_graph_error(g, n->line, "%s: id must be 1 to %d characters long", n->type, ID_MAX);
    return 0;
  }
  for (size_t k = 0; k < len; k++)
    if (!id_char(id[k])) {
      sl_graph_error(g, n->line,
                     "%s: id '%s': character '%c' not allowed (use letters, digits and _-.:/#@~)",
                     n->type, id, id[k]);
      return 0;
    }
  for (size_t k = 0; k < i; k++)
    if (g->nodes[k].explicit_id && strcmp(g->nodes[k].label, id) == 0) {
      sl_graph_error(g, n->line, "%s: duplicate id '%s' (also the id of the %s at %s:%d)",
                     n->type, id, g->nodes[k].type, g->file, g->nodes[k].line);
      return 0;
    }
  return 1;
}

/* Is `id` taken by an explicit id or by a derived id assigned before? */
static int taken(const sl_graph_desc *g, const char *id, const char *const *derived, size_t upto) {
  for (size_t k = 0; k < g->count; k++) {
    if (g->nodes[k].explicit_id && strcmp(g->nodes[k].label, id) == 0)
      return 1;
    if (k < upto && derived[k] && strcmp(derived[k], id) == 0)
      return 1;
  }
  return 0;
}

void sl_graph_assign_ids(sl_graph_desc *g) {
  for (size_t i = 0; i < g->count && !g->ids_checked; i++)
    if (g->nodes[i].explicit_id)
      check_explicit(g, i);
  g->ids_checked = 1;
  char **derived = calloc(g->count ? g->count : 1, sizeof *derived);
  if (!derived)
    return;
  /* In declaration order: the first of a colliding group keeps the bare id.
   * alert_store nodes come after their alert, so the alert's id is final. */
  for (size_t i = 0; i < g->count; i++) {
    sl_node_desc *n = &g->nodes[i];
    if (n->explicit_id)
      continue;
    char base[256], id[272];
    sl_graph_derive_id(g, i, base, sizeof base);
    snprintf(id, sizeof id, "%s", base);
    for (int k = 2; taken(g, id, (const char *const *)derived, i); k++)
      snprintf(id, sizeof id, "%s~%d", base, k);
    derived[i] = strdup(id);
    if (derived[i]) {
      free(n->label);
      n->label = strdup(id);
    }
  }
  for (size_t i = 0; i < g->count; i++)
    free(derived[i]);
  free(derived);
}

int sl_graph_fragile_id(const sl_graph_desc *g, const sl_registry *reg, size_t i) {
  const sl_node_desc *n = &g->nodes[i];
  const sl_operator_desc *op =
      n->kind == SL_NODE_OPERATOR ? sl_registry_operator(reg, n->type) : NULL;
  return !n->explicit_id && strchr(n->label, '~') && op && op->snapshot;
}

void sl_graph_warn_fragile_ids(const sl_graph_desc *g, const sl_registry *reg) {
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    if (!sl_graph_fragile_id(g, reg, i))
      continue;
    sl_log(SL_LOG_WARN, "graph",
           "%s:%d: the %s's state is stored under '%s', a derived id with a counter: a %s with "
           "the same options added above it would take that id; give it id = \"...\"",
           g->file, n->line, n->type, n->label, n->type);
  }
}
