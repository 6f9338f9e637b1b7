/* SPDX-License-Identifier: Apache-2.0 */
/* HyperLogLog (see hll.h). Registers start sparse, as in HLL++ (Heule,
 * Nunkesser, Hall 2013): a sorted list of (25-bit index, rank) pairs, so a
 * window that sees a handful of distinct values costs bytes, not 48 KiB,
 * and is counted nearly exactly (linear counting over 2^25 registers
 * collides about once in 65,000 pairs of values). Past SL_HLL_SPARSE_MAX
 * pairs they fold into the 2^16 dense registers. A register at a finer
 * precision carries exactly what the coarser register it falls in needs
 * (coarsen()), so folding sparse pairs into dense registers, or precision-16
 * registers into precision-14 ones (merging with a sketch restored from an
 * earlier release), loses nothing against adding the hashes to the coarser
 * registers directly. The dense estimate is Ertl 2017, "New cardinality
 * estimation algorithms for HyperLogLog sketches", section 4 (improved raw
 * estimator). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/varint.h"
#include "sluice/error.h"
#include "state/hll.h"

#define HLL_SQ (64 - SL_HLL_SP) /* bits left for the sparse rank: 1..SQ+1 */
#define HLL_SM (UINT64_C(1) << SL_HLL_SP)
#define SP_IDX(e) ((e) >> 6)
#define SP_RANK(e) ((e) & 0x3fu)

/* Packed bytes of 2^p 6-bit registers, plus the pad byte (hll.h). */
static size_t dense_bytes(unsigned p) { return ((size_t)3 << p) / 4 + 1; }

/* Register i spans at most two bytes: the 16 bits from byte 6i/8 hold it
 * at shift 6i%8 (0, 2, 4 or 6), low byte first on every host, so the
 * serialised registers are the memory ones. */
static inline uint32_t load16(const uint8_t *d) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint16_t w;
  memcpy(&w, d, 2); /* one load instead of two */
  return w;
#else
  return (uint32_t)d[0] | (uint32_t)d[1] << 8;
#endif
}

static inline void store16(uint8_t *d, uint32_t w) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint16_t v = (uint16_t)w;
  memcpy(d, &v, 2);
#else
  d[0] = (uint8_t)w;
  d[1] = (uint8_t)(w >> 8);
#endif
}

static inline uint32_t reg_get(const uint8_t *d, uint32_t i) {
  uint32_t bit = i * 6;
  return (load16(d + (bit >> 3)) >> (bit & 7)) & 63u;
}

static inline void reg_max(uint8_t *d, uint32_t i, uint32_t rank) {
  uint32_t bit = i * 6, s = bit & 7;
  uint32_t w = load16(d + (bit >> 3));
  if (rank > ((w >> s) & 63u))
    store16(d + (bit >> 3), (w & ~(63u << s)) | rank << s);
}

/* The dense update; inlined with p constant for the usual precision. */
static inline __attribute__((always_inline)) void dense_add(uint8_t *d, uint64_t hash, unsigned p) {
  uint64_t rest = (hash << p) | (UINT64_C(1) << (p - 1)); /* bounds the rank */
  reg_max(d, (uint32_t)(hash >> (64 - p)), (uint32_t)__builtin_clzll(rest) + 1);
}

sl_hll *sl_hll_new(void) { return calloc(1, sizeof(sl_hll)); }

void sl_hll_destroy(sl_hll *h) {
  if (!h)
    return;
  free(h->dense);
  free(h->sparse);
  free(h);
}

uint32_t sl_hll_register(const sl_hll *h, uint32_t idx) { return reg_get(h->dense, idx); }

/* The register (index, rank) at precision `to` that register i of rank r
 * (r >= 1) at the finer precision `from` stands for: the from - to low
 * index bits come first in the coarser rank's bit string, so their leading
 * zeros give the rank, or when all are zero, r plus their number. */
static inline void coarsen(uint32_t i, uint32_t r, unsigned from, unsigned to, uint32_t *idx,
                           uint32_t *rank) {
  unsigned d = from - to;
  uint32_t low = i & ((1u << d) - 1);
  *idx = i >> d;
  *rank = low ? (uint32_t)__builtin_clz(low) - (32 - d) + 1 : r + d;
}

static int to_dense(sl_hll *h, unsigned p) {
  if (!(h->dense = calloc(dense_bytes(p), 1)))
    return SL_ERR_NOMEM;
  h->p = (uint8_t)p;
  for (uint32_t i = 0; i < h->sparse_len; i++) {
    uint32_t idx, rank;
    coarsen(SP_IDX(h->sparse[i]), SP_RANK(h->sparse[i]), SL_HLL_SP, p, &idx, &rank);
    reg_max(h->dense, idx, rank);
  }
  free(h->sparse);
  h->sparse = NULL;
  h->sparse_len = h->sparse_cap = 0;
  return SL_OK;
}

/* Max of every non-empty register of src (precision from >= dst's p) into
 * dst's registers. */
static void fold_into(sl_hll *dst, const uint8_t *src, unsigned from) {
  for (uint32_t i = 0, m = 1u << from; i < m; i++) {
    uint32_t r = reg_get(src, i), idx = i, rank = r;
    if (r == 0)
      continue;
    if (from != dst->p)
      coarsen(i, r, from, dst->p, &idx, &rank);
    reg_max(dst->dense, idx, rank);
  }
}

/* Rebuild h's dense registers at the coarser precision p. */
static int fold_down(sl_hll *h, unsigned p) {
  uint8_t *fine = h->dense;
  unsigned from = h->p;
  if (!(h->dense = calloc(dense_bytes(p), 1))) {
    h->dense = fine;
    return SL_ERR_NOMEM;
  }
  h->p = (uint8_t)p;
  fold_into(h, fine, from);
  free(fine);
  return SL_OK;
}

/* Record sparse pair `e` (index25 << 6 | rank), going dense when full. */
static int sparse_set(sl_hll *h, uint32_t e) {
  if (h->dense) {
    uint32_t idx, rank;
    coarsen(SP_IDX(e), SP_RANK(e), SL_HLL_SP, h->p, &idx, &rank);
    reg_max(h->dense, idx, rank);
    return SL_OK;
  }
  uint32_t lo = 0, hi = h->sparse_len;
  while (lo < hi) { /* first entry with index >= e's */
    uint32_t mid = lo + (hi - lo) / 2;
    if (SP_IDX(h->sparse[mid]) < SP_IDX(e))
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < h->sparse_len && SP_IDX(h->sparse[lo]) == SP_IDX(e)) {
    if (SP_RANK(e) > SP_RANK(h->sparse[lo]))
      h->sparse[lo] = e;
    return SL_OK;
  }
  if (h->sparse_len == SL_HLL_SPARSE_MAX) {
    int rc = to_dense(h, SL_HLL_P);
    return rc != SL_OK ? rc : sparse_set(h, e);
  }
  if (h->sparse_len == h->sparse_cap) {
    uint32_t ncap = h->sparse_cap ? h->sparse_cap * 2 : 4;
    uint32_t *n = realloc(h->sparse, ncap * sizeof *n);
    if (!n)
      return SL_ERR_NOMEM;
    h->sparse = n;
    h->sparse_cap = ncap;
  }
  memmove(h->sparse + lo + 1, h->sparse + lo, (h->sparse_len - lo) * sizeof *h->sparse);
  h->sparse[lo] = e;
  h->sparse_len++;
  return SL_OK;
}

int sl_hll_add_hash(sl_hll *h, uint64_t hash) {
  if (h->dense) {
    if (h->p == SL_HLL_P)
      dense_add(h->dense, hash, SL_HLL_P);
    else
      dense_add(h->dense, hash, h->p);
    return SL_OK;
  }
  uint64_t rest = (hash << SL_HLL_SP) | (UINT64_C(1) << (SL_HLL_SP - 1));
  uint32_t rank = (uint32_t)__builtin_clzll(rest) + 1;
  return sparse_set(h, (uint32_t)(hash >> HLL_SQ) << 6 | rank);
}

int sl_hll_merge(sl_hll *dst, const sl_hll *src) {
  if (src->dense) {
    int rc = SL_OK;
    if (!dst->dense)
      rc = to_dense(dst, src->p);
    else if (dst->p > src->p)
      rc = fold_down(dst, src->p);
    if (rc != SL_OK)
      return rc;
    fold_into(dst, src->dense, src->p);
    return SL_OK;
  }
  for (uint32_t i = 0; i < src->sparse_len; i++) {
    int rc = sparse_set(dst, src->sparse[i]);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

static double hll_sigma(double x) {
  if (x == 1.0)
    return INFINITY;
  double y = 1, z = x, prev;
  do {
    x *= x;
    prev = z;
    z += x * y;
    y += y;
  } while (z != prev);
  return z;
}

static double hll_tau(double x) {
  if (x == 0.0 || x == 1.0)
    return 0.0;
  double y = 1.0, z = 1 - x, prev;
  do {
    x = sqrt(x);
    prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (z != prev);
  return z / 3;
}

double sl_hll_estimate(const sl_hll *h) {
  if (!h->dense) { /* linear counting over the 2^25 sparse registers */
    const double m = (double)HLL_SM;
    return m * log(m / (m - h->sparse_len));
  }
  const int q = 64 - h->p; /* bits left for the dense rank: 1..q+1 */
  uint32_t c[64] = {0}, n = 1u << h->p;
  for (size_t g = 0, len = dense_bytes(h->p) - 1; g < len; g += 3) { /* 4 registers */
    const uint8_t *d = h->dense + g;
    uint32_t w = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16;
    c[w & 63]++;
    c[(w >> 6) & 63]++;
    c[(w >> 12) & 63]++;
    c[w >> 18]++;
  }
  const double m = n;
  double z = m * hll_tau(1.0 - c[q + 1] / m);
  for (int k = q; k >= 1; k--)
    z = 0.5 * (z + c[k]);
  z += m * hll_sigma(c[0] / m);
  return (m / (2.0 * log(2.0))) * m / z;
}

int sl_hll_serialize(const sl_hll *h, sl_buf *out) {
  int rc;
  if (h->dense && h->p == SL_HLL_P_OLD) { /* as earlier releases wrote it */
    rc = sl_varint_put(out, 1);
    rc = rc ? rc : sl_buf_reserve(out, 1u << SL_HLL_P_OLD);
    for (uint32_t i = 0; i < 1u << SL_HLL_P_OLD && !rc; i++)
      out->data[out->len++] = (char)reg_get(h->dense, i);
    if (!rc)
      out->data[out->len] = '\0';
  } else if (h->dense) {
    rc = sl_varint_put(out, 3);
    rc = rc ? rc : sl_varint_put(out, h->p);
    rc = rc ? rc : sl_buf_append(out, h->dense, dense_bytes(h->p) - 1);
  } else { /* sorted: each entry as the difference to the one before */
    rc = sl_varint_put(out, 2);
    rc = rc ? rc : sl_varint_put(out, h->sparse_len);
    for (uint32_t i = 0, prev = 0; i < h->sparse_len && !rc; prev = h->sparse[i++])
      rc = sl_varint_put(out, h->sparse[i] - prev);
  }
  return rc ? SL_ERR_NOMEM : SL_OK;
}

/* Encoding 0, from checkpoints written before the 25-bit sparse registers:
 * (index14 << 8 | rank) pairs, which only dense registers can hold. */
static int read_sparse14(sl_hll *h, sl_rd *r) {
  uint64_t n = sl_varint_get(r);
  if (r->bad || n > 256 || to_dense(h, SL_HLL_P_OLD) != SL_OK)
    return -1;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t e = sl_varint_get(r);
    if (r->bad || (e >> 8) >= (1u << SL_HLL_P_OLD) || (e & 0xff) == 0 ||
        (e & 0xff) > 64 - SL_HLL_P_OLD + 1)
      return -1;
    reg_max(h->dense, (uint32_t)(e >> 8), (uint32_t)(e & 0xff));
  }
  return 0;
}

/* Encoding 1: precision-14 registers, a byte each. */
static int read_dense14(sl_hll *h, sl_rd *r) {
  const unsigned char *regs = sl_bytes_get(r, 1u << SL_HLL_P_OLD);
  if (!regs || to_dense(h, SL_HLL_P_OLD) != SL_OK)
    return -1;
  for (uint32_t i = 0; i < 1u << SL_HLL_P_OLD; i++) {
    if (regs[i] > 64 - SL_HLL_P_OLD + 1)
      return -1;
    reg_max(h->dense, i, regs[i]);
  }
  return 0;
}

/* Encoding 3: the precision, then the packed registers as held in memory. */
static int read_packed(sl_hll *h, sl_rd *r) {
  uint64_t p = sl_varint_get(r);
  if (r->bad || (p != SL_HLL_P && p != SL_HLL_P_OLD))
    return -1;
  size_t len = dense_bytes((unsigned)p) - 1;
  const unsigned char *regs = sl_bytes_get(r, len);
  if (!regs || to_dense(h, (unsigned)p) != SL_OK)
    return -1;
  memcpy(h->dense, regs, len);
  for (uint32_t i = 0; i < 1u << p; i++)
    if (reg_get(h->dense, i) > 64 - p + 1)
      return -1;
  return 0;
}

static int read_sparse25(sl_hll *h, sl_rd *r) {
  uint64_t n = sl_varint_get(r), prev = 0;
  if (r->bad || n > SL_HLL_SPARSE_MAX)
    return -1;
  if (n && !(h->sparse = malloc(n * sizeof *h->sparse)))
    return -1;
  h->sparse_cap = (uint32_t)n;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t e = prev + sl_varint_get(r);
    if (r->bad || (i && SP_IDX(e) <= SP_IDX(prev)) || SP_IDX(e) >= HLL_SM || SP_RANK(e) == 0 ||
        SP_RANK(e) > HLL_SQ + 1)
      return -1; /* unsorted, duplicate or out of range: not ours */
    h->sparse[h->sparse_len++] = (uint32_t)e;
    prev = e;
  }
  return 0;
}

sl_hll *sl_hll_deserialize(const unsigned char **p, const unsigned char *end) {
  sl_rd r = {*p, end, 0};
  sl_hll *h = sl_hll_new();
  if (!h)
    return NULL;
  uint64_t kind = sl_varint_get(&r);
  int bad = kind == 0   ? read_sparse14(h, &r)
            : kind == 1 ? read_dense14(h, &r)
            : kind == 2 ? read_sparse25(h, &r)
            : kind == 3 ? read_packed(h, &r)
                        : -1;
  if (bad || r.bad) {
    sl_hll_destroy(h);
    return NULL;
  }
  *p = r.p;
  return h;
}

size_t sl_hll_bytes(const sl_hll *h) {
  return sizeof *h + (h->dense ? dense_bytes(h->p) : 0) + h->sparse_cap * sizeof(uint32_t);
}
