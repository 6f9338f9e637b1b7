/* SPDX-License-Identifier: Apache-2.0 */
/* filter through the operator harness: SQL null semantics, eval errors
 * dead-lettered with the original record, bad configs. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <string.h>

#include "expr/expr.h"
#include "harness.h"

extern const sl_operator_desc sl_op_filter;

static int setup(void) {
  th_expr_compile = sl_expr_compile;
  th_expr_eval = sl_expr_eval;
  th_expr_free = sl_expr_free;
  return 0;
}

static sl_config *expr_cfg(const char *expr) {
  sl_config *c = sl_config_new("p.lua", 7);
  sl_config_put_string(c, "expr", expr);
  return c;
}

static void test_keeps_true_only(void) {
  sl_config *c = expr_cfg("t > 10");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_filter, c), SL_OK);
  sl_record *in[] = {
      th_rec(&t, "id", sl_value_int(1), "t", sl_value_int(20), NULL),
      th_rec(&t, "id", sl_value_int(2), "t", sl_value_int(5), NULL),
      th_rec(&t, "id", sl_value_int(3), "t", sl_value_null(), NULL), /* null > 10: dropped */
      th_rec(&t, "id", sl_value_int(4), NULL),                       /* missing: null */
      th_rec(&t, "id", sl_value_int(5), "t", sl_value_double(10.5), NULL),
  };
  CU_ASSERT_EQUAL(th_process(&t, in, 5), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_EQUAL(th_out_field(&t, 0, "id")->as.i, 1);
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "id")->as.i, 5);
  CU_ASSERT_EQUAL(t.dead_count, 0);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_empty_batch(void) {
  sl_config *c = expr_cfg("t > 10");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_filter, c), SL_OK);
  CU_ASSERT_EQUAL(th_process(&t, NULL, 0), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL(t.dead_count, 0);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_is_null_keeps_missing(void) {
  sl_config *c = expr_cfg("t is null");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_filter, c), SL_OK);
  sl_record *in[] = {th_rec(&t, "id", sl_value_int(1), NULL),
                     th_rec(&t, "id", sl_value_int(2), "t", sl_value_int(1), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 2), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  CU_ASSERT_EQUAL(th_out_field(&t, 0, "id")->as.i, 1);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_eval_error_dead_lettered_with_original(void) {
  sl_config *c = expr_cfg("t + 1 > 10");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_filter, c), SL_OK);
  sl_record *bad = th_rec(&t, "id", sl_value_int(9), "t", th_str(&t, "hot"), NULL);
  sl_record_set_key(bad, "k9", 2);
  sl_record_set_position(bad, 0, "in.jsonl", 0, 42);
  sl_record *in[] = {bad, th_rec(&t, "id", sl_value_int(1), "t", sl_value_int(20), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 2), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 1);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 1);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "eval");
  CU_ASSERT_PTR_NOT_NULL(strstr(t.dead[0].message, "cannot add string and int"));
  sl_record *d = t.dead[0].record;
  CU_ASSERT_EQUAL(sl_record_get_cstr(d, "id")->as.i, 9);
  CU_ASSERT_NSTRING_EQUAL(sl_record_get_cstr(d, "t")->as.str.ptr, "hot", 3);
  size_t kl;
  CU_ASSERT_NSTRING_EQUAL(sl_record_key(d, &kl), "k9", 2);
  CU_ASSERT_EQUAL(sl_record_offset(d), 42);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_emits_record_unchanged_with_metadata(void) {
  sl_config *c = expr_cfg("id = 1");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_filter, c), SL_OK);
  sl_record *r = th_rec(&t, "id", sl_value_int(1), NULL);
  sl_record_set_key(r, "key", 3);
  sl_record_set_timestamp(r, 1234);
  sl_record_set_position(r, 0, "src", 2, 77);
  sl_record_header_add(r, "h", "v", 1);
  CU_ASSERT_EQUAL(th_process(&t, &r, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  size_t kl;
  CU_ASSERT_NSTRING_EQUAL(sl_record_key(t.out[0], &kl), "key", 3);
  CU_ASSERT_EQUAL(sl_record_timestamp(t.out[0]), 1234);
  CU_ASSERT_EQUAL(sl_record_partition(t.out[0]), 2);
  CU_ASSERT_EQUAL(sl_record_offset(t.out[0]), 77);
  CU_ASSERT_EQUAL(sl_record_header_count(t.out[0]), 1);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_bad_expression_init_error(void) {
  sl_config *c = expr_cfg("t >");
  th_op t;
  CU_ASSERT_NOT_EQUAL(th_op_init(&t, &sl_op_filter, c), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "expected an expression"));
  CU_ASSERT_PTR_NULL(t.state);
  th_op_free(&t);
  sl_config_destroy(c);
  c = expr_cfg("sqr(t) > 1");
  CU_ASSERT_NOT_EQUAL(th_op_init(&t, &sl_op_filter, c), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "unknown function 'sqr'"));
  th_op_free(&t);
  sl_config_destroy(c);
}

/* The runtime's host evaluates with sl_expr_eval itself, and the filter then
 * decides whole batches at once (expr/expr_pred.h). The harness wraps
 * sl_expr_eval, so init again with the host the runtime gives. */
static int init_batch_form(th_op *t, const sl_config *c) {
  int rc = th_op_init(t, &sl_op_filter, c);
  if (rc != SL_OK)
    return rc;
  sl_op_filter.destroy(t->state);
  t->host.expr_eval = sl_expr_eval;
  return sl_op_filter.init(&t->host, (sl_operator *)(void *)t, c, &t->state, &t->err);
}

static size_t evals;
static int counting_eval(const sl_expr *e, const sl_record *r, sl_arena *a, sl_value *out,
                         sl_error *err) {
  evals++;
  return sl_expr_eval(e, r, a, out, err);
}

/* A batch with kept and dropped runs, an evaluation error in the middle, a
 * NaN, a null, a missing field and an int past 2^53: the batch form keeps,
 * drops and dead-letters exactly what record-by-record evaluation does, in
 * the same order, and evaluates only what it cannot decide itself. */
static void test_batch_form_same_as_per_record(void) {
  const char *exprs[] = {"t between -40 and 150.5", "t > 10 and t < 100", "t <= 20 or t is null"};
  for (size_t k = 0; k < sizeof exprs / sizeof exprs[0]; k++) {
    sl_config *c = expr_cfg(exprs[k]);
    th_op one, all;
    CU_ASSERT_EQUAL_FATAL(th_op_init(&one, &sl_op_filter, c), SL_OK);
    CU_ASSERT_EQUAL_FATAL(init_batch_form(&all, c), SL_OK);
    th_op *both[] = {&one, &all};
    for (int w = 0; w < 2; w++) {
      th_op *t = both[w];
      sl_record *in[] = {
          th_rec(t, "id", sl_value_int(0), "t", sl_value_double(20.5), NULL),
          th_rec(t, "id", sl_value_int(1), "t", sl_value_int(50), NULL),
          th_rec(t, "id", sl_value_int(2), "t", sl_value_double(500), NULL),
          th_rec(t, "id", sl_value_int(3), "t", th_str(t, "hot"), NULL), /* error */
          th_rec(t, "id", sl_value_int(4), "t", sl_value_double(NAN), NULL),
          th_rec(t, "id", sl_value_int(5), "t", sl_value_null(), NULL),
          th_rec(t, "t", sl_value_double(-40), "id", sl_value_int(6), NULL), /* other order */
          th_rec(t, "id", sl_value_int(7), NULL),
          th_rec(t, "id", sl_value_int(8), "t", sl_value_int((INT64_C(1) << 53) + 1), NULL),
          th_rec(t, "id", sl_value_int(9), "t", sl_value_double(-INFINITY), NULL),
          th_rec(t, "id", sl_value_int(10), "t", sl_value_int(-40), NULL),
      };
      evals = 0;
      t->host.expr_eval = counting_eval;
      CU_ASSERT_EQUAL(th_process(t, in, sizeof in / sizeof in[0]), SL_OK);
    }
    CU_ASSERT_EQUAL(one.out_count, all.out_count);
    for (size_t i = 0; i < one.out_count && i < all.out_count; i++)
      CU_ASSERT_EQUAL(th_out_field(&one, i, "id")->as.i, th_out_field(&all, i, "id")->as.i);
    CU_ASSERT_EQUAL_FATAL(one.dead_count, 1);
    CU_ASSERT_EQUAL_FATAL(all.dead_count, 1);
    CU_ASSERT_STRING_EQUAL(all.dead[0].reason, "eval");
    CU_ASSERT_STRING_EQUAL(all.dead[0].message, one.dead[0].message);
    CU_ASSERT_PTR_NOT_NULL(strstr(all.dead[0].message, "cannot compare string and"));
    CU_ASSERT_EQUAL(sl_record_get_cstr(all.dead[0].record, "id")->as.i, 3);
    /* Only the string and, against 150.5, the int past 2^53 needed sl_expr_eval. */
    CU_ASSERT_EQUAL(evals, k == 0 ? 2 : 1);
    th_op_free(&one);
    th_op_free(&all);
    sl_config_destroy(c);
  }
}

static void test_destroy_null(void) {
  sl_op_filter.destroy(NULL);
  CU_PASS("destroy(NULL) returned");
}

int suite_operators_filter(void) {
  CU_pSuite s = CU_add_suite("operators_filter", setup, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "keeps true only (null and false drop)", test_keeps_true_only);
  CU_add_test(s, "empty batch", test_empty_batch);
  CU_add_test(s, "is null keeps missing fields", test_is_null_keeps_missing);
  CU_add_test(s, "eval error dead-lettered with the original", test_eval_error_dead_lettered_with_original);
  CU_add_test(s, "metadata preserved", test_emits_record_unchanged_with_metadata);
  CU_add_test(s, "bad expression: init error", test_bad_expression_init_error);
  CU_add_test(s, "batch form: same output as record by record", test_batch_form_same_as_per_record);
  CU_add_test(s, "destroy(NULL)", test_destroy_null);
  return CU_get_error();
}
