/* SPDX-License-Identifier: Apache-2.0 */
/* DDSketch: relative error against exact quantiles on several
 * distributions, merge, serialisation and bucket collapsing. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>

#include "state/ddsketch.h"

static uint64_t rng_state;
static double urand(void) { /* xorshift64*, uniform in (0, 1) */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return ((rng_state * 2685821657736338717ull >> 11) + 0.5) / 9007199254740992.0;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static const double qs[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};

/* Every quantile within 1 % of the exact value at rank floor(q (n-1)). */
static void check_accuracy(double *v, size_t n) {
  sl_ddsketch *s = sl_dds_new();
  for (size_t i = 0; i < n; i++)
    CU_ASSERT_EQUAL_FATAL(sl_dds_add(s, v[i]), 0);
  qsort(v, n, sizeof *v, cmp_d);
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
    double exact = v[(size_t)floor(qs[i] * (double)(n - 1))];
    double est = sl_dds_quantile(s, qs[i]);
    CU_ASSERT(fabs(est - exact) <= 0.01 * fabs(exact) + 1e-300);
    if (!(fabs(est - exact) <= 0.01 * fabs(exact) + 1e-300))
      printf("\n q=%g exact=%.10g est=%.10g\n", qs[i], exact, est);
  }
  sl_dds_destroy(s);
}

#define N 100000

static void test_distributions(void) {
  double *v = malloc(N * sizeof *v);
  rng_state = 42;
  for (int i = 0; i < N; i++) /* uniform */
    v[i] = urand() * 1000;
  check_accuracy(v, N);
  for (int i = 0; i < N; i++) /* exponential */
    v[i] = -log(urand()) * 50;
  check_accuracy(v, N);
  for (int i = 0; i < N; i++) /* pareto, alpha 1.2: very skewed */
    v[i] = 3.0 / pow(urand(), 1 / 1.2);
  check_accuracy(v, N);
  for (int i = 0; i < N; i++) { /* lognormal via Box-Muller */
    double z = sqrt(-2 * log(urand())) * cos(2 * M_PI * urand());
    v[i] = exp(1 + 2 * z);
  }
  check_accuracy(v, N);
  for (int i = 0; i < N; i++) /* negative */
    v[i] = -1 - urand() * 1e6;
  check_accuracy(v, N);
  for (int i = 0; i < N; i++) /* mixed signs with exact zeros */
    v[i] = i % 10 == 0 ? 0 : (urand() - 0.5) * 200;
  check_accuracy(v, N);
  free(v);
}

static void test_merge_and_serialize(void) {
  sl_ddsketch *a = sl_dds_new(), *b = sl_dds_new(), *all = sl_dds_new();
  rng_state = 7;
  for (int i = 0; i < 20000; i++) {
    double x = (urand() - 0.3) * 1e4;
    sl_dds_add(i % 3 ? a : b, x);
    sl_dds_add(all, x);
  }
  CU_ASSERT_EQUAL(sl_dds_merge(a, b), 0);
  CU_ASSERT_EQUAL(a->count, 20000);
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
    CU_ASSERT_DOUBLE_EQUAL(sl_dds_quantile(a, qs[i]), sl_dds_quantile(all, qs[i]), 0);
  sl_buf buf = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_dds_serialize(a, &buf), 0);
  const unsigned char *p = (const unsigned char *)buf.data;
  sl_ddsketch *c = sl_dds_deserialize(&p, p + buf.len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_PTR_EQUAL(p, (const unsigned char *)buf.data + buf.len);
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
    CU_ASSERT_DOUBLE_EQUAL(sl_dds_quantile(c, qs[i]), sl_dds_quantile(a, qs[i]), 0);
  /* truncated input is refused, never read past the end */
  p = (const unsigned char *)buf.data;
  CU_ASSERT_PTR_NULL(sl_dds_deserialize(&p, p + buf.len / 2));
  sl_buf_free(&buf);
  sl_dds_destroy(a);
  sl_dds_destroy(b);
  sl_dds_destroy(all);
  sl_dds_destroy(c);
  sl_dds_destroy(NULL);
}

static void test_collapse_and_empty(void) {
  sl_ddsketch *s = sl_dds_new();
  CU_ASSERT(isnan(sl_dds_quantile(s, 0.5)));
  rng_state = 99;
  for (int i = 0; i < 50000; i++) /* 1e-200 .. 1e200: far more than 2048 buckets */
    sl_dds_add(s, pow(10, (urand() - 0.5) * 400));
  CU_ASSERT(s->pos.len <= SL_DDS_MAX_BUCKETS);
  double p99 = sl_dds_quantile(s, 0.99); /* high quantiles keep full accuracy */
  CU_ASSERT(p99 > 1e190 && p99 < 1e200);
  CU_ASSERT(sl_dds_quantile(s, 0) == s->min);
  CU_ASSERT(sl_dds_quantile(s, 1) == s->max);
  CU_ASSERT(isnan(sl_dds_quantile(s, 1.5)));
  sl_dds_destroy(s);
}

int suite_core_ddsketch(void) {
  CU_pSuite s = CU_add_suite("core/ddsketch", NULL, NULL);
  if (!s || !CU_add_test(s, "1% relative error on five distributions", test_distributions) ||
      !CU_add_test(s, "merge equals one sketch; serialise round trip", test_merge_and_serialize) ||
      !CU_add_test(s, "collapsing and empty", test_collapse_and_empty))
    return -1;
  return 0;
}
