/* SPDX-License-Identifier: Apache-2.0 */
/* DDSketch (see ddsketch.h): logarithmic bucket mapping, dense stores that
 * grow to the range of indices seen and collapse their lowest buckets past
 * SL_DDS_MAX_BUCKETS, merge and a varint serialisation. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/varint.h"
#include "sluice/error.h"
#include "state/ddsketch.h"

/* Magnitudes below this count as zero: log() would leave the int32 range of
 * indices long before, and no telemetry value is that small. */
#define DDS_MIN_INDEXABLE 1e-300

static double dds_gamma(void) { return (1.0 + SL_DDS_ALPHA) / (1.0 - SL_DDS_ALPHA); }
static double dds_inv_log_gamma(void) {
  static double v; /* computed once; a benign race writes the same value */
  if (v == 0)
    v = 1.0 / log(dds_gamma());
  return v;
}

/* The definition of a value's bucket. Checkpoints hold bucket indices, so
 * every version must map every double exactly as this does. */
static int32_t dds_index(double mag) { return (int32_t)ceil(log(mag) * dds_inv_log_gamma()); }

/* The same index without log() (which costs ~100 instructions) for
 * magnitudes in [2^-64, 2^64): the exponent and the top FAST_SLICE_BITS
 * mantissa bits select one of FAST_SLICES slices, each narrower than a
 * bucket (46 buckets per octave, 128 slices), so a slice holds at most one
 * bucket boundary. The index is the one of the slice's lowest value, plus
 * one when the value lies above that bucket's largest member. Both tables
 * are derived from dds_index itself at the first sketch, so the two agree
 * wherever dds_index is monotonic; tests/core/state/test_ddsketch.c checks
 * every boundary and its neighbouring doubles. Other magnitudes use log(). */
#define FAST_OCT_MIN SL_DDS_FAST_OCT_MIN
#define FAST_OCTAVES 128
#define FAST_SLICE_BITS SL_DDS_FAST_SLICE_BITS
#define FAST_SLICES SL_DDS_FAST_SLICES
#define FAST_KEY0 SL_DDS_FAST_KEY0
#define FAST_BUCKETS SL_DDS_FAST_BUCKETS
_Static_assert(FAST_SLICES == FAST_OCTAVES << FAST_SLICE_BITS, "one slice table per octave");

sl_dds_tables sl_dds_fast;
static pthread_once_t fast_once = PTHREAD_ONCE_INIT;

static double from_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, 8);
  return d;
}

/* Largest double whose index is i. The boundary is near gamma^i, but the
 * rounding of log() * 1/log(gamma) moves it by up to a few dozen doubles:
 * bracket it by doubling steps, then bisect the bit patterns (ordered like
 * the values for positive doubles): ~10 log() calls per bucket. */
static double bucket_top(int32_t i) {
  double x = pow(dds_gamma(), (double)i);
  uint64_t u, lo, hi, step;
  memcpy(&u, &x, 8);
  for (step = 1, lo = u; dds_index(from_bits(lo)) > i; step *= 2)
    lo = u - step; /* lo: index <= i */
  for (step = 1, hi = u + 1; dds_index(from_bits(hi)) <= i; step *= 2)
    hi = u + step; /* hi: index > i */
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (dds_index(from_bits(mid)) <= i)
      lo = mid;
    else
      hi = mid;
  }
  return from_bits(lo);
}

static void fast_init(void) {
  double lowest = ldexp(1, FAST_OCT_MIN),
         highest = nextafter(ldexp(1, FAST_OCT_MIN + FAST_OCTAVES), 0);
  sl_dds_fast.lo = dds_index(lowest);
  int32_t hi = dds_index(highest);
  if ((int64_t)hi - sl_dds_fast.lo + 1 > FAST_BUCKETS)
    return;
  for (int32_t i = sl_dds_fast.lo; i <= hi; i++)
    sl_dds_fast.top[i - sl_dds_fast.lo] = bucket_top(i);
  /* Walk slices and buckets together: a slice's lowest value x is in the
   * first bucket whose top is >= x. */
  uint32_t j = 0;
  for (uint64_t k = 0; k < FAST_SLICES; k++) {
    double x = from_bits((k + FAST_KEY0) << (52 - FAST_SLICE_BITS));
    while (sl_dds_fast.top[j] < x)
      j++;
    sl_dds_fast.first[k] = (uint16_t)j;
    /* the slice's highest value must be at most one bucket further */
    double last = from_bits(((k + 1 + FAST_KEY0) << (52 - FAST_SLICE_BITS)) - 1);
    if (j + 1 < (uint32_t)(hi - sl_dds_fast.lo + 1) && sl_dds_fast.top[j + 1] < last)
      return;
  }
  sl_dds_fast.slices = FAST_SLICES;
}

static int32_t dds_index_fast(double mag) {
  uint64_t u;
  memcpy(&u, &mag, 8);
  uint64_t k = (u >> (52 - FAST_SLICE_BITS)) - FAST_KEY0; /* wraps below the range */
  if (k >= sl_dds_fast.slices)
    return dds_index(mag);
  uint32_t j = sl_dds_fast.first[k];
  return sl_dds_fast.lo + (int32_t)j + (mag > sl_dds_fast.top[j]);
}

int32_t sl_dds_index(double mag) {
  pthread_once(&fast_once, fast_init);
  return dds_index_fast(mag);
}

static double dds_value(int32_t i) {
  double g = dds_gamma();
  return 2.0 * pow(g, (double)i) / (g + 1.0);
}

sl_ddsketch *sl_dds_new(void) {
  pthread_once(&fast_once, fast_init); /* sl_dds_add relies on it */
  sl_ddsketch *s = calloc(1, sizeof *s);
  if (s) {
    s->min = INFINITY;
    s->max = -INFINITY;
  }
  return s;
}

void sl_dds_destroy(sl_ddsketch *s) {
  if (!s)
    return;
  free(s->pos.counts);
  free(s->neg.counts);
  free(s);
}

/* Make the store cover [lo, hi] (collapsing below when too wide). */
static int store_extend(sl_dds_store *st, int32_t lo, int32_t hi) {
  if (st->len) {
    if (st->offset < lo)
      lo = st->offset;
    int32_t cur_hi = st->offset + (int32_t)st->len - 1;
    if (cur_hi > hi)
      hi = cur_hi;
  }
  if ((int64_t)hi - lo + 1 > SL_DDS_MAX_BUCKETS)
    lo = hi - SL_DDS_MAX_BUCKETS + 1;
  if (st->len && lo == st->offset && hi == st->offset + (int32_t)st->len - 1)
    return SL_OK;
  uint32_t nlen = (uint32_t)(hi - lo + 1);
  uint64_t *n = calloc(nlen, sizeof *n);
  if (!n)
    return SL_ERR_NOMEM;
  for (uint32_t i = 0; i < st->len; i++) {
    int32_t idx = st->offset + (int32_t)i;
    if (idx < lo)
      idx = lo; /* collapse the lowest buckets into the new lowest */
    n[idx - lo] += st->counts[i];
  }
  free(st->counts);
  st->counts = n;
  st->offset = lo;
  st->len = nlen;
  return SL_OK;
}

static int store_add(sl_dds_store *st, int32_t idx, uint64_t n) {
  if (!st->len || idx < st->offset || idx >= st->offset + (int32_t)st->len) {
    int rc = store_extend(st, idx, idx);
    if (rc != SL_OK)
      return rc;
  }
  if (idx < st->offset)
    idx = st->offset; /* the store collapsed: fold into the lowest bucket */
  st->counts[idx - st->offset] += n;
  return SL_OK;
}

/* sl_dds_add for zeros, magnitudes outside the table and new buckets. */
static __attribute__((noinline)) int add_general(sl_ddsketch *s, double v) {
  double mag = fabs(v);
  int rc = SL_OK;
  if (mag < DDS_MIN_INDEXABLE)
    s->zero++;
  else
    rc = store_add(v > 0 ? &s->pos : &s->neg, dds_index_fast(mag), 1);
  if (rc != SL_OK)
    return rc;
  s->count++;
  if (v < s->min)
    s->min = v;
  if (v > s->max)
    s->max = v;
  return SL_OK;
}

int sl_dds_add(sl_ddsketch *s, double v) {
  return sl_dds_try_add(s, v) == 0 ? SL_OK : add_general(s, v);
}

static int store_merge(sl_dds_store *dst, const sl_dds_store *src) {
  if (!src->len)
    return SL_OK;
  int rc = store_extend(dst, src->offset, src->offset + (int32_t)src->len - 1);
  if (rc != SL_OK)
    return rc;
  for (uint32_t i = 0; i < src->len; i++) {
    if (!src->counts[i])
      continue;
    int32_t idx = src->offset + (int32_t)i;
    if (idx < dst->offset)
      idx = dst->offset;
    dst->counts[idx - dst->offset] += src->counts[i];
  }
  return SL_OK;
}

int sl_dds_merge(sl_ddsketch *dst, const sl_ddsketch *src) {
  int rc = store_merge(&dst->pos, &src->pos);
  if (rc == SL_OK)
    rc = store_merge(&dst->neg, &src->neg);
  if (rc != SL_OK)
    return rc;
  dst->zero += src->zero;
  dst->count += src->count;
  if (src->min < dst->min)
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
  return SL_OK;
}

double sl_dds_quantile(const sl_ddsketch *s, double q) {
  if (!s->count || !(q >= 0 && q <= 1))
    return NAN;
  if (q == 0)
    return s->min;
  if (q == 1)
    return s->max;
  double rank = floor(q * (double)(s->count - 1));
  double cum = 0, v = s->max;
  int found = 0;
  for (uint32_t i = s->neg.len; i-- > 0 && !found;) {
    cum += (double)s->neg.counts[i];
    if (cum > rank) {
      v = -dds_value(s->neg.offset + (int32_t)i);
      found = 1;
    }
  }
  if (!found) {
    cum += (double)s->zero;
    if (cum > rank) {
      v = 0;
      found = 1;
    }
  }
  for (uint32_t i = 0; i < s->pos.len && !found; i++) {
    cum += (double)s->pos.counts[i];
    if (cum > rank) {
      v = dds_value(s->pos.offset + (int32_t)i);
      found = 1;
    }
  }
  if (v < s->min)
    v = s->min;
  if (v > s->max)
    v = s->max;
  return v;
}

static int store_put(const sl_dds_store *st, sl_buf *out) {
  int rc = sl_varint_put(out, sl_zigzag(st->offset));
  rc = rc ? rc : sl_varint_put(out, st->len);
  for (uint32_t i = 0; i < st->len && rc == 0; i++)
    rc = sl_varint_put(out, st->counts[i]);
  return rc ? SL_ERR_NOMEM : SL_OK;
}

int sl_dds_serialize(const sl_ddsketch *s, sl_buf *out) {
  if (sl_varint_put(out, s->count) || sl_varint_put(out, s->zero) || sl_f64_put(out, s->min) ||
      sl_f64_put(out, s->max))
    return SL_ERR_NOMEM;
  int rc = store_put(&s->pos, out);
  return rc == SL_OK ? store_put(&s->neg, out) : rc;
}

static int store_get(sl_dds_store *st, sl_rd *r) {
  int64_t off = sl_unzigzag(sl_varint_get(r));
  uint64_t len = sl_varint_get(r);
  if (r->bad || len > SL_DDS_MAX_BUCKETS || off < INT32_MIN || off > INT32_MAX - (int64_t)len)
    return SL_ERR_PARSE;
  if (!len)
    return SL_OK;
  st->counts = calloc(len, sizeof *st->counts);
  if (!st->counts)
    return SL_ERR_NOMEM;
  st->offset = (int32_t)off;
  st->len = (uint32_t)len;
  for (uint64_t i = 0; i < len; i++)
    st->counts[i] = sl_varint_get(r);
  return r->bad ? SL_ERR_PARSE : SL_OK;
}

sl_ddsketch *sl_dds_deserialize(const unsigned char **p, const unsigned char *end) {
  sl_rd r = {*p, end, 0};
  sl_ddsketch *s = sl_dds_new();
  if (!s)
    return NULL;
  s->count = sl_varint_get(&r);
  s->zero = sl_varint_get(&r);
  s->min = sl_f64_get(&r);
  s->max = sl_f64_get(&r);
  if (r.bad || store_get(&s->pos, &r) != SL_OK || store_get(&s->neg, &r) != SL_OK) {
    sl_dds_destroy(s);
    return NULL;
  }
  *p = r.p;
  return s;
}

size_t sl_dds_bytes(const sl_ddsketch *s) {
  return sizeof *s + (s->pos.len + s->neg.len) * sizeof(uint64_t);
}
