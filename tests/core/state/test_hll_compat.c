/* SPDX-License-Identifier: Apache-2.0 */
/* HyperLogLog across precisions: sketches written by the release before
 * precision 16 (dense precision-14 registers, sparse 25-bit lists) restore
 * and keep counting exactly as that release would; precision-16 registers
 * fold down to precision 14 exactly; mixed merges work in both orders; and
 * the 2 % of SPEC section 5 holds over many random sets. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash64.h"
#include "base/varint.h"
#include "state/hll.h"

#define P14 SL_HLL_P_OLD
#define M14 (1u << P14)

static void fill(sl_hll *h, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to; i++)
    CU_ASSERT_EQUAL(sl_hll_add_hash(h, sl_hash64(&i, sizeof i, 1)), 0);
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Hashes of n random values from seed s, as the aggregate hashes ints. */
static void fill_random(sl_hll *h, uint64_t s, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    uint64_t v = splitmix(&s);
    sl_hll_add_hash(h, sl_hash64(&v, sizeof v, 1));
  }
}

/* Hash x into precision-14 registers r, computed here independently of
 * hll.c: the reference the restores and folds are checked against. */
static void put14(uint8_t *r, uint64_t x) {
  uint64_t rest = (x << P14) | (UINT64_C(1) << (P14 - 1));
  uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
  if (rank > r[x >> (64 - P14)])
    r[x >> (64 - P14)] = rank;
}

static void regs14_random(uint8_t *r, uint64_t s, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    uint64_t v = splitmix(&s);
    put14(r, sl_hash64(&v, sizeof v, 1));
  }
}

/* A sketch restored from encoding 1 (precision-14 bytes). */
static sl_hll *restore14(const uint8_t *regs) {
  sl_buf b = SL_BUF_INIT;
  sl_varint_put(&b, 1);
  sl_buf_append(&b, regs, M14);
  const unsigned char *p = (const unsigned char *)b.data;
  sl_hll *h = sl_hll_deserialize(&p, p + b.len);
  sl_buf_free(&b);
  return h;
}

static int same_regs14(const sl_hll *h, const uint8_t *want) {
  if (!h->dense || h->p != P14)
    return 0;
  for (uint32_t i = 0; i < M14; i++)
    if (sl_hll_register(h, i) != want[i])
      return 0;
  return 1;
}

static sl_hll *roundtrip(const sl_hll *h, uint64_t *blob_hash) {
  sl_buf b = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_hll_serialize(h, &b), 0);
  *blob_hash = sl_hash64(b.data, b.len, 7);
  const unsigned char *p = (const unsigned char *)b.data;
  sl_hll *c = sl_hll_deserialize(&p, p + b.len);
  CU_ASSERT(p == (const unsigned char *)b.data + b.len);
  sl_buf_free(&b);
  return c;
}

/* Figures recorded with the release before precision 16 (main at 9a97dbb):
 * values 0..49999 (sl_hash64(&i, 8, 1)) serialised to 16,385 bytes with
 * sl_hash64(blob, len, 7) = 0x7cb4d3091bef7577 and estimate
 * 49998.050682682835; after adding 50000..59999, 60154.678907801914. The
 * sparse list of 0..699: 2,439 bytes, 0x2645c66a777487c5, 700.00730167135725,
 * then 900.01207015709974 after 700..899. The list of 0..999: 3,368 bytes,
 * 0xc0436e34c44e16a5. */
static void test_restores_previous_release(void) {
  static uint8_t regs[M14];
  memset(regs, 0, sizeof regs);
  for (uint64_t i = 0; i < 50000; i++)
    put14(regs, sl_hash64(&i, sizeof i, 1));
  sl_buf b = SL_BUF_INIT;
  sl_varint_put(&b, 1);
  sl_buf_append(&b, regs, M14);
  CU_ASSERT_EQUAL(b.len, 16385); /* byte for byte what that release wrote */
  CU_ASSERT_EQUAL(sl_hash64(b.data, b.len, 7), UINT64_C(0x7cb4d3091bef7577));
  sl_buf_free(&b);
  sl_hll *h = restore14(regs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(h);
  CU_ASSERT_EQUAL(h->p, P14); /* stays at 14 */
  CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(h), 49998.050682682835, 0);
  uint64_t bh;
  sl_hll *again = roundtrip(h, &bh); /* written back as that release wrote it */
  CU_ASSERT_EQUAL(bh, UINT64_C(0x7cb4d3091bef7577));
  sl_hll_destroy(again);
  fill(h, 50000, 60000); /* keeps counting exactly as it did */
  CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(h), 60154.678907801914, 0);
  CU_ASSERT_EQUAL(h->p, P14);
  sl_hll_destroy(h);

  /* sparse lists: the encoding is unchanged */
  sl_hll *s = sl_hll_new();
  fill(s, 0, 700);
  sl_hll *r = roundtrip(s, &bh);
  CU_ASSERT_EQUAL(bh, UINT64_C(0x2645c66a777487c5));
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_PTR_NULL(r->dense);
  CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(r), 700.00730167135725, 0);
  fill(r, 700, 900);
  CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(r), 900.01207015709974, 0);
  sl_hll_destroy(r);
  sl_hll_destroy(s);
  s = sl_hll_new();
  fill(s, 0, 1000);
  r = roundtrip(s, &bh);
  CU_ASSERT_EQUAL(bh, UINT64_C(0xc0436e34c44e16a5));
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  fill(r, 1000, 31000); /* a restored list goes dense at the new precision */
  CU_ASSERT_EQUAL(r->p, SL_HLL_P);
  CU_ASSERT(fabs(sl_hll_estimate(r) - 31000) / 31000 < 0.02);
  sl_hll_destroy(r);
  sl_hll_destroy(s);
}

/* Precision-16 registers folded to 14 are the registers a precision-14
 * sketch of the same values has, bit for bit, whichever side of the merge
 * the precision-16 sketch is on. */
static void test_fold_16_to_14_exact(void) {
  static uint8_t want[M14], zero[M14];
  uint64_t seed = 20261205;
  for (int set = 0; set < 12; set++) {
    uint64_t n = 1100 + splitmix(&seed) % 150000, s = splitmix(&seed);
    memset(want, 0, sizeof want);
    regs14_random(want, s, n);
    sl_hll *fine = sl_hll_new(), *coarse = restore14(zero);
    fill_random(fine, s, n);
    CU_ASSERT_EQUAL_FATAL(fine->p, SL_HLL_P);
    fill_random(coarse, s, n); /* built directly at 14 */
    CU_ASSERT(same_regs14(coarse, want));
    sl_hll *a = restore14(zero), *b = sl_hll_new();
    fill_random(b, s, n);
    CU_ASSERT_EQUAL(sl_hll_merge(a, b), 0); /* 14 <- 16 */
    CU_ASSERT(same_regs14(a, want));
    sl_hll *empty14 = restore14(zero);
    CU_ASSERT_EQUAL(sl_hll_merge(fine, empty14), 0); /* 16 <- 14: fine folds down */
    CU_ASSERT(same_regs14(fine, want));
    CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(fine), sl_hll_estimate(coarse), 0);
    sl_hll_destroy(fine);
    sl_hll_destroy(coarse);
    sl_hll_destroy(a);
    sl_hll_destroy(b);
    sl_hll_destroy(empty14);
  }
}

/* A restored precision-14 window merged with new precision-16 (or sparse)
 * panes, as hopping windows and rescaling do: both orders give the
 * precision-14 sketch of the union, register for register. */
static void test_mixed_merges_both_orders(void) {
  static uint8_t want[M14], regs_a[M14];
  uint64_t seed = 77;
  for (int set = 0; set < 6; set++) {
    uint64_t sa = splitmix(&seed), sb = splitmix(&seed), sc = splitmix(&seed);
    uint64_t na = 2000 + splitmix(&seed) % 60000, nb = 2000 + splitmix(&seed) % 60000;
    uint64_t nc = 1 + splitmix(&seed) % 1000; /* stays sparse */
    memset(regs_a, 0, sizeof regs_a);
    regs14_random(regs_a, sa, na);
    memcpy(want, regs_a, sizeof want);
    regs14_random(want, sb, nb);
    regs14_random(want, sc, nc);
    /* old window first: 14 <- 16 <- sparse */
    sl_hll *old = restore14(regs_a), *b = sl_hll_new(), *c = sl_hll_new();
    fill_random(b, sb, nb);
    fill_random(c, sc, nc);
    CU_ASSERT_PTR_NULL(c->dense);
    CU_ASSERT_EQUAL(sl_hll_merge(old, b), 0);
    CU_ASSERT_EQUAL(sl_hll_merge(old, c), 0);
    CU_ASSERT(same_regs14(old, want));
    /* new panes first: sparse <- 16 <- 14, and sparse <- 14 <- 16 */
    sl_hll *x = sl_hll_new(), *y = sl_hll_new(), *a = restore14(regs_a);
    fill_random(x, sc, nc);
    fill_random(y, sc, nc);
    CU_ASSERT_EQUAL(sl_hll_merge(x, b), 0);
    CU_ASSERT_EQUAL(x->p, SL_HLL_P);
    CU_ASSERT_EQUAL(sl_hll_merge(x, a), 0);
    CU_ASSERT(same_regs14(x, want));
    CU_ASSERT_EQUAL(sl_hll_merge(y, a), 0); /* sparse goes dense at 14 */
    CU_ASSERT_EQUAL(sl_hll_merge(y, b), 0);
    CU_ASSERT(same_regs14(y, want));
    CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(x), sl_hll_estimate(old), 0);
    CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(y), sl_hll_estimate(old), 0);
    uint64_t bh;
    sl_hll *r = roundtrip(x, &bh); /* a merged precision-14 sketch checkpoints */
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(same_regs14(r, want));
    sl_hll_destroy(r);
    sl_hll *list[] = {old, b, c, x, y, a};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
      sl_hll_destroy(list[i]);
  }
}

/* Precision-16 sketches survive a checkpoint exactly; a truncated or
 * out-of-range one is refused. */
static void test_packed_roundtrip_and_hostile(void) {
  sl_hll *h = sl_hll_new();
  fill_random(h, 5, 300000);
  uint64_t bh;
  sl_hll *c = roundtrip(h, &bh);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(c->p, SL_HLL_P);
  CU_ASSERT_EQUAL(memcmp(c->dense, h->dense, (3u << SL_HLL_P) / 4 + 1), 0);
  CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(c), sl_hll_estimate(h), 0);
  CU_ASSERT(sl_hll_bytes(c) < 49 * 1024 + 256); /* 48 KiB of registers */
  sl_buf b = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_hll_serialize(h, &b), 0);
  CU_ASSERT_EQUAL(b.len, 2 + (3u << SL_HLL_P) / 4);
  const unsigned char *p = (const unsigned char *)b.data;
  CU_ASSERT_PTR_NULL(sl_hll_deserialize(&p, p + b.len - 1)); /* truncated */
  b.data[1] = 15; /* a precision this release never writes */
  p = (const unsigned char *)b.data;
  CU_ASSERT_PTR_NULL(sl_hll_deserialize(&p, p + b.len));
  b.data[1] = SL_HLL_P;
  b.data[2] = (char)63; /* register 0 = 63 > 64 - 16 + 1 */
  p = (const unsigned char *)b.data;
  CU_ASSERT_PTR_NULL(sl_hll_deserialize(&p, p + b.len));
  sl_buf_reset(&b);
  sl_varint_put(&b, 1); /* precision-14 bytes with a rank past 51 */
  for (uint32_t i = 0; i < M14; i++)
    sl_buf_putc(&b, i == 9 ? 52 : 3);
  p = (const unsigned char *)b.data;
  CU_ASSERT_PTR_NULL(sl_hll_deserialize(&p, p + b.len));
  sl_buf_free(&b);
  sl_hll_destroy(c);
  sl_hll_destroy(h);
}

/* SPEC section 5: error at most 2 %. Seeded random sets (the same every
 * run); at precision 16 the standard error is 0.41 %, so 2 % is five
 * standard errors. Larger runs: build/bench/hll_error. */
static void test_error_within_two_percent(void) {
  const struct {
    uint64_t n;
    int sets;
  } runs[] = {{10000, 100}, {100000, 30}, {1000000, 6}};
  uint64_t seed = 4242;
  for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
    double sum = 0, worst = 0;
    for (int i = 0; i < runs[k].sets; i++) {
      sl_hll *h = sl_hll_new();
      fill_random(h, splitmix(&seed), runs[k].n);
      double rel = fabs(sl_hll_estimate(h) - (double)runs[k].n) / (double)runs[k].n;
      sum += rel;
      worst = rel > worst ? rel : worst;
      sl_hll_destroy(h);
    }
    CU_ASSERT(worst <= 0.02);
    CU_ASSERT(sum / runs[k].sets < 0.006); /* about 0.33 % expected */
    if (worst > 0.02 || sum / runs[k].sets >= 0.006)
      printf("\n n=%llu mean %.4f worst %.4f\n", (unsigned long long)runs[k].n, sum / runs[k].sets,
             worst);
  }
}

int suite_core_hll_compat(void) {
  CU_pSuite s = CU_add_suite("core/hll_compat", NULL, NULL);
  if (!s ||
      !CU_add_test(s, "restores the previous release's sketches", test_restores_previous_release) ||
      !CU_add_test(s, "precision 16 folds to 14 exactly", test_fold_16_to_14_exact) ||
      !CU_add_test(s, "mixed-precision merges in both orders", test_mixed_merges_both_orders) ||
      !CU_add_test(s, "precision 16 checkpoints, hostile input",
                   test_packed_roundtrip_and_hostile) ||
      !CU_add_test(s, "error within 2% over random sets", test_error_within_two_percent))
    return -1;
  return 0;
}
