/* SPDX-License-Identifier: Apache-2.0 */
/* distinct(f) error per cardinality: the figures in docs/windows.md.
 * For each cardinality, TRIALS independent sets of machine-id-like strings
 * ("m" + number, hashed as the aggregate hashes strings) are counted; the
 * mean and worst relative error of the rounded estimate are printed, how
 * many sets were off by more than the 2 % of SPEC section 5, and for small
 * sets how many came out exact and the worst absolute error.
 *   build/bench/hll_error [trials]   (default 200; 1M uses trials / 10) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/hash64.h"
#include "sluice/record.h"
#include "state/hll.h"

static long long count_set(uint64_t first, uint64_t n) {
  sl_hll *h = sl_hll_new();
  char s[32];
  for (uint64_t i = first; i < first + n && h; i++) {
    int len = snprintf(s, sizeof s, "m%llu", (unsigned long long)i);
    /* seeded as core/state/aggregate.c value_hash seeds strings */
    sl_hll_add_hash(h, sl_hash64(s, (size_t)len, 0x5157 + SL_TYPE_STRING));
  }
  long long est = h ? llround(sl_hll_estimate(h)) : -1;
  sl_hll_destroy(h);
  return est;
}

int main(int argc, char **argv) {
  int trials = argc > 1 ? atoi(argv[1]) : 200;
  const uint64_t ns[] = {100, 1000, 10000, 100000, 1000000};
  printf("| distinct values | sets | exact | worst abs error | mean rel error "
         "| worst rel error | over 2 %% |\n");
  printf("|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
    uint64_t n = ns[k];
    int t = n >= 1000000 ? (trials / 10 > 0 ? trials / 10 : 1) : trials;
    double sum = 0, worst = 0;
    long long worst_abs = 0;
    int exact = 0, over = 0;
    for (int i = 0; i < t; i++) {
      long long est = count_set((uint64_t)i * 10000019ull, n);
      long long d = llabs(est - (long long)n);
      double rel = (double)d / (double)n;
      exact += d == 0;
      over += rel > 0.02;
      sum += rel;
      worst = rel > worst ? rel : worst;
      worst_abs = d > worst_abs ? d : worst_abs;
    }
    printf("| %llu | %d | %d | %lld | %.3f %% | %.3f %% | %d |\n", (unsigned long long)n, t, exact,
           worst_abs, 100 * sum / t, 100 * worst, over);
  }
  return 0;
}
