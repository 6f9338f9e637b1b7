/* SPDX-License-Identifier: Apache-2.0 */
/* decode through the operator harness: JSON and raw, decode failures
 * dead-lettered with the original bytes, metadata carried over. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "harness.h"

extern const sl_operator_desc sl_op_decode;

static sl_config *fmt_cfg(const char *fmt) {
  sl_config *c = sl_config_new("p.lua", 2);
  sl_config_put_string(c, "format", fmt);
  return c;
}

static sl_record *raw_rec(th_op *t, const char *bytes, int64_t offset) {
  sl_record *r = sl_record_new(t->arena, 0);
  size_t n = strlen(bytes);
  sl_record_set_raw(r, sl_arena_strndup(t->arena, bytes, n), n);
  sl_record_set_position(r, 0, "in.jsonl", 0, offset);
  return r;
}

static void test_json_and_metadata(void) {
  sl_config *c = fmt_cfg("json");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *r = raw_rec(&t, "{\"id\":7,\"t\":1.5,\"n\":null}", 3);
  sl_record_set_key(r, "dev", 3);
  sl_record_set_timestamp(r, 4242);
  sl_record_header_add(r, "h1", "x", 1);
  sl_record_header_add(r, "h2", "yz", 2);
  CU_ASSERT_EQUAL(th_process(&t, &r, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  sl_record *o = t.out[0];
  CU_ASSERT_EQUAL(sl_record_get_cstr(o, "id")->as.i, 7);
  CU_ASSERT_DOUBLE_EQUAL(sl_record_get_cstr(o, "t")->as.d, 1.5, 0);
  CU_ASSERT_EQUAL(sl_record_get_cstr(o, "n")->type, SL_TYPE_NULL);
  size_t kl, rl;
  CU_ASSERT_NSTRING_EQUAL(sl_record_key(o, &kl), "dev", 3);
  CU_ASSERT_EQUAL(sl_record_timestamp(o), 4242);
  CU_ASSERT_EQUAL(sl_record_offset(o), 3);
  CU_ASSERT_EQUAL(sl_record_partition(o), 0);
  CU_ASSERT_STRING_EQUAL(sl_record_source_name(o), "in.jsonl");
  CU_ASSERT_EQUAL(sl_record_header_count(o), 2);
  CU_ASSERT_PTR_NOT_NULL(sl_record_raw(o, &rl));
  CU_ASSERT_EQUAL(rl, strlen("{\"id\":7,\"t\":1.5,\"n\":null}"));
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_decode_error_dead_lettered(void) {
  sl_config *c = fmt_cfg("json");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *nobytes = sl_record_new(t.arena, 0);
  sl_record *in[] = {raw_rec(&t, "{bad", 1), raw_rec(&t, "{\"a\":1}", 2), nobytes};
  CU_ASSERT_EQUAL(th_process(&t, in, 3), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 1);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 2);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "decode");
  CU_ASSERT(strlen(t.dead[0].message) > 0);
  size_t rl;
  const char *raw = sl_record_raw(t.dead[0].record, &rl);
  CU_ASSERT_EQUAL(rl, 4);
  CU_ASSERT_NSTRING_EQUAL(raw, "{bad", 4);
  CU_ASSERT_EQUAL(sl_record_offset(t.dead[0].record), 1);
  CU_ASSERT_STRING_EQUAL(t.dead[1].reason, "decode");
  CU_ASSERT_STRING_EQUAL(t.dead[1].message, "record has no bytes to decode");
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_raw_format(void) {
  sl_config *c = fmt_cfg("raw");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *r = raw_rec(&t, "not json", 1);
  CU_ASSERT_EQUAL(th_process(&t, &r, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  const sl_value *v = th_out_field(&t, 0, "value");
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  CU_ASSERT_EQUAL(v->type, SL_TYPE_BYTES);
  CU_ASSERT_EQUAL(v->as.str.len, 8);
  CU_ASSERT_NSTRING_EQUAL(v->as.str.ptr, "not json", 8);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_empty_batch(void) {
  sl_config *c = fmt_cfg("json");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  CU_ASSERT_EQUAL(th_process(&t, NULL, 0), SL_OK);
  CU_ASSERT_EQUAL(t.out_count + t.dead_count, 0);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_bad_format(void) {
  sl_config *c = fmt_cfg("xml");
  th_op t;
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_decode, c), SL_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(t.err.message, "unknown format 'xml' (use \"json\", \"avro\" or \"raw\")");
  th_op_free(&t);
  sl_config_destroy(c);
}

/* Records past a decoding limit are dead-lettered with the limit as their reason (not
 * "decode"), and the records around them flow on; a bad max_fields is a config error. */
static void test_limit_reasons(void) {
  sl_config *c = fmt_cfg("json");
  sl_config_put_number(c, "max_fields", 2);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  sl_record *in[] = {raw_rec(&t, "{\"a\":1,\"b\":2}", 1), raw_rec(&t, "{\"a\":1,\"b\":2,\"c\":3}", 2),
                     raw_rec(&t, "{\"a\":1,\"a\":2,\"a\":3}", 3), raw_rec(&t, "{\"a\":", 4)};
  CU_ASSERT_EQUAL(th_process(&t, in, 4), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 2); /* a repeated key is one field */
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 2);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "too_many_fields");
  CU_ASSERT_STRING_EQUAL(t.dead[0].message, "object has more than 2 fields (max_fields) at byte 18");
  CU_ASSERT_EQUAL(sl_record_offset(t.dead[0].record), 2);
  CU_ASSERT_STRING_EQUAL(t.dead[1].reason, "decode");
  th_op_free(&t);
  sl_config_put_number(c, "max_fields", 0);
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_decode, c), SL_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(t.err.message, "max_fields must be between 1 and 1000000, not 0");
  th_op_free(&t);
  sl_config_destroy(c);
}

/* Avro: the batch is decoded in runs between failures; every good record is emitted with
 * its metadata, every bad one dead-lettered with its own reason and message. */
static void test_avro_runs(void) {
  sl_config *c = fmt_cfg("avro");
  sl_config_put_string(c, "schema", SLUICE_SOURCE_DIR "/pipelines/schemas/machine_reading.avsc");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_decode, c), SL_OK);
  /* machine_id "m1", ts 1700000000000, temperature 20.5, vibration 0.25, site null */
  static const char good[] = "\x04m1\x80\xa0\xab\xfe\xf9\x62"
                             "\x00\x00\x00\x00\x00\x80\x34\x40"
                             "\x00\x00\x00\x00\x00\x00\xd0\x3f\x00";
  size_t n = sizeof good - 1;
  sl_record *in[6];
  for (int i = 0; i < 6; i++) {
    in[i] = sl_record_new(t.arena, 0);
    char *bytes = sl_arena_alloc(t.arena, n + 1);
    memcpy(bytes, good, n);
    bytes[n] = 9;
    sl_record_set_raw(in[i], bytes, i == 1 ? n - 3 : i == 5 ? n + 1 : n);
    sl_record_set_position(in[i], 0, "sim", 1, i);
    sl_record_set_key(in[i], "k", 1);
    sl_record_set_timestamp(in[i], 100 + i);
    sl_record_header_add(in[i], "h", "v", 1);
  }
  sl_record_set_raw(in[3], NULL, 0);
  CU_ASSERT_EQUAL(th_process(&t, in, 6), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 3);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 3);
  for (size_t i = 0; i < 3; i++) {
    sl_record *o = t.out[i];
    size_t kl;
    CU_ASSERT_EQUAL(sl_record_offset(o), (int64_t)(2 * i));
    CU_ASSERT_EQUAL(sl_record_timestamp(o), 100 + 2 * (int64_t)i);
    CU_ASSERT_NSTRING_EQUAL(sl_record_key(o, &kl), "k", 1);
    CU_ASSERT_EQUAL(sl_record_header_count(o), 1);
    const sl_value *id = th_out_field(&t, i, "machine_id");
    CU_ASSERT(id && id->type == SL_TYPE_STRING && strcmp(id->as.str.ptr, "m1") == 0);
    CU_ASSERT_EQUAL(th_out_field(&t, i, "ts")->as.i, 1700000000000LL);
    CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, i, "temperature")->as.d, 20.5, 0);
    CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, i, "vibration")->as.d, 0.25, 0);
    CU_ASSERT_EQUAL(th_out_field(&t, i, "site")->type, SL_TYPE_NULL);
  }
  CU_ASSERT_EQUAL(sl_record_offset(t.dead[0].record), 1);
  CU_ASSERT_STRING_EQUAL(
      t.dead[0].message,
      "truncated record: needed 8 bytes for field 'vibration' at byte 17 (6 left)");
  CU_ASSERT_EQUAL(sl_record_offset(t.dead[1].record), 3);
  CU_ASSERT_STRING_EQUAL(t.dead[1].message, "record has no bytes to decode");
  CU_ASSERT_EQUAL(sl_record_offset(t.dead[2].record), 5);
  CU_ASSERT_STRING_EQUAL(t.dead[2].message, "1 bytes left after the record");
  for (size_t i = 0; i < 3; i++)
    CU_ASSERT_STRING_EQUAL(t.dead[i].reason, "decode");
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_destroy_null(void) {
  sl_op_decode.destroy(NULL);
  CU_PASS("destroy(NULL) returned");
}

int suite_operators_decode(void) {
  CU_pSuite s = CU_add_suite("operators_decode", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "json, metadata carried", test_json_and_metadata);
  CU_add_test(s, "decode errors dead-lettered", test_decode_error_dead_lettered);
  CU_add_test(s, "raw format", test_raw_format);
  CU_add_test(s, "avro decoded in runs between failures", test_avro_runs);
  CU_add_test(s, "limits dead-lettered with their reason", test_limit_reasons);
  CU_add_test(s, "empty batch", test_empty_batch);
  CU_add_test(s, "bad format", test_bad_format);
  CU_add_test(s, "destroy(NULL)", test_destroy_null);
  return CU_get_error();
}
