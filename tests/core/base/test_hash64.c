/* SPDX-License-Identifier: Apache-2.0 */
/* sl_hash64_short: every byte of a short key counts, longer keys are
 * sl_hash64's, and device-id-like keys spread over the low bits (table
 * positions) and the high bits (the window store's tags). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash64.h"

static uint64_t rs = 0x68617368u;
static uint64_t rnd(void) {
  rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
  return rs;
}

static void test_every_byte_counts(void) {
  unsigned char k[16];
  for (size_t len = 1; len <= 16; len++)
    for (int round = 0; round < 200; round++) {
      for (size_t i = 0; i < len; i++)
        k[i] = (unsigned char)rnd();
      uint64_t h = sl_hash64_short(k, len, 7);
      for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
          k[i] ^= (unsigned char)(1u << bit);
          CU_ASSERT_NOT_EQUAL_FATAL(sl_hash64_short(k, len, 7), h);
          k[i] ^= (unsigned char)(1u << bit);
        }
      CU_ASSERT_NOT_EQUAL(sl_hash64_short(k, len, 8), h);     /* the seed counts */
      CU_ASSERT_NOT_EQUAL(sl_hash64_short(k, len - 1, 7), h); /* and the length */
    }
}

static void test_long_keys_are_sl_hash64(void) {
  unsigned char k[100];
  for (size_t i = 0; i < sizeof k; i++)
    k[i] = (unsigned char)rnd();
  for (size_t len = 17; len <= sizeof k; len++)
    CU_ASSERT_EQUAL(sl_hash64_short(k, len, 3), sl_hash64(k, len, 3));
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static double chi2(const int *n, int buckets, int total) {
  double e = (double)total / buckets, c = 0;
  for (int b = 0; b < buckets; b++)
    c += (n[b] - e) * (n[b] - e) / e;
  return c;
}

/* 100,000 ids "m1".."m100000" (2 to 7 bytes): no 64-bit collision, and
 * 1024 buckets of the low bits, of bits 32.. (where sl_key_hash takes
 * table positions) and of the top bits (its tags) pass a chi-square test:
 * 1023 degrees of freedom give 1023 +- 45, and 1300 is about 6 standard
 * deviations (sl_hash64 itself scores ~980 here). */
static void test_ids_spread(void) {
  enum { N = 100000, B = 1024 };
  uint64_t *h = malloc(N * sizeof *h);
  static int lo[B], mid[B], hi[B];
  CU_ASSERT_PTR_NOT_NULL_FATAL(h);
  for (int i = 0; i < N; i++) {
    char id[16];
    int n = snprintf(id, sizeof id, "m%d", i + 1);
    h[i] = sl_hash64_short(id, (size_t)n, 0x77696e64);
    lo[h[i] & (B - 1)]++;
    mid[(h[i] >> 32) & (B - 1)]++;
    hi[h[i] >> 54]++;
  }
  CU_ASSERT(chi2(lo, B, N) < 1300);
  CU_ASSERT(chi2(mid, B, N) < 1300);
  CU_ASSERT(chi2(hi, B, N) < 1300);
  qsort(h, N, sizeof *h, cmp_u64);
  int dup = 0;
  for (int i = 1; i < N; i++)
    dup += h[i] == h[i - 1];
  CU_ASSERT_EQUAL(dup, 0);
  free(h);
}

int suite_core_hash64(void) {
  CU_pSuite s = CU_add_suite("core/hash64", NULL, NULL);
  if (!s || !CU_add_test(s, "short keys: every bit of every byte counts", test_every_byte_counts) ||
      !CU_add_test(s, "keys past 16 bytes hash as sl_hash64", test_long_keys_are_sl_hash64) ||
      !CU_add_test(s, "device ids spread over low and high bits", test_ids_spread))
    return -1;
  return 0;
}
