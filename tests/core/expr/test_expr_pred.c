/* SPDX-License-Identifier: Apache-2.0 */
/* The batch form of filter expressions (core/expr/expr_pred.c) against
 * sl_expr_eval, record by record: random records (fields in random order,
 * missing, null, ints past 2^53 and at the int64 limits, NaN, infinities,
 * -0.0, strings, bytes, bools, nested records) through every form the batch
 * form knows. A kept record must evaluate to true, a dropped one to false or
 * null, and a record whose evaluation fails must be left to sl_expr_eval. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/record_internal.h"
#include "expr/expr.h"
#include "expr/expr_pred.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void) { /* xorshift64 */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static const char *const strings[] = {"", "a", "ab", "abc", "b", "x", "ok", "okay"};

/* A value of any type, weighted towards the edges of the comparisons. */
static sl_value random_value(sl_arena *a, int depth) {
  static const int64_t ints[] = {0,
                                 1,
                                 -1,
                                 3,
                                 -40,
                                 150,
                                 151,
                                 -41,
                                 (INT64_C(1) << 53),
                                 (INT64_C(1) << 53) + 1,
                                 -(INT64_C(1) << 53) - 1,
                                 INT64_C(9007199254740993),
                                 INT64_MAX,
                                 INT64_MIN,
                                 INT64_MAX - 1};
  static const double dbls[] = {0.0,
                                -0.0,
                                0.5,
                                -39.9999,
                                149.5,
                                150.0,
                                150.0000001,
                                -40.0,
                                -40.5,
                                1.5,
                                2.5,
                                3.0,
                                1e300,
                                -1e300,
                                9007199254740992.0,
                                9007199254740994.0,
                                9223372036854775808.0,
                                -9223372036854775808.0};
  switch (next() % 10) {
  case 0: return sl_value_null();
  case 1:
  case 2: return sl_value_int(ints[next() % (sizeof ints / sizeof ints[0])]);
  case 3: return sl_value_int((int64_t)(next() % 400) - 200);
  case 4: return sl_value_double(dbls[next() % (sizeof dbls / sizeof dbls[0])]);
  case 5: {
    uint64_t k = next() % 4;
    if (k == 0)
      return sl_value_double(NAN);
    if (k == 1)
      return sl_value_double(next() % 2 ? INFINITY : -INFINITY);
    return sl_value_double((double)(int64_t)(next() % 4000) / 10.0 - 200.0);
  }
  case 6: {
    const char *s = strings[next() % (sizeof strings / sizeof strings[0])];
    return sl_value_string(s, strlen(s));
  }
  case 7: return sl_value_bool((int)(next() % 2));
  case 8: return sl_value_bytes("ab", 2);
  default: {
    if (depth > 0)
      return sl_value_int(7);
    sl_record *r = sl_record_new(a, 2);
    sl_record_set(r, sl_name_cstr("x"), random_value(a, depth + 1));
    return sl_value_record(r);
  }
  }
}

/* Fields a, b and c, each present with probability 3/4, in a random order. */
static sl_record *random_record(sl_arena *a) {
  static const char *const names[] = {"a", "b", "c"};
  int order[3] = {0, 1, 2};
  for (int i = 2; i > 0; i--) {
    int j = (int)(next() % (uint64_t)(i + 1)), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  sl_record *r = sl_record_new(a, 3);
  for (int i = 0; i < 3; i++)
    if (next() % 4)
      sl_record_set(r, sl_name_cstr(names[order[i]]), random_value(a, 0));
  return r;
}

/* Expressions with a batch form. */
static const char *const forms[] = {
    "a between -40 and 150",
    "a not between -40 and 150",
    "a between -1.5 and 2.5",
    "a not between -0.0 and 0.5",
    "a between 9007199254740993 and 9223372036854775807",
    "a between -40 and 9007199254740993",
    "a > 3",
    "3 > a",
    "a >= 0.5",
    "0.5 <= a",
    "a < -0.0",
    "a <= 9007199254740993",
    "a = 9007199254740992",
    "a <> 1.5",
    "a != 150",
    "a = 'ab'",
    "a > 'ab'",
    "'ok' <= a",
    "a != true",
    "a = false",
    "a = null",
    "a < 1e308 * 10",
    "a > -(1e308 * 10)",
    "a > 1e308 * 10 - 1e308 * 10",
    "a is null",
    "a is not null",
    "a.x > 1",
    "a.x between 0 and 10",
    "a > 1 and b < 2.5",
    "a between -40 and 150 and b is not null and c != 'x'",
    "a = 'x' or b between 0 and 10",
    "a is null or b > 0 or c = true",
    "a < 0 and a > 0",
};

/* Expressions without one: every record goes through sl_expr_eval. */
static const char *const no_forms[] = {
    "a + 1 > 2",   "not (a > 1)", "a in (1, 2)",
    "a like 'x%'", "b > a",       "a > 1 and (b > 1 or c > 1)",
    "true",        "abs(a) > 1",  "a between b and 3",
};

static void test_same_answers_as_eval(void) {
  sl_arena *a = sl_arena_new(0), *scratch = sl_arena_new(0);
  enum { N = 3000 };
  sl_record **rs = malloc(N * sizeof *rs);
  uint8_t *verdict = malloc(N);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(verdict);
  for (size_t i = 0; i < N; i++)
    rs[i] = random_record(a);
  for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
    sl_error err;
    sl_expr *e = sl_expr_compile(forms[f], 1, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    sl_expr_pred *p = sl_expr_pred_new(e);
    if (!p)
      fprintf(stderr, "no batch form for: %s\n", forms[f]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    /* In slices of different sizes: the remembered positions carry over. */
    for (size_t at = 0, len = 1; at < N; at += len, len = len * 3 % 1024 + 1)
      sl_expr_pred_test(p, rs + at, at + len > N ? N - at : len, verdict + at);
    size_t wrong = 0, decided = 0;
    for (size_t i = 0; i < N; i++) {
      sl_value v;
      sl_arena_reset(scratch);
      int rc = sl_expr_eval(e, rs[i], scratch, &v, &err);
      int keep = rc == SL_OK && v.type == SL_TYPE_BOOL && v.as.b;
      if (verdict[i] == SL_PRED_EVAL)
        continue;
      decided++;
      if (rc != SL_OK || keep != (verdict[i] == SL_PRED_KEEP)) {
        if (wrong++ < 3)
          fprintf(stderr, "%s: record %zu: batch form says %d, eval %s\n", forms[f], i, verdict[i],
                  rc != SL_OK ? err.message
                  : keep      ? "true"
                              : "false or null");
      }
    }
    CU_ASSERT_EQUAL(wrong, 0);
    /* Missing and null values alone are a quarter of the records: the
     * batch form decides those and the values of its literal's type. */
    if (decided < N / 4)
      fprintf(stderr, "%s: only %zu of %d records decided\n", forms[f], decided, N);
    CU_ASSERT(decided >= N / 4);
    sl_expr_pred_free(p);
    sl_expr_free(e);
  }
  free(rs);
  free(verdict);
  sl_arena_destroy(a);
  sl_arena_destroy(scratch);
}

static void test_no_batch_form(void) {
  for (size_t f = 0; f < sizeof no_forms / sizeof no_forms[0]; f++) {
    sl_error err;
    sl_expr *e = sl_expr_compile(no_forms[f], 1, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    sl_expr_pred *p = sl_expr_pred_new(e);
    if (p)
      fprintf(stderr, "unexpected batch form for: %s\n", no_forms[f]);
    CU_ASSERT_PTR_NULL(p);
    sl_expr_pred_free(p);
    sl_expr_free(e);
  }
  sl_expr_pred_free(NULL);
}

/* Values whose answer needs the general comparison or is an error are left
 * to sl_expr_eval: a type mismatch, an int past 2^53 against a fractional
 * bound, a double against an int bound past 2^53, a nested record. */
static void test_undecided_values(void) {
  static const struct {
    const char *expr;
    sl_value v;
  } cases[] = {
      {"a between -1.5 and 2.5", {SL_TYPE_INT, {.i = (INT64_C(1) << 53) + 1}}},
      {"a > 0.5", {SL_TYPE_INT, {.i = INT64_MAX}}},
      {"a between 9007199254740993 and 9223372036854775807", {SL_TYPE_DOUBLE, {.d = 1e18}}},
      {"a > 9007199254740993", {SL_TYPE_DOUBLE, {.d = 1e18}}},
      {"a > 3", {SL_TYPE_BOOL, {.b = 1}}},
      {"a = 'x'", {SL_TYPE_INT, {.i = 1}}},
      {"a = true", {SL_TYPE_STRING, {.str = {"x", 1}}}},
      {"a between -40 and 150", {SL_TYPE_STRING, {.str = {"x", 1}}}},
  };
  sl_arena *a = sl_arena_new(0);
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sl_error err;
    sl_expr *e = sl_expr_compile(cases[k].expr, 1, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    sl_expr_pred *p = sl_expr_pred_new(e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    sl_record *r = sl_record_new(a, 1);
    sl_record_set(r, sl_name_cstr("a"), cases[k].v);
    uint8_t v = 99;
    sl_expr_pred_test(p, &r, 1, &v);
    CU_ASSERT_EQUAL(v, SL_PRED_EVAL);
    sl_expr_pred_free(p);
    sl_expr_free(e);
  }
  sl_arena_destroy(a);
}

int suite_core_expr_pred(void);
int suite_core_expr_pred(void) {
  CU_pSuite s = CU_add_suite("core_expr_pred", NULL, NULL);
  if (!s ||
      !CU_add_test(s, "same answers as sl_expr_eval on random records",
                   test_same_answers_as_eval) ||
      !CU_add_test(s, "expressions without a batch form", test_no_batch_form) ||
      !CU_add_test(s, "values left to sl_expr_eval", test_undecided_values))
    return -1;
  return CU_get_error();
}
