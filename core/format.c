/* SPDX-License-Identifier: Apache-2.0 */
/* The `format` option: one place that maps format names to codecs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "avro_codec.h"
#include "json_codec.h"

typedef enum { FMT_JSON, FMT_AVRO, FMT_RAW } fmt_kind;

struct sl_format {
  fmt_kind kind;
  const char *name;
  sl_avro_schema *schema; /* FMT_AVRO: compiled once at open */
};

void sl_path_relative_to(const char *file, const char *path, char *out, size_t n) {
  const char *slash = file ? strrchr(file, '/') : NULL;
  if (path[0] == '/' || !slash)
    snprintf(out, n, "%s", path);
  else
    snprintf(out, n, "%.*s/%s", (int)(slash - file), file, path);
}

sl_format *sl_format_open(const sl_config *cfg, const char *def, sl_error *err) {
  const char *name = sl_config_string(cfg, "format", def);
  sl_format *f = calloc(1, sizeof *f);
  if (!f) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (strcmp(name, "json") == 0) {
    f->kind = FMT_JSON;
    f->name = "json";
  } else if (strcmp(name, "avro") == 0) {
    f->kind = FMT_AVRO;
    f->name = "avro";
    const char *schema = sl_config_string(cfg, "schema", NULL);
    if (!schema) {
      sl_error_set(err, SL_ERR_INVALID,
                   "format \"avro\" needs schema = \"file.avsc\" (or registry = URL on decode)");
      free(f);
      return NULL;
    }
    char path[4096];
    sl_path_relative_to(sl_config_file(cfg), schema, path, sizeof path);
    f->schema = sl_avro_schema_load(path, err);
    if (!f->schema) {
      free(f);
      return NULL;
    }
  } else if (strcmp(name, "raw") == 0) {
    f->kind = FMT_RAW;
    f->name = "raw";
  } else {
    sl_error_set(err, SL_ERR_INVALID, "unknown format '%s' (use \"json\", \"avro\" or \"raw\")",
                 name);
    free(f);
    return NULL;
  }
  return f;
}

void sl_format_free(sl_format *f) {
  if (!f)
    return;
  sl_avro_schema_free(f->schema);
  free(f);
}
const char *sl_format_name(const sl_format *f) { return f->name; }

int sl_format_decode(const sl_format *f, const void *buf, size_t len, sl_arena *a, sl_record **out,
                     sl_error *err) {
  int rc;
  switch (f->kind) {
  case FMT_JSON:
    rc = sl_json_decode(buf, len, a, out, err);
    break;
  case FMT_AVRO:
    rc = sl_avro_decode(f->schema, buf, len, a, out, err);
    break;
  default: {
    sl_record *r = sl_record_new(a, 1);
    if (!r)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_record_set(r, sl_name_cstr("value"), sl_value_bytes(buf, len));
    *out = r;
    rc = SL_OK;
  }
  }
  if (rc == SL_OK)
    sl_record_set_raw(*out, buf, len);
  return rc;
}

int sl_format_encode(const sl_format *f, const sl_record *r, sl_buf *out, sl_error *err) {
  switch (f->kind) {
  case FMT_JSON:
    return sl_json_encode(r, out, err);
  case FMT_AVRO:
    return sl_avro_encode(f->schema, r, out, err);
  default: {
    const sl_value *v = sl_record_get_cstr(r, "value");
    if (v && (v->type == SL_TYPE_BYTES || v->type == SL_TYPE_STRING))
      return sl_buf_append(out, v->as.str.ptr, v->as.str.len);
    size_t n;
    const void *raw = sl_record_raw(r, &n);
    if (raw)
      return sl_buf_append(out, raw, n);
    return sl_error_set(err, SL_ERR_TYPE,
                        "format \"raw\" needs a string or bytes field 'value' (see encode)");
  }
  }
}
