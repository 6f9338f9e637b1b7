/* SPDX-License-Identifier: Apache-2.0 */
/* DDSketch: relative error against exact quantiles on several
 * distributions, merge, serialisation and bucket collapsing; the bucket
 * index against log() on every boundary, and serialisations recorded with
 * an earlier version (checkpoints must restore into the same buckets). */
#include <CUnit/CUnit.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash64.h"
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

/* Three sketches whose serialisations were recorded with the log() index of
 * release main@04e9c0a: telemetry-like readings, values at and next to bucket
 * boundaries gamma^i of both signs, and extremes (subnormals, the zero
 * threshold, the edges of the table range, DBL_MAX). */
static double nudge(double x, int ulps) {
  for (; ulps > 0; ulps--)
    x = nextafter(x, INFINITY);
  for (; ulps < 0; ulps++)
    x = nextafter(x, -INFINITY);
  return x;
}

static void golden_fill(sl_ddsketch *s[3]) {
  uint64_t st = 12345;
  for (int i = 0; i < 20000; i++) {
    st ^= st >> 12, st ^= st << 25, st ^= st >> 27;
    double u = (double)(st * 2685821657736338717ull >> 11) / 9007199254740992.0;
    double t = 60 + 8 * sin(i / 600.0) + 4 * (u - 0.5);
    sl_dds_add(s[0], i % 3 ? round(t * 100) / 100 : t);
  }
  double g = (1.0 + SL_DDS_ALPHA) / (1.0 - SL_DDS_ALPHA);
  for (int i = -1020; i <= 1020; i++)
    for (int d = -2; d <= 2; d++) {
      sl_dds_add(s[1], nudge(pow(g, i), d));
      sl_dds_add(s[1], -nudge(pow(g, i), d));
    }
  const double ext[] = {5e-324,  1e-310, 2.2250738585072014e-308,
                        1e-300,  1e300,  DBL_MAX,
                        0x1p-64, 0x1p64, 0x1p-70,
                        0x1p70,  1.0,    2.0,
                        0.5,     1e-5,   1e15};
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
    for (int d = -2; d <= 2; d++)
      if (isfinite(nudge(ext[i], d))) {
        sl_dds_add(s[2], nudge(ext[i], d));
        sl_dds_add(s[2], -nudge(ext[i], d));
      }
  sl_dds_add(s[2], 0.0);
  sl_dds_add(s[2], -0.0);
}

/* The index as the sketch has always defined it, computed here on its own. */
static int32_t ref_index(double mag) {
  return (int32_t)ceil(log(mag) * (1.0 / log((1.0 + SL_DDS_ALPHA) / (1.0 - SL_DDS_ALPHA))));
}

static int index_agrees(double mag) {
  int32_t got = sl_dds_index(mag), want = ref_index(mag);
  if (got != want)
    printf("\n index(%a) = %d, log() gives %d\n", mag, got, want);
  return got == want;
}

/* Every bucket boundary near gamma^i for |i| <= 3100 (past both ends of the
 * table, 2^-64 .. 2^64) and the 64 doubles on either side of it; every
 * slice edge of the table and its neighbours. */
static void test_index_boundaries(void) {
  sl_dds_destroy(sl_dds_new()); /* builds the tables */
  double g = (1.0 + SL_DDS_ALPHA) / (1.0 - SL_DDS_ALPHA);
  size_t bad = 0, checked = 0;
  for (int i = -3100; i <= 3100 && bad < 10; i++) {
    double x = nudge(pow(g, i), -64);
    for (int d = -64; d <= 64; d++, x = nextafter(x, INFINITY), checked++)
      bad += !index_agrees(x);
  }
  for (int e = -66; e < 66 && bad < 10; e++)
    for (int k = 0; k < 128; k++) {
      double x = ldexp(1 + k / 128.0, e);
      for (int d = -3; d <= 3; d++, checked++)
        bad += !index_agrees(nudge(x, d));
    }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(checked > 800000);
}

/* Random doubles: any bit pattern from the zero threshold to DBL_MAX, and
 * log-uniform and telemetry-like magnitudes inside the table. */
static void test_index_random(void) {
  sl_dds_destroy(sl_dds_new());
  rng_state = 2026;
  size_t bad = 0;
  for (int i = 0; i < 2000000 && bad < 10; i++) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t u = (rng_state * 2685821657736338717ull) >> 1; /* positive, maybe NaN/Inf */
    double x;
    memcpy(&x, &u, 8);
    if (x >= 1e-300 && x <= DBL_MAX)
      bad += !index_agrees(x);
    bad += !index_agrees(ldexp(1 + urand(), (int)(urand() * 140) - 70));
    bad += !index_agrees(urand() * 200);
    double c = round(urand() * 20000) / 100; /* two decimals, as JSON gives */
    if (c > 0) /* zeros are counted apart, never indexed */
      bad += !index_agrees(c);
  }
  bad += !index_agrees(DBL_MAX) + !index_agrees(1e-300) + !index_agrees(nudge(1e-300, 1)) +
         !index_agrees(1.0) + !index_agrees(nudge(1.0, 1)) + !index_agrees(nudge(1.0, -1));
  CU_ASSERT_EQUAL(bad, 0);
}

/* After every value a store is exactly the buckets from the lowest to the
 * highest index seen, with the counts of a histogram kept here. */
static void test_store_growth(void) {
  rng_state = 4242;
  for (int trial = 0; trial < 300; trial++) {
    sl_ddsketch *s = sl_dds_new();
    static uint64_t hist[512];
    memset(hist, 0, sizeof hist);
    int32_t base = sl_dds_index(50), lo = INT32_MAX, hi = INT32_MIN;
    double spread = 1 + urand() * (trial % 3 ? 10 : 400); /* a few buckets, or hundreds */
    for (int i = 0; i < 200; i++) {
      double v = 50 * pow(1.0151, (urand() - 0.5) * spread);
      int32_t idx = sl_dds_index(v);
      CU_ASSERT_EQUAL_FATAL(sl_dds_add(s, v), 0);
      hist[idx - base + 256]++;
      lo = idx < lo ? idx : lo;
      hi = idx > hi ? idx : hi;
      CU_ASSERT_EQUAL_FATAL(s->pos.offset, lo);
      CU_ASSERT_EQUAL_FATAL(s->pos.len, (uint32_t)(hi - lo + 1));
    }
    for (int32_t k = lo; k <= hi; k++)
      CU_ASSERT_EQUAL(s->pos.counts[k - lo], hist[k - base + 256]);
    sl_dds_destroy(s);
  }
}

/* Bytes recorded before the table index existed: a checkpoint written by
 * that version restores into the same buckets, and new ones match it. */
static void test_golden_serialisations(void) {
  static const size_t len[3] = {71, 4112, 4125};
  static const uint64_t hash[3] = {0xaa23e683892354f7ull, 0xdc9bc3b1127530e4ull,
                                   0xccf27528ac7e2533ull};
  sl_ddsketch *s[3] = {sl_dds_new(), sl_dds_new(), sl_dds_new()};
  golden_fill(s);
  for (int i = 0; i < 3; i++) {
    sl_buf b = SL_BUF_INIT;
    CU_ASSERT_EQUAL(sl_dds_serialize(s[i], &b), 0);
    CU_ASSERT_EQUAL(b.len, len[i]);
    CU_ASSERT_EQUAL(sl_hash64(b.data, b.len, 0), hash[i]);
    sl_buf_free(&b);
    sl_dds_destroy(s[i]);
  }
}

int suite_core_ddsketch(void) {
  CU_pSuite s = CU_add_suite("core/ddsketch", NULL, NULL);
  if (!s || !CU_add_test(s, "1% relative error on five distributions", test_distributions) ||
      !CU_add_test(s, "merge equals one sketch; serialise round trip", test_merge_and_serialize) ||
      !CU_add_test(s, "collapsing and empty", test_collapse_and_empty) ||
      !CU_add_test(s, "index equals log() at every bucket boundary", test_index_boundaries) ||
      !CU_add_test(s, "index equals log() on random doubles", test_index_random) ||
      !CU_add_test(s, "serialisations recorded by an earlier version",
                   test_golden_serialisations) ||
      !CU_add_test(s, "stores hold exactly the buckets seen", test_store_growth))
    return -1;
  return 0;
}
