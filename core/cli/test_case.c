/* SPDX-License-Identifier: Apache-2.0 */
/* One case of `sluice test` (test_case.h). The graph is rewritten in place
 * and run by the ordinary runtime, so a case exercises exactly the
 * operators `sluice run` builds. The case source (test_input.c) hands out
 * one record per poll: every traversal then holds at most one watermark
 * advance, and the poll count numbers the advances for the order check of
 * test_compare.c. The connector descriptors are static, so they find the
 * running case through `active` (one case runs at a time, on the calling
 * thread). */
#define _GNU_SOURCE /* asprintf */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/record_internal.h"
#include "cli/test_case.h"
#include "cli/test_input.h"
#include "codec/format.h"
#include "engine/runtime.h"
#include "lang/connector.h"

static sl_test_case *active;

/* ---- the capturing sink --------------------------------------------------- */

typedef struct output_sink {
  const sl_connector_env *env;
  sl_test_capture *cap;
  sl_format *json;
  sl_buf buf;
  sl_name n_window_start;
} output_sink;

static void output_close(void *state) {
  output_sink *s = state;
  if (!s)
    return;
  sl_format_free(s->json);
  sl_buf_free(&s->buf);
  free(s);
}

static int output_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                       sl_error *err) {
  output_sink *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->env = env;
  for (size_t i = 0; i < active->nsinks; i++)
    if (strcmp(active->sinks[i].id, env->node_name) == 0)
      s->cap = &active->sinks[i];
  s->json = sl_format_open(cfg, "json", err);
  s->n_window_start = sl_name_cstr("window_start");
  if (!s->cap || !s->json || !s->n_window_start) {
    int rc = s->json
                 ? sl_error_set(err, SL_ERR_INTERNAL, "no capture for sink '%s'", env->node_name)
                 : err->code;
    output_close(s);
    return rc;
  }
  *state = s;
  return SL_OK;
}

/* The `_id` file_sink gives window results: pipeline/sink/key/window_start
 * (compared only when the expectation has one). */
static void add_id(output_sink *s, const sl_record *r, json_t *o) {
  const sl_value *ws = sl_record_get(r, s->n_window_start);
  if (!ws || ws->type != SL_TYPE_INT || json_object_get(o, "_id"))
    return;
  size_t klen;
  const char *key = sl_record_key(r, &klen);
  char *id = NULL;
  if (asprintf(&id, "%s/%s/%.*s/%lld", s->env->pipeline, s->env->node_name, (int)klen,
               key ? key : "", (long long)ws->as.i) >= 0)
    json_object_set_new(o, "_id", json_string(id));
  free(id);
}

static int capture(output_sink *s, const sl_record *r, sl_error *err) {
  sl_test_capture *c = s->cap;
  if (c->count == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 64;
    sl_test_rec *g = realloc(c->recs, ncap * sizeof *g);
    if (!g)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    c->recs = g;
    c->cap = ncap;
  }
  json_t *o = json_loadb(s->buf.data, s->buf.len, 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    return sl_error_set(err, SL_ERR_INTERNAL, "sink '%s': output is not a JSON object", c->id);
  }
  add_id(s, r, o);
  c->recs[c->count].json = o;
  c->recs[c->count].group = sl_test_input_polls();
  c->recs[c->count].line = (long)c->count + 1;
  c->count++;
  sl_buf_append(&c->lines, s->buf.data, s->buf.len);
  return sl_buf_putc(&c->lines, '\n');
}

static int output_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  output_sink *s = state;
  *written = 0;
  for (size_t i = 0; i < sl_batch_count(in); i++) {
    const sl_record *r = sl_batch_at(in, i);
    sl_buf_reset(&s->buf);
    sl_error e;
    int rc = sl_format_encode(s->json, r, &s->buf, &e) == SL_OK
                 ? capture(s, r, err)
                 : s->env->dead_letter(s->env->runtime, r, "encode", e.message);
    if (rc != SL_OK)
      return rc;
    (*written)++;
  }
  return SL_OK;
}

static int output_flush(void *state, int timeout_ms, sl_error *err) {
  (void)state, (void)timeout_ms, (void)err;
  return SL_OK;
}

static const sl_sink_desc output_sink_desc = {
    .name = "test_output",
    .summary = "sluice test: capture a sink's records",
    .config = NULL,
    .open = output_open,
    .write = output_write,
    .flush = output_flush,
    .close = output_close,
};

int sl_test_case_register(sl_registry *reg) {
  int rc = sl_registry_add_source(reg, &sl_test_input_source);
  return rc == SL_OK ? sl_registry_add_sink(reg, &output_sink_desc) : rc;
}

/* ---- rewriting the graph -------------------------------------------------- */

static char *case_file(const char *id) {
  char *f = NULL;
  if (asprintf(&f, "%s.jsonl", id) < 0)
    return NULL;
  for (char *p = f; *p; p++)
    if (*p == '/')
      *p = '_';
  return f;
}

static int add_capture(sl_test_case *tc, const char *id, sl_error *err) {
  sl_test_capture *g = realloc(tc->sinks, (tc->nsinks + 1) * sizeof *g);
  if (!g)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  tc->sinks = g;
  sl_test_capture *c = &tc->sinks[tc->nsinks++];
  memset(c, 0, sizeof *c);
  c->id = strdup(id);
  c->file = case_file(id);
  return c->id && c->file ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
}

static void replace_node(sl_node_desc *n, const char *type, sl_config *cfg) {
  free(n->type);
  n->type = strdup(type);
  sl_config_destroy(n->config);
  n->config = cfg;
}

/* How the runtime decodes the case lines of a source: as the replaced
 * source did when it decoded itself (file_source), otherwise not at all
 * (kafka_source: a :decode{} downstream reads the bytes). */
static const char *input_format(const sl_node_desc *n) {
  if (strcmp(n->type, "file_source") != 0 && strcmp(n->type, "stdin_source") != 0)
    return "raw";
  return strcmp(sl_config_string(n->config, "format", "json"), "raw") == 0 ? "raw" : "json";
}

/* The Avro schema the case lines must be encoded with: that of a
 * decode{format = "avro"} right under the source (NULL: none). Formats the
 * case source cannot produce (a schema registry's wire format, two
 * different decoders) are refused clearly instead of dead-lettering every
 * record. */
static int avro_schema_of(const sl_graph_desc *g, int src, const char **schema, sl_error *err) {
  int kids[256];
  size_t nk = sl_graph_children(g, src, kids, 256);
  const char *seen = NULL;
  *schema = NULL;
  for (size_t k = 0; k < nk; k++) {
    const sl_node_desc *d = &g->nodes[kids[k]];
    const char *format = sl_config_string(d->config, "format", "json");
    if (strcmp(d->type, "decode") != 0)
      continue;
    if (seen && strcmp(seen, format) != 0)
      return sl_error_set(err, SL_ERR_INVALID,
                          "%s:%d: source '%s' feeds decoders of two formats (%s and %s): sluice "
                          "test cannot write one input for both",
                          g->file, g->nodes[src].line, g->nodes[src].label, seen, format);
    seen = format;
    if (strcmp(format, "avro") != 0)
      continue;
    if (sl_config_string(d->config, "registry", NULL) ||
        !sl_config_string(d->config, "schema", NULL))
      return sl_error_set(
          err, SL_ERR_INVALID,
          "%s:%d: source '%s' feeds decode{format = \"avro\"} (line %d) through a "
          "schema registry: sluice test encodes case inputs only with a `schema` file",
          g->file, g->nodes[src].line, g->nodes[src].label, d->line);
    *schema = sl_config_string(d->config, "schema", NULL);
  }
  return SL_OK;
}

/* Copies a string or number option (event time at the source: time, delay, idle). */
static void carry_option(const sl_config *from, sl_config *to, const char *key) {
  double d;
  if (sl_config_kind_of(from, key) == SL_CV_STRING)
    sl_config_put_string(to, key, sl_config_string(from, key, ""));
  else if (sl_config_kind_of(from, key) == SL_CV_NUMBER && sl_config_number(from, key, &d) == SL_OK)
    sl_config_put_number(to, key, d);
}

static int prepare_source(sl_test_case *tc, sl_graph_desc *g, size_t i, sl_error *err) {
  sl_node_desc *n = &g->nodes[i];
  const char *schema;
  if (avro_schema_of(g, (int)i, &schema, err) != SL_OK)
    return err->code;
  sl_config *cfg = sl_config_new(g->file, n->line);
  char *file = case_file(n->label), *path = NULL;
  if (!cfg || !file || asprintf(&path, "%s/input/%s", tc->dir, file) < 0) {
    sl_config_destroy(cfg);
    free(file);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  if (access(path, F_OK) == 0)
    sl_config_put_string(cfg, "path", path);
  sl_config_put_string(cfg, "format", input_format(n));
  int is_file = strcmp(n->type, "file_source") == 0 || strcmp(n->type, "stdin_source") == 0;
  sl_config_put_bool(cfg, "line_offsets", is_file);
  const char *name =
      sl_config_string(n->config, "topic", sl_config_string(n->config, "path", n->label));
  sl_config_put_string(cfg, "name", name);
  if (schema)
    sl_config_put_string(cfg, "avro_schema", schema);
  /* The source's event time goes with it: the runtime reads each record's
   * time from the source node's own options. */
  carry_option(n->config, cfg, "time");
  carry_option(n->config, cfg, "delay");
  carry_option(n->config, cfg, "idle");
  replace_node(n, "test_input", cfg);
  free(file);
  free(path);
  return SL_OK;
}

/* The dead letters go to a temporary file through the ordinary file sink. */
static int prepare_dead_letter(sl_test_case *tc, sl_graph_desc *g, sl_error *err) {
  int node = -1;
  for (size_t i = 0; i < g->count; i++)
    if (strcmp(g->nodes[i].type, "dead_letter") == 0)
      node = (int)i;
  const char *tmp = getenv("TMPDIR");
  snprintf(tc->dl_path, sizeof tc->dl_path, "%s/sluice-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(tc->dl_path);
  if (fd < 0) {
    tc->dl_path[0] = '\0';
    return sl_error_set(err, SL_ERR_IO, "cannot create a temporary file: %s", strerror(errno));
  }
  close(fd);
  sl_config *cfg = sl_config_new(g->file, node >= 0 ? g->nodes[node].line : 0);
  if (!cfg || sl_config_put_string(cfg, "path", tc->dl_path) != SL_OK) {
    sl_config_destroy(cfg);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  if (node >= 0)
    replace_node(&g->nodes[node], "dead_letter", cfg);
  else if (sl_graph_add_node(g, SL_NODE_SINK, "dead_letter", cfg, -1, 0) < 0)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  return add_capture(tc, "dead_letter", err);
}

/* Every *.jsonl in DIR/sub must be one of `files` (the ids' file names). */
static int check_dir(sl_test_case *tc, const char *sub, const sl_graph_desc *g, sl_node_kind kind,
                     sl_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", tc->dir, sub);
  DIR *d = opendir(path);
  if (!d)
    return SL_OK;
  struct dirent *e;
  int rc = SL_OK;
  while (rc == SL_OK && (e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 7 || strcmp(e->d_name + len - 6, ".jsonl") != 0)
      continue;
    int known = kind == SL_NODE_SINK && strcmp(e->d_name, "dead_letter.jsonl") == 0;
    for (size_t i = 0; i < g->count && !known; i++) {
      char *f = g->nodes[i].kind == kind ? case_file(g->nodes[i].label) : NULL;
      known = f && strcmp(f, e->d_name) == 0;
      free(f);
    }
    if (known)
      continue;
    sl_buf ids = SL_BUF_INIT;
    for (size_t i = 0; i < g->count; i++)
      if (g->nodes[i].kind == kind && strcmp(g->nodes[i].type, "dead_letter") != 0)
        sl_buf_printf(&ids, "%s'%s'", ids.len ? ", " : "", g->nodes[i].label);
    rc = sl_error_set(err, SL_ERR_INVALID, "%s/%s: no %s of %s has this id; its %s ids: %s", path,
                      e->d_name, kind == SL_NODE_SOURCE ? "source" : "sink", g->file,
                      kind == SL_NODE_SOURCE ? "source" : "sink", ids.len ? ids.data : "none");
    sl_buf_free(&ids);
  }
  closedir(d);
  return rc;
}

/* Two sources or two sinks whose ids differ only in '/' versus '_' would
 * share a case file. */
static int check_file_names(const sl_graph_desc *g, sl_error *err) {
  int rc = SL_OK;
  for (size_t i = 0; i < g->count && rc == SL_OK; i++)
    for (size_t j = i + 1; j < g->count && rc == SL_OK; j++) {
      const sl_node_desc *a = &g->nodes[i], *b = &g->nodes[j];
      if (a->kind != b->kind || a->kind == SL_NODE_OPERATOR)
        continue;
      char *fa = case_file(a->label), *fb = case_file(b->label);
      if (!fa || !fb)
        rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      else if (strcmp(fa, fb) == 0)
        rc = sl_error_set(err, SL_ERR_INVALID,
                          "%s:%d: '%s' and '%s' (line %d) would share the case file %s: give "
                          "one an explicit id",
                          g->file, b->line, b->label, a->label, a->line, fb);
      free(fa);
      free(fb);
    }
  return rc;
}

int sl_test_case_prepare(sl_test_case *tc, sl_graph_desc *g, sl_error *err) {
  if (check_file_names(g, err) != SL_OK ||
      check_dir(tc, "input", g, SL_NODE_SOURCE, err) != SL_OK ||
      check_dir(tc, "expect", g, SL_NODE_SINK, err) != SL_OK)
    return err->code;
  free(g->state);
  if (!(g->state = strdup("memory")))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  size_t count = g->count; /* the dead-letter node may be added below */
  for (size_t i = 0; i < count; i++) {
    sl_node_desc *n = &g->nodes[i];
    int rc = SL_OK;
    if (n->kind == SL_NODE_SOURCE) {
      rc = prepare_source(tc, g, i, err);
    } else if (n->kind == SL_NODE_SINK && strcmp(n->type, "dead_letter") != 0) {
      replace_node(n, "test_output", sl_config_new(g->file, n->line));
      rc = n->type && n->config ? add_capture(tc, n->label, err)
                                : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    if (rc != SL_OK)
      return rc;
  }
  return prepare_dead_letter(tc, g, err);
}

/* ---- running and collecting ----------------------------------------------- */

static int collect_dead_letters(sl_test_case *tc, sl_error *err) {
  sl_test_capture *c = &tc->sinks[tc->nsinks - 1];
  FILE *fp = fopen(tc->dl_path, "rb");
  if (!fp)
    return sl_error_set(err, SL_ERR_IO, "%s: %s", tc->dl_path, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int rc = SL_OK;
  while (rc == SL_OK && (n = getline(&line, &cap, fp)) > 0) {
    json_t *o = json_loadb(line, (size_t)n, 0, NULL);
    sl_test_rec *g = c->count == c->cap ? realloc(c->recs, (c->cap + 64) * sizeof *g) : c->recs;
    if (!o || !g) {
      json_decref(o);
      rc = sl_error_set(err, SL_ERR_INTERNAL, "reading the dead letters back failed");
      break;
    }
    if (c->recs != g)
      c->cap += 64;
    c->recs = g;
    c->recs[c->count] = (sl_test_rec){o, 0, (long)c->count + 1};
    c->count++;
    sl_buf_append(&c->lines, line, (size_t)n);
  }
  free(line);
  fclose(fp);
  return rc;
}

int sl_test_case_run(sl_test_case *tc, const sl_graph_desc *g, sl_registry *reg, sl_error *err) {
  sl_runtime_options opts = {0};
  opts.batch_size = 1;
  opts.event_time_only = 1;
  opts.redis_url = "redis://127.0.0.1:6379"; /* state is memory: never connected */
  active = tc;
  sl_test_input_reset_polls();
  sl_runtime *rt = sl_runtime_new(g, reg, &opts, err);
  int rc = rt ? sl_runtime_run(rt, err) : err->code;
  sl_runtime_free(rt); /* closes the dead-letter file */
  active = NULL;
  return rc == SL_OK ? collect_dead_letters(tc, err) : rc;
}

void sl_test_case_free(sl_test_case *tc) {
  for (size_t i = 0; i < tc->nsinks; i++) {
    sl_test_capture *c = &tc->sinks[i];
    for (size_t k = 0; k < c->count; k++)
      json_decref(c->recs[k].json);
    free(c->recs);
    free(c->id);
    free(c->file);
    sl_buf_free(&c->lines);
  }
  free(tc->sinks);
  if (tc->dl_path[0])
    unlink(tc->dl_path);
  tc->sinks = NULL;
  tc->nsinks = 0;
}
