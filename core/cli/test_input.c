/* SPDX-License-Identifier: Apache-2.0 */
/* The source of a `sluice test` case: input/<source-id>.jsonl, read whole at
 * open. One record per poll, so that each traversal holds at most one
 * watermark advance (test_case.c numbers them by the polls). `_partition`
 * and `_time` become the record's partition and timestamp; offsets count
 * per partition from 0, as Kafka's do, or are line numbers in place of a
 * file_source. When the replaced source fed a decode{format =
 * "avro"}, each input object is encoded with that schema here, so the
 * pipeline's decode reads what it reads in production. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/record_internal.h"
#include "cli/test_input.h"
#include "codec/format.h"
#include "lang/connector.h"

#define MAX_PARTITION 65535

typedef struct input_rec {
  char *bytes; /* the line, the record without _partition/_time, or its Avro */
  size_t len;
  int32_t partition;
  int64_t offset, time;
} input_rec;

typedef struct input_src {
  const sl_connector_env *env;
  char *name; /* source name in record positions (dead letters) */
  input_rec *recs;
  size_t count, cap, next;
  int line_offsets;
  sl_format *json, *avro; /* avro_schema: JSON text -> record -> Avro bytes */
  sl_arena *arena;
  sl_buf buf;
} input_src;

static const sl_config_entry input_config[] = {
    {"path", SL_CFG_STRING, 0, NULL, "the case's input file; none: no records"},
    {"format", SL_CFG_STRING, 0, "raw", "how the runtime decodes the lines"},
    {"name", SL_CFG_STRING, 0, "", "source name of the records"},
    {"avro_schema", SL_CFG_STRING, 0, NULL, "encode the input objects with this Avro schema"},
    {"time", SL_CFG_STRING, 0, NULL, "the replaced source's event-time field"},
    {"delay", SL_CFG_DURATION, 0, NULL, "the replaced source's watermark delay"},
    {"idle", SL_CFG_DURATION, 0, NULL, "the replaced source's idle timeout"},
    {"line_offsets", SL_CFG_BOOL, 0, "false",
     "offsets are line numbers (as file_source's), not counts per partition from 0"},
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
  sl_format_free(s->json);
  sl_format_free(s->avro);
  sl_arena_destroy(s->arena);
  sl_buf_free(&s->buf);
  free(s);
}

/* `_partition` and `_time` of an input object, removed from it. */
static int take_meta(json_t *o, input_rec *r, const char *path, long line, sl_error *err) {
  json_t *p = json_object_get(o, "_partition"), *t = json_object_get(o, "_time");
  if (p &&
      (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > MAX_PARTITION))
    return sl_error_set(err, SL_ERR_INVALID, "%s:%ld: _partition must be an integer 0..%d", path,
                        line, MAX_PARTITION);
  if (t && !json_is_integer(t))
    return sl_error_set(err, SL_ERR_INVALID,
                        "%s:%ld: _time must be integer milliseconds since the epoch", path, line);
  r->partition = p ? (int32_t)json_integer_value(p) : 0;
  r->time = t ? (int64_t)json_integer_value(t) : 0;
  json_object_del(o, "_partition");
  json_object_del(o, "_time");
  return SL_OK;
}

/* The JSON object text `json` as Avro bytes into r->bytes. */
static int to_avro(input_src *s, input_rec *r, const char *json, const char *path, long no,
                   sl_error *err) {
  sl_arena_reset(s->arena);
  sl_buf_reset(&s->buf);
  sl_record *rec = NULL;
  sl_error e;
  sl_error_clear(&e);
  if (sl_format_decode(s->json, json, strlen(json), s->arena, &rec, NULL, &e) != SL_OK ||
      sl_format_encode(s->avro, rec, &s->buf, &e) != SL_OK)
    return sl_error_set(err, SL_ERR_INVALID, "%s:%ld: does not fit the Avro schema: %s", path, no,
                        e.message);
  if (!(r->bytes = malloc(s->buf.len ? s->buf.len : 1)))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  memcpy(r->bytes, s->buf.data, s->buf.len);
  r->len = s->buf.len;
  return SL_OK;
}

/* One line: a JSON object keeps its bytes unless _partition/_time had to
 * go (or it is encoded as Avro); anything else is handed on as it is (the
 * pipeline dead-letters it, which is how a case tests malformed input). */
static int parse_line(input_src *s, const char *line, size_t n, const char *path, long no,
                      int64_t *offsets, sl_error *err) {
  input_rec *r = &s->recs[s->count];
  memset(r, 0, sizeof *r);
  json_t *o = json_loadb(line, n, 0, NULL);
  int meta = json_is_object(o) && (json_object_get(o, "_partition") || json_object_get(o, "_time"));
  int rc = meta ? take_meta(o, r, path, no, err) : SL_OK;
  char *text = rc == SL_OK && (meta || (s->avro && json_is_object(o)))
                   ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))
                   : NULL;
  int object = json_is_object(o);
  json_decref(o);
  if (rc != SL_OK)
    return rc;
  if (s->avro && object) {
    rc = text ? to_avro(s, r, text, path, no, err) : SL_ERR_NOMEM;
    free(text);
  } else if (meta) {
    r->bytes = text;
    r->len = text ? strlen(text) : 0;
  } else {
    r->bytes = malloc(n + 1);
    r->len = n;
    if (r->bytes)
      memcpy(r->bytes, line, n);
  }
  if (rc != SL_OK || !r->bytes)
    return rc != SL_OK ? rc : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  r->offset = s->line_offsets ? no : offsets[r->partition]++;
  s->count++;
  return SL_OK;
}

static int grow(input_src *s, sl_error *err) {
  if (s->count < s->cap)
    return SL_OK;
  size_t ncap = s->cap ? s->cap * 2 : 64;
  input_rec *g = realloc(s->recs, ncap * sizeof *g);
  if (!g)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->recs = g;
  s->cap = ncap;
  return SL_OK;
}

static int load_input(input_src *s, const char *path, sl_error *err) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return sl_error_set(err, SL_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  int64_t *offsets = calloc(MAX_PARTITION + 1, sizeof *offsets);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long no = 0;
  int rc = offsets ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  while (rc == SL_OK && (n = getline(&line, &cap, fp)) >= 0) {
    no++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      n--;
    if (n > 0 && (rc = grow(s, err)) == SL_OK)
      rc = parse_line(s, line, (size_t)n, path, no, offsets, err);
  }
  free(line);
  free(offsets);
  fclose(fp);
  return rc;
}

/* avro_schema: the formats that turn input objects into Avro bytes. */
static int open_avro(input_src *s, const sl_config *cfg, const char *schema, sl_error *err) {
  sl_config *j = sl_config_new(sl_config_file(cfg), sl_config_line(cfg));
  sl_config *a = sl_config_new(sl_config_file(cfg), sl_config_line(cfg));
  int rc = j && a && sl_config_put_string(a, "format", "avro") == SL_OK &&
                   sl_config_put_string(a, "schema", schema) == SL_OK
               ? SL_OK
               : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (rc == SL_OK &&
      (!(s->json = sl_format_open(j, "json", err)) || !(s->avro = sl_format_open(a, "avro", err))))
    rc = err->code;
  if (rc == SL_OK && !(s->arena = sl_arena_new(1 << 16)))
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_config_destroy(j);
  sl_config_destroy(a);
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
  s->line_offsets = sl_config_bool(cfg, "line_offsets", 0);
  const char *path = sl_config_string(cfg, "path", NULL);
  const char *schema = sl_config_string(cfg, "avro_schema", NULL);
  int rc = schema ? open_avro(s, cfg, schema, err) : SL_OK;
  if (rc == SL_OK && path)
    rc = load_input(s, path, err);
  if (rc != SL_OK) {
    input_close(s);
    return rc;
  }
  *state = s;
  return SL_OK;
}

static long polls; /* see sl_test_input_polls */

long sl_test_input_polls(void) { return polls; }
void sl_test_input_reset_polls(void) { polls = 0; }

static int input_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                      sl_error *err) {
  (void)timeout_ms;
  input_src *s = state;
  polls++;
  if (s->next == s->count || max == 0) {
    *eof = s->next == s->count;
    return SL_OK;
  }
  const input_rec *in = &s->recs[s->next++];
  sl_arena *a = sl_batch_arena(out);
  sl_record *r = sl_record_new(a, 0);
  char *bytes = r ? sl_arena_alloc(a, in->len + 1) : NULL;
  if (!bytes)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  memcpy(bytes, in->bytes, in->len);
  bytes[in->len] = '\0';
  sl_record_set_raw(r, bytes, in->len);
  sl_record_set_position(r, s->env->source_id, s->name, in->partition, in->offset);
  sl_record_set_timestamp(r, in->time);
  return sl_batch_push(out, r);
}

const sl_source_desc sl_test_input_source = {
    .name = "test_input",
    .summary = "sluice test: a case's input file",
    .flags = SL_SOURCE_DECODES,
    .config = input_config,
    .open = input_open,
    .poll = input_poll,
    .close = input_close,
};
