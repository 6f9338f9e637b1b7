/* SPDX-License-Identifier: Apache-2.0 */
/* Watermark tracking: idleness, and the memo that lets observe skip the
 * scan over partitions, checked against a full recompute on every record
 * (random operation sequences with the wall clock stepping back too). */
#include <CUnit/CUnit.h>

#include "sluice/operator.h"
#include "state/watermark.h"

static void test_idle_partition_released_by_a_record(void) {
  sl_watermark w;
  sl_watermark_init(&w, 0, 100);
  CU_ASSERT_EQUAL(sl_watermark_observe(&w, 0, 0, 10, 0), SL_OK);
  CU_ASSERT_EQUAL(sl_watermark_observe(&w, 0, 1, 50, 0), SL_OK);
  CU_ASSERT_EQUAL(w.current, 10);
  /* No new maximum, but partition 0 idles exactly now: no longer held back. */
  CU_ASSERT_EQUAL(sl_watermark_observe(&w, 0, 1, 40, 99), SL_OK);
  CU_ASSERT_EQUAL(w.current, 10);
  CU_ASSERT_EQUAL(sl_watermark_observe(&w, 0, 1, 40, 100), SL_OK);
  CU_ASSERT_EQUAL(w.current, 50);
  /* Partition 0 comes back without a new maximum: it is active again but
   * the watermark never moves back. */
  CU_ASSERT_EQUAL(sl_watermark_observe(&w, 0, 0, 5, 120), SL_OK);
  CU_ASSERT_EQUAL(w.current, 50);
  CU_ASSERT_EQUAL(sl_watermark_observe(&w, 0, 1, 70, 121), SL_OK);
  CU_ASSERT_EQUAL(w.current, 50); /* partition 0 (max 10) holds it */
  sl_watermark_free(&w);
}

static void test_delay_and_new_maximum(void) {
  sl_watermark w;
  sl_watermark_init(&w, 5, 1000);
  CU_ASSERT_EQUAL(w.current, SL_WATERMARK_NONE);
  sl_watermark_observe(&w, 0, 0, 100, 1);
  CU_ASSERT_EQUAL(w.current, 95);
  sl_watermark_observe(&w, 0, 0, 90, 2); /* older record: no change */
  CU_ASSERT_EQUAL(w.current, 95);
  sl_watermark_observe(&w, 0, 0, 130, 3);
  CU_ASSERT_EQUAL(w.current, 125);
  sl_watermark_free(&w);
}

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

/* Same operations on two watermarks; `ref` forgets its memo before every
 * record, so it takes the full recompute each time (and the general path
 * of sl_watermark_observe, where `w` mostly takes the inline one). With
 * more than 4 partitions pairs share slots of the partition cache. */
static void run_random(uint64_t seed, int64_t delay, int64_t idle, int nparts) {
  sl_watermark w, ref;
  sl_watermark_init(&w, delay, idle);
  sl_watermark_init(&ref, delay, idle);
  int64_t now = 1000, t = 0;
  int mismatches = 0;
  for (int i = 0; i < 20000; i++) {
    uint64_t r = rng_next(&seed);
    unsigned op = (unsigned)(r % 100);
    int32_t src = (int32_t)((r >> 8) % 2), part = (int32_t)((r >> 12) % (uint64_t)nparts);
    /* Time mostly moves forward by small steps, sometimes jumps past the
     * idle period, sometimes steps back (a wall clock adjustment). */
    unsigned step = (unsigned)((r >> 20) % 100);
    now += step < 90 ? (int64_t)(r >> 28) % 7 : step < 96 ? idle : -(int64_t)((r >> 28) % 50);
    t += (int64_t)((r >> 36) % 5) - 1;
    int64_t rt = t - (int64_t)((r >> 44) % 3 == 0 ? (r >> 48) % 40 : 0);
    if (op < 85) {
      ref.calc_valid = 0;
      CU_ASSERT_EQUAL(sl_watermark_observe(&w, src, part, rt, now), SL_OK);
      CU_ASSERT_EQUAL(sl_watermark_observe(&ref, src, part, rt, now), SL_OK);
    } else if (op < 90) {
      sl_watermark_tick(&w, now);
      sl_watermark_tick(&ref, now);
    } else if (op < 93) {
      sl_watermark_assign(&w, src, part, now);
      sl_watermark_assign(&ref, src, part, now);
    } else if (op < 96) {
      sl_watermark_admit(&w, src, part, rt);
      sl_watermark_admit(&ref, src, part, rt);
    } else if (op < 98) {
      sl_watermark_force(&w, rt - 100);
      sl_watermark_force(&ref, rt - 100);
    } else if (op < 99) {
      sl_watermark_drop_partition(&w, part);
      sl_watermark_drop_partition(&ref, part);
    } else {
      sl_watermark_restore_part(&w, src, part, rt, rt - 30, now);
      sl_watermark_restore_part(&ref, src, part, rt, rt - 30, now);
    }
    if (w.current != ref.current)
      mismatches++;
  }
  CU_ASSERT_EQUAL(mismatches, 0);
  if (idle > 0) {
    CU_ASSERT(w.current != SL_WATERMARK_NONE);
  }
  sl_watermark_free(&w);
  sl_watermark_free(&ref);
}

static void test_memo_matches_full_recompute(void) {
  static const struct {
    uint64_t seed;
    int64_t delay, idle;
    int nparts;
  } cases[] = {{1, 0, 30, 4}, {2, 5, 30, 4},  {3, 0, 1, 4},    {4, 10, 200, 4}, {5, 0, 0, 4},
               {6, 3, 7, 4},  {7, 0, 30, 11}, {8, 5, 200, 24}, {9, 0, 1, 40}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    run_random(cases[i].seed * 0x9E3779B97F4A7C15ull, cases[i].delay, cases[i].idle,
               cases[i].nparts);
}

/* Regression (issue 12): a checkpoint entry of a partition that had sent
 * nothing carried the old worker's watermark; restoring it marked the
 * partition started and pulled that watermark onto it, so its first
 * records were late. Such an entry now changes nothing. */
static void test_restore_without_maximum_keeps_partition_pending(void) {
  sl_watermark w;
  sl_watermark_init(&w, 2000, 30000);
  CU_ASSERT_EQUAL(sl_watermark_assign(&w, 0, 3, 0), SL_OK);
  CU_ASSERT_EQUAL(sl_watermark_restore_part(&w, 0, 3, SL_WATERMARK_NONE, 100000, 0), SL_OK);
  CU_ASSERT_EQUAL(w.current, SL_WATERMARK_NONE);
  CU_ASSERT_EQUAL(w.pending_count, 1);
  sl_watermark_admit(&w, 0, 3, 5000); /* its first record decides */
  CU_ASSERT_EQUAL(w.pending_count, 0);
  CU_ASSERT_EQUAL(sl_watermark_observe(&w, 0, 3, 5000, 1), SL_OK);
  CU_ASSERT_EQUAL(w.current, 3000);
  sl_watermark_free(&w);
}

int suite_core_watermark(void) {
  CU_pSuite s = CU_add_suite("core_watermark", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "idle partition released by a record", test_idle_partition_released_by_a_record);
  CU_add_test(s, "delay and new maximum", test_delay_and_new_maximum);
  CU_add_test(s, "memo matches full recompute", test_memo_matches_full_recompute);
  CU_add_test(s, "restore without a maximum keeps the partition pending",
              test_restore_without_maximum_keeps_partition_pending);
  return 0;
}
