/* SPDX-License-Identifier: Apache-2.0 */
/* Aggregate functions (see aggregate.h): adding a record to a state block,
 * and merging two blocks. Parsing, checks, results and the block lifecycle
 * are in aggregate.c; serialisation in aggregate_codec.c. */
#include <math.h>
#include <string.h>

#include "base/hash64.h"
#include "state/aggregate.h"
#include "state/aggregate_state.h"
#include "state/ddsketch.h"
#include "state/hll.h"

static double num(const sl_value *v) { return v->type == SL_TYPE_INT ? (double)v->as.i : v->as.d; }

/* The argument, or NULL when null, missing or NaN (all ignored). */
static const sl_value *arg_of(const sl_agg_def *d, const sl_record *r) {
  const sl_value *v = sl_record_get_path(r, d->path, d->path_len);
  if (!v || v->type == SL_TYPE_NULL || (v->type == SL_TYPE_DOUBLE && isnan(v->as.d)))
    return NULL;
  return v;
}

/* Order for min/max: numbers (compared exactly across int/double) before strings. */
static int val_cmp(const sl_value *a, const sl_value *b) {
  int an = sl_agg_is_num(a), bn = sl_agg_is_num(b);
  if (an != bn)
    return an ? -1 : 1;
  if (an) {
    if (a->type == SL_TYPE_INT && b->type == SL_TYPE_INT)
      return (a->as.i > b->as.i) - (a->as.i < b->as.i);
    long double x = a->type == SL_TYPE_INT ? (long double)a->as.i : a->as.d;
    long double y = b->type == SL_TYPE_INT ? (long double)b->as.i : b->as.d;
    return (x > y) - (x < y);
  }
  size_t n = a->as.str.len < b->as.str.len ? a->as.str.len : b->as.str.len;
  int c = memcmp(a->as.str.ptr, b->as.str.ptr, n);
  if (c)
    return c;
  return (a->as.str.len > b->as.str.len) - (a->as.str.len < b->as.str.len);
}

/* ---- update and merge --------------------------------------------------- */

static void sum_add_int(st_sum *s, int64_t x) {
  if (s->kind == 0) {
    s->kind = 1;
    s->u.i = x;
  } else if (s->kind == 1) {
    int64_t r;
    if (__builtin_add_overflow(s->u.i, x, &r)) {
      s->kind = 2; /* int overflow: continue in double rather than wrap */
      s->u.d = (double)s->u.i + (double)x;
    } else {
      s->u.i = r;
    }
  } else {
    s->u.d += (double)x;
  }
}

static void sum_add_double(st_sum *s, double x) {
  if (s->kind == 1)
    s->u.d = (double)s->u.i + x;
  else if (s->kind == 0)
    s->u.d = x;
  else
    s->u.d += x;
  s->kind = 2;
}

static void var_merge(st_var *a, int64_t nb, double mb, double m2b) {
  if (nb == 0)
    return;
  if (a->n == 0) {
    a->n = nb;
    a->mean = mb;
    a->m2 = m2b;
    return;
  }
  double n = (double)(a->n + nb), delta = mb - a->mean;
  a->mean += delta * (double)nb / n;
  a->m2 += m2b + delta * delta * (double)a->n * (double)nb / n;
  a->n += nb;
}

static int ordered_put(st_ordered *o, const sl_value *v, int64_t t, uint64_t seq, int last) {
  int take = o->v.type == SL_TYPE_NULL;
  if (!take)
    take = last ? (t > o->t || (t == o->t && seq > o->seq))
                : (t < o->t || (t == o->t && seq < o->seq));
  if (!take)
    return SL_OK;
  int rc = sl_agg_val_set(&o->v, v);
  o->t = t;
  o->seq = seq;
  return rc;
}

static uint64_t value_hash(const sl_value *v) {
  unsigned char buf[9];
  double d;
  int64_t i;
  switch (v->type) {
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES:
    return sl_hash64(v->as.str.ptr, v->as.str.len, 0x5157 + v->type);
  case SL_TYPE_DOUBLE:
    d = v->as.d;
    if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) { /* 3.0 counts as 3 */
      i = (int64_t)d;
      goto as_int;
    }
    buf[0] = SL_TYPE_DOUBLE;
    memcpy(buf + 1, &d, 8);
    return sl_hash64(buf, 9, 0x5157);
  case SL_TYPE_BOOL:
    buf[0] = SL_TYPE_BOOL;
    buf[1] = (unsigned char)v->as.b;
    return sl_hash64(buf, 2, 0x5157);
  default:
    i = v->as.i;
    goto as_int;
  }
as_int:
  buf[0] = SL_TYPE_INT;
  memcpy(buf + 1, &i, 8);
  return sl_hash64(buf, 9, 0x5157);
}

static __attribute__((noinline)) int update_one(sl_agg_fn fn, void *st, const sl_value *v,
                                                int64_t t, uint64_t seq) {
  switch (fn) {
  case SL_AGG_COUNT_ALL:
  case SL_AGG_COUNT:
    ++*(int64_t *)st;
    return SL_OK;
  case SL_AGG_SUM:
    if (v->type == SL_TYPE_INT)
      sum_add_int(st, v->as.i);
    else
      sum_add_double(st, v->as.d);
    return SL_OK;
  case SL_AGG_MIN:
  case SL_AGG_MAX: {
    sl_value cur = sl_agg_box_get(st);
    int c = cur.type == SL_TYPE_NULL ? 0 : val_cmp(v, &cur);
    if (cur.type == SL_TYPE_NULL || (fn == SL_AGG_MIN ? c < 0 : c > 0))
      return sl_agg_box_set(st, v);
    return SL_OK;
  }
  case SL_AGG_AVG: {
    st_avg *a = st;
    a->sum += num(v);
    a->n++;
    return SL_OK;
  }
  case SL_AGG_FIRST:
  case SL_AGG_LAST:
    return ordered_put(st, v, t, seq, fn == SL_AGG_LAST);
  case SL_AGG_STDDEV:
  case SL_AGG_STDDEV_POP: {
    st_var *a = st;
    double x = num(v), delta = x - a->mean;
    a->n++;
    a->mean += delta / (double)a->n;
    a->m2 += delta * (x - a->mean);
    return SL_OK;
  }
  case SL_AGG_PERCENTILE: {
    sl_ddsketch **sk = st;
    double x = num(v);
    if (!isfinite(x))
      return SL_OK;
    if (!*sk && !(*sk = sl_dds_new()))
      return SL_ERR_NOMEM;
    return sl_dds_add(*sk, x);
  }
  case SL_AGG_DISTINCT: {
    sl_hll **h = st;
    if (!*h && !(*h = sl_hll_new()))
      return SL_ERR_NOMEM;
    return sl_hll_add_hash(*h, value_hash(v));
  }
  }
  return SL_OK;
}

/* update_one for a double argument, the common case, without converting
 * or boxing it; other cases go to update_one. */
static inline int update_double(sl_agg_fn fn, void *st, const sl_value *v, int64_t t,
                                uint64_t seq) {
  double x = v->as.d;
  switch (fn) {
  case SL_AGG_AVG: {
    st_avg *a = st;
    a->sum += x;
    a->n++;
    return SL_OK;
  }
  case SL_AGG_MIN:
    if (sl_agg_box_keep_double(st, x, 0) == SL_OK)
      return SL_OK;
    break; /* the box holds an int or a string */
  case SL_AGG_MAX:
    if (sl_agg_box_keep_double(st, x, 1) == SL_OK)
      return SL_OK;
    break;
  case SL_AGG_PERCENTILE: {
    sl_ddsketch **sk = st;
    if (!isfinite(x))
      return SL_OK;
    if (!*sk && !(*sk = sl_dds_new()))
      return SL_ERR_NOMEM;
    return sl_dds_add(*sk, x);
  }
  default:
    break;
  }
  return update_one(fn, st, v, t, seq);
}

/* count, sum and avg of a straight-line field: they take any double. */
static inline void fused_counts(const agg_fused *f, char *b, double x) {
  if (f->count >= 0)
    ++*(int64_t *)(b + f->count);
  if (f->sum >= 0)
    sum_add_double((st_sum *)(b + f->sum), x);
  if (f->avg >= 0) {
    st_avg *a = (st_avg *)(b + f->avg);
    a->sum += x;
    a->n++;
  }
}

/* A double into the functions of a field with a straight-line plan, any
 * case. */
static __attribute__((noinline)) int update_fused_general(const agg_fused *f, char *b,
                                                          const sl_value *v, int64_t t,
                                                          uint64_t seq) {
  double x = v->as.d;
  int rc;
  fused_counts(f, b, x);
  if (f->min >= 0 && sl_agg_box_keep_double((agg_box *)(b + f->min), x, 0) != SL_OK &&
      (rc = update_one(SL_AGG_MIN, b + f->min, v, t, seq)) != SL_OK)
    return rc; /* the box holds an int or a string */
  if (f->max >= 0 && sl_agg_box_keep_double((agg_box *)(b + f->max), x, 1) != SL_OK &&
      (rc = update_one(SL_AGG_MAX, b + f->max, v, t, seq)) != SL_OK)
    return rc;
  if (!isfinite(x)) /* percentiles ignore infinities */
    return SL_OK;
  for (uint32_t i = 0; i < f->npct; i++) {
    sl_ddsketch **sk = (sl_ddsketch **)(b + f->pct[i]);
    if (!*sk && !(*sk = sl_dds_new()))
      return SL_ERR_NOMEM;
    if ((rc = sl_dds_add(*sk, x)) != SL_OK)
      return rc;
  }
  return SL_OK;
}

/* The common case of update_fused_general with no call but tail calls
 * (so no registers to save): min/max boxes empty or holding doubles, at
 * most one percentile, its sketch there. Anything else, checked before
 * any state changes, goes to update_fused_general. */
static __attribute__((noinline)) int update_fused(const agg_fused *f, char *b, const sl_value *v,
                                                  int64_t t, uint64_t seq) {
  double x = v->as.d;
  sl_ddsketch *sk = f->npct == 1 ? *(sl_ddsketch **)(b + f->pct[0]) : NULL;
  if (f->npct > 1 || (f->npct && !sk) ||
      (f->min >= 0 && !sl_agg_box_takes_double((agg_box *)(b + f->min))) ||
      (f->max >= 0 && !sl_agg_box_takes_double((agg_box *)(b + f->max))))
    return update_fused_general(f, b, v, t, seq);
  fused_counts(f, b, x);
  if (f->min >= 0)
    sl_agg_box_keep_double((agg_box *)(b + f->min), x, 0); /* takes it: checked above */
  if (f->max >= 0)
    sl_agg_box_keep_double((agg_box *)(b + f->max), x, 1);
  if (!sk || !isfinite(x)) /* percentiles ignore infinities */
    return SL_OK;
  return sl_dds_try_add(sk, x) == 0 ? SL_OK : sl_dds_add(sk, x);
}

/* The functions of one field one by one: values that are not doubles,
 * fields without a straight-line plan. */
static __attribute__((noinline)) int update_ops(const sl_agg_op *op, const sl_agg_op *end,
                                                char *b, const sl_value *v, int64_t t,
                                                uint64_t seq) {
  int dbl = v->type == SL_TYPE_DOUBLE;
  for (; op < end; op++) {
    int rc = dbl ? update_double(op->fn, b + op->offset, v, t, seq)
                 : update_one(op->fn, b + op->offset, v, t, seq);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

/* The fields of a set with several, one after the other. */
static __attribute__((noinline)) int update_fields(const sl_agg_set *s, const sl_agg_op *op,
                                                   char *b, int64_t t, uint64_t seq) {
  for (const sl_agg_arg *a = s->args, *last = a + s->nargs; a < last; a++) {
    const sl_value *v = a->val;
    const sl_agg_op *end = op + a->nops;
    int rc = !v ? SL_OK /* null, missing or NaN: ignored */
             : v->type == SL_TYPE_DOUBLE && a->fused ? update_fused(&a->f, b, v, t, seq)
                                                     : update_ops(op, end, b, v, t, seq);
    if (rc != SL_OK)
      return rc;
    op = end;
  }
  return SL_OK;
}

/* count() here, the fields in tail calls: with no call of its own the
 * function saves no registers. One field (avg/max/p95 of temperature) is
 * the common case. */
int sl_agg_update_checked(const sl_agg_set *s, void *block, int64_t t, uint64_t seq) {
  char *b = block;
  const sl_agg_op *op = s->ops;
  if (s->ncount_all == 1) {
    ++*(int64_t *)(b + op->offset);
    op++;
  } else {
    for (const sl_agg_op *end = op + s->ncount_all; op < end; op++) /* count() */
      ++*(int64_t *)(b + op->offset);
  }
  if (s->nargs != 1)
    return update_fields(s, op, b, t, seq);
  const sl_agg_arg *a = s->args;
  const sl_value *v = a->val;
  if (!v) /* null, missing or NaN: ignored */
    return SL_OK;
  if (v->type == SL_TYPE_DOUBLE && a->fused)
    return update_fused(&a->f, b, v, t, seq);
  return update_ops(op, op + a->nops, b, v, t, seq);
}

int sl_agg_update(const sl_agg_set *s, void *block, const sl_record *r, int64_t t, uint64_t seq) {
  char *b = block;
  for (size_t i = 0; i < s->count; i++) {
    const sl_agg_def *d = &s->defs[i];
    const sl_value *v = NULL;
    if (d->fn != SL_AGG_COUNT_ALL && !(v = arg_of(d, r)))
      continue;
    int rc = update_one(d->fn, b + d->offset, v, t, seq);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

static int merge_one(const sl_agg_def *d, void *dst, const void *src) {
  switch (d->fn) {
  case SL_AGG_COUNT_ALL:
  case SL_AGG_COUNT:
    *(int64_t *)dst += *(const int64_t *)src;
    return SL_OK;
  case SL_AGG_SUM: {
    const st_sum *b = src;
    if (b->kind == 1)
      sum_add_int(dst, b->u.i);
    else if (b->kind == 2)
      sum_add_double(dst, b->u.d);
    return SL_OK;
  }
  case SL_AGG_MIN:
  case SL_AGG_MAX: {
    sl_value v = sl_agg_box_get(src);
    if (v.type == SL_TYPE_NULL)
      return SL_OK;
    return update_one(d->fn, dst, &v, 0, 0);
  }
  case SL_AGG_AVG: {
    st_avg *a = dst;
    const st_avg *b = src;
    a->sum += b->sum;
    a->n += b->n;
    return SL_OK;
  }
  case SL_AGG_FIRST:
  case SL_AGG_LAST: {
    const st_ordered *b = src;
    if (b->v.type == SL_TYPE_NULL)
      return SL_OK;
    sl_value v = sl_agg_val_get(&b->v);
    return ordered_put(dst, &v, b->t, b->seq, d->fn == SL_AGG_LAST);
  }
  case SL_AGG_STDDEV:
  case SL_AGG_STDDEV_POP: {
    const st_var *b = src;
    var_merge(dst, b->n, b->mean, b->m2);
    return SL_OK;
  }
  case SL_AGG_PERCENTILE: {
    sl_ddsketch **a = dst, *const *b = src;
    if (!*b)
      return SL_OK;
    if (!*a && !(*a = sl_dds_new()))
      return SL_ERR_NOMEM;
    return sl_dds_merge(*a, *b);
  }
  case SL_AGG_DISTINCT: {
    sl_hll **a = dst, *const *b = src;
    if (!*b)
      return SL_OK;
    if (!*a && !(*a = sl_hll_new()))
      return SL_ERR_NOMEM;
    return sl_hll_merge(*a, *b);
  }
  }
  return SL_OK;
}

int sl_agg_merge(const sl_agg_set *s, void *dst, const void *src) {
  for (size_t i = 0; i < s->count; i++) {
    int rc = merge_one(&s->defs[i], (char *)dst + s->defs[i].offset,
                       (const char *)src + s->defs[i].offset);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}
