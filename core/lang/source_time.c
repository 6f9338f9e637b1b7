/* SPDX-License-Identifier: Apache-2.0 */
/* Event time at the source: option checks, the windows' inherited watermark
 * strategy, and reading a record's time field (see source_time.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/source_time.h"
#include "state/window_assign.h"

struct sl_source_time {
  sl_name *path; /* malloc'd, interned field names of `time` */
  size_t len;
  const char *text; /* the option as written, borrowed from the config */
};

const char *sl_source_format(const sl_source_desc *d, const sl_config *cfg) {
  if (!(d->flags & SL_SOURCE_DECODES))
    return "raw";
  /* An absent `format` means the source's documented default ("json" for
   * file_source), not "raw": look it up in the source's config map. */
  const char *def = "raw";
  for (const sl_config_entry *e = d->config; e && e->key; e++)
    if (strcmp(e->key, "format") == 0 && e->default_value)
      def = e->default_value;
  return sl_config_string(cfg, "format", def);
}

/* A dotted field path without empty parts ("ts", "meta.ts"). */
static int is_path(const char *s) {
  size_t len = strlen(s);
  if (!len || s[0] == '.' || s[len - 1] == '.')
    return 0;
  return strstr(s, "..") == NULL;
}

static void check_source(sl_graph_desc *g, const sl_node_desc *n, const sl_source_desc *d) {
  const sl_config *c = n->config;
  int has_time = sl_config_has(c, "time");
  if (!has_time) {
    if (sl_config_has(c, "delay") || sl_config_has(c, "idle"))
      sl_graph_error(g, n->line,
                     "%s: `delay` and `idle` shape the watermark of a source's event time: "
                     "give the time field too (time = \"ts\")",
                     n->type);
    return;
  }
  if (sl_config_kind_of(c, "time") != SL_CV_STRING)
    return; /* the config map already said it must be a string */
  const char *t = sl_config_string(c, "time", "");
  if (!is_path(t))
    sl_graph_error(g, n->line, "%s: time = '%s' is not a field path (e.g. \"ts\" or \"meta.ts\")",
                   n->type, t);
  if (sl_config_has(c, "delay") && sl_config_duration_ms(c, "delay", 0) < 0)
    sl_graph_error(g, n->line, "%s: delay must be zero or more", n->type);
  if (sl_config_has(c, "idle") && sl_config_duration_ms(c, "idle", 1) <= 0)
    sl_graph_error(g, n->line, "%s: idle must be positive", n->type);
  if (strcmp(sl_source_format(d, c), "raw") != 0)
    return;
  int kids[256];
  size_t nk = sl_graph_children(g, n->id, kids, 256);
  for (size_t i = 0; i < nk; i++) {
    const sl_node_desc *k = &g->nodes[kids[i]];
    if (strcmp(k->type, "decode") != 0)
      sl_graph_error(g, k->line,
                     "%s: the records of %s are raw bytes until :decode{}, and its time = "
                     "\"%s\" is read when they are decoded: put :decode{...} right after the "
                     "source",
                     k->type, n->label, t);
  }
}

/* Copy option `key` of the source into the window's options, keeping the
 * way it was written (a duration string or a number of ms). */
static void inherit(sl_config *win, const sl_config *src, const char *key) {
  if (sl_config_has(win, key) || !sl_config_has(src, key))
    return;
  if (sl_config_kind_of(src, key) == SL_CV_STRING)
    sl_config_put_string(win, key, sl_config_string(src, key, ""));
  else
    sl_config_put_number(win, key, (double)sl_config_duration_ms(src, key, 0));
}

static void inherit_windows(sl_graph_desc *g) {
  for (size_t i = 0; i < g->count; i++) {
    sl_node_desc *w = &g->nodes[i];
    if (strcmp(w->type, "window") != 0 || sl_config_has(w->config, "time"))
      continue;
    int p = w->parent;
    while (p >= 0 && g->nodes[p].kind != SL_NODE_SOURCE && strcmp(g->nodes[p].type, "window"))
      p = g->nodes[p].parent;
    if (p < 0 || g->nodes[p].kind != SL_NODE_SOURCE || !sl_config_has(g->nodes[p].config, "time"))
      continue; /* reads window results, or a source without `time` */
    inherit(w->config, g->nodes[p].config, "delay");
    inherit(w->config, g->nodes[p].config, "idle");
  }
}

void sl_source_time_prepare(sl_graph_desc *g, const sl_registry *reg) {
  size_t before = g->nerrors;
  for (size_t i = 0; i < g->count; i++) {
    const sl_node_desc *n = &g->nodes[i];
    const sl_source_desc *d = n->kind == SL_NODE_SOURCE ? sl_registry_source(reg, n->type) : NULL;
    if (d)
      check_source(g, n, d);
  }
  if (g->nerrors == before)
    inherit_windows(g);
}

int sl_source_time_new(const sl_config *cfg, sl_source_time **out, sl_error *err) {
  *out = NULL;
  if (!sl_config_has(cfg, "time"))
    return SL_OK;
  const char *text = sl_config_string(cfg, "time", "");
  if (!is_path(text))
    return sl_error_set(err, SL_ERR_INVALID, "%s:%d: time = '%s' is not a field path",
                        sl_config_file(cfg), sl_config_line(cfg), text);
  sl_source_time *st = calloc(1, sizeof *st);
  size_t n = 1;
  for (const char *p = text; *p; p++)
    n += *p == '.';
  if (!st || !(st->path = calloc(n, sizeof *st->path))) {
    free(st);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  st->text = text;
  for (const char *s = text;; s++) {
    const char *dot = strchr(s, '.');
    size_t len = dot ? (size_t)(dot - s) : strlen(s);
    if (!(st->path[st->len++] = sl_name_intern(s, len))) {
      sl_source_time_free(st);
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    if (!dot)
      break;
    s = dot;
  }
  *out = st;
  return SL_OK;
}

void sl_source_time_free(sl_source_time *st) {
  if (!st)
    return;
  free(st->path);
  free(st);
}

int sl_source_time_assign(const sl_source_time *st, sl_record *r, char *why, size_t n) {
  const sl_value *v = sl_record_get_path(r, st->path, st->len);
  int64_t t;
  int rc = sl_event_time_of(v, &t);
  if (rc != SL_OK) {
    snprintf(why, n, "event time field '%s': %s", st->text, sl_event_time_problem(v, rc));
    return SL_ERR_PARSE;
  }
  sl_record_set_timestamp(r, t);
  return SL_OK;
}
