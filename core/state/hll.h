/* SPDX-License-Identifier: Apache-2.0 */
/* HyperLogLog distinct counting, precision 16 (65,536 registers, standard
 * error about 0.41 %, so the 2 % of SPEC section 5 is five standard errors)
 * with Ertl's improved estimator, and below SL_HLL_SPARSE_MAX distinct
 * hashes the HLL++ sparse representation: a sorted list of registers at
 * precision 25, estimated by linear counting over 2^25 registers, so small
 * sets are exact or off by one. Dense registers are 6 bits, packed. */
#ifndef SLUICE_HLL_H
#define SLUICE_HLL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define SL_HLL_P 16 /* dense precision of every sketch this release builds */
/* Dense precision of earlier releases: a sketch restored at 14 stays at 14,
 * and so does whatever merges with it (finer registers fold down exactly). */
#define SL_HLL_P_OLD 14
#define SL_HLL_M (1u << SL_HLL_P)
#define SL_HLL_SP 25 /* sparse precision (HLL++): 2^25 virtual registers */
/* Sparse entries before switching to dense: 4 KiB of entries against the
 * 48 KiB of dense registers (docs/operations.md, "Sizing worker memory"). */
#define SL_HLL_SPARSE_MAX 1024

typedef struct sl_hll {
  /* 2^p registers of 6 bits, register i at bits 6i..6i+5 counted from the
   * low bit of byte 0, plus one zero pad byte so that every register can be
   * read as two bytes; NULL while sparse. Owned. */
  uint8_t *dense;
  uint32_t *sparse; /* (index25 << 6 | rank), sorted by index, unique index */
  uint32_t sparse_len, sparse_cap;
  uint8_t p; /* dense precision (SL_HLL_P or SL_HLL_P_OLD); 0 while sparse */
} sl_hll;

sl_hll *sl_hll_new(void);
void sl_hll_destroy(sl_hll *h); /* NULL is a no-op */
/* Add an element by its 64-bit hash (see hash64.h). */
int sl_hll_add_hash(sl_hll *h, uint64_t hash);
/* dst becomes the union. Sketches of different dense precisions merge at
 * the coarser one (dst is folded down if it is the finer one). */
int sl_hll_merge(sl_hll *dst, const sl_hll *src);
/* Estimated number of distinct elements. */
double sl_hll_estimate(const sl_hll *h);
/* Rank held by dense register idx (< 2^h->p) of a dense sketch. */
uint32_t sl_hll_register(const sl_hll *h, uint32_t idx);
/* Encodings: 3 = dense 6-bit registers (precision, then the packed bytes),
 * 1 = dense precision-14 registers, one byte each (earlier releases wrote
 * it; still written for a sketch that stayed at 14), 2 = sparse at
 * precision 25 (delta-coded entries). 0 = the sparse precision-14 list
 * written before 25-bit sparse registers existed: still read (into dense
 * registers), never written. */
int sl_hll_serialize(const sl_hll *h, sl_buf *out);
sl_hll *sl_hll_deserialize(const unsigned char **p, const unsigned char *end);
size_t sl_hll_bytes(const sl_hll *h);

#endif
