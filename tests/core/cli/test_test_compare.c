/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice test` comparison (core/cli/test_compare.c): order only across
 * watermark advances, numeric tolerance, the `_id` rule and the diff a
 * pipeline author reads. */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "cli/test_compare.h"

#define MAXR 8

/* Records from JSON texts; output groups from `groups` (NULL: all 0). */
static size_t make(sl_test_rec *r, const char *const *texts, const long *groups) {
  size_t n = 0;
  for (; texts[n]; n++) {
    json_error_t je;
    r[n].json = json_loads(texts[n], 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r[n].json);
    r[n].group = groups ? groups[n] : 0;
    r[n].line = (long)n + 1;
  }
  return n;
}

static void drop(sl_test_rec *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    json_decref(r[i].json);
}

/* Compare; the diff text in *diff (caller frees). */
static size_t compare(const char *const *exp, const char *const *got, const long *groups,
                      char **diff) {
  sl_test_rec e[MAXR] = {{0}}, g[MAXR] = {{0}};
  size_t ne = make(e, exp, NULL), ng = make(g, got, groups);
  sl_buf b = SL_BUF_INIT;
  size_t problems = sl_test_compare(e, ne, g, ng, &b);
  sl_buf_putc(&b, '\0');
  *diff = b.data;
  drop(e, ne);
  drop(g, ng);
  return problems;
}

static void test_order_within_one_advance_is_free(void) {
  const char *exp[] = {"{\"k\":\"b\",\"n\":2}", "{\"k\":\"a\",\"n\":1}", "{\"k\":\"c\",\"n\":3}",
                       NULL};
  const char *got[] = {"{\"k\":\"a\",\"n\":1}", "{\"k\":\"b\",\"n\":2}", "{\"k\":\"c\",\"n\":3}",
                       NULL};
  long groups[] = {4, 4, 9};
  char *diff;
  CU_ASSERT_EQUAL(compare(exp, got, groups, &diff), 0);
  CU_ASSERT_STRING_EQUAL(diff, "");
  free(diff);
}

static void test_order_across_advances_is_checked(void) {
  /* c came out of a later advance than a and b: listing it first is wrong. */
  const char *exp[] = {"{\"k\":\"c\"}", "{\"k\":\"a\"}", "{\"k\":\"b\"}", NULL};
  const char *got[] = {"{\"k\":\"a\"}", "{\"k\":\"b\"}", "{\"k\":\"c\"}", NULL};
  long groups[] = {4, 4, 9};
  char *diff;
  CU_ASSERT_EQUAL(compare(exp, got, groups, &diff), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "out of order (expected line 2, output record 1)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "out of order (expected line 3, output record 2)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "than expected line 1"));
  free(diff);
}

static void test_numbers_within_1e9_relative(void) {
  json_t *a = json_real(71.0), *b = json_integer(71), *c = json_real(71.0 * (1 + 5e-10)),
         *d = json_real(71.0 * (1 + 5e-9)), *z = json_real(0.0), *tiny = json_real(1e-300);
  CU_ASSERT_TRUE(sl_test_json_equal(a, b, 0));     /* 71 and 71.0 are one number */
  CU_ASSERT_TRUE(sl_test_json_equal(a, c, 0));     /* within 1e-9 relative */
  CU_ASSERT_FALSE(sl_test_json_equal(a, d, 0));    /* 5e-9 relative is a difference */
  CU_ASSERT_FALSE(sl_test_json_equal(z, tiny, 0)); /* relative: 0 is only 0 */
  CU_ASSERT_TRUE(sl_test_json_equal(z, z, 0));
  json_t *big1 = json_integer(9007199254740993LL), *big2 = json_integer(9007199254740992LL);
  CU_ASSERT_FALSE(sl_test_json_equal(big1, big2, 0)); /* integers compare exactly */
  json_t *s = json_string("71");
  CU_ASSERT_FALSE(sl_test_json_equal(a, s, 0)); /* a string is not a number */
  json_decref(a), json_decref(b), json_decref(c), json_decref(d), json_decref(z);
  json_decref(tiny), json_decref(big1), json_decref(big2), json_decref(s);
}

static void test_id_ignored_unless_expected(void) {
  const char *exp[] = {"{\"k\":\"a\",\"n\":1}", NULL};
  const char *got[] = {"{\"k\":\"a\",\"n\":1,\"_id\":\"p/s/a/0\"}", NULL};
  char *diff;
  CU_ASSERT_EQUAL(compare(exp, got, NULL, &diff), 0);
  free(diff);
  const char *exp_id[] = {"{\"k\":\"a\",\"n\":1,\"_id\":\"p/s/a/10\"}", NULL};
  CU_ASSERT_EQUAL(compare(exp_id, got, NULL, &diff), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "_id: expected \"p/s/a/10\", got \"p/s/a/0\""));
  free(diff);
  /* Only at the top: a nested _id is data like any other field. */
  const char *exp_nested[] = {"{\"record\":{\"k\":1}}", NULL};
  const char *got_nested[] = {"{\"record\":{\"k\":1,\"_id\":\"x\"}}", NULL};
  CU_ASSERT_EQUAL(compare(exp_nested, got_nested, NULL, &diff), 2); /* missing + unexpected */
  free(diff);
}

static void test_diff_names_missing_unexpected_and_changed_fields(void) {
  const char *exp[] = {"{\"machine_id\":\"m1\",\"window_start\":0,\"avg\":91.5,\"n\":2}",
                       "{\"machine_id\":\"m9\",\"window_start\":0,\"avg\":1,\"n\":1}", NULL};
  const char *got[] = {"{\"machine_id\":\"m1\",\"window_start\":0,\"avg\":91.4,\"n\":2,\"x\":true}",
                       "{\"alert\":\"hot\",\"state\":\"firing\"}", NULL};
  char *diff;
  CU_ASSERT_EQUAL(compare(exp, got, NULL, &diff), 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "  changed (expected line 1, output record 1): "
                                      "{\"machine_id\":\"m1\",\"window_start\":0,\"avg\":91.5,"
                                      "\"n\":2}\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "      avg: expected 91.5, got 91.4\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "      x: not expected, got true\n"));
  CU_ASSERT_PTR_NULL(strstr(diff, "n: expected")); /* equal fields are not listed */
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "  missing (expected line 2): {\"machine_id\":\"m9\""));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(diff, "  unexpected (output record 2): {\"alert\":\"hot\",\"state\":\"firing\"}\n"));
  free(diff);
}

static void test_duplicates_count(void) {
  /* The same record twice is expected twice: one output is one missing. */
  const char *exp[] = {"{\"k\":1}", "{\"k\":1}", NULL};
  const char *got[] = {"{\"k\":1}", NULL};
  char *diff;
  CU_ASSERT_EQUAL(compare(exp, got, NULL, &diff), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "missing (expected line 2)"));
  free(diff);
  CU_ASSERT_EQUAL(compare(got, exp, NULL, &diff), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "unexpected (output record 2)"));
  free(diff);
}

static void test_nested_values_and_arrays(void) {
  const char *exp[] = {"{\"key\":{\"m\":\"a\"},\"v\":[1,2.0,null]}", NULL};
  const char *same[] = {"{\"v\":[1.0,2,null],\"key\":{\"m\":\"a\"}}", NULL};
  const char *other[] = {"{\"key\":{\"m\":\"a\"},\"v\":[1,2]}", NULL};
  char *diff;
  CU_ASSERT_EQUAL(compare(exp, same, NULL, &diff), 0); /* field order is free too */
  free(diff);
  CU_ASSERT_EQUAL(compare(exp, other, NULL, &diff), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(diff, "v: expected [1,2.0,null], got [1,2]"));
  free(diff);
}

int suite_core_test_compare(void) {
  CU_pSuite s = CU_add_suite("core_test_compare", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "order within one advance is free", test_order_within_one_advance_is_free);
  CU_add_test(s, "order across advances is checked", test_order_across_advances_is_checked);
  CU_add_test(s, "numbers within 1e-9 relative", test_numbers_within_1e9_relative);
  CU_add_test(s, "_id ignored unless expected", test_id_ignored_unless_expected);
  CU_add_test(s, "diff names missing, unexpected and changed fields",
              test_diff_names_missing_unexpected_and_changed_fields);
  CU_add_test(s, "duplicates count", test_duplicates_count);
  CU_add_test(s, "nested values and arrays", test_nested_values_and_arrays);
  return 0;
}
