/* SPDX-License-Identifier: Apache-2.0 */
/* Avro codec: cross-checked against Avro-C as an independent implementation (datums built
 * with its generic value API are decoded by us; what we encode is read back by Avro-C),
 * plus resolution, logical types, error messages, truncation and fuzzing. */
#include <CUnit/CUnit.h>
#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_testing.h"
#include "base/record_internal.h"
#include "codec/avro_codec.h"
#include "codec/avro_plan.h"

static const char ALL_TYPES[] =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"n\",\"type\":\"null\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"by\",\"type\":\"bytes\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\",\"GREEN\","
    "\"BLUE\"]}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F4\",\"size\":4}},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"double\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"u2\",\"type\":[\"int\",\"string\",\"Color\"]},"
    "{\"name\":\"sub\",\"type\":{\"type\":\"record\",\"name\":\"Sub\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"
    "\"string\"}}]}},"
    "{\"name\":\"subs\",\"type\":{\"type\":\"array\",\"items\":\"Sub\"}},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
    "{\"name\":\"tsm\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"dt\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":9,"
    "\"scale\":2}}"
    "]}";

static const char *const COLORS[] = {"RED", "GREEN", "BLUE"};
static const char *const KEYS[] = {"alpha", "beta", "gamma"};

/* ---- the same datum k built three ways: Avro-C value, expected sl_record --------- */

/* `enum_as_string`: a sluice string matches a union's string branch before its enum branch,
 * so for the encode check the reference takes that branch too. */
static void build_avro_c(avro_value_t *val, int k, int enum_as_string) {
  avro_value_t f, br, el, sub, tags;
  avro_value_reset(val);
  avro_value_get_by_name(val, "n", &f, NULL);
  avro_value_set_null(&f);
  avro_value_get_by_name(val, "b", &f, NULL);
  avro_value_set_boolean(&f, k & 1);
  avro_value_get_by_name(val, "i", &f, NULL);
  avro_value_set_int(&f, k * -7919);
  avro_value_get_by_name(val, "l", &f, NULL);
  avro_value_set_long(&f, (int64_t)k * 1234567890123LL * (k % 2 ? -1 : 1));
  avro_value_get_by_name(val, "f", &f, NULL);
  avro_value_set_float(&f, (float)k * 0.5f);
  avro_value_get_by_name(val, "d", &f, NULL);
  avro_value_set_double(&f, k / 3.0);
  avro_value_get_by_name(val, "by", &f, NULL);
  avro_value_set_bytes(&f, (void *)"\0\1\xff", (size_t)(k % 4));
  avro_value_get_by_name(val, "s", &f, NULL);
  avro_value_set_string(&f, k % 2 ? "h\xc3\xa9llo" : "");
  avro_value_get_by_name(val, "e", &f, NULL);
  avro_value_set_enum(&f, k % 3);
  avro_value_get_by_name(val, "fx", &f, NULL);
  avro_value_set_fixed(&f, (void *)"ab\0d", 4);
  avro_value_get_by_name(val, "arr", &f, NULL);
  for (int j = 0; j < k % 4; j++) {
    avro_value_append(&f, &el, NULL);
    avro_value_set_long(&el, (int64_t)j * k - 3);
  }
  avro_value_get_by_name(val, "m", &f, NULL);
  for (int j = 0; j < k % 3; j++) {
    avro_value_add(&f, KEYS[j], &el, NULL, NULL);
    avro_value_set_double(&el, j + k * 0.25);
  }
  avro_value_get_by_name(val, "u", &f, NULL);
  if (k % 2) {
    avro_value_set_branch(&f, 0, &br);
    avro_value_set_null(&br);
  } else {
    avro_value_set_branch(&f, 1, &br);
    avro_value_set_string(&br, "site-7");
  }
  avro_value_get_by_name(val, "u2", &f, NULL);
  avro_value_set_branch(&f, k % 3 == 2 && enum_as_string ? 1 : k % 3, &br);
  if (k % 3 == 0)
    avro_value_set_int(&br, -k);
  else if (k % 3 == 1)
    avro_value_set_string(&br, "text");
  else if (enum_as_string)
    avro_value_set_string(&br, "BLUE");
  else
    avro_value_set_enum(&br, 2);
  avro_value_get_by_name(val, "sub", &sub, NULL);
  avro_value_get_by_name(&sub, "x", &f, NULL);
  avro_value_set_int(&f, k);
  avro_value_get_by_name(&sub, "tags", &tags, NULL);
  avro_value_append(&tags, &el, NULL);
  avro_value_set_string(&el, "t1");
  avro_value_get_by_name(val, "subs", &f, NULL);
  for (int j = 0; j < k % 3; j++) {
    avro_value_append(&f, &sub, NULL);
    avro_value_get_by_name(&sub, "x", &el, NULL);
    avro_value_set_int(&el, j);
    avro_value_get_by_name(&sub, "tags", &tags, NULL);
  }
  avro_value_get_by_name(val, "ts", &f, NULL);
  avro_value_set_long(&f, 1700000000123000LL + (int64_t)k * 1000);
  avro_value_get_by_name(val, "tsm", &f, NULL);
  avro_value_set_long(&f, 1700000000123LL + k);
  avro_value_get_by_name(val, "dt", &f, NULL);
  avro_value_set_int(&f, 19000 + k);
  avro_value_get_by_name(val, "dec", &f, NULL);
  avro_value_set_bytes(&f, (void *)"\x01\x86\xa0", 3);
}

static sl_record *sub_record(sl_arena *a, int x, int with_tag) {
  sl_record *s = sl_record_new(a, 2);
  sl_array *tags = sl_array_new(a, 1);
  if (with_tag)
    sl_array_push(tags, sl_value_string("t1", 2));
  set(s, "x", sl_value_int(x));
  set(s, "tags", sl_value_array(tags));
  return s;
}

static sl_record *build_expected(sl_arena *a, int k) {
  sl_record *r = sl_record_new(a, 20);
  set(r, "n", sl_value_null());
  set(r, "b", sl_value_bool(k & 1));
  set(r, "i", sl_value_int(k * -7919));
  set(r, "l", sl_value_int((int64_t)k * 1234567890123LL * (k % 2 ? -1 : 1)));
  set(r, "f", sl_value_double((float)k * 0.5f));
  set(r, "d", sl_value_double(k / 3.0));
  set(r, "by", sl_value_bytes("\0\1\xff", (size_t)(k % 4)));
  set(r, "s", k % 2 ? sl_value_string("h\xc3\xa9llo", 6) : sl_value_string("", 0));
  set(r, "e", sl_value_string(COLORS[k % 3], strlen(COLORS[k % 3])));
  set(r, "fx", sl_value_bytes("ab\0d", 4));
  sl_array *arr = sl_array_new(a, 0);
  for (int j = 0; j < k % 4; j++)
    sl_array_push(arr, sl_value_int((int64_t)j * k - 3));
  set(r, "arr", sl_value_array(arr));
  sl_record *m = sl_record_new(a, 0);
  for (int j = 0; j < k % 3; j++)
    set(m, KEYS[j], sl_value_double(j + k * 0.25));
  set(r, "m", sl_value_record(m));
  set(r, "u", k % 2 ? sl_value_null() : sl_value_string("site-7", 6));
  set(r, "u2",
      k % 3 == 0   ? sl_value_int(-k)
      : k % 3 == 1 ? sl_value_string("text", 4)
                   : sl_value_string("BLUE", 4));
  set(r, "sub", sl_value_record(sub_record(a, k, 1)));
  sl_array *subs = sl_array_new(a, 0);
  for (int j = 0; j < k % 3; j++)
    sl_array_push(subs, sl_value_record(sub_record(a, j, 0)));
  set(r, "subs", sl_value_array(subs));
  set(r, "ts", sl_value_int(1700000000123LL + k)); /* micros -> ms */
  set(r, "tsm", sl_value_int(1700000000123LL + k));
  set(r, "dt", sl_value_int(19000 + k));
  set(r, "dec", sl_value_bytes("\x01\x86\xa0", 3));
  return r;
}

/* Compare field by field so a failure names the field. */
static int records_match(const sl_record *got, const sl_record *want) {
  int ok = sl_record_count(got) == sl_record_count(want);
  for (size_t i = 0; ok && i < sl_record_count(want); i++) {
    if (sl_record_name_at(got, i) != sl_record_name_at(want, i) ||
        !value_equal(sl_record_value_at(got, i), sl_record_value_at(want, i))) {
      fprintf(stderr, "\n  field '%s' differs\n", sl_record_name_at(want, i));
      ok = 0;
    }
  }
  return ok;
}

static void test_decode_matches_avro_c(void) {
  avro_schema_t sch;
  CU_ASSERT_EQUAL_FATAL(avro_schema_from_json_length(ALL_TYPES, sizeof ALL_TYPES - 1, &sch), 0);
  avro_value_iface_t *iface = avro_generic_class_from_schema(sch);
  avro_value_t val;
  CU_ASSERT_EQUAL_FATAL(avro_generic_value_new(iface, &val), 0);
  sl_avro_schema *s = parse(ALL_TYPES);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_arena *a = sl_arena_new(0);
  static char buf[4096];
  int bad = 0;
  for (int k = 0; k < 60; k++) {
    build_avro_c(&val, k, 0);
    avro_writer_t w = avro_writer_memory(buf, sizeof buf);
    CU_ASSERT_EQUAL(avro_value_write(w, &val), 0);
    size_t len = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    sl_record *r = NULL;
    sl_error err = {0};
    int rc = sl_avro_decode(s, buf, len, a, &r, &err);
    if (rc != SL_OK || !records_match(r, build_expected(a, k))) {
      bad++;
      fprintf(stderr, "\n  datum %d: %s\n", k, err.message);
    }
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(bad, 0);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
  avro_value_decref(&val);
  avro_value_iface_decref(iface);
  avro_schema_decref(sch);
}

static void test_encode_read_by_avro_c(void) {
  avro_schema_t sch;
  CU_ASSERT_EQUAL_FATAL(avro_schema_from_json_length(ALL_TYPES, sizeof ALL_TYPES - 1, &sch), 0);
  avro_value_iface_t *iface = avro_generic_class_from_schema(sch);
  avro_value_t want, got;
  avro_generic_value_new(iface, &want);
  avro_generic_value_new(iface, &got);
  sl_avro_schema *s = parse(ALL_TYPES);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_arena *a = sl_arena_new(0);
  sl_buf b = SL_BUF_INIT;
  static char ref[4096];
  int bad = 0;
  for (int k = 0; k < 60; k++) {
    sl_error err = {0};
    sl_buf_reset(&b);
    int rc = sl_avro_encode(s, build_expected(a, k), &b, &err);
    CU_ASSERT_EQUAL(rc, SL_OK);
    if (rc != SL_OK) {
      fprintf(stderr, "\n  encode %d: %s\n", k, err.message);
      bad++;
      continue;
    }
    avro_reader_t rd = avro_reader_memory(b.data, (int64_t)b.len);
    avro_value_reset(&got);
    int read_rc = avro_value_read(rd, &got);
    avro_reader_free(rd);
    build_avro_c(&want, k, 1);
    avro_writer_t w = avro_writer_memory(ref, sizeof ref);
    avro_value_write(w, &want);
    size_t ref_len = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    if (read_rc != 0 || !avro_value_equal(&want, &got) || ref_len != b.len ||
        memcmp(ref, b.data, b.len) != 0) {
      fprintf(stderr, "\n  datum %d: Avro-C read rc %d (%s), %zu vs %zu bytes\n", k, read_rc,
              read_rc ? avro_strerror() : "", b.len, ref_len);
      bad++;
    }
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(bad, 0);
  sl_buf_free(&b);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
  avro_value_decref(&want);
  avro_value_decref(&got);
  avro_value_iface_decref(iface);
  avro_schema_decref(sch);
}

/* ---- the product schema ------------------------------------------------ */

static sl_avro_schema *machine_schema(void) {
  sl_error err = {0};
  sl_avro_schema *s =
      sl_avro_schema_load(SLUICE_SOURCE_DIR "/pipelines/schemas/machine_reading.avsc", &err);
  if (!s)
    fprintf(stderr, "\n  %s\n", err.message);
  return s;
}

static sl_record *machine_record(sl_arena *a, const char *site) {
  sl_record *r = sl_record_new(a, 5);
  set(r, "machine_id", sl_value_string("m0042", 5));
  set(r, "ts", sl_value_int(1700000000000LL));
  set(r, "temperature", sl_value_double(71.25));
  set(r, "vibration", sl_value_double(0.003));
  if (site)
    set(r, "site", sl_value_string(site, strlen(site)));
  return r;
}

static void test_machine_reading(void) {
  sl_avro_schema *s = machine_schema();
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(sl_avro_schema_json(s), "MachineReading"));
  sl_arena *a = sl_arena_new(0);
  sl_buf b = SL_BUF_INIT;
  sl_error err = {0};
  /* machine_id (1 + 5) + ts (6) = 12 bytes precede temperature. */
  CU_ASSERT_EQUAL_FATAL(sl_avro_encode(s, machine_record(a, "plant-a"), &b, &err), SL_OK);
  sl_record *r;
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, b.data, b.len, a, &r, &err), SL_OK);
  CU_ASSERT(records_match(r, machine_record(a, "plant-a")));
  /* Every reading of the schema has one shape, that of its names in order. */
  CU_ASSERT_PTR_NOT_NULL(r->shape);
  CU_ASSERT_PTR_EQUAL(r->shape, sl_shape_of(r));
  sl_record *again;
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, b.data, b.len, a, &again, &err), SL_OK);
  CU_ASSERT_PTR_EQUAL(again->shape, r->shape);
  /* A decoded reading has room for SL_RECORD_ROOM more fields: an enrich that
   * owns it adds them where they are (out of bounds under ASan otherwise). */
  const sl_field *fields = r->fields;
  sl_name more[SL_RECORD_ROOM];
  sl_value vals[SL_RECORD_ROOM];
  for (int i = 0; i < SL_RECORD_ROOM; i++) {
    char name[16];
    snprintf(name, sizeof name, "added_%d", i);
    more[i] = sl_name_cstr(name);
    vals[i] = sl_value_int(i);
  }
  CU_ASSERT_EQUAL(sl_record_extend_in_place(r, more, vals, SL_RECORD_ROOM, 0), SL_OK);
  CU_ASSERT_PTR_EQUAL(r->fields, fields);
  CU_ASSERT_PTR_NULL(r->shape); /* more names than its schema's */
  CU_ASSERT_EQUAL(sl_record_count(r), 5 + SL_RECORD_ROOM);
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "added_3")->as.i, 3);
  CU_ASSERT_NSTRING_EQUAL(sl_record_get_cstr(r, "site")->as.str.ptr, "plant-a", 7);
  CU_ASSERT_EQUAL(sl_avro_decode(s, b.data, 15, a, &r, &err), SL_ERR_PARSE);
  CU_ASSERT_STRING_EQUAL(
      err.message, "truncated record: needed 8 bytes for field 'temperature' at byte 12 (3 left)");
  /* missing nullable field -> null */
  sl_buf_reset(&b);
  CU_ASSERT_EQUAL_FATAL(sl_avro_encode(s, machine_record(a, NULL), &b, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, b.data, b.len, a, &r, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "site")->type, SL_TYPE_NULL);
  /* union branch out of range, trailing bytes */
  char bad[64];
  memcpy(bad, b.data, b.len);
  bad[b.len - 1] = 10; /* zigzag 5 */
  CU_ASSERT_EQUAL(sl_avro_decode(s, bad, b.len, a, &r, &err), SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "union branch 5 out of range for field 'site'"));
  memcpy(bad, b.data, b.len);
  memcpy(bad + b.len, "xyz", 3);
  CU_ASSERT_EQUAL(sl_avro_decode(s, bad, b.len + 3, a, &r, &err), SL_ERR_PARSE);
  CU_ASSERT_STRING_EQUAL(err.message, "3 bytes left after the record");
  /* negative string length, bad varint */
  CU_ASSERT_EQUAL(sl_avro_decode(s, "\x05", 1, a, &r, &err), SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "negative length -3 for field 'machine_id'"));
  CU_ASSERT_EQUAL(
      sl_avro_decode(s, "\x02x\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 13, a, &r, &err),
      SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "bad varint"));
  /* encode errors */
  sl_record *m = machine_record(a, NULL);
  sl_record_remove(m, sl_name_cstr("temperature"));
  CU_ASSERT_EQUAL(sl_avro_encode(s, m, &b, &err), SL_ERR_TYPE);
  CU_ASSERT_STRING_EQUAL(err.message, "field 'temperature' is required by the schema");
  m = machine_record(a, NULL);
  set(m, "ts", sl_value_double(1.5));
  CU_ASSERT_EQUAL(sl_avro_encode(s, m, &b, &err), SL_ERR_TYPE);
  set(m, "ts", sl_value_double(1700000000001.0)); /* integral double into long: fine */
  set(m, "temperature", sl_value_int(70));        /* int into double: fine */
  set(m, "site", sl_value_int(3));                /* no branch takes an int */
  size_t before = b.len;
  CU_ASSERT_EQUAL(sl_avro_encode(s, m, &b, &err), SL_ERR_TYPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "field 'site'"));
  CU_ASSERT_EQUAL(b.len, before); /* nothing half-written */
  sl_record_remove(m, sl_name_cstr("site"));
  sl_buf_reset(&b);
  CU_ASSERT_EQUAL_FATAL(sl_avro_encode(s, m, &b, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, b.data, b.len, a, &r, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "ts")->as.i, 1700000000001LL);
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "temperature")->as.d, 70.0);
  sl_buf_free(&b);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

static void test_timestamp_micros(void) {
  sl_avro_schema *s =
      parse("{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"t\",\"type\":"
            "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  static const struct {
    int64_t micros, ms;
  } table[] = {
      {1700000000123456LL, 1700000000123LL}, {0, 0}, {999, 0}, {-1, -1}, {-1000, -1}, {-1001, -2}};
  sl_arena *a = sl_arena_new(0);
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    char buf[16];
    uint64_t z = ((uint64_t)table[i].micros << 1) ^ (uint64_t)(table[i].micros >> 63);
    size_t n = 0;
    while (z >= 0x80) {
      buf[n++] = (char)(z | 0x80);
      z >>= 7;
    }
    buf[n++] = (char)z;
    sl_record *r;
    CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, buf, n, a, &r, NULL), SL_OK);
    CU_ASSERT_EQUAL(sl_record_get_cstr(r, "t")->as.i, table[i].ms);
  }
  /* encode multiplies back */
  sl_record *r = sl_record_new(a, 1);
  set(r, "t", sl_value_int(1700000000123LL));
  sl_buf b = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_avro_encode(s, r, &b, NULL), SL_OK);
  avro_schema_t sch;
  avro_schema_from_json_literal(
      "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"t\",\"type\":\"long\"}]}", &sch);
  avro_value_iface_t *iface = avro_generic_class_from_schema(sch);
  avro_value_t v, f;
  avro_generic_value_new(iface, &v);
  avro_reader_t rd = avro_reader_memory(b.data, (int64_t)b.len);
  CU_ASSERT_EQUAL(avro_value_read(rd, &v), 0);
  int64_t micros = 0;
  avro_value_get_by_name(&v, "t", &f, NULL);
  avro_value_get_long(&f, &micros);
  CU_ASSERT_EQUAL(micros, 1700000000123000LL);
  avro_reader_free(rd);
  avro_value_decref(&v);
  avro_value_iface_decref(iface);
  avro_schema_decref(sch);
  sl_buf_free(&b);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

/* ---- truncation and fuzzing -------------------------------------------- */

static size_t encode_all_types(sl_avro_schema *s, sl_arena *a, int k, char *out, size_t cap) {
  sl_buf b = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_avro_encode(s, build_expected(a, k), &b, NULL), SL_OK);
  size_t n = b.len < cap ? b.len : cap;
  memcpy(out, b.data, n);
  sl_buf_free(&b);
  return n;
}

static void test_truncation_every_offset(void) {
  sl_avro_schema *s = parse(ALL_TYPES);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_arena *a = sl_arena_new(0);
  char full[1024];
  int failures = 0;
  for (int k = 4; k <= 5; k++) {
    size_t len = encode_all_types(s, a, k, full, sizeof full);
    CU_ASSERT(len > 50);
    for (size_t cut = 0; cut < len; cut++) {
      char *prefix = malloc(cut ? cut : 1); /* exact size: ASan sees any over-read */
      memcpy(prefix, full, cut);
      sl_record *r = (sl_record *)1;
      sl_error err = {0};
      int rc = sl_avro_decode(s, prefix, cut, a, &r, &err);
      if (rc != SL_ERR_PARSE || r != NULL || err.message[0] == '\0')
        failures++;
      free(prefix);
    }
    sl_record *r;
    CU_ASSERT_EQUAL(sl_avro_decode(s, full, len, a, &r, NULL), SL_OK);
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(failures, 0);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void test_fuzz_never_crashes(void) {
  sl_avro_schema *s = parse(ALL_TYPES);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_arena *a = sl_arena_new(0);
  char full[1024];
  size_t len = encode_all_types(s, a, 5, full, sizeof full);
  int ok = 0, parse_err = 0;
  for (int i = 0; i < 20000; i++) {
    size_t n = i % 3 ? len : rnd() % 64;
    char *buf = malloc(n ? n : 1);
    if (i % 3) {
      memcpy(buf, full, n);
      for (int m = (int)(rnd() % 4); m >= 0; m--)
        buf[rnd() % n] = (char)rnd();
    } else {
      for (size_t k = 0; k < n; k++)
        buf[k] = (char)rnd();
    }
    sl_record *r;
    int rc = sl_avro_decode(s, buf, n, a, &r, NULL);
    ok += rc == SL_OK;
    parse_err += rc == SL_ERR_PARSE;
    free(buf);
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(ok + parse_err, 20000);
  CU_ASSERT(parse_err > 0);
  /* A huge block count must be refused before anything is allocated for it. */
  sl_avro_schema *nulls = parse("{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"a\","
                                "\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(nulls);
  sl_record *r;
  sl_error err;
  CU_ASSERT_EQUAL(sl_avro_decode(nulls, "\xfe\xff\xff\xff\x0f", 5, a, &r, &err), SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "values that take no bytes"));
  CU_ASSERT_EQUAL(sl_avro_decode(s, "\x00\x01\x00\x00", 4, a, &r, &err), SL_ERR_PARSE);
  sl_avro_schema_free(nulls);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

/* ---- resolution -------------------------------------------------------- */

#define REC(fields)                                                                                \
  "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"x\",\"fields\":[" fields "]}"

/* Encode `in` with `wschema`, decode with the resolved plan, compare with `want`. */
static void check_resolve(const char *wschema, const char *rschema, sl_record *in,
                          sl_record *want) {
  sl_avro_schema *w = parse(wschema), *rd = parse(rschema);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rd);
  sl_error err = {0};
  sl_avro_schema *res = sl_avro_schema_resolve(w, rd, &err);
  CU_ASSERT_PTR_NOT_NULL(res);
  if (!res) {
    fprintf(stderr, "\n  resolve failed: %s\n", err.message);
  } else {
    sl_buf b = SL_BUF_INIT;
    sl_arena *a = sl_record_arena(in);
    sl_record *got = NULL;
    CU_ASSERT_EQUAL(sl_avro_encode(w, in, &b, &err), SL_OK);
    sl_avro_schema_free(w); /* the resolved plan must not borrow from the writer */
    w = NULL;
    int rc = sl_avro_decode(res, b.data, b.len, a, &got, &err);
    CU_ASSERT_EQUAL(rc, SL_OK);
    if (rc != SL_OK)
      fprintf(stderr, "\n  decode failed: %s\n", err.message);
    else
      CU_ASSERT(records_match(got, want));
    CU_ASSERT_EQUAL(sl_avro_encode(res, got ? got : in, &b, &err), SL_ERR_INVALID);
    sl_buf_free(&b);
  }
  sl_avro_schema_free(res);
  sl_avro_schema_free(w);
  sl_avro_schema_free(rd);
}

/* Optional fields decoded inline (unions of null and a primitive). */
static const char OPTIONALS[] =
    "{\"type\":\"record\",\"name\":\"O\",\"fields\":["
    "{\"name\":\"a\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"b\",\"type\":[\"double\",\"null\"]},"
    "{\"name\":\"c\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"d\",\"type\":[\"string\",\"null\"]},"
    "{\"name\":\"t\",\"type\":[\"null\",{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"}]},"
    "{\"name\":\"i\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"m\",\"type\":[\"null\",{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-micros\"}]}]}";

/* Decoding `buf` with the inline union ops and with every field forced through the generic
 * decoder must agree: status, message, and every value. */
static int same_decode(const sl_avro_schema *fast, const sl_avro_schema *slow, const char *buf,
                       size_t len, sl_arena *a) {
  sl_record *r1 = NULL, *r2 = NULL;
  sl_error e1 = {0}, e2 = {0};
  int rc1 = sl_avro_decode(fast, buf, len, a, &r1, &e1);
  int rc2 = sl_avro_decode(slow, buf, len, a, &r2, &e2);
  if (rc1 != rc2 || strcmp(e1.message, e2.message) != 0) {
    fprintf(stderr, "\n  inline: %d '%s', generic: %d '%s'\n", rc1, e1.message, rc2, e2.message);
    return 0;
  }
  return rc1 != SL_OK || records_match(r1, r2);
}

static void optional_values(sl_arena *a, sl_record *r, int k) {
  set(r, "a", k & 1 ? sl_value_null() : sl_value_int((int64_t)k * -1234567));
  set(r, "b", k & 2 ? sl_value_null() : sl_value_double(k / 7.0));
  set(r, "c", k & 4 ? sl_value_null() : sl_value_string(sl_arena_strndup(a, "site", 4), 4));
  set(r, "d", k & 8 ? sl_value_null() : sl_value_string("", 0));
  set(r, "t", k & 1 ? sl_value_int(1700000000123LL + k) : sl_value_null());
  set(r, "i", k & 2 ? sl_value_int(-k) : sl_value_null());
  set(r, "m", k & 4 ? sl_value_int(1700000000123LL) : sl_value_null());
}

static void test_optional_fields_inline(void) {
  sl_avro_schema *fast = parse(OPTIONALS), *slow = parse(OPTIONALS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(fast);
  CU_ASSERT_PTR_NOT_NULL_FATAL(slow);
  /* Unions of null and long/double/string (timestamp-millis too) are inline; int and
   * timestamp-micros keep the generic path for their checks and conversion. */
  const av_node *root = &fast->nodes[fast->root];
  static const uint8_t want_op[] = {AV_OP_OPT_LONG,   AV_OP_OPT_DOUBLE, AV_OP_OPT_STRING,
                                    AV_OP_OPT_STRING, AV_OP_OPT_LONG,   AV_OP_GENERIC,
                                    AV_OP_GENERIC};
  CU_ASSERT_EQUAL_FATAL(root->count, sizeof want_op);
  for (uint32_t i = 0; i < root->count; i++) {
    CU_ASSERT_EQUAL(fast->fields[root->first + i].op, want_op[i]);
  }
  CU_ASSERT_EQUAL(fast->fields[root->first + 1].opt_null, 1);
  for (uint32_t i = 0; i < slow->field_count; i++)
    slow->fields[i].op = AV_OP_GENERIC;
  sl_arena *a = sl_arena_new(0);
  int failures = 0;
  for (int k = 0; k < 16; k++) {
    sl_record *in = sl_record_new(a, 8);
    optional_values(a, in, k);
    sl_buf b = SL_BUF_INIT;
    sl_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sl_avro_encode(fast, in, &b, &err), SL_OK);
    sl_record *got = NULL;
    CU_ASSERT_EQUAL(sl_avro_decode(fast, b.data, b.len, a, &got, &err), SL_OK);
    if (!got || !records_match(got, in))
      failures++;
    /* Every truncation and every single byte replaced by each interesting value. */
    for (size_t cut = 0; cut <= b.len; cut++) {
      char *buf = malloc(cut ? cut : 1);
      memcpy(buf, b.data, cut);
      failures += !same_decode(fast, slow, buf, cut, a);
      free(buf);
    }
    static const unsigned char bytes[] = {0, 1, 2, 3, 4, 0x7f, 0x80, 0x81, 0xfe, 0xff};
    for (size_t at = 0; at < b.len; at++) {
      for (size_t v = 0; v < sizeof bytes; v++) {
        char *buf = malloc(b.len);
        memcpy(buf, b.data, b.len);
        buf[at] = (char)bytes[v];
        failures += !same_decode(fast, slow, buf, b.len, a);
        free(buf);
      }
    }
    sl_buf_free(&b);
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(failures, 0);
  /* A resolved plan: writer unions mapped to reader unions stay inline; a writer branch
   * the reader lacks makes the field generic. */
  sl_avro_schema *w = parse(REC("{\"name\":\"x\",\"type\":[\"null\",\"string\"]},"
                                    "{\"name\":\"y\",\"type\":[\"null\",\"long\"]}"));
  sl_avro_schema *rd = parse(REC("{\"name\":\"y\",\"type\":\"long\",\"default\":0},"
                                     "{\"name\":\"x\",\"type\":[\"null\",\"string\"]}"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rd);
  sl_error err = {0};
  sl_avro_schema *res = sl_avro_schema_resolve(w, rd, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(res);
  const av_node *rr = &res->nodes[res->root];
  CU_ASSERT_EQUAL(res->fields[rr->first].op, AV_OP_OPT_STRING);
  CU_ASSERT_EQUAL(res->fields[rr->first + 1].op, AV_OP_GENERIC);
  sl_record *got = NULL;
  CU_ASSERT_EQUAL(sl_avro_decode(res, "\x02\x04" "ab\x02\x06", 6, a, &got, &err), SL_OK);
  if (got) {
    const sl_value *x = sl_record_get_cstr(got, "x"), *y = sl_record_get_cstr(got, "y");
    CU_ASSERT(x && x->type == SL_TYPE_STRING && x->as.str.len == 2 && strcmp(x->as.str.ptr, "ab") == 0);
    CU_ASSERT(y && y->type == SL_TYPE_INT && y->as.i == 3);
  }
  CU_ASSERT_EQUAL(sl_avro_decode(res, "\x00\x00", 2, a, &got, &err), SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "union branch 0 of field 'y'"));
  sl_avro_schema_free(res);
  sl_avro_schema_free(w);
  sl_avro_schema_free(rd);
  sl_arena_destroy(a);
  sl_avro_schema_free(fast);
  sl_avro_schema_free(slow);
}



/* Longs of every varint length, read where the whole varint fits in the bytes left (no
 * check per byte) and where it ends the datum (checked per byte). */
static void test_varint_lengths(void) {
  sl_avro_schema *s = parse("{\"type\":\"record\",\"name\":\"V\",\"fields\":["
                            "{\"name\":\"a\",\"type\":\"long\"},"
                            "{\"name\":\"pad\",\"type\":\"double\"},"
                            "{\"name\":\"b\",\"type\":\"long\"}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_arena *a = sl_arena_new(0);
  int bad = 0;
  for (int bits = 0; bits <= 64; bits++) {
    for (int sign = 0; sign < 2; sign++) {
      int64_t v = bits == 64 ? (sign ? INT64_MIN : INT64_MAX)
                             : (int64_t)((bits ? (UINT64_C(1) << (bits - 1)) : 0) + 3);
      if (sign && bits < 64)
        v = -v;
      sl_record *in = sl_record_new(a, 3), *got = NULL;
      set(in, "a", sl_value_int(v));
      set(in, "pad", sl_value_double(0.5));
      set(in, "b", sl_value_int(v));
      sl_buf b = SL_BUF_INIT;
      sl_error err = {0};
      bad += sl_avro_encode(s, in, &b, &err) != SL_OK;
      bad += sl_avro_decode(s, b.data, b.len, a, &got, &err) != SL_OK;
      bad += !got || !records_match(got, in);
      sl_buf_free(&b);
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

static void test_resolution(void) {
  sl_arena *a = sl_arena_new(0);
  sl_record *in, *want;

  /* added field with a default (record default included), removed field, reader order */
  in = sl_record_new(a, 0);
  set(in, "id", sl_value_string("m1", 2));
  set(in, "debug", sl_value_record(sub_record(a, 4, 1)));
  set(in, "t", sl_value_double(1.5));
  want = sl_record_new(a, 0);
  set(want, "t", sl_value_double(1.5));
  set(want, "unit", sl_value_string("C", 1));
  set(want, "id", sl_value_string("m1", 2));
  set(want, "site", sl_value_null());
  sl_record *loc = sl_record_new(a, 0);
  set(loc, "x", sl_value_int(1));
  set(want, "loc", sl_value_record(loc));
  check_resolve(
      REC("{\"name\":\"id\",\"type\":\"string\"},"
          "{\"name\":\"debug\",\"type\":{\"type\":\"record\",\"name\":\"Sub\",\"fields\":["
          "{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"tags\",\"type\":{\"type\":\"array\","
          "\"items\":\"string\"}}]}},"
          "{\"name\":\"t\",\"type\":\"double\"}"),
      REC("{\"name\":\"t\",\"type\":\"double\"},{\"name\":\"unit\",\"type\":\"string\",\"default\":"
          "\"C\"},"
          "{\"name\":\"id\",\"type\":\"string\"},{\"name\":\"site\",\"type\":[\"null\",\"string\"],"
          "\"default\":null},"
          "{\"name\":\"loc\",\"type\":{\"type\":\"record\",\"name\":\"Loc\",\"fields\":[{\"name\":"
          "\"x\",\"type\":\"int\"}]},"
          "\"default\":{\"x\":1}}"),
      in, want);

  /* promotions: int->long, int->double, long->double, float->double, string->bytes, bytes->string
   */
  in = sl_record_new(a, 0);
  set(in, "a", sl_value_int(-5));
  set(in, "b", sl_value_int(7));
  set(in, "c", sl_value_int(1LL << 40));
  set(in, "d", sl_value_double(0.5));
  set(in, "e", sl_value_string("s", 1));
  set(in, "f", sl_value_bytes("b", 1));
  want = sl_record_new(a, 0);
  set(want, "a", sl_value_int(-5));
  set(want, "b", sl_value_double(7));
  set(want, "c", sl_value_double((double)(1LL << 40)));
  set(want, "d", sl_value_double(0.5));
  set(want, "e", sl_value_bytes("s", 1));
  set(want, "f", sl_value_string("b", 1));
  check_resolve(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\"},{\"name\":"
                    "\"c\",\"type\":\"long\"},"
                    "{\"name\":\"d\",\"type\":\"float\"},{\"name\":\"e\",\"type\":\"string\"},{"
                    "\"name\":\"f\",\"type\":\"bytes\"}"),
                REC("{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":\"double\"},{"
                    "\"name\":\"c\",\"type\":\"double\"},"
                    "{\"name\":\"d\",\"type\":\"double\"},{\"name\":\"e\",\"type\":\"bytes\"},{"
                    "\"name\":\"f\",\"type\":\"string\"}"),
                in, want);

  /* union reorder, writer plain -> reader union, writer union -> reader plain, alias, enum */
  const char *wu = REC(
      "{\"name\":\"u\",\"type\":[\"null\",\"string\"]},{\"name\":\"v\",\"type\":\"int\"},"
      "{\"name\":\"w\",\"type\":[\"int\",\"null\"]},{\"name\":\"temperature\",\"type\":\"double\"},"
      "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"D\"]}"
      "}");
  const char *ru = REC("{\"name\":\"u\",\"type\":[\"string\",\"null\"]},{\"name\":\"v\",\"type\":["
                       "\"null\",\"long\"]},"
                       "{\"name\":\"w\",\"type\":\"long\"},{\"name\":\"temp\",\"aliases\":["
                       "\"temperature\"],\"type\":\"double\"},"
                       "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":["
                       "\"B\",\"A\",\"Z\"],\"default\":\"Z\"}}");
  const char *syms[] = {"A", "B", "D"}, *rsyms[] = {"A", "B", "Z"};
  for (int k = 0; k < 3; k++) {
    in = sl_record_new(a, 0);
    set(in, "u", k == 1 ? sl_value_null() : sl_value_string("x", 1));
    set(in, "v", sl_value_int(k));
    set(in, "w", sl_value_int(40 + k));
    set(in, "temperature", sl_value_double(k + 0.5));
    set(in, "e", sl_value_string(syms[k], 1));
    want = sl_record_new(a, 0);
    set(want, "u", k == 1 ? sl_value_null() : sl_value_string("x", 1));
    set(want, "v", sl_value_int(k));
    set(want, "w", sl_value_int(40 + k));
    set(want, "temp", sl_value_double(k + 0.5));
    set(want, "e", sl_value_string(rsyms[k], 1));
    check_resolve(wu, ru, in, want);
  }
  /* a writer union branch the reader cannot take fails when it shows up */
  {
    sl_avro_schema *w = parse(wu), *rd = parse(ru);
    sl_avro_schema *res = sl_avro_schema_resolve(w, rd, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    sl_record *r = sl_record_new(a, 0), *got;
    set(r, "u", sl_value_null());
    set(r, "v", sl_value_int(1));
    set(r, "w", sl_value_null());
    set(r, "temperature", sl_value_double(1));
    set(r, "e", sl_value_string("A", 1));
    sl_buf b = SL_BUF_INIT;
    sl_error err;
    CU_ASSERT_EQUAL(sl_avro_encode(w, r, &b, &err), SL_OK);
    CU_ASSERT_EQUAL(sl_avro_decode(res, b.data, b.len, a, &got, &err), SL_ERR_PARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "union branch 1 of field 'w' has no match"));
    sl_buf_free(&b);
    sl_avro_schema_free(res);
    sl_avro_schema_free(w);
    sl_avro_schema_free(rd);
  }
  sl_arena_destroy(a);
}

static void test_resolution_errors(void) {
  static const char *const table[][3] = {
      {REC("{\"name\":\"a\",\"type\":\"int\"}"),
       REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"long\"}"),
       "reader field 'b' of record 'x.R' is missing from the writer schema and has no default"},
      {REC("{\"name\":\"a\",\"type\":\"string\"}"), REC("{\"name\":\"a\",\"type\":\"long\"}"),
       "field 'a': data written as Avro string cannot be read as long"},
      {REC("{\"name\":\"a\",\"type\":\"long\"}"), REC("{\"name\":\"a\",\"type\":\"int\"}"),
       "cannot be read as int"},
      {REC("{\"name\":\"a\",\"type\":\"double\"}"),
       REC("{\"name\":\"a\",\"type\":[\"null\",\"long\"]}"),
       "matches no branch of the reader's union"},
      {REC("{\"name\":\"a\",\"type\":[\"null\",\"string\"]}"),
       REC("{\"name\":\"a\",\"type\":\"long\"}"), "no branch of the writer's union"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    sl_avro_schema *w = parse(table[i][0]), *r = parse(table[i][1]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    sl_error err = {0};
    sl_avro_schema *res = sl_avro_schema_resolve(w, r, &err);
    CU_ASSERT_PTR_NULL(res);
    CU_ASSERT_EQUAL(err.code, SL_ERR_TYPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, table[i][2]));
    if (!strstr(err.message, table[i][2]))
      fprintf(stderr, "\n  case %zu: '%s'\n", i, err.message);
    sl_avro_schema_free(res);
    sl_avro_schema_free(w);
    sl_avro_schema_free(r);
  }
}

/* ---- schemas and encode conversions ------------------------------------ */

static void test_schema_errors(void) {
  static const char *const table[][2] = {
      {"{\"type\":\"record\"", "invalid Avro schema"},
      {"\"long\"", "must be a record"},
      {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", "must be a record"},
      {REC("{\"name\":\"a\",\"type\":\"Nope\"}"), "invalid Avro schema"},
      {REC("{\"name\":\"a\",\"type\":\"int\",\"default\":\"x\"}"), "default of field 'a'"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    sl_error err = {0};
    sl_avro_schema *s = sl_avro_schema_parse(table[i][0], strlen(table[i][0]), &err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(err.code, SL_ERR_PARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, table[i][1]));
    if (!strstr(err.message, table[i][1]))
      fprintf(stderr, "\n  case %zu: '%s'\n", i, err.message);
    sl_avro_schema_free(s);
  }
  sl_error err = {0};
  CU_ASSERT_PTR_NULL(sl_avro_schema_load("/nonexistent/x.avsc", &err));
  CU_ASSERT_EQUAL(err.code, SL_ERR_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/x.avsc"));
  sl_avro_schema_free(NULL);
}

static void test_encode_conversions(void) {
  sl_avro_schema *s = parse(
      REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
          "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":"
          "\"long\"}},"
          "{\"name\":\"d\",\"type\":\"long\",\"default\":42},"
          "{\"name\":\"u\",\"type\":[\"long\",\"double\"]}"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_arena *a = sl_arena_new(0);
  sl_buf b = SL_BUF_INIT;
  sl_error err;
  sl_record *r = sl_record_new(a, 0), *m = sl_record_new(a, 0), *got;
  set(m, "k1", sl_value_int(1));
  set(m, "k2", sl_value_int(2));
  set(r, "e", sl_value_string("B", 1));
  set(r, "i", sl_value_int(7));
  set(r, "m", sl_value_record(m));
  set(r, "u", sl_value_double(2.5));
  CU_ASSERT_EQUAL_FATAL(sl_avro_encode(s, r, &b, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, b.data, b.len, a, &got, &err), SL_OK);
  CU_ASSERT_NSTRING_EQUAL(sl_record_get_cstr(got, "e")->as.str.ptr, "B", 1);
  CU_ASSERT_EQUAL(sl_record_get_cstr(got, "d")->as.i, 42); /* missing: schema default */
  const sl_value *mv = sl_record_get_cstr(got, "m");
  CU_ASSERT_FATAL(mv->type == SL_TYPE_RECORD);
  CU_ASSERT_EQUAL(sl_record_get_cstr(mv->as.rec, "k2")->as.i, 2);
  CU_ASSERT_EQUAL(sl_record_get_cstr(got, "u")->type, SL_TYPE_DOUBLE);
  set(r, "u", sl_value_int(3));
  sl_buf_reset(&b);
  CU_ASSERT_EQUAL_FATAL(sl_avro_encode(s, r, &b, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, b.data, b.len, a, &got, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_record_get_cstr(got, "u")->type, SL_TYPE_INT); /* exact branch first */

  set(r, "e", sl_value_string("C", 1));
  CU_ASSERT_EQUAL(sl_avro_encode(s, r, &b, &err), SL_ERR_TYPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'C' is not a symbol of enum x.E"));
  set(r, "e", sl_value_string("A", 1));
  set(r, "i", sl_value_int(1LL << 40));
  CU_ASSERT_EQUAL(sl_avro_encode(s, r, &b, &err), SL_ERR_TYPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "does not fit an Avro int"));
  set(r, "i", sl_value_string("7", 1));
  CU_ASSERT_EQUAL(sl_avro_encode(s, r, &b, &err), SL_ERR_TYPE);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(err.message, "field 'i': a string value cannot be written as Avro int"));
  sl_buf_free(&b);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

static void test_recursive_schema(void) {
  sl_avro_schema *s =
      parse("{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":\"long\"},"
            "{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_arena *a = sl_arena_new(0);
  sl_record *head = NULL;
  for (int i = 0; i < 70; i++) { /* 70 levels: deeper than the decoder allows */
    sl_record *n = sl_record_new(a, 2);
    set(n, "v", sl_value_int(i));
    if (head)
      set(n, "next", sl_value_record(head));
    head = n;
    if (i == 2) { /* a short list round trips */
      sl_buf b = SL_BUF_INIT;
      sl_record *got;
      CU_ASSERT_EQUAL(sl_avro_encode(s, head, &b, NULL), SL_OK);
      CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, b.data, b.len, a, &got, NULL), SL_OK);
      CU_ASSERT_EQUAL(sl_record_get_cstr(sl_record_get_cstr(got, "next")->as.rec, "v")->as.i, 1);
      sl_buf_free(&b);
    }
  }
  sl_buf b = SL_BUF_INIT;
  sl_error err;
  CU_ASSERT_EQUAL(sl_avro_encode(s, head, &b, &err), SL_ERR_LIMIT);
  /* hand-made deep datum: (v=0, branch 1) x 70 then branch 0 */
  char deep[200];
  size_t n = 0;
  for (int i = 0; i < 70; i++) {
    deep[n++] = 0;
    deep[n++] = 2;
  }
  deep[n++] = 0;
  deep[n++] = 0;
  sl_record *got;
  CU_ASSERT_EQUAL(sl_avro_decode(s, deep, n, a, &got, &err), SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nested deeper than 64"));
  sl_buf_free(&b);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

/* Issue 14 item 3: 121 bytes (40 blocks of 1,000,000 nulls) decoded into 40M values (3 GB,
 * 29 s): the block bound held per block only. Now the datum's zero-size values have one
 * budget, in decode and in skip (a writer-only field of a resolved plan), checked before the
 * items are made. */
static void test_bug_zero_size_items_amplify(void) {
  const char *schema = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"an\","
                       "\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}";
  sl_avro_schema *s = parse(schema);
  sl_avro_schema *reader = parse("{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reader);
  sl_avro_schema *skip = sl_avro_schema_resolve(s, reader, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(skip);
  unsigned char datum[121];
  for (int i = 0; i < 40; i++)
    memcpy(datum + 3 * i, "\x80\x89\x7a", 3); /* a block of 1,000,000 items */
  datum[120] = 0;
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL;
  sl_error err;
  sl_decode_opts opts = {0, NULL};
  const sl_avro_schema *plans[] = {s, skip};
  for (int p = 0; p < 2; p++) {
    sl_arena_reset(a);
    CU_ASSERT_EQUAL(sl_avro_decode_opts(plans[p], datum, sizeof datum, &opts, a, &r, &err),
                    SL_ERR_LIMIT);
    CU_ASSERT_STRING_EQUAL(opts.reason, SL_REASON_TOO_MANY_ITEMS);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err.message, "datum of 121 bytes holds more than 377 values that take no bytes"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "field 'an'"));
    CU_ASSERT(sl_arena_used(a) < 4096); /* refused before any item was made */
  }
  /* Up to the budget (256 + the datum's 5 bytes) the array is legal Avro and decodes: 261
   * nulls in two blocks. */
  unsigned char ok[] = {0x82, 0x02, 0x88, 0x02, 0x00}; /* 129 + 132 */
  sl_arena_reset(a);
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode_opts(s, ok, sizeof ok, &opts, a, &r, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_array_len(sl_record_get_cstr(r, "an")->as.arr), 261);
  CU_ASSERT_PTR_NULL(opts.reason);
  CU_ASSERT_EQUAL(sl_avro_decode_opts(skip, ok, sizeof ok, &opts, a, &r, &err), SL_OK);
  /* ...and one more item is refused. */
  unsigned char over[] = {0x82, 0x02, 0x8a, 0x02, 0x00}; /* 129 + 133 */
  CU_ASSERT_EQUAL(sl_avro_decode_opts(s, over, sizeof over, &opts, a, &r, &err), SL_ERR_LIMIT);
  sl_arena_destroy(a);
  sl_avro_schema_free(skip);
  sl_avro_schema_free(reader);
  sl_avro_schema_free(s);
}

/* R_k = {a: R_k-1, b: R_k-1}: k levels of JSON, 2^k paths. */
static char *chain_schema(int k, const char *r0_fields) {
  size_t cap = 256 + (size_t)k * 128;
  char *out = malloc(cap);
  size_t n = 0;
  for (int i = k; i > 0; i--)
    n += (size_t)snprintf(out + n, cap - n,
                          "{\"type\":\"record\",\"name\":\"R%d\",\"fields\":[{\"name\":\"a\","
                          "\"type\":",
                          i);
  n += (size_t)snprintf(out + n, cap - n, "{\"type\":\"record\",\"name\":\"R0\",\"fields\":[%s]}",
                        r0_fields);
  for (int i = 1; i <= k; i++)
    n += (size_t)snprintf(out + n, cap - n, "},{\"name\":\"b\",\"type\":\"R%d\"}]}", i - 1);
  return out;
}

/* Issue 14 item 4: minsize() walked every path of the schema: an 87-byte schema that
 * contains itself twice never compiled, and the 3.5 KB chain R_22 took 77 s. Both must
 * compile (each node's size computed once), and decoding them must stay bounded. */
static void test_bug_exponential_schema_compile(void) {
  const char *self = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                     "\"type\":\"R\"},{\"name\":\"b\",\"type\":\"R\"}]}";
  CU_ASSERT_EQUAL(strlen(self), 87);
  sl_avro_schema *s = parse(self);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_avro_schema *rs = sl_avro_schema_resolve(s, s, NULL);
  CU_ASSERT_PTR_NOT_NULL(rs);
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL;
  sl_error err;
  /* No datum of it is finite: any input ends at the depth limit or the input's end. */
  CU_ASSERT_EQUAL(sl_avro_decode(s, "", 0, a, &r, &err), SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nested deeper than 64"));
  CU_ASSERT_EQUAL(sl_avro_decode(rs, "", 0, a, &r, &err), SL_ERR_PARSE);
  sl_avro_schema_free(rs);
  sl_avro_schema_free(s);

  /* A chain of 60 levels (2^60 paths): one node per record, sizes saturate. */
  char *json = chain_schema(60, "{\"name\":\"x\",\"type\":\"boolean\"}");
  s = parse(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT(s->node_count <= 2 * 61);
  CU_ASSERT_EQUAL(s->nodes[s->root].minsize, UINT32_MAX);
  for (uint32_t i = 0; i < s->node_count; i++)
    if (s->nodes[i].name && strcmp(s->nodes[i].name, "R10") == 0)
      CU_ASSERT_EQUAL(s->nodes[i].minsize, 1024); /* 2^10 booleans */
  rs = sl_avro_schema_resolve(s, s, NULL);
  CU_ASSERT_PTR_NOT_NULL(rs);
  CU_ASSERT_EQUAL(sl_avro_decode(s, "\x01", 1, a, &r, &err), SL_ERR_PARSE); /* truncated */
  sl_avro_schema_free(rs);
  sl_avro_schema_free(s);
  free(json);

  /* The same chain over an empty record: an empty datum would be 2^22 records. */
  json = chain_schema(22, "");
  s = parse(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(s->nodes[s->root].minsize, 0);
  sl_decode_opts opts = {0, NULL};
  sl_arena_reset(a);
  CU_ASSERT_EQUAL(sl_avro_decode_opts(s, "", 0, &opts, a, &r, &err), SL_ERR_LIMIT);
  CU_ASSERT_STRING_EQUAL(opts.reason, SL_REASON_TOO_MANY_ITEMS);
  CU_ASSERT(sl_arena_used(a) < 256 * 256); /* at most the budget of empty records */
  sl_avro_schema_free(s);
  free(json);
  /* A short chain decodes: 2^4 empty records. */
  json = chain_schema(4, "");
  s = parse(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(sl_avro_decode(s, "", 0, a, &r, &err), SL_OK);
  sl_avro_schema_free(s);
  free(json);
  sl_arena_destroy(a);
}

/* Issue 14 item 4, the rest of plan compilation: name lookups, duplicate-field checks and
 * enum matching are quadratic, so a registered schema of 10^6 fields would hang the
 * compiler. Types, fields and symbols are bounded (10,000 each): refused with a reason. */
static void test_bug_huge_schema_refused(void) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_printf(&b, "{\"type\":\"record\",\"name\":\"W\",\"fields\":[");
  for (int i = 0; i < 10001; i++)
    sl_buf_printf(&b, "%s{\"name\":\"f%d\",\"type\":\"null\"}", i ? "," : "", i);
  sl_buf_printf(&b, "]}");
  sl_error err;
  CU_ASSERT_PTR_NULL(sl_avro_schema_parse(b.data, b.len, &err));
  CU_ASSERT_EQUAL(err.code, SL_ERR_LIMIT);
  CU_ASSERT_STRING_EQUAL(err.message, "Avro schema has more than 10000 fields: refused");
  /* 9,999 fields compile. */
  sl_buf_reset(&b);
  sl_buf_printf(&b, "{\"type\":\"record\",\"name\":\"W\",\"fields\":[");
  for (int i = 0; i < 9999; i++)
    sl_buf_printf(&b, "%s{\"name\":\"f%d\",\"type\":\"null\"}", i ? "," : "", i);
  sl_buf_printf(&b, "]}");
  sl_avro_schema *s = sl_avro_schema_parse(b.data, b.len, &err);
  CU_ASSERT_PTR_NOT_NULL(s);
  sl_avro_schema_free(s);
  /* An enum of 10,001 symbols. */
  sl_buf_reset(&b);
  sl_buf_printf(&b, "{\"type\":\"record\",\"name\":\"W\",\"fields\":[{\"name\":\"e\",\"type\":"
                    "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[");
  for (int i = 0; i < 10001; i++)
    sl_buf_printf(&b, "%s\"S%d\"", i ? "," : "", i);
  sl_buf_printf(&b, "]}}]}");
  CU_ASSERT_PTR_NULL(sl_avro_schema_parse(b.data, b.len, &err));
  CU_ASSERT_STRING_EQUAL(err.message, "Avro schema has more than 10000 enum symbols: refused");
  sl_buf_free(&b);
}

/* Issue 14 item 5 for Avro maps (they decode to records keyed by their keys): more than
 * max_fields entries are refused before the record is made, and repeated keys cost constant
 * time each (the last one wins). */
static void test_bug_map_too_many_fields(void) {
  sl_avro_schema *s = parse("{\"type\":\"record\",\"name\":\"M\",\"fields\":[{\"name\":\"m\","
                            "\"type\":{\"type\":\"map\",\"values\":\"null\"}}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_buf b = SL_BUF_INIT;
  unsigned char blk[3] = {0xd2, 0x0f, 0}; /* a block of 1001 entries (zigzag 2002) */
  sl_buf_append(&b, blk, 2);
  for (int i = 0; i < 1001; i++) { /* key "kNNNN" (5 bytes), value null */
    char k[8];
    snprintf(k, sizeof k, "\x0ak%04d", i % 600); /* 600 distinct keys, then repeats */
    sl_buf_append(&b, k, 6);
  }
  sl_buf_append(&b, blk + 2, 1);
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL;
  sl_error err;
  sl_decode_opts opts = {0, NULL};
  CU_ASSERT_EQUAL(sl_avro_decode_opts(s, b.data, b.len, &opts, a, &r, &err), SL_ERR_LIMIT);
  CU_ASSERT_STRING_EQUAL(opts.reason, SL_REASON_TOO_MANY_FIELDS);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "map field 'm' has more than 1000 entries"));
  opts.max_fields = 1001;
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode_opts(s, b.data, b.len, &opts, a, &r, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_record_count(sl_record_get_cstr(r, "m")->as.rec), 600);
  sl_buf_free(&b);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

/* Found by fuzz_avro (tests/fuzz/regressions/avro/nul-in-map-key): a map key holding a
 * NUL byte became a name cut short at the NUL, colliding with others. Refused. */
static void test_bug_nul_in_map_key(void) {
  sl_avro_schema *s = parse("{\"type\":\"record\",\"name\":\"M\",\"fields\":[{\"name\":\"m\","
                            "\"type\":{\"type\":\"map\",\"values\":\"int\"}}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  /* one block of 1 entry: key "a\0b" (length 3, zigzag 6), value 1 (zigzag 2), end */
  static const unsigned char datum[] = {0x02, 0x06, 'a', 0, 'b', 0x02, 0x00};
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL;
  sl_error err;
  CU_ASSERT_EQUAL(sl_avro_decode(s, datum, sizeof datum, a, &r, &err), SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "map key of field 'm' contains a NUL byte"));
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

/* Found by the 10-minute fuzz_avro run (tests/fuzz/regressions/avro/
 * timestamp-micros-min-reencode): the earliest timestamp-micros decodes (floored) to one ms
 * below INT64_MIN / 1000, which the encoder refused as out of range. */
static void test_bug_timestamp_micros_min_reencode(void) {
  sl_avro_schema *s = parse("{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"t\","
                            "\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}}]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_arena *a = sl_arena_new(0);
  sl_record *r = sl_record_new(a, 1), *back = NULL;
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  sl_record_set(r, sl_name_cstr("t"), sl_value_int(INT64_MIN / 1000 - 1));
  sl_buf out = SL_BUF_INIT;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(sl_avro_encode(s, r, &out, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, out.data, out.len, a, &back, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_record_get_cstr(back, "t")->as.i, INT64_MIN / 1000 - 1);
  sl_buf_reset(&out);
  sl_record_set(r, sl_name_cstr("t"), sl_value_int(INT64_MIN / 1000 - 2)); /* really out of range */
  CU_ASSERT_EQUAL(sl_avro_encode(s, r, &out, &err), SL_ERR_TYPE);
  sl_buf_free(&out);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

/* Issue 14 item 7: a record with no fields had a NULL field table, and every lookup did
 * `fields + count` on it (NULL + 0, undefined; UBSan in build-asan): an empty Avro map read
 * by `m.x = 1`, and a record schema with no fields (whose plan had no field table at all). */
static void test_bug_null_plus_zero_empty_records(void) {
  sl_avro_schema *s = parse("{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"m\","
                            "\"type\":{\"type\":\"map\",\"values\":\"long\"}}]}");
  sl_avro_schema *none = parse("{\"type\":\"record\",\"name\":\"N\",\"fields\":[]}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(none);
  CU_ASSERT_PTR_NOT_NULL(none->fields);
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, "\x00", 1, a, &r, NULL), SL_OK);
  const sl_value *m = sl_record_get_cstr(r, "m");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(m->type, SL_TYPE_RECORD);
  CU_ASSERT_PTR_NOT_NULL(m->as.rec->fields);
  sl_name path[] = {sl_name_cstr("m"), sl_name_cstr("x")};
  CU_ASSERT_PTR_NULL(sl_record_get_path(r, path, 2)); /* m.x */
  CU_ASSERT_EQUAL(sl_record_set(m->as.rec, path[1], sl_value_int(1)), SL_OK);
  CU_ASSERT_EQUAL(sl_record_get_path(r, path, 2)->as.i, 1);
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(none, "", 0, a, &r, NULL), SL_OK);
  CU_ASSERT_EQUAL(sl_record_count(r), 0);
  CU_ASSERT_PTR_NOT_NULL(r->fields);
  CU_ASSERT_PTR_NULL(sl_record_get_cstr(r, "x"));
  sl_buf b = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_avro_encode(none, r, &b, NULL), SL_OK);
  CU_ASSERT_EQUAL(b.len, 0);
  sl_buf_free(&b);
  sl_arena_destroy(a);
  sl_avro_schema_free(none);
  sl_avro_schema_free(s);
}

int suite_core_avro_codec(void) {
  CU_pSuite s = CU_add_suite("core_avro_codec", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "datums written by Avro-C decode to the expected records",
              test_decode_matches_avro_c);
  CU_add_test(s, "our encoding reads back with Avro-C, byte-identical", test_encode_read_by_avro_c);
  CU_add_test(s, "machine reading schema, error messages", test_machine_reading);
  CU_add_test(s, "timestamp-micros decode to ms and encode back", test_timestamp_micros);
  CU_add_test(s, "every truncation is an error", test_truncation_every_offset);
  CU_add_test(s, "random input never crashes the decoder", test_fuzz_never_crashes);
  CU_add_test(s, "resolution: defaults, removals, promotions, unions, enums", test_resolution);
  CU_add_test(s, "resolution errors", test_resolution_errors);
  CU_add_test(s, "longs of every varint length", test_varint_lengths);
  CU_add_test(s, "optional fields: inline union equals the generic decoder",
              test_optional_fields_inline);
  CU_add_test(s, "schema errors", test_schema_errors);
  CU_add_test(s, "encode conversions and errors", test_encode_conversions);
  CU_add_test(s, "recursive schemas and depth limits", test_recursive_schema);
  CU_add_test(s, "bug: zero-size array items amplify a datum", test_bug_zero_size_items_amplify);
  CU_add_test(s, "bug: exponential schema compilation", test_bug_exponential_schema_compile);
  CU_add_test(s, "bug: NULL + 0 on records with no fields", test_bug_null_plus_zero_empty_records);
  CU_add_test(s, "bug: Avro map of too many entries", test_bug_map_too_many_fields);
  CU_add_test(s, "bug: NUL in a map key", test_bug_nul_in_map_key);
  CU_add_test(s, "bug: earliest timestamp-micros re-encodes", test_bug_timestamp_micros_min_reencode);
  CU_add_test(s, "bug: schemas big enough for quadratic compile steps", test_bug_huge_schema_refused);
  return 0;
}
