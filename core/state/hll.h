/* SPDX-License-Identifier: Apache-2.0 */
/* HyperLogLog distinct counting, precision 14 (16384 registers, standard
 * error about 0.8 %) with Ertl's improved estimator, and below
 * SL_HLL_SPARSE_MAX distinct hashes the HLL++ sparse representation: a
 * sorted list of registers at precision 25, estimated by linear counting
 * over 2^25 registers, so small sets are exact or off by one. */
#ifndef SLUICE_HLL_H
#define SLUICE_HLL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define SL_HLL_P 14
#define SL_HLL_M (1u << SL_HLL_P)
#define SL_HLL_SP 25 /* sparse precision (HLL++): 2^25 virtual registers */
/* Sparse entries before switching to dense: 4 KiB of entries against the
 * 16 KiB of dense registers (docs/operations.md, "Sizing worker memory"). */
#define SL_HLL_SPARSE_MAX 1024

typedef struct sl_hll {
  uint8_t *dense;   /* SL_HLL_M registers, or NULL while sparse */
  uint32_t *sparse; /* (index25 << 6 | rank), sorted by index, unique index */
  uint32_t sparse_len, sparse_cap;
} sl_hll;

sl_hll *sl_hll_new(void);
void sl_hll_destroy(sl_hll *h); /* NULL is a no-op */
/* Add an element by its 64-bit hash (see hash64.h). */
int sl_hll_add_hash(sl_hll *h, uint64_t hash);
int sl_hll_merge(sl_hll *dst, const sl_hll *src);
/* Estimated number of distinct elements. */
double sl_hll_estimate(const sl_hll *h);
/* Encodings: 1 = dense registers, 2 = sparse at precision 25 (delta-coded
 * entries). 0 = the sparse precision-14 list written before 25-bit sparse
 * registers existed: still read (into dense registers), never written. */
int sl_hll_serialize(const sl_hll *h, sl_buf *out);
sl_hll *sl_hll_deserialize(const unsigned char **p, const unsigned char *end);
size_t sl_hll_bytes(const sl_hll *h);

#endif
