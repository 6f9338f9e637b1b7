/* SPDX-License-Identifier: Apache-2.0 */
/* DDSketch: a mergeable quantile sketch with relative accuracy (Masson,
 * Rim, Lee, VLDB 2019). Values map to buckets (gamma^(i-1), gamma^i] with
 * gamma = (1+a)/(1-a); positive and negative values have separate stores,
 * exact zeros a counter. Stores keep at most SL_DDS_MAX_BUCKETS buckets;
 * beyond that the lowest-magnitude buckets of the positive store (the
 * highest of the negative store) are collapsed, so accuracy degrades only
 * for the quantiles nearest zero on extremely wide value ranges. */
#ifndef SLUICE_DDSKETCH_H
#define SLUICE_DDSKETCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"

#define SL_DDS_ALPHA 0.0075      /* relative accuracy: 0.75 % (SPEC asks <= 1 %) */
#define SL_DDS_MAX_BUCKETS 2048

typedef struct sl_dds_store {
  uint64_t *counts; /* malloc'd, counts[i] is bucket index offset + i */
  int32_t offset;
  uint32_t len;
} sl_dds_store;

typedef struct sl_ddsketch {
  sl_dds_store pos, neg; /* neg holds |v| of negative values */
  uint64_t zero;         /* values with |v| below the smallest indexable magnitude */
  uint64_t count;
  double min, max; /* exact extremes, to answer q = 0 and q = 1 exactly */
} sl_ddsketch;

/* The bucket tables of ddsketch.c (see there), built by the first
 * sl_dds_new; read-only afterwards. */
#define SL_DDS_FAST_OCT_MIN (-64)
#define SL_DDS_FAST_SLICE_BITS 7
#define SL_DDS_FAST_SLICES (128 << SL_DDS_FAST_SLICE_BITS) /* octaves 2^-64 .. 2^64 */
#define SL_DDS_FAST_KEY0 ((uint64_t)(1023 + SL_DDS_FAST_OCT_MIN) << SL_DDS_FAST_SLICE_BITS)
#define SL_DDS_FAST_BUCKETS 6000 /* > 128 octaves * 46.2 buckets, checked at init */
typedef struct sl_dds_tables {
  uint64_t slices;                    /* SL_DDS_FAST_SLICES, or 0 when unusable */
  int32_t lo;                         /* index of top[0] */
  uint16_t first[SL_DDS_FAST_SLICES]; /* index - lo of each slice's lowest value */
  double top[SL_DDS_FAST_BUCKETS];    /* largest double of bucket lo + i */
} sl_dds_tables;
extern sl_dds_tables sl_dds_fast;

sl_ddsketch *sl_dds_new(void);
void sl_dds_destroy(sl_ddsketch *s); /* NULL is a no-op */
/* Add a finite value (non-finite values are ignored by the caller). */
int sl_dds_add(sl_ddsketch *s, double v);

/* sl_dds_add for a finite value whose bucket s already has, inline and
 * without a call (the common case: readings of one window are close): 0,
 * or 1 when sl_dds_add must do it (zero, outside the tables, a new
 * bucket); s is unchanged then. */
static inline int sl_dds_try_add(sl_ddsketch *s, double v) {
  double mag = v < 0 ? -v : v;
  uint64_t u;
  memcpy(&u, &mag, 8);
  uint64_t k = (u >> (52 - SL_DDS_FAST_SLICE_BITS)) - SL_DDS_FAST_KEY0; /* wraps below */
  if (k >= sl_dds_fast.slices) /* also zero */
    return 1;
  uint32_t j = sl_dds_fast.first[k];
  int64_t idx = sl_dds_fast.lo + (int32_t)j + (mag > sl_dds_fast.top[j]);
  sl_dds_store *st = v > 0 ? &s->pos : &s->neg;
  uint64_t at = (uint64_t)(idx - st->offset);
  if (at >= st->len)
    return 1;
  st->counts[at]++;
  s->count++;
  if (v < s->min)
    s->min = v;
  if (v > s->max)
    s->max = v;
  return 0;
}
/* The bucket of a magnitude >= 1e-300 (smaller ones count as zero): the
 * least i with |v| <= gamma^i, as ceil(log(|v|) / log(gamma)) computes it in
 * double precision. Exposed for tests. */
int32_t sl_dds_index(double mag);
/* Add every value of src to dst. */
int sl_dds_merge(sl_ddsketch *dst, const sl_ddsketch *src);
/* The value at rank floor(q * (count - 1)) of the sorted input, within
 * SL_DDS_ALPHA relative error; q in [0, 1]. NaN when empty. */
double sl_dds_quantile(const sl_ddsketch *s, double q);
/* Compact binary form (varints) and back; deserialise returns NULL on
 * malformed bytes and advances *p. */
int sl_dds_serialize(const sl_ddsketch *s, sl_buf *out);
sl_ddsketch *sl_dds_deserialize(const unsigned char **p, const unsigned char *end);
/* Bytes owned by the sketch (for memory accounting). */
size_t sl_dds_bytes(const sl_ddsketch *s);

#endif
