/* SPDX-License-Identifier: Apache-2.0 */
/* The `format` option: one place that maps format names to codecs. With
 * `registry = URL`, Avro uses the Confluent wire format (magic byte 0, 4-byte
 * big-endian schema id, binary datum): the format owns the registry client
 * and a cache of compiled plans per schema id (resolved against the `schema`
 * file, the reader schema, when one is given), so a record costs a lookup,
 * never a request or an allocation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/record_internal.h"
#include "codec/avro_codec.h"
#include "codec/format.h"
#include "codec/json_codec.h"
#include "schema_registry.h"

typedef enum { FMT_JSON, FMT_AVRO, FMT_RAW } fmt_kind;

/* The decode plan of one writer schema id, or why there is none. */
typedef struct wire_plan {
  int32_t id;
  sl_avro_schema *plan; /* NULL when the schema cannot be used */
  int code;             /* then: the status and message, for good (ids are immutable) */
  char *message;
} wire_plan;

/* Mutable state behind a const sl_format: decoding fills the plan cache. */
typedef struct wire_state {
  sl_registry_client *client;
  wire_plan *plans;
  size_t n, cap, last; /* last: index of the latest hit, checked first */
  int32_t id;          /* encode: the id of the registered schema, -1 until registered */
  char *subject;       /* encode: where to register, NULL for decode only */
  int reg_code;        /* the last failed registration, answered until reg_retry_at */
  char *reg_message;
  int64_t reg_retry_at;
} wire_state;

struct sl_format {
  fmt_kind kind;
  const char *name;
  sl_avro_schema *schema; /* FMT_AVRO: compiled once at open; the reader schema with a registry */
  wire_state *wire;       /* FMT_AVRO with `registry`, else NULL */
  sl_name n_value;        /* FMT_RAW: field 'value', interned at open, not per record */
  uint32_t max_fields;    /* decode: fields of one record, object or map */
};

void sl_path_relative_to(const char *file, const char *path, char *out, size_t n) {
  const char *slash = file ? strrchr(file, '/') : NULL;
  if (path[0] == '/' || !slash)
    snprintf(out, n, "%s", path);
  else
    snprintf(out, n, "%.*s/%s", (int)(slash - file), file, path);
}

/* `registry` (+ `registry_timeout`): the client. Registration under the
 * subject waits for sl_format_register() or the first encode, so that
 * `sluice check` (which inits operators) registers nothing. */
static int open_registry(sl_format *f, const sl_config *cfg, const char *url, const char *subject,
                         sl_error *err) {
  int64_t timeout = sl_config_duration_ms(cfg, "registry_timeout", 5000);
  if (timeout <= 0 || timeout > 600000)
    return sl_error_set(err, SL_ERR_INVALID, "registry_timeout must be between 1ms and 10m");
  if (!(f->wire = calloc(1, sizeof *f->wire)))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  f->wire->id = -1;
  if (!(f->wire->client = sl_registry_client_new(url, (int)timeout, err)))
    return err ? err->code : SL_ERR_INVALID;
  int64_t per_minute = sl_config_int(cfg, "registry_lookups_per_minute",
                                     SL_REGISTRY_LOOKUPS_PER_MINUTE);
  int64_t max_ids = sl_config_int(cfg, "registry_max_ids", SL_REGISTRY_MAX_IDS);
  if (sl_registry_client_set_limits(f->wire->client,
                                    per_minute > INT32_MAX || per_minute < 0 ? 0 : (int)per_minute,
                                    max_ids > INT32_MAX || max_ids < 0 ? 0 : (int)max_ids,
                                    err) != SL_OK)
    return err ? err->code : SL_ERR_INVALID;
  if (!subject)
    return SL_OK;
  if (!f->schema)
    return sl_error_set(err, SL_ERR_INVALID,
                        "format \"avro\" with a registry needs schema = \"file.avsc\" to "
                        "register under subject '%s'",
                        subject);
  if (!(f->wire->subject = strdup(subject)))
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  return SL_OK;
}

int sl_format_register(const sl_format *f, sl_error *err) {
  wire_state *w = f->wire;
  if (!w || !w->subject || w->id >= 0)
    return SL_OK;
  int64_t now = sl_registry_client_now_ms(w->client);
  if (w->reg_message && now < w->reg_retry_at)
    return sl_error_set(err, w->reg_code, "%s", w->reg_message);
  sl_error e;
  sl_error_clear(&e);
  int rc = sl_registry_client_register(w->client, w->subject, sl_avro_schema_json(f->schema),
                                       &w->id, &e);
  if (rc == SL_OK)
    return SL_OK;
  w->id = -1;
  free(w->reg_message);
  w->reg_message = strdup(e.message); /* NULL on no memory: then simply not remembered */
  w->reg_code = rc;
  w->reg_retry_at = now + SL_REGISTRY_RETRY_MS;
  if (err)
    *err = e;
  return rc;
}

static int open_avro(sl_format *f, const sl_config *cfg, const char *default_subject,
                     sl_error *err) {
  const char *schema = sl_config_string(cfg, "schema", NULL);
  const char *url = sl_config_string(cfg, "registry", NULL);
  const char *subject = sl_config_string(cfg, "subject", default_subject);
  f->kind = FMT_AVRO;
  f->name = "avro";
  if (url && !*url)
    url = NULL;
  if (!schema && !url)
    return sl_error_set(err, SL_ERR_INVALID,
                        "format \"avro\" needs schema = \"file.avsc\" (or registry = URL on "
                        "decode)");
  if (schema) {
    char path[4096];
    sl_path_relative_to(sl_config_file(cfg), schema, path, sizeof path);
    if (!(f->schema = sl_avro_schema_load(path, err)))
      return err ? err->code : SL_ERR_INVALID;
  }
  if (!url) {
    if (sl_config_string(cfg, "subject", NULL))
      return sl_error_set(err, SL_ERR_INVALID, "subject is only used with registry = URL");
    return SL_OK;
  }
  return open_registry(f, cfg, url, subject && *subject ? subject : NULL, err);
}

sl_format *sl_format_open_subject(const sl_config *cfg, const char *def,
                                  const char *default_subject, sl_error *err) {
  const char *name = sl_config_string(cfg, "format", def);
  int64_t max_fields = sl_config_int(cfg, "max_fields", SL_DECODE_MAX_FIELDS);
  if (max_fields < 1 || max_fields > SL_DECODE_MAX_FIELDS_CEILING) {
    sl_error_set(err, SL_ERR_INVALID, "max_fields must be between 1 and %d, not %lld",
                 SL_DECODE_MAX_FIELDS_CEILING, (long long)max_fields);
    return NULL;
  }
  sl_format *f = calloc(1, sizeof *f);
  if (!f) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  f->max_fields = (uint32_t)max_fields;
  if (strcmp(name, "json") == 0) {
    f->kind = FMT_JSON;
    f->name = "json";
  } else if (strcmp(name, "avro") == 0) {
    if (open_avro(f, cfg, default_subject, err) != SL_OK) {
      sl_format_free(f);
      return NULL;
    }
  } else if (strcmp(name, "raw") == 0) {
    f->kind = FMT_RAW;
    f->name = "raw";
    if (!(f->n_value = sl_name_cstr("value"))) {
      sl_format_free(f);
      sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      return NULL;
    }
  } else {
    sl_error_set(err, SL_ERR_INVALID, "unknown format '%s' (use \"json\", \"avro\" or \"raw\")",
                 name);
    free(f);
    return NULL;
  }
  return f;
}

sl_format *sl_format_open(const sl_config *cfg, const char *def, sl_error *err) {
  return sl_format_open_subject(cfg, def, NULL, err);
}

void sl_format_free(sl_format *f) {
  if (!f)
    return;
  if (f->wire) {
    for (size_t i = 0; i < f->wire->n; i++) {
      sl_avro_schema_free(f->wire->plans[i].plan);
      free(f->wire->plans[i].message);
    }
    free(f->wire->plans);
    free(f->wire->subject);
    free(f->wire->reg_message);
    sl_registry_client_free(f->wire->client);
    free(f->wire);
  }
  sl_avro_schema_free(f->schema);
  free(f);
}
const char *sl_format_name(const sl_format *f) { return f->name; }

sl_registry_client *sl_format_registry(const sl_format *f) {
  return f->wire ? f->wire->client : NULL;
}
int32_t sl_format_schema_id(const sl_format *f) { return f->wire ? f->wire->id : -1; }

/* ---- Confluent wire format ---------------------------------------------- */

/* Compile the plan for writer schema `id`: the writer schema itself, or
 * resolved against the reader schema. Failures are kept with the id. */
static wire_plan *compile_plan(const sl_format *f, int32_t id, sl_error *err) {
  wire_state *w = f->wire;
  const char *json;
  sl_error e;
  int rc = sl_registry_client_schema(w->client, id, &json, err);
  if (rc != SL_OK)
    return NULL; /* the client remembers fetch failures, with a retry delay */
  if (w->n == w->cap) {
    size_t ncap = w->cap ? w->cap * 2 : 8;
    wire_plan *np = realloc(w->plans, ncap * sizeof *np);
    if (!np) {
      sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      return NULL;
    }
    w->plans = np;
    w->cap = ncap;
  }
  wire_plan *p = &w->plans[w->n];
  memset(p, 0, sizeof *p);
  p->id = id;
  sl_error_clear(&e);
  sl_avro_schema *writer = sl_avro_schema_parse(json, strlen(json), &e);
  if (writer && f->schema) {
    p->plan = sl_avro_schema_resolve(writer, f->schema, &e);
    sl_avro_schema_free(writer);
  } else {
    p->plan = writer;
  }
  if (!p->plan) {
    if (e.code == SL_ERR_NOMEM) {
      *err = e;
      return NULL; /* not remembered: may work next time */
    }
    char msg[600];
    snprintf(msg, sizeof msg, "schema id %d from the registry at %s %s: %s", (int)id,
             sl_registry_client_url(w->client),
             f->schema ? "cannot be read with the reader schema" : "is not usable", e.message);
    p->code = e.code ? e.code : SL_ERR_INVALID;
    if (!(p->message = strdup(msg))) {
      sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      return NULL;
    }
  }
  w->n++;
  return p;
}

static const sl_avro_schema *plan_for(const sl_format *f, int32_t id, sl_error *err) {
  wire_state *w = f->wire;
  wire_plan *p = NULL;
  if (w->last < w->n && w->plans[w->last].id == id)
    p = &w->plans[w->last];
  for (size_t i = 0; !p && i < w->n; i++)
    if (w->plans[i].id == id) {
      p = &w->plans[i];
      w->last = i;
    }
  if (!p && !(p = compile_plan(f, id, err)))
    return NULL;
  if (!p->plan)
    sl_error_set(err, p->code, "%s", p->message);
  return p->plan;
}

static int wire_decode(const sl_format *f, const unsigned char *p, size_t len,
                       const sl_record *meta, sl_arena *a, sl_record **out, sl_decode_opts *opts,
                       sl_error *err) {
  if (len == 0)
    return sl_error_set(err, SL_ERR_PARSE, "not Confluent wire format: the payload is empty");
  if (p[0] != 0)
    return sl_error_set(err, SL_ERR_PARSE,
                        "not Confluent wire format: first byte 0x%02x, expected 0", p[0]);
  if (len < 5)
    return sl_error_set(err, SL_ERR_PARSE,
                        "not Confluent wire format: %zu bytes, but the header (magic byte 0 and a "
                        "4-byte schema id) needs 5",
                        len);
  int32_t id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4]);
  const sl_avro_schema *plan = plan_for(f, id, err);
  if (!plan) {
    int rc = err ? err->code : SL_ERR_INVALID;
    if (rc == SL_ERR_LIMIT)
      opts->reason = SL_REASON_SCHEMA_LOOKUP;
    return rc;
  }
  sl_error e;
  sl_error_clear(&e);
  int rc = sl_avro_decode_meta(plan, p + 5, len - 5, meta, opts, a, out, &e);
  if (rc != SL_OK)
    return sl_error_set(err, rc, "schema id %d: %s", (int)id, e.message);
  return SL_OK;
}

int sl_format_decode(const sl_format *f, const void *buf, size_t len, sl_arena *a, sl_record **out,
                     const char **reason, sl_error *err) {
  sl_decode_opts opts = {f->max_fields, NULL};
  int rc;
  switch (f->kind) {
  case FMT_JSON:
    rc = sl_json_decode_opts(buf, len, &opts, a, out, err);
    break;
  case FMT_AVRO:
    rc = f->wire ? wire_decode(f, buf, len, NULL, a, out, &opts, err)
                 : sl_avro_decode_opts(f->schema, buf, len, &opts, a, out, err);
    break;
  default: {
    sl_record *r = sl_record_new(a, 1);
    if (!r)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_record_set(r, f->n_value, sl_value_bytes(buf, len));
    *out = r;
    rc = SL_OK;
  }
  }
  if (rc == SL_OK)
    sl_record_set_raw(*out, buf, len);
  else if (reason)
    *reason = opts.reason ? opts.reason : SL_REASON_DECODE;
  return rc;
}

/* Decodes `in`'s raw bytes, keeping in's metadata (one record of sl_format_decode_records). */
static int decode_record(const sl_format *f, const sl_record *in, sl_arena *a, sl_record **out,
                         const char **reason, sl_error *err) {
  if (!f->wire) {
    int rc = sl_format_decode(f, in->raw, in->raw_len, a, out, reason, err);
    if (rc == SL_OK)
      sl_record_take_meta(*out, in);
    return rc;
  }
  sl_decode_opts opts = {f->max_fields, NULL};
  int rc = wire_decode(f, in->raw, in->raw_len, in, a, out, &opts, err);
  if (rc != SL_OK)
    *reason = opts.reason ? opts.reason : SL_REASON_DECODE;
  return rc;
}

size_t sl_format_decode_records(const sl_format *f, sl_record *const *ins, size_t n, sl_arena *a,
                                sl_record **outs, const char **reason, sl_error *err) {
  size_t k = 0;
  *reason = SL_REASON_DECODE;
  if (f->kind == FMT_AVRO && !f->wire) {
    sl_decode_opts opts = {f->max_fields, NULL};
    k = sl_avro_decode_records(f->schema, ins, n, &opts, a, outs, err);
    if (k < n && ins[k]->raw && opts.reason)
      *reason = opts.reason;
  } else {
    while (k < n && ins[k]->raw && decode_record(f, ins[k], a, &outs[k], reason, err) == SL_OK)
      k++;
  }
  if (k < n && !ins[k]->raw)
    sl_error_set(err, SL_ERR_PARSE, "record has no bytes to decode");
  return k;
}

int sl_format_encode(const sl_format *f, const sl_record *r, sl_buf *out, sl_error *err) {
  switch (f->kind) {
  case FMT_JSON:
    return sl_json_encode(r, out, err);
  case FMT_AVRO:
    if (f->wire) {
      if (!f->wire->subject)
        return sl_error_set(err, SL_ERR_INVALID,
                            "format \"avro\" with a registry encodes only with a subject");
      int reg = sl_format_register(f, err);
      if (reg != SL_OK)
        return reg;
      uint32_t id = (uint32_t)f->wire->id;
      unsigned char hdr[5] = {0, id >> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff};
      size_t mark = out->len;
      if (sl_buf_append(out, hdr, sizeof hdr))
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      int rc = sl_avro_encode(f->schema, r, out, err);
      if (rc != SL_OK)
        out->len = mark; /* no half record */
      return rc;
    }
    return sl_avro_encode(f->schema, r, out, err);
  default: {
    const sl_value *v = sl_record_get(r, f->n_value);
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
