/* SPDX-License-Identifier: Apache-2.0 */
/* HyperLogLog: error at several cardinalities, sparse-to-dense, merge and
 * serialisation. */
#include <CUnit/CUnit.h>
#include <math.h>

#include "hash64.h"
#include "hll.h"

static double fill(sl_hll *h, uint64_t from, uint64_t n) {
  for (uint64_t i = from; i < from + n; i++)
    sl_hll_add_hash(h, sl_hash64(&i, sizeof i, 1));
  return sl_hll_estimate(h);
}

static void test_error_bounds(void) {
  const uint64_t ns[] = {1000, 10000, 50000, 100000, 1000000};
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
    sl_hll *h = sl_hll_new();
    double est = fill(h, ns[k] * 7, ns[k]);
    double rel = fabs(est - (double)ns[k]) / (double)ns[k];
    CU_ASSERT(rel <= 0.02);
    if (rel > 0.02)
      printf("\n n=%llu est=%.1f\n", (unsigned long long)ns[k], est);
    /* re-adding the same elements changes nothing */
    CU_ASSERT_DOUBLE_EQUAL(fill(h, ns[k] * 7, ns[k] < 1000 ? ns[k] : 1000), est, 0);
    sl_hll_destroy(h);
  }
}

static void test_small_sets_nearly_exact(void) {
  sl_hll *h = sl_hll_new();
  CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(h), 0, 1e-9);
  for (uint64_t n = 1; n <= 300; n++) {
    double est = fill(h, n, 1);
    CU_ASSERT(fabs(est - (double)n) <= 1 + 0.005 * (double)n);
  }
  CU_ASSERT_PTR_NOT_NULL(h->dense); /* 300 > SL_HLL_SPARSE_MAX went dense */
  sl_hll_destroy(h);
  sl_hll_destroy(NULL);
}

static void test_merge_and_serialize(void) {
  sl_hll *a = sl_hll_new(), *b = sl_hll_new(), *u = sl_hll_new(), *small = sl_hll_new();
  fill(a, 0, 60000);
  fill(b, 30000, 60000); /* overlap 30000..59999 */
  fill(u, 0, 90000);
  fill(small, 5, 100);
  CU_ASSERT_EQUAL(sl_hll_merge(a, b), 0);
  CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(a), sl_hll_estimate(u), 1e-6);
  CU_ASSERT_EQUAL(sl_hll_merge(small, b), 0); /* sparse into dense-able */
  CU_ASSERT(fabs(sl_hll_estimate(small) - 60100) / 60100 < 0.02);
  sl_hll *parts[] = {a, sl_hll_new()};
  fill(parts[1], 1, 40); /* stays sparse */
  for (int i = 0; i < 2; i++) {
    sl_buf buf = SL_BUF_INIT;
    CU_ASSERT_EQUAL(sl_hll_serialize(parts[i], &buf), 0);
    const unsigned char *p = (const unsigned char *)buf.data;
    sl_hll *c = sl_hll_deserialize(&p, p + buf.len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_DOUBLE_EQUAL(sl_hll_estimate(c), sl_hll_estimate(parts[i]), 0);
    p = (const unsigned char *)buf.data;
    CU_ASSERT_PTR_NULL(sl_hll_deserialize(&p, p + buf.len - 1));
    sl_hll_destroy(c);
    sl_buf_free(&buf);
  }
  CU_ASSERT_PTR_NULL(parts[1]->dense);
  CU_ASSERT(sl_hll_bytes(parts[1]) < 1024);
  sl_hll_destroy(a);
  sl_hll_destroy(b);
  sl_hll_destroy(u);
  sl_hll_destroy(small);
  sl_hll_destroy(parts[1]);
}

int suite_core_hll(void) {
  CU_pSuite s = CU_add_suite("core/hll", NULL, NULL);
  if (!s || !CU_add_test(s, "error <= 2% from 1k to 1M", test_error_bounds) ||
      !CU_add_test(s, "small sets nearly exact, sparse to dense", test_small_sets_nearly_exact) ||
      !CU_add_test(s, "merge and serialise", test_merge_and_serialize))
    return -1;
  return 0;
}
