/* SPDX-License-Identifier: Apache-2.0 */
/* encode through the operator harness: JSON text in `value` and as raw
 * bytes, encode failures dead-lettered, metadata kept. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "harness.h"

extern const sl_operator_desc sl_op_encode;

static sl_config *fmt_cfg(const char *fmt) {
  sl_config *c = sl_config_new("p.lua", 2);
  sl_config_put_string(c, "format", fmt);
  return c;
}

static void test_json_value_and_metadata(void) {
  sl_config *c = fmt_cfg("json");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_encode, c), SL_OK);
  sl_record *r = th_rec(&t, "id", sl_value_int(1), "s", th_str(&t, "a\"b"), "n", sl_value_null(),
                        NULL);
  sl_record_set_key(r, "k", 1);
  sl_record_set_timestamp(r, 77);
  sl_record_set_position(r, 0, "src", 1, 9);
  sl_record_header_add(r, "h", "v", 1);
  CU_ASSERT_EQUAL(th_process(&t, &r, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  sl_record *o = t.out[0];
  CU_ASSERT_EQUAL(sl_record_count(o), 1);
  const sl_value *v = sl_record_get_cstr(o, "value");
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  CU_ASSERT_EQUAL(v->type, SL_TYPE_STRING);
  const char *want = "{\"id\":1,\"s\":\"a\\\"b\",\"n\":null}";
  CU_ASSERT_EQUAL(v->as.str.len, strlen(want));
  CU_ASSERT_NSTRING_EQUAL(v->as.str.ptr, want, strlen(want));
  size_t rl, kl;
  const char *raw = sl_record_raw(o, &rl);
  CU_ASSERT_EQUAL(rl, strlen(want));
  CU_ASSERT_NSTRING_EQUAL(raw, want, strlen(want));
  CU_ASSERT_NSTRING_EQUAL(sl_record_key(o, &kl), "k", 1);
  CU_ASSERT_EQUAL(sl_record_timestamp(o), 77);
  CU_ASSERT_EQUAL(sl_record_offset(o), 9);
  CU_ASSERT_EQUAL(sl_record_header_count(o), 1);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_encode_error_dead_lettered(void) {
  sl_config *c = fmt_cfg("json");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_encode, c), SL_OK);
  /* 300 nested records: deeper than the JSON encoder accepts (256). */
  sl_record *deep = sl_record_new(t.arena, 1);
  sl_record_set(deep, sl_name_cstr("x"), sl_value_int(1));
  for (int i = 0; i < 300; i++) {
    sl_record *outer = sl_record_new(t.arena, 1);
    sl_record_set(outer, sl_name_cstr("x"), sl_value_record(deep));
    deep = outer;
  }
  sl_record_set_position(deep, 0, "src", 0, 3);
  sl_record *in[] = {deep, th_rec(&t, "ok", sl_value_bool(1), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 2), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 1);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 1);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "encode");
  CU_ASSERT_PTR_NOT_NULL(strstr(t.dead[0].message, "nested deeper"));
  CU_ASSERT_EQUAL(sl_record_offset(t.dead[0].record), 3);
  CU_ASSERT_PTR_NOT_NULL(sl_record_get_cstr(t.dead[0].record, "x"));
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_empty_batch(void) {
  sl_config *c = fmt_cfg("json");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_encode, c), SL_OK);
  CU_ASSERT_EQUAL(th_process(&t, NULL, 0), SL_OK);
  CU_ASSERT_EQUAL(t.out_count + t.dead_count, 0);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_bad_format(void) {
  sl_config *c = fmt_cfg("yaml");
  th_op t;
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_encode, c), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "unknown format 'yaml'"));
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_destroy_null(void) {
  sl_op_encode.destroy(NULL);
  CU_PASS("destroy(NULL) returned");
}

int suite_operators_encode(void) {
  CU_pSuite s = CU_add_suite("operators_encode", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "json in value and raw, metadata kept", test_json_value_and_metadata);
  CU_add_test(s, "encode error dead-lettered", test_encode_error_dead_lettered);
  CU_add_test(s, "empty batch", test_empty_batch);
  CU_add_test(s, "bad format", test_bad_format);
  CU_add_test(s, "destroy(NULL)", test_destroy_null);
  return CU_get_error();
}
