/* SPDX-License-Identifier: Apache-2.0 */
/* The fast path of Avro decoding and the decoder's entry points (sl_avro_decode*).
 *
 * Records whose fields are all longs, doubles, strings or optional ones, the shape of most
 * telemetry, get a flat program when their plan is compiled (av_flat, sl_avro_plan_finish).
 * Running it is one arena bump for the record, its field table and its strings, then one
 * dispatch per field, each written in place, with no error reporting at all: a datum the
 * program cannot take as it is (truncated, a bad varint or length, a union branch byte other
 * than 0 or 2, trailing bytes, no memory) is decoded again from its first byte by the generic
 * decoder (avro_decode.c), which owns every message and limit. Both therefore agree on every
 * input (tests/core/codec/test_avro_decode_flat.c checks it on every truncation and byte
 * substitution). Flat records hold no maps, arrays or nested records, so none of the decode
 * limits (max_fields, names from data, values of zero size) apply to them. */
#include <string.h>

#include "base/arena_internal.h"
#include "base/record_internal.h"
#include "codec/avro_plan.h"

static inline uint64_t load_le64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

static inline int64_t unzigzag(uint64_t v) { return (int64_t)((v >> 1) ^ (0 - (v & 1))); }

/* A varint as the generic decoder reads it (at most 10 bytes), still zigzagged; 0 when it
 * is truncated or too long. With 8 bytes left, one load reads up to 8 of them (timestamps
 * take 6): the stop byte is found by counting trailing zeros, and the 7-bit groups are
 * packed in three steps instead of a shift and a branch per byte. */
static inline int varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
  const uint8_t *p = *pp;
  if (p < end && *p < 0x80) { /* lengths, small ints */
    *out = *p;
    *pp = p + 1;
    return 1;
  }
  if (end - p >= 8) {
    uint64_t x = load_le64(p);
    uint64_t stops = ~x & 0x8080808080808080u;
    if (stops) {
      unsigned last = (unsigned)__builtin_ctzll(stops); /* 8 * bytes - 1 */
      x &= (~(uint64_t)0 >> (63 - last)) & 0x7f7f7f7f7f7f7f7fu;
      x = (x & 0x007f007f007f007fu) | (x & 0x7f007f007f007f00u) >> 1;
      x = (x & 0x00003fff00003fffu) | (x & 0x3fff00003fff0000u) >> 2;
      x = (x & 0x000000000fffffffu) | (x & 0x0fffffff00000000u) >> 4;
      *out = x;
      *pp = p + (last + 1) / 8;
      return 1;
    }
  }
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 70 && p < end; shift += 7) {
    uint8_t b = *p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      *pp = p;
      return 1;
    }
  }
  return 0;
}

/* The branch byte of an optional field (AV_OP_OPT_*): 1 when it selects null (then `o` is
 * set), 2 when the value follows, 0 for the generic decoder (any byte but 0 or 2, which
 * also covers out-of-range branches and non-canonical varints). */
static inline unsigned branch(const uint8_t **pp, const uint8_t *end, unsigned opt_null,
                              sl_field *o) {
  const uint8_t *p = *pp;
  if (p == end || (*p | 2) != 2)
    return 0;
  *pp = p + 1;
  if ((unsigned)(*p >> 1) != opt_null)
    return 2;
  o->value = sl_value_null();
  return 1;
}

/* `n` bytes copied without a call for the short strings of telemetry (ids, sites): two
 * overlapping moves, where memcpy cost ~14 instructions plus the call. */
static inline void copy_short(char *dst, const uint8_t *src, size_t n) {
  if (n - 4 <= 4) {
    uint32_t x, y;
    memcpy(&x, src, 4);
    memcpy(&y, src + n - 4, 4);
    memcpy(dst, &x, 4);
    memcpy(dst + n - 4, &y, 4);
  } else if (n - 8 <= 8) {
    uint64_t x, y;
    memcpy(&x, src, 8);
    memcpy(&y, src + n - 8, 8);
    memcpy(dst, &x, 8);
    memcpy(dst + n - 8, &y, 8);
  } else if (n < 4) {
    if (n) {
      dst[0] = (char)src[0];
      dst[n / 2] = (char)src[n / 2];
      dst[n - 1] = (char)src[n - 1];
    }
  } else {
    memcpy(dst, src, n);
  }
}

/* The record of flat program `fp` (of root node `root`) from [p, end), or NULL for the
 * generic decoder to decide. Inlined into the loops that call it: a call per record cost
 * ~20 instructions. */
static inline __attribute__((always_inline)) sl_record *
decode_flat(const av_flat *fp, const av_node *root, const uint8_t *p, const uint8_t *end,
            const sl_record *meta, sl_arena *a) {
  /* One block: the record, its field table with room for enrich's fields (as the generic
   * decoder gives a top-level record), and its strings, whose copies (each with its NUL)
   * fit in the datum's length: each string took a length byte or more on the wire. */
  unsigned char *mem = sl_arena_bump(a, fp->bytes + (size_t)(end - p));
  if (!mem)
    return NULL;
  sl_record *r = (sl_record *)mem;
  unsigned char *slots = mem + sizeof(sl_record);
  char *pool = (char *)mem + fp->bytes;
  for (const av_flat_op *f = fp->ops;; f++) {
    sl_field *o = (sl_field *)(slots + f->off);
    uint64_t v;
    o->name = f->name;
    /* One dispatch per field: each optional case falls through to its value's once its
     * branch byte says "not null". */
    switch (f->op) {
    case AV_OP_OPT_LONG:
      if (!(v = branch(&p, end, f->opt_null, o)))
        return NULL;
      if (v == 1)
        continue;
      /* fall through */
    case AV_OP_LONG:
      if (!varint(&p, end, &v))
        return NULL;
      o->value.type = SL_TYPE_INT;
      o->value.as.i = unzigzag(v);
      continue;
    case AV_OP_OPT_DOUBLE:
      if (!(v = branch(&p, end, f->opt_null, o)))
        return NULL;
      if (v == 1)
        continue;
      /* fall through */
    case AV_OP_DOUBLE:
      if (end - p < 8)
        return NULL;
      v = load_le64(p);
      p += 8;
      o->value.type = SL_TYPE_DOUBLE;
      memcpy(&o->value.as.d, &v, sizeof v);
      continue;
    case AV_OP_OPT_STRING:
      if (!(v = branch(&p, end, f->opt_null, o)))
        return NULL;
      if (v == 1)
        continue;
      /* fall through */
    case AV_OP_STRING: {
      int64_t len;
      if (p < end && !(*p & 0x81)) { /* a length under 64: one even byte */
        len = *p++ >> 1;
      } else {
        if (!varint(&p, end, &v))
          return NULL;
        len = unzigzag(v);
      }
      if (len < 0 || (uint64_t)len > (uint64_t)(end - p))
        return NULL;
      copy_short(pool, p, (size_t)len);
      pool[len] = '\0';
      o->value = sl_value_string(pool, (size_t)len);
      pool += len + 1;
      p += len;
      continue;
    }
    case AV_OP_END: break;
    default: /* build_flat copies inline ops only: no range check per dispatch */
      __builtin_unreachable();
    }
    break;
  }
  if (p != end)
    return NULL;
  sl_record_init_meta(r, meta, a, (sl_field *)slots, fp->nslots, fp->cap);
  /* Every record of one node lists the same names: their shape is computed once. */
  const struct sl_shape *shape = __atomic_load_n(&root->shape, __ATOMIC_ACQUIRE);
  if (!shape && (shape = sl_shape_of(r)))
    __atomic_store_n((const struct sl_shape **)&root->shape, shape, __ATOMIC_RELEASE);
  r->shape = shape;
  return r;
}

/* The generic decoder, for what the fast path left, with `meta`'s metadata. */
static int decode_generic(const sl_avro_schema *s, const void *buf, size_t len,
                          const sl_record *meta, sl_decode_opts *opts, sl_arena *a, sl_record **out,
                          sl_error *err) {
  int rc = sl_avro_decode_generic(s, buf, len, opts, a, out, err);
  if (rc == SL_OK && meta)
    sl_record_take_meta(*out, meta);
  return rc;
}

int sl_avro_decode_meta(const sl_avro_schema *s, const void *buf, size_t len, const sl_record *meta,
                        sl_decode_opts *opts, sl_arena *a, sl_record **out, sl_error *err) {
  sl_record *r;
  if (s->flat &&
      (r = decode_flat(s->flat, &s->nodes[s->root], buf, (const uint8_t *)buf + len, meta, a))) {
    if (opts)
      opts->reason = NULL;
    *out = r;
    return SL_OK;
  }
  return decode_generic(s, buf, len, meta, opts, a, out, err);
}

size_t sl_avro_decode_records(const sl_avro_schema *s, sl_record *const *ins, size_t n,
                              sl_decode_opts *opts, sl_arena *a, sl_record **outs, sl_error *err) {
  const av_flat *fp = s->flat;
  const av_node *root = &s->nodes[s->root];
  size_t k = 0;
  for (; k < n; k++) {
    const sl_record *in = ins[k];
    const uint8_t *p = in->raw;
    if (!p)
      break;
    sl_record *r = fp ? decode_flat(fp, root, p, p + in->raw_len, in, a) : NULL;
    if (!r && decode_generic(s, p, in->raw_len, in, opts, a, &r, err) != SL_OK)
      break;
    outs[k] = r;
  }
  return k;
}

int sl_avro_decode_opts(const sl_avro_schema *s, const void *buf, size_t len, sl_decode_opts *opts,
                        sl_arena *a, sl_record **out, sl_error *err) {
  return sl_avro_decode_meta(s, buf, len, NULL, opts, a, out, err);
}

int sl_avro_decode(const sl_avro_schema *s, const void *buf, size_t len, sl_arena *a,
                   sl_record **out, sl_error *err) {
  return sl_avro_decode_meta(s, buf, len, NULL, NULL, a, out, err);
}
