/* SPDX-License-Identifier: Apache-2.0 */
/* The session window table: change tracking starts with the first snapshot,
 * so a table that is never snapshotted (memory state) keeps no change list
 * (it used to grow by one pointer for every window ever opened), and the
 * first snapshot writes every entry. Everything else of the table is
 * covered through the window operator's property tests. */
#include <CUnit/CUnit.h>
#include <stdio.h>

#include "state/keyed_state.h"

static int puts_seen;

static int on_put(void *ctx, int32_t p, const void *k, size_t kl, const void *v, size_t vl) {
  (void)ctx, (void)p, (void)k, (void)kl, (void)v, (void)vl;
  puts_seen++;
  return SL_OK;
}
static int on_del(void *ctx, int32_t p, const void *k, size_t kl) {
  (void)ctx, (void)p, (void)k, (void)kl;
  return SL_OK;
}

static void test_no_change_list_without_snapshots(void) {
  sl_agg_set aggs = SL_AGG_SET_INIT;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(sl_agg_set_add(&aggs, "n", "count()", &err), SL_OK);
  sl_kstate s;
  CU_ASSERT_EQUAL_FATAL(sl_kstate_init(&s, &aggs, 0), SL_OK);
  char key[32];
  for (int i = 0; i < 10000; i++) { /* open and close 10,000 sessions */
    int n = snprintf(key, sizeof key, "m%d", i % 100);
    sl_kentry *e = sl_kstate_insert(&s, sl_key_hash(key, (size_t)n), key, (size_t)n, i, i + 5, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(sl_kstate_touch(&s, e), SL_OK);
    if (i >= 50) {
      sl_kentry *first = sl_kstate_pop(&s);
      CU_ASSERT_EQUAL(sl_kstate_remove(&s, first), SL_OK);
    }
  }
  CU_ASSERT_EQUAL(s.count, 50);
  CU_ASSERT_EQUAL(s.dirty_len, 0);
  CU_ASSERT_PTR_NULL(s.dirty);
  CU_ASSERT_EQUAL(sl_kstate_snapshot(&s, on_put, on_del, NULL), SL_OK);
  CU_ASSERT_EQUAL(puts_seen, 50); /* the first snapshot writes all */
  puts_seen = 0;
  sl_kentry *e = sl_kstate_top(&s);
  CU_ASSERT_EQUAL(sl_kstate_touch(&s, e), SL_OK); /* tracked from now on */
  CU_ASSERT_EQUAL(s.dirty_len, 1);
  CU_ASSERT_EQUAL(sl_kstate_snapshot(&s, on_put, on_del, NULL), SL_OK);
  CU_ASSERT_EQUAL(puts_seen, 1);
  sl_kstate_free(&s);
  sl_agg_set_free(&aggs);
}

int suite_core_keyed_state(void) {
  CU_pSuite s = CU_add_suite("core/keyed_state", NULL, NULL);
  if (!s || !CU_add_test(s, "no change list without snapshots", test_no_change_list_without_snapshots))
    return -1;
  return 0;
}
