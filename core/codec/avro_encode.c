/* SPDX-License-Identifier: Apache-2.0 */
/* sl_record -> binary Avro datum, driven by a compiled plan (avro_plan.h).
 *
 * sluice values are looser than Avro types, so the encoder converts where nothing is
 * lost (int into float/double, integral double into int/long, string into enum or
 * bytes, bytes into string) and refuses the rest with SL_ERR_TYPE naming the field.
 * Unions pick the first branch that takes the value as it is, then the first that takes
 * it with a conversion. A missing field takes the schema default, else null when the
 * type is nullable, else it is an error. */
#include <math.h>
#include <string.h>

#include "base/record_internal.h"
#include "codec/avro_plan.h"

typedef struct av_enc {
  const sl_avro_schema *s;
  sl_buf *out;
  sl_error *err;
  sl_name field;
  int depth;
} av_enc;

static int enc_value(av_enc *e, uint32_t ni, const sl_value *v);

static int nomem(av_enc *e) {
  return sl_error_set(e->err, SL_ERR_NOMEM, "out of memory encoding Avro");
}

static int mismatch(av_enc *e, const sl_value *v, const av_node *n) {
  return sl_error_set(e->err, SL_ERR_TYPE, "field '%s': a %s value cannot be written as Avro %s",
                      e->field, sl_type_name(v->type), sl_avro_kind_name(n->kind));
}

static inline int put_long(av_enc *e, int64_t i) {
  if (sl_buf_reserve(e->out, 10) != SL_OK)
    return nomem(e);
  uint64_t z = ((uint64_t)i << 1) ^ (uint64_t)(i >> 63);
  unsigned char *p = (unsigned char *)e->out->data + e->out->len;
  size_t n = 0;
  while (z >= 0x80) {
    p[n++] = (unsigned char)(z | 0x80);
    z >>= 7;
  }
  p[n++] = (unsigned char)z;
  e->out->len += n;
  e->out->data[e->out->len] = '\0';
  return SL_OK;
}

static int put_raw(av_enc *e, const void *p, size_t n) {
  return sl_buf_append(e->out, p, n) == SL_OK ? SL_OK : nomem(e);
}

static int put_bytes(av_enc *e, const char *p, size_t n) {
  int rc = put_long(e, (int64_t)n);
  return rc != SL_OK ? rc : put_raw(e, p, n);
}

static int put_double(av_enc *e, double d, int as_float) {
  unsigned char b[8];
  if (as_float) {
    float f = (float)d;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; i++)
      b[i] = (unsigned char)(bits >> (8 * i));
    return put_raw(e, b, 4);
  }
  uint64_t bits;
  memcpy(&bits, &d, 8);
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)(bits >> (8 * i));
  return put_raw(e, b, 8);
}

/* The value as an integer if that loses nothing. */
static int as_integer(const sl_value *v, int64_t *out) {
  if (v->type == SL_TYPE_INT) {
    *out = v->as.i;
    return 1;
  }
  if (v->type == SL_TYPE_DOUBLE && isfinite(v->as.d) && v->as.d == floor(v->as.d) &&
      v->as.d >= -9223372036854775808.0 && v->as.d < 9223372036854775808.0) {
    *out = (int64_t)v->as.d;
    return 1;
  }
  return 0;
}

static int find_symbol(const sl_avro_schema *s, const av_node *n, const sl_value *v) {
  for (uint32_t i = 0; i < n->count; i++) {
    const sl_value *sym = &s->symbols[n->first + i];
    if (sym->as.str.len == v->as.str.len &&
        memcmp(sym->as.str.ptr, v->as.str.ptr, v->as.str.len) == 0)
      return (int)i;
  }
  return -1;
}

/* Does node `ni` take `v` unchanged (exact = 1) or after a lossless conversion (0)? */
static int takes(const sl_avro_schema *s, uint32_t ni, const sl_value *v, int exact) {
  const av_node *n = &s->nodes[ni];
  int64_t i;
  switch (n->kind) {
  case AV_NULL: return v->type == SL_TYPE_NULL;
  case AV_BOOLEAN: return v->type == SL_TYPE_BOOL;
  case AV_INT:
    return (exact ? v->type == SL_TYPE_INT : as_integer(v, &i)) &&
           (v->type != SL_TYPE_INT || (v->as.i >= INT32_MIN && v->as.i <= INT32_MAX));
  case AV_LONG: return exact ? v->type == SL_TYPE_INT : as_integer(v, &i);
  case AV_FLOAT:
  case AV_DOUBLE: return v->type == SL_TYPE_DOUBLE || (!exact && v->type == SL_TYPE_INT);
  case AV_STRING: return v->type == SL_TYPE_STRING || (!exact && v->type == SL_TYPE_BYTES);
  case AV_BYTES: return v->type == SL_TYPE_BYTES || (!exact && v->type == SL_TYPE_STRING);
  case AV_FIXED:
    return (v->type == SL_TYPE_BYTES || (!exact && v->type == SL_TYPE_STRING)) &&
           v->as.str.len == n->size;
  case AV_ENUM: return v->type == SL_TYPE_STRING && find_symbol(s, n, v) >= 0;
  case AV_RECORD: return v->type == SL_TYPE_RECORD;
  case AV_MAP: return v->type == SL_TYPE_RECORD && !exact;
  case AV_ARRAY: return v->type == SL_TYPE_ARRAY;
  default: return 0;
  }
}

static int enc_union(av_enc *e, const av_node *n, const sl_value *v) {
  for (int exact = 1; exact >= 0; exact--)
    for (uint32_t i = 0; i < n->count; i++) {
      uint32_t b = e->s->branches[n->first + i];
      if (takes(e->s, b, v, exact)) {
        int rc = put_long(e, i);
        return rc != SL_OK ? rc : enc_value(e, b, v);
      }
    }
  return sl_error_set(e->err, SL_ERR_TYPE,
                      "field '%s': a %s value matches no branch of its Avro union", e->field,
                      sl_type_name(v->type));
}

static int enc_record(av_enc *e, const av_node *n, const sl_record *r) {
  if (++e->depth > 64)
    return sl_error_set(e->err, SL_ERR_LIMIT, "record nested deeper than 64 levels");
  for (uint32_t i = 0; i < n->count; i++) {
    const av_field *f = &e->s->fields[n->first + i];
    const av_node *ft = &e->s->nodes[f->type];
    const sl_value *v = sl_record_get(r, f->name);
    sl_value null = sl_value_null();
    e->field = f->name;
    if (!v) {
      if (f->has_default)
        v = &f->def;
      else if (ft->kind == AV_NULL || (ft->kind == AV_UNION && ft->nullable))
        v = &null;
      else
        return sl_error_set(e->err, SL_ERR_TYPE, "field '%s' is required by the schema", f->name);
    }
    int rc = enc_value(e, f->type, v);
    if (rc != SL_OK)
      return rc;
  }
  e->depth--;
  return SL_OK;
}

static int enc_value(av_enc *e, uint32_t ni, const sl_value *v) {
  const av_node *n = &e->s->nodes[ni];
  int64_t i;
  int rc;
  switch (n->kind) {
  case AV_NULL: return v->type == SL_TYPE_NULL ? SL_OK : mismatch(e, v, n);
  case AV_BOOLEAN:
    if (v->type != SL_TYPE_BOOL)
      return mismatch(e, v, n);
    return put_raw(e, v->as.b ? "\1" : "\0", 1);
  case AV_INT:
  case AV_LONG:
    if (!as_integer(v, &i))
      return mismatch(e, v, n);
    if (n->logical == AV_LT_TS_MICROS || n->logical == AV_LT_LOCAL_TS_MICROS) {
      /* Decoding floors micros to ms, so the first 808 us of the range read as one ms
       * below INT64_MIN / 1000: write that one back as the earliest micros. */
      if (i == INT64_MIN / 1000 - 1)
        i = INT64_MIN;
      else if (i > INT64_MAX / 1000 || i < INT64_MIN / 1000)
        return sl_error_set(e->err, SL_ERR_TYPE, "field '%s': timestamp %lld ms is out of range",
                            e->field, (long long)i);
      else
        i *= 1000; /* sluice time is milliseconds */
    }
    if (n->kind == AV_INT && (i < INT32_MIN || i > INT32_MAX))
      return sl_error_set(e->err, SL_ERR_TYPE, "field '%s': %lld does not fit an Avro int",
                          e->field, (long long)i);
    return put_long(e, i);
  case AV_FLOAT:
  case AV_DOUBLE:
    if (v->type == SL_TYPE_INT)
      return put_double(e, (double)v->as.i, n->kind == AV_FLOAT);
    if (v->type != SL_TYPE_DOUBLE)
      return mismatch(e, v, n);
    return put_double(e, v->as.d, n->kind == AV_FLOAT);
  case AV_STRING:
  case AV_BYTES:
    if (v->type != SL_TYPE_STRING && v->type != SL_TYPE_BYTES)
      return mismatch(e, v, n);
    return put_bytes(e, v->as.str.ptr, v->as.str.len);
  case AV_FIXED:
    if (v->type != SL_TYPE_STRING && v->type != SL_TYPE_BYTES)
      return mismatch(e, v, n);
    if (v->as.str.len != n->size)
      return sl_error_set(e->err, SL_ERR_TYPE, "field '%s': fixed %s needs %u bytes, got %zu",
                          e->field, n->name, n->size, v->as.str.len);
    return put_raw(e, v->as.str.ptr, n->size);
  case AV_ENUM: {
    if (v->type != SL_TYPE_STRING)
      return mismatch(e, v, n);
    int sym = find_symbol(e->s, n, v);
    if (sym < 0)
      return sl_error_set(e->err, SL_ERR_TYPE, "field '%s': '%.*s' is not a symbol of enum %s",
                          e->field, (int)(v->as.str.len > 64 ? 64 : v->as.str.len), v->as.str.ptr,
                          n->name);
    return put_long(e, sym);
  }
  case AV_UNION: return enc_union(e, n, v);
  case AV_RECORD: {
    if (v->type != SL_TYPE_RECORD)
      return mismatch(e, v, n);
    sl_name field = e->field;
    if ((rc = enc_record(e, n, v->as.rec)) != SL_OK)
      return rc;
    e->field = field;
    return SL_OK;
  }
  case AV_ARRAY: {
    if (v->type != SL_TYPE_ARRAY)
      return mismatch(e, v, n);
    size_t len = sl_array_len(v->as.arr);
    if (len && (rc = put_long(e, (int64_t)len)) != SL_OK)
      return rc;
    for (size_t k = 0; k < len; k++)
      if ((rc = enc_value(e, n->child, sl_array_at(v->as.arr, k))) != SL_OK)
        return rc;
    return put_long(e, 0);
  }
  case AV_MAP: {
    if (v->type != SL_TYPE_RECORD)
      return mismatch(e, v, n);
    const sl_record *r = v->as.rec;
    if (r->count && (rc = put_long(e, r->count)) != SL_OK)
      return rc;
    for (uint32_t k = 0; k < r->count; k++)
      if ((rc = put_bytes(e, r->fields[k].name, strlen(r->fields[k].name))) != SL_OK ||
          (rc = enc_value(e, n->child, &r->fields[k].value)) != SL_OK)
        return rc;
    return put_long(e, 0);
  }
  }
  return sl_error_set(e->err, SL_ERR_INTERNAL, "bad Avro plan node kind %d", n->kind);
}

int sl_avro_encode(const sl_avro_schema *s, const sl_record *r, sl_buf *out, sl_error *err) {
  if (s->decode_only)
    return sl_error_set(
        err, SL_ERR_INVALID,
        "a resolved (writer -> reader) Avro plan can only decode; encode with the reader schema");
  av_enc e = {s, out, err, "", 0};
  size_t mark = out->len;
  int rc = enc_record(&e, &s->nodes[s->root], r);
  if (rc != SL_OK && out->data) { /* leave no half-written datum behind */
    out->len = mark;
    out->data[mark] = '\0';
  }
  return rc;
}
