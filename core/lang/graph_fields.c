/* SPDX-License-Identifier: Apache-2.0 */
/* Field names against a declared Avro schema, for `sluice check`: below a
 * decode{format = "avro", schema = FILE}, every field that a filter, map,
 * select, window (key, time), aggregate or alert reads must exist in the
 * records at that point. An unknown field evaluates to null, so a typo
 * (`filter "temprature > 90"`) would otherwise drop every record without a
 * word. The field set follows the graph: map adds its outputs, select keeps
 * its list, window + aggregate produce keys, window bounds and aggregates.
 * Past any other node (a plugin, encode, enrich) the shape is unknown and
 * nothing more is checked. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "codec/format.h"
#include "expr/expr.h"
#include "lang/graph.h"
#include "state/aggregate.h"

/* A set of dotted paths. `opaque` paths (not records: maps, arrays,
 * scalars, map outputs) accept anything below them. */
typedef struct field_set {
  char **path;
  unsigned char *opaque;
  size_t n, cap;
  char origin[300]; /* where the shape comes from, for messages */
} field_set;

static void fs_free(field_set *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->path[i]);
  free(s->path);
  free(s->opaque);
  memset(s, 0, sizeof *s);
}

static void fs_add(field_set *s, const char *path, int opaque) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->path[i], path) == 0) {
      s->opaque[i] = (unsigned char)opaque;
      return;
    }
  if (s->n == s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 16;
    char **np = realloc(s->path, ncap * sizeof *np);
    if (np)
      s->path = np;
    unsigned char *no = realloc(s->opaque, ncap);
    if (no)
      s->opaque = no;
    if (!np || !no)
      return;
    s->cap = ncap;
  }
  char *copy = strdup(path);
  if (!copy)
    return;
  s->path[s->n] = copy;
  s->opaque[s->n++] = (unsigned char)opaque;
}

static void fs_copy(field_set *dst, const field_set *src) {
  memset(dst, 0, sizeof *dst);
  memcpy(dst->origin, src->origin, sizeof dst->origin);
  for (size_t i = 0; i < src->n; i++)
    fs_add(dst, src->path[i], src->opaque[i]);
}

static int fs_find(const field_set *s, const char *path, size_t len) {
  for (size_t i = 0; i < s->n; i++)
    if (strlen(s->path[i]) == len && strncmp(s->path[i], path, len) == 0)
      return (int)i;
  return -1;
}

/* Is `path` readable: each dotted prefix present until an opaque one. */
static int fs_has(const field_set *s, const char *path) {
  for (const char *dot = path;; dot++) {
    dot = strchr(dot, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    int i = fs_find(s, path, len);
    if (i < 0)
      return 0;
    if (s->opaque[i] || !dot)
      return 1;
  }
}

/* The record schema of an Avro type, looking through ["null", record]. */
static json_t *record_of(json_t *type) {
  if (json_is_array(type)) {
    json_t *rec = NULL, *b;
    size_t i;
    json_array_foreach(type, i, b) {
      if (json_is_string(b) && strcmp(json_string_value(b), "null") == 0)
        continue;
      if (rec)
        return NULL; /* several non-null branches: not one record */
      rec = b;
    }
    type = rec;
  }
  json_t *t = json_is_object(type) ? json_object_get(type, "type") : NULL;
  return t && json_is_string(t) && strcmp(json_string_value(t), "record") == 0 ? type : NULL;
}

static void add_record_fields(field_set *s, json_t *rec, const char *prefix, int depth) {
  json_t *fields = json_object_get(rec, "fields"), *f;
  size_t i;
  json_array_foreach(fields, i, f) {
    const char *name = json_string_value(json_object_get(f, "name"));
    if (!name)
      continue;
    char path[512];
    int w = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
    if (w < 0 || (size_t)w >= sizeof path)
      continue; /* deeper than any expression would name */
    json_t *sub = depth < 16 ? record_of(json_object_get(f, "type")) : NULL;
    fs_add(s, path, !sub);
    if (sub)
      add_record_fields(s, sub, path, depth + 1);
  }
}

/* The fields of decode node `n`'s schema; 0 when it declares none we can
 * read (then nothing below it is checked: the decode reports bad files). */
static int schema_fields(const sl_node_desc *n, field_set *s) {
  const char *schema = sl_config_string(n->config, "schema", NULL);
  if (strcmp(sl_config_string(n->config, "format", ""), "avro") != 0 || !schema || !*schema)
    return 0;
  char path[4096];
  sl_path_relative_to(sl_config_file(n->config), schema, path, sizeof path);
  json_t *root = json_load_file(path, 0, NULL);
  json_t *rec = root ? record_of(root) : NULL;
  if (rec) {
    snprintf(s->origin, sizeof s->origin, "schema %.200s of the decode at line %d", schema,
             n->line);
    add_record_fields(s, rec, "", 0);
  }
  json_decref(root);
  return rec != NULL;
}

/* Report `field` of node `n` (option `what`) when the records lack it. */
static void check_field(sl_graph_desc *g, const sl_node_desc *n, const field_set *s,
                        const char *what, const char *field) {
  if (fs_has(s, field))
    return;
  const char *near = sl_suggest(field, (const char *const *)s->path, s->n);
  sl_buf list = SL_BUF_INIT;
  for (size_t i = 0; i < s->n; i++)
    if (!strchr(s->path[i], '.'))
      sl_buf_printf(&list, "%s%s", list.len ? ", " : "", s->path[i]);
  sl_graph_error(g, n->line, "%s: unknown field '%s' in %s%s%s%s: the records here (%s) have %s",
                 n->type, field, what, near ? " (did you mean '" : "", near ? near : "",
                 near ? "'?)" : "", s->origin, list.data ? list.data : "no fields");
  sl_buf_free(&list);
}

static void check_expr_fields(sl_graph_desc *g, const sl_node_desc *n, const field_set *s,
                              const char *key) {
  if (sl_config_kind_of(n->config, key) != SL_CV_STRING)
    return; /* a Lua function reads what it likes */
  sl_error err;
  sl_error_clear(&err);
  sl_expr *e = sl_expr_compile(sl_config_string(n->config, key, ""), n->line, &err);
  char what[160];
  snprintf(what, sizeof what, "%s", key);
  for (size_t i = 0; e && i < sl_expr_field_count(e); i++)
    check_field(g, n, s, what, sl_expr_field_at(e, i));
  sl_expr_free(e);
}

/* The window's keys, time and aggregate arguments; then its output shape. */
static void check_window(sl_graph_desc *g, const sl_node_desc *n, field_set *s) {
  field_set out = {0};
  snprintf(out.origin, sizeof out.origin, "results of the window at line %d", n->line);
  for (size_t i = 0; i < sl_config_list_len(n->config, "key"); i++) {
    const char *k = sl_config_list_string(n->config, "key", i);
    if (k) {
      check_field(g, n, s, "key", k);
      fs_add(&out, k, 1);
    }
  }
  const char *time = sl_config_string(n->config, "time", NULL);
  if (time)
    check_field(g, n, s, "time", time);
  const sl_config *agg = sl_config_table(n->config, "aggregate");
  for (size_t i = 0; agg && i < sl_config_count(agg); i++) {
    const char *name = sl_config_key_at(agg, i);
    sl_agg_set set = SL_AGG_SET_INIT;
    sl_error err;
    sl_error_clear(&err);
    if (sl_agg_set_add(&set, name, sl_config_string(agg, name, ""), &err) == SL_OK &&
        set.defs[0].path) {
      sl_buf p = SL_BUF_INIT;
      for (size_t k = 0; k < set.defs[0].path_len; k++)
        sl_buf_printf(&p, "%s%s", k ? "." : "", set.defs[0].path[k]);
      char what[160];
      snprintf(what, sizeof what, "aggregate %s", name);
      check_field(g, n, s, what, p.data);
      sl_buf_free(&p);
    }
    sl_agg_set_free(&set);
    fs_add(&out, name, 1);
  }
  fs_add(&out, "window_start", 1);
  fs_add(&out, "window_end", 1);
  fs_free(s);
  *s = out;
}

static void walk(sl_graph_desc *g, int parent, const field_set *in, int depth);

/* Check node `i` against the fields `s` it receives (taken), then its
 * children with what it emits. */
static void visit(sl_graph_desc *g, int i, field_set *s, int depth) {
  const sl_node_desc *n = &g->nodes[i];
  int known = 1;
  if (n->kind == SL_NODE_SINK) {
    known = 0;
  } else if (strcmp(n->type, "filter") == 0) {
    check_expr_fields(g, n, s, "expr");
  } else if (strcmp(n->type, "map") == 0) {
    for (size_t k = 0; k < sl_config_count(n->config); k++)
      check_expr_fields(g, n, s, sl_config_key_at(n->config, k));
    for (size_t k = 0; k < sl_config_count(n->config); k++)
      fs_add(s, sl_config_key_at(n->config, k), 1);
    known = !sl_config_has(n->config, "fn"); /* a Lua function makes any record */
  } else if (strcmp(n->type, "select") == 0) {
    field_set out = {0};
    memcpy(out.origin, s->origin, sizeof out.origin);
    for (size_t k = 0; k < sl_config_list_len(n->config, "fields"); k++) {
      const char *f = sl_config_list_string(n->config, "fields", k);
      if (f) {
        check_field(g, n, s, "fields", f);
        fs_add(&out, f, 1);
      }
    }
    fs_free(s);
    *s = out;
  } else if (strcmp(n->type, "window") == 0 && !n->open) {
    check_window(g, n, s);
  } else if (strcmp(n->type, "alert") == 0) {
    check_expr_fields(g, n, s, "when");
    check_expr_fields(g, n, s, "clear");
    for (size_t k = 0; k < sl_config_list_len(n->config, "key"); k++)
      if (sl_config_list_string(n->config, "key", k))
        check_field(g, n, s, "key", sl_config_list_string(n->config, "key", k));
    known = 0; /* alerts emit their own records (docs/alerts.md) */
  } else {
    known = 0;
  }
  if (known)
    walk(g, i, s, depth + 1);
  fs_free(s);
}

static void walk(sl_graph_desc *g, int parent, const field_set *in, int depth) {
  if (depth > 256)
    return;
  for (size_t i = 0; i < g->count; i++)
    if (g->nodes[i].parent == parent) {
      field_set s;
      fs_copy(&s, in);
      visit(g, (int)i, &s, depth);
    }
}

void sl_graph_check_fields(sl_graph_desc *g) {
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    if (n->kind != SL_NODE_OPERATOR || strcmp(n->type, "decode") != 0)
      continue;
    field_set s = {0};
    if (schema_fields(n, &s))
      walk(g, (int)i, &s, 0);
    fs_free(&s);
  }
}
