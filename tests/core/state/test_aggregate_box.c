/* SPDX-License-Identifier: Apache-2.0 */
/* The 8-byte min/max state: every value min/max can hold comes back
 * exactly (type, bits, string bytes), including the values at the edges of
 * the inline int range and the doubles whose bits look like the tags. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "state/aggregate_state.h"

static int same(const sl_value *a, const sl_value *b) {
  if (a->type != b->type)
    return 0;
  switch (a->type) {
  case SL_TYPE_DOUBLE:
    return memcmp(&a->as.d, &b->as.d, 8) == 0;
  case SL_TYPE_INT:
    return a->as.i == b->as.i;
  case SL_TYPE_BOOL:
    return (a->as.b != 0) == (b->as.b != 0);
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES:
    return a->as.str.len == b->as.str.len && memcmp(a->as.str.ptr, b->as.str.ptr, a->as.str.len) == 0;
  default:
    return 1;
  }
}

static void test_round_trips(void) {
  static const char nul_inside[] = {'a', 0, 'b'};
  const sl_value vals[] = {
      sl_value_double(0.0),       sl_value_double(-0.0),      sl_value_double(1.5),
      sl_value_double(-1e308),    sl_value_double(5e-324),    sl_value_double(INFINITY),
      sl_value_double(-INFINITY), sl_value_int(0),            sl_value_int(-1),
      sl_value_int(INT64_C(140737488355327)),  /* 2^47 - 1: last inline */
      sl_value_int(-INT64_C(140737488355328)), /* -2^47: first inline */
      sl_value_int(INT64_C(140737488355328)),  /* 2^47: in a cell */
      sl_value_int(-INT64_C(140737488355329)), sl_value_int(INT64_MAX),
      sl_value_int(INT64_MIN),    sl_value_bool(1),           sl_value_bool(0),
      sl_value_string("", 0),     sl_value_string("pear", 4), sl_value_bytes(nul_inside, 3),
  };
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    agg_box b = 0;
    CU_ASSERT_EQUAL(sl_agg_box_get(&b).type, SL_TYPE_NULL); /* zeroed = empty */
    CU_ASSERT_EQUAL_FATAL(sl_agg_box_set(&b, &vals[i]), SL_OK);
    sl_value got = sl_agg_box_get(&b);
    if (!same(&got, &vals[i]))
      CU_FAIL("value changed in the box");
    /* replacing a cell by an inline value and back frees and reallocates */
    sl_value d = sl_value_double(2.0);
    CU_ASSERT_EQUAL(sl_agg_box_set(&b, &d), SL_OK);
    CU_ASSERT_EQUAL(sl_agg_box_get(&b).as.d, 2.0);
    CU_ASSERT_EQUAL(sl_agg_box_set(&b, &vals[i]), SL_OK);
    got = sl_agg_box_get(&b);
    if (!same(&got, &vals[i]))
      CU_FAIL("value changed after a replacement");
    sl_agg_box_free(&b);
    CU_ASSERT_EQUAL(b, 0);
  }
}

static void test_nan_and_null(void) {
  agg_box b = 0;
  sl_value nan = sl_value_double(NAN), null = sl_value_null();
  CU_ASSERT_EQUAL(sl_agg_box_set(&b, &nan), SL_OK); /* stored as a NaN, not a tag */
  sl_value got = sl_agg_box_get(&b);
  CU_ASSERT_EQUAL(got.type, SL_TYPE_DOUBLE);
  CU_ASSERT(isnan(got.as.d));
  CU_ASSERT_EQUAL(sl_agg_box_set(&b, &null), SL_OK);
  CU_ASSERT_EQUAL(sl_agg_box_get(&b).type, SL_TYPE_NULL);
  CU_ASSERT_EQUAL(b, 0);
}

int suite_core_aggregate_box(void) {
  CU_pSuite s = CU_add_suite("core/aggregate_box", NULL, NULL);
  if (!s || !CU_add_test(s, "every value min/max hold comes back exactly", test_round_trips) ||
      !CU_add_test(s, "NaN and null", test_nan_and_null))
    return -1;
  return 0;
}
