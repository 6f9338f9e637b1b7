/* SPDX-License-Identifier: Apache-2.0 */
/* select through the operator harness: order, dotted paths, missing fields
 * as null, metadata kept, config errors. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "harness.h"

extern const sl_operator_desc sl_op_select;

static sl_config *fields_cfg(const char *const *names, size_t n) {
  sl_config *c = sl_config_new("p.lua", 4);
  sl_config_put_list(c, "fields", names, n);
  return c;
}

static void test_order_paths_missing(void) {
  static const char *const names[] = {"b", "pos.lat", "missing", "a"};
  sl_config *c = fields_cfg(names, 4);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_select, c), SL_OK);
  sl_record *pos = sl_record_new(t.arena, 2);
  sl_record_set(pos, sl_name_cstr("lat"), sl_value_double(1.5));
  sl_record *r = th_rec(&t, "a", sl_value_int(1), "b", sl_value_int(2), "c", sl_value_int(3),
                        "pos", sl_value_record(pos), NULL);
  sl_record_set_key(r, "key", 3);
  sl_record_set_timestamp(r, 555);
  sl_record_set_position(r, 0, "in.jsonl", 0, 12);
  sl_record_header_add(r, "h", "1", 1);
  CU_ASSERT_EQUAL(th_process(&t, &r, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  sl_record *o = t.out[0];
  CU_ASSERT_EQUAL_FATAL(sl_record_count(o), 4);
  CU_ASSERT_STRING_EQUAL(sl_record_name_at(o, 0), "b");
  CU_ASSERT_STRING_EQUAL(sl_record_name_at(o, 1), "pos.lat");
  CU_ASSERT_STRING_EQUAL(sl_record_name_at(o, 2), "missing");
  CU_ASSERT_STRING_EQUAL(sl_record_name_at(o, 3), "a");
  CU_ASSERT_DOUBLE_EQUAL(sl_record_value_at(o, 1)->as.d, 1.5, 0);
  CU_ASSERT_EQUAL(sl_record_value_at(o, 2)->type, SL_TYPE_NULL);
  CU_ASSERT_PTR_NULL(sl_record_get_cstr(o, "c"));
  size_t kl;
  CU_ASSERT_NSTRING_EQUAL(sl_record_key(o, &kl), "key", 3);
  CU_ASSERT_EQUAL(sl_record_timestamp(o), 555);
  CU_ASSERT_EQUAL(sl_record_offset(o), 12);
  CU_ASSERT_EQUAL(sl_record_header_count(o), 1);
  CU_ASSERT_EQUAL(sl_record_count(r), 4); /* input untouched */
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_empty_batch(void) {
  static const char *const names[] = {"a"};
  sl_config *c = fields_cfg(names, 1);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_select, c), SL_OK);
  CU_ASSERT_EQUAL(th_process(&t, NULL, 0), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 0);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_bad_configs(void) {
  th_op t;
  sl_config *c = sl_config_new("p.lua", 4);
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_select, c), SL_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(t.err.message, "select needs at least one field name");
  th_op_free(&t);
  sl_config_destroy(c);
  static const char *const bad[] = {"a..b"};
  c = fields_cfg(bad, 1);
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_select, c), SL_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(t.err.message, "bad field path 'a..b'");
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_destroy_null(void) {
  sl_op_select.destroy(NULL);
  CU_PASS("destroy(NULL) returned");
}

int suite_operators_select(void) {
  CU_pSuite s = CU_add_suite("operators_select", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "order, dotted paths, missing as null", test_order_paths_missing);
  CU_add_test(s, "empty batch", test_empty_batch);
  CU_add_test(s, "bad configs", test_bad_configs);
  CU_add_test(s, "destroy(NULL)", test_destroy_null);
  return CU_get_error();
}
