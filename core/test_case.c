/* SPDX-License-Identifier: Apache-2.0 */
/* One case of `sluice test` (test_case.h). The graph is rewritten in place
 * and run by the ordinary runtime, so a case exercises exactly the
 * operators `sluice run` builds. The case source hands out one record per
 * poll: every traversal then holds at most one watermark advance, and the
 * poll count numbers the advances for the order check of test_compare.c.
 * The connector descriptors are static, so they find the running case
 * through `active` (one case runs at a time, on the calling thread). */
#define _GNU_SOURCE /* asprintf */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connector.h"
#include "format.h"
#include "record_internal.h"
#include "runtime.h"
#include "test_case.h"

static sl_test_case *active;

/* ---- the case source: input/<id>.jsonl ---------------------------------- */

typedef struct input_rec {
  char *bytes; /* the line, or the record without _partition/_time */
  size_t len;
  int32_t partition;
  int64_t offset, time;
} input_rec;

typedef struct input_src {
  const sl_connector_env *env;
  char *name; /* source name in record positions (dead letters) */
  input_rec *recs;
  size_t count, next;
} input_src;

static const sl_config_entry input_config[] = {
    {"path", SL_CFG_STRING, 0, NULL, "the case's input file; none: no records"},
    {"format", SL_CFG_STRING, 0, "raw", "how the runtime decodes the lines"},
    {"name", SL_CFG_STRING, 0, "", "source name of the records"},
    {NULL, 0, 0, NULL, NULL},
};

static void input_close(void *state) {
  input_src *s = state;
  if (!s)
    return;
  for (size_t i = 0; i < s->count; i++)
    free(s->recs[i].bytes);
  free(s->recs);
  free(s->name);
  free(s);
}

/* `_partition` and `_time` of an input object, removed from it. */
static int take_meta(json_t *o, input_rec *r, const char *path, long line, sl_error *err) {
  json_t *p = json_object_get(o, "_partition"), *t = json_object_get(o, "_time");
  if (p && (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > 65535))
    return sl_error_set(err, SL_ERR_INVALID, "%s:%ld: _partition must be an integer 0..65535", path,
                        line);
  if (t && !json_is_integer(t))
    return sl_error_set(err, SL_ERR_INVALID,
                        "%s:%ld: _time must be integer milliseconds since the epoch", path, line);
  r->partition = p ? (int32_t)json_integer_value(p) : 0;
  r->time = t ? (int64_t)json_integer_value(t) : 0;
  json_object_del(o, "_partition");
  json_object_del(o, "_time");
  return SL_OK;
}

/* One line: a JSON object keeps its bytes unless _partition/_time had to
 * go; anything else is handed on as it is (the pipeline dead-letters it,
 * which is how a case tests malformed input). */
static int parse_line(input_src *s, const char *line, size_t n, const char *path, long no,
                      int64_t *offsets, sl_error *err) {
  input_rec *r = &s->recs[s->count];
  memset(r, 0, sizeof *r);
  json_t *o = json_loadb(line, n, 0, NULL);
  int meta = json_is_object(o) && (json_object_get(o, "_partition") || json_object_get(o, "_time"));
  if (meta && take_meta(o, r, path, no, err) != SL_OK) {
    json_decref(o);
    return err->code;
  }
  r->bytes = meta ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))
                  : strndup(line, n);
  json_decref(o);
  if (!r->bytes)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  r->len = strlen(r->bytes);
  r->offset = offsets[r->partition]++;
  s->count++;
  return SL_OK;
}

static int load_input(input_src *s, const char *path, sl_error *err) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return sl_error_set(err, SL_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  int64_t *offsets = calloc(65536, sizeof *offsets);
  char *line = NULL;
  size_t cap = 0, reccap = 0;
  ssize_t n;
  long no = 0;
  int rc = offsets ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  while (rc == SL_OK && (n = getline(&line, &cap, fp)) >= 0) {
    no++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      n--;
    if (n == 0)
      continue;
    if (s->count == reccap) {
      reccap = reccap ? reccap * 2 : 64;
      input_rec *g = realloc(s->recs, reccap * sizeof *g);
      if (!g) {
        rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
        break;
      }
      s->recs = g;
    }
    rc = parse_line(s, line, (size_t)n, path, no, offsets, err);
  }
  free(line);
  free(offsets);
  fclose(fp);
  return rc;
}

static int input_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                      sl_error *err) {
  input_src *s = calloc(1, sizeof *s);
  if (!s || !(s->name = strdup(sl_config_string(cfg, "name", "")))) {
    free(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  s->env = env;
  const char *path = sl_config_string(cfg, "path", NULL);
  int rc = path ? load_input(s, path, err) : SL_OK;
  if (rc != SL_OK) {
    input_close(s);
    return rc;
  }
  *state = s;
  return SL_OK;
}

static int input_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                      sl_error *err) {
  (void)timeout_ms;
  input_src *s = state;
  active->polls++;
  if (s->next == s->count || max == 0) {
    *eof = s->next == s->count;
    return SL_OK;
  }
  const input_rec *in = &s->recs[s->next++];
  sl_arena *a = sl_batch_arena(out);
  sl_record *r = sl_record_new(a, 0);
  char *bytes = r ? sl_arena_strndup(a, in->bytes, in->len) : NULL;
  if (!bytes)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_record_set_raw(r, bytes, in->len);
  sl_record_set_position(r, s->env->source_id, s->name, in->partition, in->offset);
  sl_record_set_timestamp(r, in->time);
  return sl_batch_push(out, r);
}

static const sl_source_desc input_source = {
    .name = "test_input",
    .summary = "sluice test: a case's input file",
    .flags = SL_SOURCE_DECODES,
    .config = input_config,
    .open = input_open,
    .poll = input_poll,
    .close = input_close,
};

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
  c->recs[c->count].group = active->polls;
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
  int rc = sl_registry_add_source(reg, &input_source);
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

/* A decode{format = "avro"} right under a replaced source would get JSON
 * lines: refuse clearly instead of dead-lettering every record. */
static int check_decoders(const sl_graph_desc *g, int src, sl_error *err) {
  int kids[256];
  size_t nk = sl_graph_children(g, src, kids, 256);
  for (size_t k = 0; k < nk; k++) {
    const sl_node_desc *d = &g->nodes[kids[k]];
    if (strcmp(d->type, "decode") == 0 &&
        strcmp(sl_config_string(d->config, "format", "json"), "json") != 0)
      return sl_error_set(err, SL_ERR_INVALID,
                          "%s:%d: source '%s' feeds decode{format = \"%s\"} (line %d): sluice "
                          "test feeds JSON Lines and decodes only JSON so far",
                          g->file, g->nodes[src].line, g->nodes[src].label,
                          sl_config_string(d->config, "format", ""), d->line);
  }
  return SL_OK;
}

static int prepare_source(sl_test_case *tc, sl_graph_desc *g, size_t i, sl_error *err) {
  sl_node_desc *n = &g->nodes[i];
  if (check_decoders(g, (int)i, err) != SL_OK)
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
  const char *name =
      sl_config_string(n->config, "topic", sl_config_string(n->config, "path", n->label));
  sl_config_put_string(cfg, "name", name);
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

int sl_test_case_prepare(sl_test_case *tc, sl_graph_desc *g, sl_error *err) {
  if (check_dir(tc, "input", g, SL_NODE_SOURCE, err) != SL_OK ||
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
  tc->polls = 0;
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
