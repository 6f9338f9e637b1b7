/* SPDX-License-Identifier: Apache-2.0 */
/* Compact binary form of aggregate state blocks (varints, zigzag, raw
 * little-endian doubles), used by checkpoints and tests. A format byte
 * leads so the layout can evolve. Format 2 tags each function's state with
 * a hash of its definition (output name, function, argument), so a pipeline
 * that adds or removes an aggregate restores the others from state written
 * before the change (docs/operations.md, "Upgrading a pipeline"); format 1,
 * positional, is still read. */
#include <stdlib.h>
#include <string.h>

#include "base/hash64.h"
#include "base/varint.h"
#include "state/aggregate.h"
#include "state/aggregate_state.h"
#include "state/ddsketch.h"
#include "state/hll.h"

#define AGG_FORMAT_POSITIONAL 1
#define AGG_FORMAT 2

/* A scalar: type, then its payload (min/max, first/last share this form). */
static int val_put(sl_buf *b, const sl_value *v) {
  int rc = sl_varint_put(b, v->type);
  switch (v->type) {
  case SL_TYPE_INT:
    return rc ? rc : sl_varint_put(b, sl_zigzag(v->as.i));
  case SL_TYPE_BOOL:
    return rc ? rc : sl_varint_put(b, sl_zigzag(v->as.b != 0));
  case SL_TYPE_DOUBLE:
    return rc ? rc : sl_f64_put(b, v->as.d);
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES:
    rc = rc ? rc : sl_varint_put(b, v->as.str.len);
    return rc ? rc : sl_buf_append(b, v->as.str.ptr, v->as.str.len);
  default:
    return rc;
  }
}

/* Read a scalar written by val_put; strings borrow the input bytes. */
static int val_read(sl_rd *r, sl_value *out) {
  uint64_t type = sl_varint_get(r);
  sl_value v = sl_value_null();
  *out = v;
  switch (type) {
  case SL_TYPE_NULL:
    return r->bad ? SL_ERR_PARSE : SL_OK;
  case SL_TYPE_INT:
    v = sl_value_int(sl_unzigzag(sl_varint_get(r)));
    break;
  case SL_TYPE_BOOL:
    v = sl_value_bool((int)sl_unzigzag(sl_varint_get(r)));
    break;
  case SL_TYPE_DOUBLE:
    v = sl_value_double(sl_f64_get(r));
    break;
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES: {
    uint64_t n = sl_varint_get(r);
    const unsigned char *p = r->bad || n > UINT32_MAX ? NULL : sl_bytes_get(r, n);
    if (!p)
      return SL_ERR_PARSE;
    v = sl_value_string((const char *)p, n);
    v.type = (sl_type)type;
    break;
  }
  default:
    return SL_ERR_PARSE;
  }
  *out = v;
  return r->bad ? SL_ERR_PARSE : SL_OK;
}

static int put_one(const sl_agg_def *d, const void *st, sl_buf *b) {
  switch (d->fn) {
  case SL_AGG_COUNT_ALL:
  case SL_AGG_COUNT:
    return sl_varint_put(b, (uint64_t) * (const int64_t *)st);
  case SL_AGG_SUM: {
    const st_sum *s = st;
    int rc = sl_varint_put(b, s->kind);
    if (s->kind == 1)
      return rc ? rc : sl_varint_put(b, sl_zigzag(s->u.i));
    if (s->kind == 2)
      return rc ? rc : sl_f64_put(b, s->u.d);
    return rc;
  }
  case SL_AGG_MIN:
  case SL_AGG_MAX: {
    sl_value v = sl_agg_box_get(st);
    return val_put(b, &v);
  }
  case SL_AGG_AVG: {
    const st_avg *s = st;
    int rc = sl_varint_put(b, (uint64_t)s->n);
    return rc ? rc : sl_f64_put(b, s->sum);
  }
  case SL_AGG_FIRST:
  case SL_AGG_LAST: {
    const st_ordered *o = st;
    sl_value v = sl_agg_val_get(&o->v);
    int rc = val_put(b, &v);
    rc = rc ? rc : sl_varint_put(b, sl_zigzag(o->t));
    return rc ? rc : sl_varint_put(b, o->seq);
  }
  case SL_AGG_STDDEV:
  case SL_AGG_STDDEV_POP: {
    const st_var *s = st;
    int rc = sl_varint_put(b, (uint64_t)s->n);
    rc = rc ? rc : sl_f64_put(b, s->mean);
    return rc ? rc : sl_f64_put(b, s->m2);
  }
  case SL_AGG_PERCENTILE: {
    const sl_ddsketch *sk = *(sl_ddsketch *const *)st;
    int rc = sl_varint_put(b, sk != NULL);
    return rc || !sk ? rc : sl_dds_serialize(sk, b);
  }
  case SL_AGG_DISTINCT: {
    const sl_hll *h = *(sl_hll *const *)st;
    int rc = sl_varint_put(b, h != NULL);
    return rc || !h ? rc : sl_hll_serialize(h, b);
  }
  }
  return SL_OK;
}

/* What identifies a function's state: output name, function, argument and
 * rank. Another definition under the same name gets another tag, so its
 * state is never read as this one's. */
static uint32_t def_tag(const sl_agg_def *d) {
  uint64_t h = sl_hash64(d->out, strlen(d->out), 0xa66);
  uint32_t fn = (uint32_t)d->fn;
  h = sl_hash64(&fn, sizeof fn, h);
  for (size_t i = 0; i < d->path_len; i++)
    h = sl_hash64(d->path[i], strlen(d->path[i]) + 1, h);
  h = sl_hash64(&d->q, sizeof d->q, h);
  return (uint32_t)(h >> 32);
}

static void u32_le(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t u32_get(sl_rd *r) {
  const unsigned char *p = sl_bytes_get(r, 4);
  return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
           : 0;
}

/* Format 2: count, then per function its tag (4 bytes, little-endian),
 * the payload length (varint) and the payload. The length is known only
 * after the payload is written: one byte is reserved, and the payload moved
 * in the rare case that its length needs more. */
int sl_agg_serialize(const sl_agg_set *s, const void *block, sl_buf *out) {
  if (sl_varint_put(out, AGG_FORMAT) || sl_varint_put(out, s->count))
    return SL_ERR_NOMEM;
  for (size_t i = 0; i < s->count; i++) {
    unsigned char head[5];
    u32_le(head, def_tag(&s->defs[i]));
    head[4] = 0;
    size_t at = out->len + 4;
    if (sl_buf_append(out, head, 5) != SL_OK ||
        put_one(&s->defs[i], (const char *)block + s->defs[i].offset, out) != SL_OK)
      return SL_ERR_NOMEM;
    size_t len = out->len - at - 1, vn = 0;
    unsigned char v[10]; /* LEB128 of len, as sl_varint_put writes it */
    for (uint64_t x = len;; x >>= 7) {
      v[vn++] = (unsigned char)((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
      if (x < 0x80)
        break;
    }
    if (vn > 1 && sl_buf_append(out, v, vn - 1) != SL_OK)
      return SL_ERR_NOMEM;
    memmove(out->data + at + vn, out->data + at + 1, len);
    memcpy(out->data + at, v, vn);
  }
  return SL_OK;
}

static int read_one(const sl_agg_def *d, void *st, sl_rd *r) {
  switch (d->fn) {
  case SL_AGG_COUNT_ALL:
  case SL_AGG_COUNT:
    *(int64_t *)st = (int64_t)sl_varint_get(r);
    break;
  case SL_AGG_SUM: {
    st_sum *s = st;
    uint64_t kind = sl_varint_get(r);
    if (kind > 2)
      return SL_ERR_PARSE;
    s->kind = (uint8_t)kind;
    if (kind == 1)
      s->u.i = sl_unzigzag(sl_varint_get(r));
    else if (kind == 2)
      s->u.d = sl_f64_get(r);
    break;
  }
  case SL_AGG_MIN:
  case SL_AGG_MAX: {
    sl_value v;
    int rc = val_read(r, &v);
    return rc != SL_OK || v.type == SL_TYPE_NULL ? rc : sl_agg_box_set(st, &v);
  }
  case SL_AGG_AVG: {
    st_avg *s = st;
    s->n = (int64_t)sl_varint_get(r);
    s->sum = sl_f64_get(r);
    break;
  }
  case SL_AGG_FIRST:
  case SL_AGG_LAST: {
    st_ordered *o = st;
    sl_value v;
    int rc = val_read(r, &v);
    if (rc == SL_OK && v.type != SL_TYPE_NULL)
      rc = sl_agg_val_set(&o->v, &v);
    if (rc != SL_OK)
      return rc;
    o->t = sl_unzigzag(sl_varint_get(r));
    o->seq = sl_varint_get(r);
    break;
  }
  case SL_AGG_STDDEV:
  case SL_AGG_STDDEV_POP: {
    st_var *s = st;
    s->n = (int64_t)sl_varint_get(r);
    s->mean = sl_f64_get(r);
    s->m2 = sl_f64_get(r);
    break;
  }
  case SL_AGG_PERCENTILE:
    if (sl_varint_get(r) == 1) {
      sl_ddsketch *sk = sl_dds_deserialize(&r->p, r->end);
      if (!sk)
        return SL_ERR_PARSE;
      *(sl_ddsketch **)st = sk;
    }
    break;
  case SL_AGG_DISTINCT:
    if (sl_varint_get(r) == 1) {
      sl_hll *h = sl_hll_deserialize(&r->p, r->end);
      if (!h)
        return SL_ERR_PARSE;
      *(sl_hll **)st = h;
    }
    break;
  }
  return r->bad ? SL_ERR_PARSE : SL_OK;
}

/* Format 2: each stored function goes to the definition with its tag;
 * stored functions no longer defined are skipped, and defined ones with
 * nothing stored keep their empty state. */
static int read_tagged(const sl_agg_set *s, void *block, sl_rd *r) {
  uint32_t tags[32]; /* computed once per call; more definitions hash on the fly */
  for (size_t i = 0; i < s->count && i < 32; i++)
    tags[i] = def_tag(&s->defs[i]);
  uint64_t n = sl_varint_get(r);
  for (uint64_t k = 0; k < n && !r->bad; k++) {
    uint32_t tag = u32_get(r);
    uint64_t len = sl_varint_get(r);
    const unsigned char *payload = r->bad ? NULL : sl_bytes_get(r, len);
    if (!payload)
      return SL_ERR_PARSE;
    for (size_t i = 0; i < s->count; i++) {
      if ((i < 32 ? tags[i] : def_tag(&s->defs[i])) != tag)
        continue;
      sl_rd one = {payload, payload + len, 0};
      int rc = read_one(&s->defs[i], (char *)block + s->defs[i].offset, &one);
      if (rc != SL_OK || one.p != one.end)
        return SL_ERR_PARSE;
      break;
    }
  }
  return r->bad ? SL_ERR_PARSE : SL_OK;
}

int sl_agg_deserialize(const sl_agg_set *s, void *block, const void *data, size_t len) {
  sl_rd r = {data, (const unsigned char *)data + len, 0};
  int rc = SL_OK;
  sl_agg_release(s, block); /* replaces whatever the block held */
  sl_agg_init(s, block);
  uint64_t format = sl_varint_get(&r);
  if (format == AGG_FORMAT)
    rc = read_tagged(s, block, &r);
  else if (format == AGG_FORMAT_POSITIONAL)
    for (size_t i = 0; i < s->count && rc == SL_OK; i++)
      rc = read_one(&s->defs[i], (char *)block + s->defs[i].offset, &r);
  else
    return SL_ERR_PARSE;
  if (rc == SL_OK && r.p != r.end)
    rc = SL_ERR_PARSE;
  if (rc != SL_OK) { /* never leave a half-read block behind */
    sl_agg_release(s, block);
    sl_agg_init(s, block);
  }
  return rc;
}
