/* SPDX-License-Identifier: Apache-2.0 */
/* HyperLogLog (see hll.h). Registers start sparse (a small list of
 * (index, rank) pairs) so a window that sees a handful of distinct values
 * costs bytes, not 16 KiB; past SL_HLL_SPARSE_MAX pairs they go dense. The
 * estimate is Ertl 2017, "New cardinality estimation algorithms for
 * HyperLogLog sketches", section 4 (improved raw estimator). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hll.h"
#include "sluice/error.h"
#include "varint.h"

#define HLL_Q (64 - SL_HLL_P) /* bits left for the rank: ranks are 1..Q+1 */

sl_hll *sl_hll_new(void) { return calloc(1, sizeof(sl_hll)); }

void sl_hll_destroy(sl_hll *h) {
  if (!h)
    return;
  free(h->dense);
  free(h->sparse);
  free(h);
}

static int to_dense(sl_hll *h) {
  h->dense = calloc(SL_HLL_M, 1);
  if (!h->dense)
    return SL_ERR_NOMEM;
  for (uint32_t i = 0; i < h->sparse_len; i++) {
    uint32_t idx = h->sparse[i] >> 8, rank = h->sparse[i] & 0xff;
    if (rank > h->dense[idx])
      h->dense[idx] = (uint8_t)rank;
  }
  free(h->sparse);
  h->sparse = NULL;
  h->sparse_len = h->sparse_cap = 0;
  return SL_OK;
}

static int set_register(sl_hll *h, uint32_t idx, uint32_t rank) {
  if (h->dense) {
    if (rank > h->dense[idx])
      h->dense[idx] = (uint8_t)rank;
    return SL_OK;
  }
  for (uint32_t i = 0; i < h->sparse_len; i++) {
    if (h->sparse[i] >> 8 == idx) {
      if (rank > (h->sparse[i] & 0xff))
        h->sparse[i] = idx << 8 | rank;
      return SL_OK;
    }
  }
  if (h->sparse_len == SL_HLL_SPARSE_MAX) {
    int rc = to_dense(h);
    if (rc != SL_OK)
      return rc;
    h->dense[idx] = (uint8_t)rank;
    return SL_OK;
  }
  if (h->sparse_len == h->sparse_cap) {
    uint32_t ncap = h->sparse_cap ? h->sparse_cap * 2 : 4;
    uint32_t *n = realloc(h->sparse, ncap * sizeof *n);
    if (!n)
      return SL_ERR_NOMEM;
    h->sparse = n;
    h->sparse_cap = ncap;
  }
  h->sparse[h->sparse_len++] = idx << 8 | rank;
  return SL_OK;
}

int sl_hll_add_hash(sl_hll *h, uint64_t hash) {
  uint32_t idx = (uint32_t)(hash >> HLL_Q);
  uint64_t rest = (hash << SL_HLL_P) | (UINT64_C(1) << (SL_HLL_P - 1)); /* sentinel bounds the rank */
  uint32_t rank = (uint32_t)__builtin_clzll(rest) + 1;
  return set_register(h, idx, rank);
}

int sl_hll_merge(sl_hll *dst, const sl_hll *src) {
  if (src->dense) {
    if (!dst->dense) {
      int rc = to_dense(dst);
      if (rc != SL_OK)
        return rc;
    }
    for (uint32_t i = 0; i < SL_HLL_M; i++)
      if (src->dense[i] > dst->dense[i])
        dst->dense[i] = src->dense[i];
    return SL_OK;
  }
  for (uint32_t i = 0; i < src->sparse_len; i++) {
    int rc = set_register(dst, src->sparse[i] >> 8, src->sparse[i] & 0xff);
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
  uint32_t c[HLL_Q + 2] = {0};
  if (h->dense) {
    for (uint32_t i = 0; i < SL_HLL_M; i++)
      c[h->dense[i]]++;
  } else {
    c[0] = SL_HLL_M - h->sparse_len;
    for (uint32_t i = 0; i < h->sparse_len; i++)
      c[h->sparse[i] & 0xff]++;
  }
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
  } else {
    rc = sl_varint_put(out, 0);
    rc = rc ? rc : sl_varint_put(out, h->sparse_len);
    for (uint32_t i = 0; i < h->sparse_len && !rc; i++)
      rc = sl_varint_put(out, h->sparse[i]);
  }
  return rc ? SL_ERR_NOMEM : SL_OK;
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
    uint64_t n = sl_varint_get(&r);
    if (r.bad || n > SL_HLL_SPARSE_MAX)
      goto out_free;
    for (uint64_t i = 0; i < n; i++) {
      uint64_t e = sl_varint_get(&r);
      if (r.bad || (e >> 8) >= SL_HLL_M || (e & 0xff) == 0 || (e & 0xff) > HLL_Q + 1 ||
          set_register(h, (uint32_t)(e >> 8), (uint32_t)(e & 0xff)) != SL_OK)
        goto out_free;
    }
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
