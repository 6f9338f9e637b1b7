/* SPDX-License-Identifier: Apache-2.0 */
/* HyperLogLog (see hll.h). Registers start sparse, as in HLL++ (Heule,
 * Nunkesser, Hall 2013): a sorted list of (25-bit index, rank) pairs, so a
 * window that sees a handful of distinct values costs bytes, not 16 KiB,
 * and is counted nearly exactly (linear counting over 2^25 registers
 * collides about once in 65,000 pairs of values). Past SL_HLL_SPARSE_MAX
 * pairs they fold into the 2^14 dense registers; a 25-bit pair carries
 * exactly what its 14-bit register needs, so folding loses nothing against
 * adding the hashes to dense registers directly. The dense estimate is Ertl
 * 2017, "New cardinality estimation algorithms for HyperLogLog sketches",
 * section 4 (improved raw estimator). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/varint.h"
#include "sluice/error.h"
#include "state/hll.h"

#define HLL_Q (64 - SL_HLL_P)   /* bits left for the dense rank: 1..Q+1 */
#define HLL_SQ (64 - SL_HLL_SP) /* bits left for the sparse rank: 1..SQ+1 */
#define HLL_SM (UINT64_C(1) << SL_HLL_SP)
#define SP_IDX(e) ((e) >> 6)
#define SP_RANK(e) ((e) & 0x3fu)

sl_hll *sl_hll_new(void) { return calloc(1, sizeof(sl_hll)); }

void sl_hll_destroy(sl_hll *h) {
  if (!h)
    return;
  free(h->dense);
  free(h->sparse);
  free(h);
}

/* The dense register and rank a sparse pair stands for: the 11 index bits
 * below the dense index come first in the dense rank's bit string. */
static void sparse_to_dense(uint32_t e, uint32_t *idx, uint32_t *rank) {
  uint32_t i25 = SP_IDX(e), low = i25 & ((1u << (SL_HLL_SP - SL_HLL_P)) - 1);
  *idx = i25 >> (SL_HLL_SP - SL_HLL_P);
  *rank = low ? (uint32_t)__builtin_clz(low) - (32 - (SL_HLL_SP - SL_HLL_P)) + 1
              : SP_RANK(e) + (SL_HLL_SP - SL_HLL_P);
}

static void dense_set(sl_hll *h, uint32_t idx, uint32_t rank) {
  if (rank > h->dense[idx])
    h->dense[idx] = (uint8_t)rank;
}

static int to_dense(sl_hll *h) {
  h->dense = calloc(SL_HLL_M, 1);
  if (!h->dense)
    return SL_ERR_NOMEM;
  for (uint32_t i = 0; i < h->sparse_len; i++) {
    uint32_t idx, rank;
    sparse_to_dense(h->sparse[i], &idx, &rank);
    dense_set(h, idx, rank);
  }
  free(h->sparse);
  h->sparse = NULL;
  h->sparse_len = h->sparse_cap = 0;
  return SL_OK;
}

/* Record sparse pair `e` (index25 << 6 | rank), going dense when full. */
static int sparse_set(sl_hll *h, uint32_t e) {
  if (h->dense) {
    uint32_t idx, rank;
    sparse_to_dense(e, &idx, &rank);
    dense_set(h, idx, rank);
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
    int rc = to_dense(h);
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
    uint64_t rest = (hash << SL_HLL_P) | (UINT64_C(1) << (SL_HLL_P - 1)); /* bounds the rank */
    dense_set(h, (uint32_t)(hash >> HLL_Q), (uint32_t)__builtin_clzll(rest) + 1);
    return SL_OK;
  }
  uint64_t rest = (hash << SL_HLL_SP) | (UINT64_C(1) << (SL_HLL_SP - 1));
  uint32_t rank = (uint32_t)__builtin_clzll(rest) + 1;
  return sparse_set(h, (uint32_t)(hash >> HLL_SQ) << 6 | rank);
}

int sl_hll_merge(sl_hll *dst, const sl_hll *src) {
  if (src->dense) {
    if (!dst->dense) {
      int rc = to_dense(dst);
      if (rc != SL_OK)
        return rc;
    }
    for (uint32_t i = 0; i < SL_HLL_M; i++)
      dense_set(dst, i, src->dense[i]);
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
  uint32_t c[HLL_Q + 2] = {0};
  for (uint32_t i = 0; i < SL_HLL_M; i++)
    c[h->dense[i]]++;
  const double m = SL_HLL_M;
  double z = m * hll_tau(1.0 - c[HLL_Q + 1] / m);
  for (int k = HLL_Q; k >= 1; k--)
    z = 0.5 * (z + c[k]);
  z += m * hll_sigma(c[0] / m);
  return (m / (2.0 * log(2.0))) * m / z;
}

int sl_hll_serialize(const sl_hll *h, sl_buf *out) {
  int rc;
  if (h->dense) {
    rc = sl_varint_put(out, 1);
    rc = rc ? rc : sl_buf_append(out, h->dense, SL_HLL_M);
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
  if (r->bad || n > 256 || !(h->dense = calloc(SL_HLL_M, 1)))
    return -1;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t e = sl_varint_get(r);
    if (r->bad || (e >> 8) >= SL_HLL_M || (e & 0xff) == 0 || (e & 0xff) > HLL_Q + 1)
      return -1;
    dense_set(h, (uint32_t)(e >> 8), (uint32_t)(e & 0xff));
  }
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
    if (r->bad || (i && SP_IDX(e) <= SP_IDX(prev)) || SP_IDX(e) >= HLL_SM ||
        SP_RANK(e) == 0 || SP_RANK(e) > HLL_SQ + 1)
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
  if (kind == 1) {
    const unsigned char *regs = sl_bytes_get(&r, SL_HLL_M);
    if (!regs || !(h->dense = malloc(SL_HLL_M)))
      goto out_free;
    memcpy(h->dense, regs, SL_HLL_M);
    for (uint32_t i = 0; i < SL_HLL_M; i++)
      if (h->dense[i] > HLL_Q + 1)
        goto out_free;
  } else if (kind == 0) {
    if (read_sparse14(h, &r) != 0)
      goto out_free;
  } else if (kind == 2) {
    if (read_sparse25(h, &r) != 0)
      goto out_free;
  } else {
    goto out_free;
  }
  if (r.bad)
    goto out_free;
  *p = r.p;
  return h;
out_free:
  sl_hll_destroy(h);
  return NULL;
}

size_t sl_hll_bytes(const sl_hll *h) {
  return sizeof *h + (h->dense ? SL_HLL_M : 0) + h->sparse_cap * sizeof(uint32_t);
}
