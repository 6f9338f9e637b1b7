/* SPDX-License-Identifier: Apache-2.0 */
/* Request bodies into records (core/gateway/gateway_records.c): splitting objects
 * and arrays, the device key (set, checked), validation against the topic's
 * schema, and what gets encoded. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "codec/json_codec.h"
#include "gateway/gateway.h"

#define SCHEMA SLUICE_SOURCE_DIR "/pipelines/schemas/machine_reading.avsc"
#define GOOD "{\"ts\":1700000000000,\"temperature\":21.5,\"vibration\":0.25}"

typedef struct fixture {
  sl_gw_topic t;
  sl_gw_batch b;
  sl_avro_schema *schema;
} fixture;

/* A topic as sl_gw_conf_open makes it: format avro|json, optional schema. */
static void open_topic(fixture *f, const char *format, const char *schema, const char *key) {
  memset(f, 0, sizeof *f);
  sl_error err;
  sl_error_clear(&err);
  f->t.cfg = sl_config_new("test.lua", 1);
  sl_config_put_string(f->t.cfg, "format", format);
  if (schema)
    sl_config_put_string(f->t.cfg, "schema", schema);
  f->t.name = "telemetry";
  f->t.format = (char *)format;
  f->t.key = (char *)key;
  f->t.key_name = sl_name_cstr(key);
  f->t.fmt = sl_format_open(f->t.cfg, format, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f->t.fmt);
  if (schema && strcmp(format, "json") == 0) {
    f->t.check = sl_avro_schema_load(schema, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->t.check);
  }
  f->schema = sl_avro_schema_load(SCHEMA, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f->schema);
  CU_ASSERT_EQUAL_FATAL(sl_gw_batch_init(&f->b), SL_OK);
}

static void close_topic(fixture *f) {
  sl_gw_batch_release(&f->b);
  sl_format_free(f->t.fmt);
  sl_avro_schema_free(f->t.check);
  sl_avro_schema_free(f->schema);
  sl_config_destroy(f->t.cfg);
}

static int parse(fixture *f, const char *body, sl_error *err) {
  sl_error_clear(err);
  sl_gw_batch_release(&f->b);
  CU_ASSERT_EQUAL_FATAL(sl_gw_batch_init(&f->b), SL_OK);
  return sl_gw_batch_parse(&f->b, &f->t, "m0001", body, strlen(body), 100, err);
}

/* Item i decoded back from Avro. */
static sl_record *avro_item(fixture *f, size_t i) {
  sl_record *r = NULL;
  sl_error err;
  const sl_gw_item *it = &f->b.items[i];
  CU_ASSERT_PTR_NULL_FATAL(it->error);
  CU_ASSERT_EQUAL_FATAL(
      sl_avro_decode(f->schema, f->b.bytes.data + it->off, it->len, f->b.arena, &r, &err), SL_OK);
  return r;
}

static const char *str_field(const sl_record *r, const char *name) {
  static char buf[128];
  const sl_value *v = sl_record_get_cstr(r, name);
  if (!v || v->type != SL_TYPE_STRING)
    return "(not a string)";
  snprintf(buf, sizeof buf, "%.*s", (int)v->as.str.len, v->as.str.ptr);
  return buf;
}

static void expect_item_error(fixture *f, size_t i, const char *contains) {
  CU_ASSERT_FATAL(i < f->b.n);
  const char *e = f->b.items[i].error;
  if (!e || !strstr(e, contains)) {
    fprintf(stderr, "\nitem %zu: '%s', expected '%s'\n", i, e ? e : "(valid)", contains);
    CU_FAIL("unexpected item result");
  }
}

static void test_object_gets_the_device_key(void) {
  fixture f;
  sl_error err;
  open_topic(&f, "avro", SCHEMA, "machine_id");
  CU_ASSERT_EQUAL_FATAL(parse(&f, "  " GOOD "\n", &err), SL_OK);
  CU_ASSERT_EQUAL(f.b.n, 1);
  CU_ASSERT_EQUAL(f.b.invalid, 0);
  sl_record *r = avro_item(&f, 0);
  CU_ASSERT_STRING_EQUAL(str_field(r, "machine_id"), "m0001");
  const sl_value *t = sl_record_get_cstr(r, "temperature");
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_DOUBLE_EQUAL(t->as.d, 21.5, 1e-12);
  close_topic(&f);
}

static void test_array_with_invalid_records(void) {
  fixture f;
  sl_error err;
  open_topic(&f, "avro", SCHEMA, "machine_id");
  const char *body = "[" GOOD ","
                     "{\"ts\":1,\"vibration\":0.1},"                          /* missing */
                     "{\"ts\":\"soon\",\"temperature\":1,\"vibration\":0.1}," /* type */
                     "{\"machine_id\":\"m0002\",\"ts\":1,\"temperature\":1,\"vibration\":0},"
                     "{\"machine_id\":\"m0001\",\"ts\":2,\"temperature\":1,\"vibration\":0},"
                     "{\"machine_id\":7,\"ts\":1,\"temperature\":1,\"vibration\":0},"
                     "42, {\"s\":\"],{\\\"\"} ]";
  CU_ASSERT_EQUAL_FATAL(parse(&f, body, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(f.b.n, 8);
  CU_ASSERT_EQUAL(f.b.invalid, 6);
  CU_ASSERT_PTR_NULL(f.b.items[0].error);
  expect_item_error(&f, 1, "field 'temperature' is required by the schema");
  expect_item_error(&f, 2, "field 'ts'");
  expect_item_error(&f, 3, "field 'machine_id' is 'm0002' but the authenticated device is 'm0001'");
  CU_ASSERT_STRING_EQUAL(str_field(avro_item(&f, 4), "machine_id"), "m0001"); /* matches */
  expect_item_error(&f, 5, "field 'machine_id' is '7' but the authenticated device is 'm0001'");
  expect_item_error(&f, 6, "expected a JSON object");
  expect_item_error(&f, 7, "field 'ts' is required"); /* brackets in strings do not split */
  close_topic(&f);
}

static void test_whole_body_errors(void) {
  fixture f;
  sl_error err;
  open_topic(&f, "json", NULL, "device_id");
  CU_ASSERT_EQUAL(parse(&f, "", &err), SL_ERR_PARSE);
  CU_ASSERT_EQUAL(parse(&f, "\"text\"", &err), SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "a JSON object or an array of objects"));
  CU_ASSERT_EQUAL(parse(&f, " [ ] ", &err), SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no records"));
  CU_ASSERT_EQUAL(parse(&f, "[{\"a\":1},]", &err), SL_ERR_PARSE);
  CU_ASSERT_EQUAL(parse(&f, "[{\"a\":1}", &err), SL_ERR_PARSE);
  CU_ASSERT_EQUAL(parse(&f, "[{\"a\":1}] []", &err), SL_ERR_PARSE);
  CU_ASSERT_EQUAL(parse(&f, "[{\"a\":\"unterminated}]", &err), SL_ERR_PARSE);
  /* More records than allowed in one request. */
  sl_gw_batch_release(&f.b);
  sl_gw_batch_init(&f.b);
  const char *three = "[{},{},{}]";
  CU_ASSERT_EQUAL(sl_gw_batch_parse(&f.b, &f.t, "d", three, strlen(three), 2, &err), SL_ERR_LIMIT);
  /* A lone object that is not valid JSON is one invalid record. */
  CU_ASSERT_EQUAL(parse(&f, "{\"a\":", &err), SL_OK);
  CU_ASSERT_EQUAL(f.b.invalid, 1);
  close_topic(&f);
}

static void test_json_without_and_with_schema(void) {
  fixture f;
  sl_error err;
  open_topic(&f, "json", NULL, "device_id");
  CU_ASSERT_EQUAL_FATAL(parse(&f, "[{\"x\":1},{\"device_id\":\"m0001\",\"y\":\"z\"}]", &err),
                        SL_OK);
  CU_ASSERT_EQUAL_FATAL(f.b.invalid, 0);
  const sl_gw_item *it = &f.b.items[0];
  CU_ASSERT_EQUAL(it->len, strlen("{\"x\":1,\"device_id\":\"m0001\"}"));
  CU_ASSERT_EQUAL(memcmp(f.b.bytes.data + it->off, "{\"x\":1,\"device_id\":\"m0001\"}", it->len),
                  0);
  close_topic(&f);

  /* JSON out, but the schema decides what is valid. */
  open_topic(&f, "json", SCHEMA, "machine_id");
  CU_ASSERT_EQUAL_FATAL(parse(&f, "[" GOOD ",{\"ts\":1}]", &err), SL_OK);
  CU_ASSERT_EQUAL(f.b.invalid, 1);
  expect_item_error(&f, 1, "field 'temperature' is required by the schema");
  sl_record *r = NULL;
  it = &f.b.items[0];
  CU_ASSERT_EQUAL_FATAL(sl_json_decode(f.b.bytes.data + it->off, it->len, f.b.arena, &r, &err),
                        SL_OK);
  CU_ASSERT_STRING_EQUAL(str_field(r, "machine_id"), "m0001");
  close_topic(&f);
}

/* A record Kafka would refuse (message.max.bytes, counting the key and the
 * framing) is invalid with the reason, like any other invalid record: the
 * request answers 400 instead of a retryable 503 after a partial produce. */
static void test_record_larger_than_kafka_accepts(void) {
  fixture f;
  sl_error err;
  sl_error_clear(&err);
  open_topic(&f, "json", NULL, "device_id");
  const char *fits = "{\"x\":1,\"device_id\":\"m0001\"}"; /* the encoding of {"x":1} */
  f.b.max_message = strlen(fits) + strlen("m0001") + SL_GW_MESSAGE_OVERHEAD;
  const char *body = "[{\"x\":1},{\"x\":12},{\"x\":3}]";
  CU_ASSERT_EQUAL_FATAL(
      sl_gw_batch_parse(&f.b, &f.t, "m0001", body, strlen(body), 100, &err), SL_OK);
  CU_ASSERT_EQUAL(f.b.invalid, 1);
  CU_ASSERT_PTR_NULL(f.b.items[0].error);
  CU_ASSERT_PTR_NULL(f.b.items[2].error);
  expect_item_error(&f, 1, "the record is 28 bytes encoded; Kafka accepts at most 96 per message");
  /* Nothing of the refused record is left in the bytes to produce. */
  CU_ASSERT_EQUAL(f.b.bytes.len, 2 * strlen(fits));
  CU_ASSERT_EQUAL(f.b.items[2].off, strlen(fits));
  CU_ASSERT_EQUAL(memcmp(f.b.bytes.data + f.b.items[2].off, "{\"x\":3,\"device_id\":\"m0001\"}",
                         strlen(fits)),
                  0);
  close_topic(&f);
}

static void test_topic_level(void) {
  size_t n = 0;
  const char *p = sl_gw_topic_level("plant/m7/telemetry", 2, &n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(strncmp(p, "m7", 2), 0);
  p = sl_gw_topic_level("plant/m7/telemetry", 3, &n);
  CU_ASSERT_EQUAL(n, 9);
  CU_ASSERT_PTR_NULL(sl_gw_topic_level("plant/m7", 3, &n));
  CU_ASSERT_PTR_NULL(sl_gw_topic_level("plant/m7", 0, &n));
  p = sl_gw_topic_level("plant//x", 2, &n);
  CU_ASSERT_PTR_NOT_NULL(p);
  CU_ASSERT_EQUAL(n, 0);
}

/* Issue 14 item 5, at the gateway: it parses bodies of up to 1 MiB on its one event loop, so
 * an object of 125,000 distinct keys stalled every device for 15 s. The decoder's field bound
 * holds here too: the record gets a 400 reason, the body's other records go through. */
static void test_bug_gateway_many_keys(void) {
  fixture f;
  open_topic(&f, "json", NULL, "machine_id");
  size_t cap = 1200000, n = 0;
  char *body = malloc(cap);
  CU_ASSERT_PTR_NOT_NULL_FATAL(body);
  n += (size_t)snprintf(body + n, cap - n, "[" GOOD ",{");
  static const char L[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx"; /* 50 */
  for (int i = 0; i < 125000; i++) /* 125,000 distinct 3-letter keys */
    n += (size_t)snprintf(body + n, cap - n, "%s\"%c%c%c\":1", i ? "," : "", L[i % 50],
                          L[i / 50 % 50], L[i / 2500]);
  n += (size_t)snprintf(body + n, cap - n, "}]");
  CU_ASSERT_FATAL(n > 1000000 && n < cap - 1);
  sl_error err;
  CU_ASSERT_EQUAL(parse(&f, body, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(f.b.n, 2);
  CU_ASSERT_PTR_NULL(f.b.items[0].error);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f.b.items[1].error);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.b.items[1].error, "object has more than 1000 fields"));
  CU_ASSERT_EQUAL(f.b.invalid, 1);
  free(body);
  close_topic(&f);
}

int suite_core_gateway_records(void) {
  CU_pSuite s = CU_add_suite("core_gateway_records", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "object gets the device key", test_object_gets_the_device_key);
  CU_add_test(s, "array with invalid records", test_array_with_invalid_records);
  CU_add_test(s, "whole-body errors", test_whole_body_errors);
  CU_add_test(s, "json without and with schema", test_json_without_and_with_schema);
  CU_add_test(s, "record larger than Kafka accepts", test_record_larger_than_kafka_accepts);
  CU_add_test(s, "MQTT topic levels", test_topic_level);
  CU_add_test(s, "bug: gateway body of many distinct keys", test_bug_gateway_many_keys);
  return 0;
}
