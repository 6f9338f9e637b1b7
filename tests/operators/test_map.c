/* SPDX-License-Identifier: Apache-2.0 */
/* map through the operator harness: fields computed against the incoming
 * record, null propagation, eval errors, config errors, metadata kept. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "expr/expr.h"
#include "harness.h"

extern const sl_operator_desc sl_op_map;

static int setup(void) {
  th_expr_compile = sl_expr_compile;
  th_expr_eval = sl_expr_eval;
  th_expr_free = sl_expr_free;
  return 0;
}

static void test_fields_added_and_replaced(void) {
  sl_config *c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "t", "t * 2");
  sl_config_put_string(c, "orig", "t"); /* sees the incoming t, not the new one */
  sl_config_put_string(c, "up", "upper(name)");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_map, c), SL_OK);
  sl_record *in[] = {th_rec(&t, "t", sl_value_int(21), "name", th_str(&t, "ab"), NULL),
                     th_rec(&t, "x", sl_value_int(1), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 2), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_EQUAL(th_out_field(&t, 0, "t")->as.i, 42);
  CU_ASSERT_EQUAL(th_out_field(&t, 0, "orig")->as.i, 21);
  CU_ASSERT_NSTRING_EQUAL(th_out_field(&t, 0, "up")->as.str.ptr, "AB", 2);
  CU_ASSERT_EQUAL(sl_record_count(t.out[0]), 4);
  /* missing fields: null */
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "t")->type, SL_TYPE_NULL);
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "up")->type, SL_TYPE_NULL);
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "x")->as.i, 1);
  /* the input is not mutated */
  CU_ASSERT_EQUAL(sl_record_get_cstr(in[0], "t")->as.i, 21);
  CU_ASSERT_PTR_NULL(sl_record_get_cstr(in[0], "orig"));
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_empty_batch(void) {
  sl_config *c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "y", "1");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_map, c), SL_OK);
  CU_ASSERT_EQUAL(th_process(&t, NULL, 0), SL_OK);
  CU_ASSERT_EQUAL(t.out_count + t.dead_count, 0);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_eval_error_dead_lettered(void) {
  sl_config *c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "r", "a / b");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_map, c), SL_OK);
  sl_record *bad = th_rec(&t, "a", sl_value_int(1), "b", th_str(&t, "z"), NULL);
  sl_record_set_position(bad, 0, "in", 0, 5);
  sl_record *in[] = {bad, th_rec(&t, "a", sl_value_int(6), "b", sl_value_int(3), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 2), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  CU_ASSERT_EQUAL(th_out_field(&t, 0, "r")->type, SL_TYPE_DOUBLE); /* '/' divides exactly */
  CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, 0, "r")->as.d, 2.0, 0);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 1);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "eval");
  CU_ASSERT_PTR_NULL(sl_record_get_cstr(t.dead[0].record, "r")); /* the original */
  CU_ASSERT_EQUAL(sl_record_offset(t.dead[0].record), 5);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_metadata_preserved(void) {
  sl_config *c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "y", "x + 1");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_map, c), SL_OK);
  sl_record *r = th_rec(&t, "x", sl_value_int(1), NULL);
  sl_record_set_key(r, "kk", 2);
  sl_record_set_timestamp(r, 99);
  sl_record_set_position(r, 1, "topic", 3, 1000);
  sl_record_header_add(r, "trace", "abc", 3);
  CU_ASSERT_EQUAL(th_process(&t, &r, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  size_t kl;
  CU_ASSERT_NSTRING_EQUAL(sl_record_key(t.out[0], &kl), "kk", 2);
  CU_ASSERT_EQUAL(kl, 2);
  CU_ASSERT_EQUAL(sl_record_timestamp(t.out[0]), 99);
  CU_ASSERT_EQUAL(sl_record_partition(t.out[0]), 3);
  CU_ASSERT_EQUAL(sl_record_offset(t.out[0]), 1000);
  CU_ASSERT_STRING_EQUAL(sl_record_source_name(t.out[0]), "topic");
  CU_ASSERT_EQUAL_FATAL(sl_record_header_count(t.out[0]), 1);
  const void *hv;
  size_t hl;
  CU_ASSERT_STRING_EQUAL(sl_record_header_at(t.out[0], 0, &hv, &hl), "trace");
  CU_ASSERT_NSTRING_EQUAL(hv, "abc", 3);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_bad_configs(void) {
  th_op t;
  sl_config *c = sl_config_new("p.lua", 3);
  CU_ASSERT_NOT_EQUAL(th_op_init(&t, &sl_op_map, c), SL_OK);
  CU_ASSERT_STRING_EQUAL(t.err.message, "map needs at least one field = \"expression\" or a function");
  th_op_free(&t);
  sl_config_destroy(c);
  c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "ok", "1");
  sl_config_put_string(c, "bad", "1 +");
  CU_ASSERT_NOT_EQUAL(th_op_init(&t, &sl_op_map, c), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "field 'bad': "));
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_destroy_null(void) {
  sl_op_map.destroy(NULL);
  CU_PASS("destroy(NULL) returned");
}

int suite_operators_map(void) {
  CU_pSuite s = CU_add_suite("operators_map", setup, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "fields added and replaced", test_fields_added_and_replaced);
  CU_add_test(s, "empty batch", test_empty_batch);
  CU_add_test(s, "eval error dead-lettered", test_eval_error_dead_lettered);
  CU_add_test(s, "metadata preserved", test_metadata_preserved);
  CU_add_test(s, "bad configs", test_bad_configs);
  CU_add_test(s, "destroy(NULL)", test_destroy_null);
  return CU_get_error();
}
