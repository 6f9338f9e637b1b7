/* SPDX-License-Identifier: Apache-2.0 */
/* Binary Avro datum -> sl_record, by running a compiled plan (avro_plan.h): the generic
 * decoder, for every plan and every datum the fast path of flat records (avro_decode_flat.c)
 * does not take, with every error message and decode limit.
 *
 * Its hot path is dec_record: one loop over the record's field instructions with the
 * common primitives (long, double, string) decoded inline and zigzag varints read in
 * place. Everything is bounds-checked against the end of the input before it is read,
 * so truncated or hostile input yields SL_ERR_PARSE, never an over-read. Block counts
 * of arrays and maps are checked against the bytes left (via each node's minimum wire
 * size) before anything is allocated for them. */
#include <string.h>

#include "base/record_internal.h"
#include "codec/avro_plan.h"
#include "codec/codec_names.h"
#include "codec/decode_limits.h"

#define DECODE_MAX_DEPTH 64 /* nested records/arrays/maps in one datum */

typedef struct av_dec {
  const uint8_t *start, *p, *end;
  const sl_avro_schema *s;
  sl_arena *a;
  sl_error *err;
  sl_name field; /* innermost field being decoded, for messages */
  int depth;
  char *pool, *pool_end; /* arena block for the datum's strings (see sl_avro_decode) */
  uint32_t empty_left;   /* values that take no wire bytes still allowed in this datum */
  uint32_t max_fields;   /* entries of one map */
  const char *reason;    /* the dead-letter reason of a failure on a limit */
} av_dec;

static int dec_value(av_dec *d, uint32_t ni, sl_value *out);
static int skip_value(av_dec *d, uint32_t ni);

static size_t pos(const av_dec *d) { return (size_t)(d->p - d->start); }

static int truncated(av_dec *d, size_t need) {
  return sl_error_set(d->err, SL_ERR_PARSE,
                      "truncated record: needed %zu bytes for field '%s' at byte %zu (%zu left)",
                      need, d->field, pos(d), (size_t)(d->end - d->p));
}

static int nomem(av_dec *d) {
  return sl_error_set(d->err, SL_ERR_NOMEM, "out of memory decoding Avro");
}

static inline int rd_long(av_dec *d, int64_t *out) {
  const uint8_t *p = d->p;
  if (p < d->end && *p < 0x80) { /* one-byte varints: small ints, lengths, branches */
    *out = (int64_t)((uint64_t)(*p >> 1) ^ (0 - (uint64_t)(*p & 1)));
    d->p = p + 1;
    return SL_OK;
  }
  uint64_t v = 0;
  if (d->end - p >= 10) { /* a whole varint fits: no bounds check per byte (timestamps) */
    for (unsigned shift = 0; shift < 70; shift += 7) {
      uint8_t b = *p++;
      v |= (uint64_t)(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        d->p = p;
        *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
        return SL_OK;
      }
    }
    return sl_error_set(d->err, SL_ERR_PARSE,
                        "bad varint (longer than 10 bytes) for field '%s' at byte %zu", d->field,
                        pos(d));
  }
  for (unsigned shift = 0;; shift += 7) {
    if (p >= d->end)
      return truncated(d, (size_t)(p - d->p) + 1);
    if (shift > 63)
      return sl_error_set(d->err, SL_ERR_PARSE,
                          "bad varint (longer than 10 bytes) for field '%s' at byte %zu", d->field,
                          pos(d));
    uint8_t b = *p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      break;
  }
  d->p = p;
  *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
  return SL_OK;
}

static inline int rd_double(av_dec *d, double *out) {
  if (d->end - d->p < 8)
    return truncated(d, 8);
  uint64_t bits = 0;
  for (int i = 7; i >= 0; i--) /* little-endian on the wire, whatever the host */
    bits = bits << 8 | d->p[i];
  memcpy(out, &bits, sizeof *out);
  d->p += 8;
  return SL_OK;
}

static int rd_float(av_dec *d, double *out) {
  if (d->end - d->p < 4)
    return truncated(d, 4);
  uint32_t bits = (uint32_t)d->p[0] | (uint32_t)d->p[1] << 8 | (uint32_t)d->p[2] << 16 |
                  (uint32_t)d->p[3] << 24;
  float f;
  memcpy(&f, &bits, sizeof f);
  *out = f;
  d->p += 4;
  return SL_OK;
}

/* A length prefix followed by that many bytes, bounds-checked. */
static inline int rd_span(av_dec *d, const uint8_t **ptr, size_t *len) {
  int64_t n = 0;
  int rc = rd_long(d, &n);
  if (rc != SL_OK)
    return rc;
  if (n < 0)
    return sl_error_set(d->err, SL_ERR_PARSE, "negative length %lld for field '%s' at byte %zu",
                        (long long)n, d->field, pos(d));
  if ((uint64_t)n > (uint64_t)(d->end - d->p))
    return truncated(d, (size_t)n);
  *ptr = d->p;
  *len = (size_t)n;
  d->p += n;
  return SL_OK;
}

static inline int rd_string(av_dec *d, sl_value *out, int as_bytes) {
  const uint8_t *ptr = NULL;
  size_t len = 0;
  int rc = rd_span(d, &ptr, &len);
  if (rc != SL_OK)
    return rc;
  /* Copied: the input (a Kafka message, a file buffer) dies before the batch arena. */
  char *s;
  if ((size_t)(d->pool_end - d->pool) > len) {
    s = d->pool;
    d->pool += len + 1;
    memcpy(s, ptr, len);
    s[len] = '\0';
  } else if (!(s = sl_arena_strndup(d->a, (const char *)ptr, len))) {
    return nomem(d);
  }
  *out = as_bytes ? sl_value_bytes(s, len) : sl_value_string(s, len);
  return SL_OK;
}

static int64_t floor_div(int64_t v, int64_t by) {
  int64_t q = v / by;
  return (v % by != 0 && v < 0) ? q - 1 : q;
}

static int enter(av_dec *d) {
  if (++d->depth > DECODE_MAX_DEPTH)
    return sl_error_set(d->err, SL_ERR_PARSE, "datum nested deeper than %d levels in field '%s'",
                        DECODE_MAX_DEPTH, d->field);
  return SL_OK;
}

/* Values of zero wire size (nulls, records of nulls, items of array<null>) are the only
 * ones the input's length does not bound: each one, and each item of such a type, takes
 * `n` from a per-datum budget proportional to the datum's length (empty_budget), so
 * neither a block count nor a chain of records that contain empty records twice can make
 * a few bytes decode into millions of values, and a batch of small hostile datums costs
 * memory in proportion to its bytes, like any other input. */
static uint32_t empty_budget(size_t len) {
  return len < SL_AVRO_MAX_EMPTY_VALUES - SL_AVRO_EMPTY_VALUES_BASE
             ? SL_AVRO_EMPTY_VALUES_BASE + (uint32_t)len
             : SL_AVRO_MAX_EMPTY_VALUES;
}

static int take_empty(av_dec *d, uint64_t n) {
  if (n <= d->empty_left) {
    d->empty_left -= (uint32_t)n;
    return SL_OK;
  }
  d->reason = SL_REASON_TOO_MANY_ITEMS;
  return sl_error_set(d->err, SL_ERR_LIMIT,
                      "datum of %zu bytes holds more than %u values that take no bytes (items "
                      "of array<null>, empty records) at field '%s', byte %zu",
                      (size_t)(d->end - d->start), empty_budget((size_t)(d->end - d->start)),
                      d->field, pos(d));
}

static int dec_record(av_dec *d, const av_node *n, sl_record **out) {
  const sl_avro_schema *s = d->s;
  int rc = enter(d);
  if (rc != SL_OK || (n->minsize == 0 && (rc = take_empty(d, 1)) != SL_OK))
    return rc;
  /* The top-level record gets room for a few more fields, as a JSON-decoded
   * one has: an enrich that owns it adds its fields without moving them. */
  sl_record *r = sl_record_new(d->a, n->nslots + (d->depth == 1 ? SL_RECORD_ROOM : 0));
  if (!r)
    return nomem(d);
  sl_field *slots = r->fields;
  const av_field *f = s->fields + n->first, *fe = f + n->count;
  for (; f < fe; f++) {
    sl_value *v = &slots[f->slot].value;
    unsigned op = f->op;
    d->field = f->name;
    if (op >= AV_OP_OPT_LONG) {
      /* Branch byte 0 or 2 (zigzag 0 or 1): inline; anything else, including the errors,
       * is the generic decoder's. */
      if (d->p < d->end && (*d->p | 2) == 2) {
        unsigned branch = *d->p++ >> 1;
        if (branch == f->opt_null) {
          *v = sl_value_null();
          slots[f->slot].name = f->name;
          continue;
        }
        op -= AV_OP_OPT_LONG - AV_OP_LONG;
      } else {
        op = AV_OP_GENERIC;
      }
    }
    switch (op) {
    case AV_OP_LONG:
      v->type = SL_TYPE_INT;
      rc = rd_long(d, &v->as.i);
      break;
    case AV_OP_DOUBLE:
      v->type = SL_TYPE_DOUBLE;
      rc = rd_double(d, &v->as.d);
      break;
    case AV_OP_STRING: rc = rd_string(d, v, 0); break;
    case AV_OP_SKIP:
      if ((rc = skip_value(d, f->type)) != SL_OK)
        return rc;
      continue;
    default: rc = dec_value(d, f->type, v); break;
    }
    if (rc != SL_OK)
      return rc;
    slots[f->slot].name = f->name;
  }
  /* Reader-only fields of a resolved plan: their defaults, copied when not scalars. */
  for (uint32_t i = 0; i < n->def_count; i++) {
    const av_default *df = &s->defaults[n->def_first + i];
    slots[df->slot].name = df->name;
    if (df->value.type == SL_TYPE_RECORD || df->value.type == SL_TYPE_ARRAY ||
        df->value.type == SL_TYPE_BYTES || df->value.type == SL_TYPE_STRING) {
      if (sl_value_copy(d->a, &df->value, &slots[df->slot].value) != SL_OK)
        return nomem(d);
    } else {
      slots[df->slot].value = df->value;
    }
  }
  r->count = n->nslots;
  /* Every record of one node lists the same names: their shape is computed once. */
  const struct sl_shape *shape = __atomic_load_n(&n->shape, __ATOMIC_ACQUIRE);
  if (!shape && (shape = sl_shape_of(r)))
    __atomic_store_n((const struct sl_shape **)&n->shape, shape, __ATOMIC_RELEASE);
  r->shape = shape;
  d->depth--;
  *out = r;
  return SL_OK;
}

/* The item count of the next block of an array or map (0 ends it). A negative count is
 * followed by the block's byte size, which we do not need. The count is checked against
 * the bytes left so a hostile count cannot make us allocate or loop without bound. */
static int rd_block(av_dec *d, uint32_t item_min, int64_t *count) {
  int rc = rd_long(d, count);
  if (rc != SL_OK)
    return rc;
  if (*count < 0) {
    int64_t bytes = 0;
    if (*count == INT64_MIN)
      return sl_error_set(d->err, SL_ERR_PARSE, "bad block count for field '%s' at byte %zu",
                          d->field, pos(d));
    *count = -*count;
    if ((rc = rd_long(d, &bytes)) != SL_OK)
      return rc;
  }
  uint64_t left = (uint64_t)(d->end - d->p);
  if (!item_min)
    return take_empty(d, (uint64_t)*count);
  if ((uint64_t)*count > left / item_min)
    return sl_error_set(
        d->err, SL_ERR_PARSE,
        "block of %lld items for field '%s' at byte %zu does not fit in the %llu bytes left",
        (long long)*count, d->field, pos(d), (unsigned long long)left);
  return SL_OK;
}

static int dec_array(av_dec *d, const av_node *n, sl_value *out) {
  uint32_t item_min = d->s->nodes[n->child].minsize;
  int64_t count = 0;
  int rc = enter(d);
  if (rc != SL_OK || (rc = rd_block(d, item_min, &count)) != SL_OK)
    return rc;
  sl_array *arr = sl_array_new(d->a, (size_t)count);
  if (!arr)
    return nomem(d);
  while (count > 0) {
    for (int64_t i = 0; i < count; i++) {
      sl_value v;
      if ((rc = dec_value(d, n->child, &v)) != SL_OK)
        return rc;
      if (sl_array_push(arr, v) != SL_OK)
        return nomem(d);
    }
    if ((rc = rd_block(d, item_min, &count)) != SL_OK)
      return rc;
  }
  d->depth--;
  *out = sl_value_array(arr);
  return SL_OK;
}

/* Maps become nested records keyed by the (interned) map keys: sluice expressions reach
 * them as `field.key` like any nested record. */
static int dec_map(av_dec *d, const av_node *n, sl_value *out) {
  uint32_t item_min = 1 + d->s->nodes[n->child].minsize;
  int64_t count = 0;
  int rc = enter(d);
  if (rc != SL_OK || (rc = rd_block(d, item_min, &count)) != SL_OK)
    return rc;
  /* Sized by the first block unless that is already past max_fields (refused below). */
  sl_record *r = sl_record_new(d->a, count <= (int64_t)d->max_fields ? (size_t)count : 0);
  sl_field_index ix = {NULL, 0};
  if (!r)
    return nomem(d);
  for (int64_t total = count; count > 0; total += count) {
    if (total > (int64_t)d->max_fields) {
      d->reason = SL_REASON_TOO_MANY_FIELDS;
      return sl_error_set(d->err, SL_ERR_LIMIT,
                          "map field '%s' has more than %u entries (max_fields) at byte %zu",
                          d->field, d->max_fields, pos(d));
    }
    for (int64_t i = 0; i < count; i++) {
      const uint8_t *kp = NULL;
      size_t klen = 0;
      sl_value v;
      if ((rc = rd_span(d, &kp, &klen)) != SL_OK)
        return rc;
      if (memchr(kp, 0, klen)) /* names are C strings from here on: see json_decode.c */
        return sl_error_set(d->err, SL_ERR_PARSE,
                            "map key of field '%s' contains a NUL byte at byte %zu", d->field,
                            pos(d));
      sl_name key;
      if ((rc = sl_codec_data_name((const char *)kp, klen, &key)) == SL_ERR_LIMIT) {
        d->reason = SL_REASON_TOO_MANY_NAMES;
        return sl_error_set(d->err, SL_ERR_LIMIT,
                            "map key '%.*s' of field '%s' is new, and %d distinct keys (or %u "
                            "MiB of them) were already seen: more are not remembered",
                            klen > 64 ? 64 : (int)klen, (const char *)kp, d->field,
                            SL_NAME_DATA_MAX, SL_NAME_DATA_BYTES >> 20);
      }
      if (rc != SL_OK)
        return nomem(d);
      if ((rc = dec_value(d, n->child, &v)) != SL_OK)
        return rc;
      if (sl_record_put_unique(r, &ix, key, v) != SL_OK)
        return nomem(d);
    }
    if ((rc = rd_block(d, item_min, &count)) != SL_OK)
      return rc;
  }
  d->depth--;
  *out = sl_value_record(r);
  return SL_OK;
}

static int rd_index(av_dec *d, uint32_t count, const char *what, int64_t *idx) {
  size_t at = pos(d);
  int rc = rd_long(d, idx);
  if (rc != SL_OK)
    return rc;
  if (*idx < 0 || *idx >= (int64_t)count)
    return sl_error_set(d->err, SL_ERR_PARSE, "%s %lld out of range for field '%s' at byte %zu",
                        what, (long long)*idx, d->field, at);
  return SL_OK;
}

static int dec_value(av_dec *d, uint32_t ni, sl_value *out) {
  const sl_avro_schema *s = d->s;
  const av_node *n = &s->nodes[ni];
  int64_t i = 0;
  double x = 0;
  int rc;
  switch (n->kind) {
  case AV_NULL: *out = sl_value_null(); return SL_OK;
  case AV_BOOLEAN:
    if (d->p >= d->end)
      return truncated(d, 1);
    if (*d->p > 1)
      return sl_error_set(d->err, SL_ERR_PARSE, "bad boolean byte %u for field '%s' at byte %zu",
                          *d->p, d->field, pos(d));
    *out = sl_value_bool(*d->p++);
    return SL_OK;
  case AV_INT:
  case AV_LONG:
    if ((rc = rd_long(d, &i)) != SL_OK)
      return rc;
    if (n->kind == AV_INT && (i < INT32_MIN || i > INT32_MAX))
      return sl_error_set(d->err, SL_ERR_PARSE, "int %lld out of range for field '%s' at byte %zu",
                          (long long)i, d->field, pos(d));
    if (n->logical == AV_LT_TS_MICROS || n->logical == AV_LT_LOCAL_TS_MICROS)
      i = floor_div(i, 1000); /* sluice time is milliseconds */
    *out = n->out == SL_TYPE_DOUBLE ? sl_value_double((double)i) : sl_value_int(i);
    return SL_OK;
  case AV_FLOAT:
  case AV_DOUBLE:
    if ((rc = n->kind == AV_FLOAT ? rd_float(d, &x) : rd_double(d, &x)) != SL_OK)
      return rc;
    *out = sl_value_double(x);
    return SL_OK;
  case AV_BYTES:
  case AV_STRING: return rd_string(d, out, n->out == SL_TYPE_BYTES);
  case AV_FIXED: {
    if ((size_t)(d->end - d->p) < n->size)
      return truncated(d, n->size);
    char *b = sl_arena_strndup(d->a, (const char *)d->p, n->size);
    if (!b)
      return nomem(d);
    d->p += n->size;
    *out = sl_value_bytes(b, n->size);
    return SL_OK;
  }
  case AV_ENUM:
    if ((rc = rd_index(d, n->count, "enum index", &i)) != SL_OK)
      return rc;
    *out = s->symbols[n->first + i];
    if (out->type != SL_TYPE_STRING)
      return sl_error_set(d->err, SL_ERR_PARSE,
                          "enum symbol %lld of field '%s' is unknown to the reader schema",
                          (long long)i, d->field);
    return SL_OK;
  case AV_UNION: {
    if ((rc = rd_index(d, n->count, "union branch", &i)) != SL_OK)
      return rc;
    uint32_t b = s->branches[n->first + i];
    if (b == AV_NONE)
      return sl_error_set(d->err, SL_ERR_PARSE,
                          "union branch %lld of field '%s' has no match in the reader schema",
                          (long long)i, d->field);
    return dec_value(d, b, out);
  }
  case AV_RECORD: {
    sl_name field = d->field;
    sl_record *r;
    if ((rc = dec_record(d, n, &r)) != SL_OK)
      return rc;
    d->field = field;
    *out = sl_value_record(r);
    return SL_OK;
  }
  case AV_ARRAY: return dec_array(d, n, out);
  case AV_MAP: return dec_map(d, n, out);
  }
  return sl_error_set(d->err, SL_ERR_INTERNAL, "bad Avro plan node kind %d", n->kind);
}

/* Skips a datum of writer node `ni` without producing anything (writer-only fields). */
static int skip_value(av_dec *d, uint32_t ni) {
  const sl_avro_schema *s = d->s;
  const av_node *n = &s->nodes[ni];
  int64_t i = 0, count = 0;
  const uint8_t *ptr = NULL;
  size_t len = 0;
  int rc;
  switch (n->kind) {
  case AV_NULL: return SL_OK;
  case AV_BOOLEAN:
    if (d->p >= d->end)
      return truncated(d, 1);
    d->p++;
    return SL_OK;
  case AV_INT:
  case AV_LONG:
  case AV_ENUM: return rd_long(d, &i);
  case AV_FLOAT:
  case AV_DOUBLE:
  case AV_FIXED: {
    size_t k = n->kind == AV_FLOAT ? 4 : n->kind == AV_DOUBLE ? 8 : n->size;
    if ((size_t)(d->end - d->p) < k)
      return truncated(d, k);
    d->p += k;
    return SL_OK;
  }
  case AV_BYTES:
  case AV_STRING: return rd_span(d, &ptr, &len);
  case AV_UNION:
    if ((rc = rd_index(d, n->count, "union branch", &i)) != SL_OK)
      return rc;
    return skip_value(d, s->branches[n->first + i]);
  case AV_RECORD:
    if ((rc = enter(d)) != SL_OK || (n->minsize == 0 && (rc = take_empty(d, 1)) != SL_OK))
      return rc;
    for (uint32_t k = 0; k < n->count; k++)
      if ((rc = skip_value(d, s->fields[n->first + k].type)) != SL_OK)
        return rc;
    d->depth--;
    return SL_OK;
  case AV_ARRAY:
  case AV_MAP: {
    uint32_t item_min = s->nodes[n->child].minsize + (n->kind == AV_MAP);
    if ((rc = enter(d)) != SL_OK || (rc = rd_block(d, item_min, &count)) != SL_OK)
      return rc;
    while (count > 0) {
      for (int64_t k = 0; k < count; k++) {
        if (n->kind == AV_MAP && (rc = rd_span(d, &ptr, &len)) != SL_OK)
          return rc;
        if ((rc = skip_value(d, n->child)) != SL_OK)
          return rc;
      }
      if ((rc = rd_block(d, item_min, &count)) != SL_OK)
        return rc;
    }
    d->depth--;
    return SL_OK;
  }
  }
  return sl_error_set(d->err, SL_ERR_INTERNAL, "bad Avro plan node kind %d", n->kind);
}

int sl_avro_decode_generic(const sl_avro_schema *s, const void *buf, size_t len,
                           sl_decode_opts *opts, sl_arena *a, sl_record **out, sl_error *err) {
  av_dec d = {buf, buf, (const uint8_t *)buf + len, s, a, err, "", 0, NULL, NULL,
              empty_budget(len), SL_DECODE_MAX_FIELDS, SL_REASON_DECODE};
  sl_record *r = NULL;
  *out = NULL;
  if (opts && opts->max_fields)
    d.max_fields = opts->max_fields;
  /* One block for every string and bytes value of the datum instead of an allocation
   * each: a value of n bytes has a length prefix of at least one byte, so its copy with
   * the NUL fits in the bytes it took on the wire, and the datum's length bounds them all
   * (fixed values, which have no prefix, fall back to their own allocation). */
  if (len && (d.pool = sl_arena_alloc(a, len)))
    d.pool_end = d.pool + len;
  int rc = dec_record(&d, &s->nodes[s->root], &r);
  if (rc == SL_OK && d.p != d.end)
    rc = sl_error_set(err, SL_ERR_PARSE, "%zu bytes left after the record",
                      (size_t)(d.end - d.p));
  if (opts)
    opts->reason = rc == SL_OK ? NULL : d.reason;
  if (rc == SL_OK)
    *out = r;
  return rc;
}
