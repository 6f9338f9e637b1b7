/* SPDX-License-Identifier: Apache-2.0 */
/* The fast path of flat Avro records (avro_decode_flat.c): which plans get a flat program,
 * that it decodes exactly what the generic decoder does (values, errors, limit reasons) on
 * every truncation and byte substitution of datums chosen to reach each of its branches,
 * that decoded records carry the source record's metadata without sharing anything that
 * a later change could corrupt, and that their strings do not borrow the input bytes. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_testing.h"
#include "base/record_internal.h"
#include "codec/avro_codec.h"
#include "codec/avro_plan.h"

#define REC(fields)                                                                                \
  "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"f\",\"fields\":[" fields "]}"

/* The reference pipeline's reading. */
static const char READING[] =
    REC("{\"name\":\"machine_id\",\"type\":\"string\"},"
        "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
        "{\"name\":\"temperature\",\"type\":\"double\"},"
        "{\"name\":\"vibration\",\"type\":\"double\"},"
        "{\"name\":\"site\",\"type\":[\"null\",\"string\"],\"default\":null}");
/* Every inline op, optional ones with null first and second; ends with a long, so that
 * varints end the datum (no 8-byte load). */
static const char EVERY_OP[] = REC("{\"name\":\"s\",\"type\":\"string\"},"
                                   "{\"name\":\"os\",\"type\":[\"null\",\"string\"]},"
                                   "{\"name\":\"so\",\"type\":[\"string\",\"null\"]},"
                                   "{\"name\":\"d\",\"type\":\"double\"},"
                                   "{\"name\":\"od\",\"type\":[\"null\",\"double\"]},"
                                   "{\"name\":\"do\",\"type\":[\"double\",\"null\"]},"
                                   "{\"name\":\"ol\",\"type\":[\"null\",\"long\"]},"
                                   "{\"name\":\"lo\",\"type\":[\"long\",\"null\"]},"
                                   "{\"name\":\"l\",\"type\":\"long\"}");
/* Ends with a string: its copy reaches the last byte of the datum. */
static const char STRING_LAST[] =
    REC("{\"name\":\"l\",\"type\":\"long\"},{\"name\":\"s\",\"type\":\"string\"}");
static const char NO_FIELDS[] = REC("");

/* Longs of every varint length (1 to 10 bytes, both signs), and strings whose lengths take
 * each branch of the short copy and both one- and two-byte length prefixes. */
static const int64_t LONGS[] = {
    0,         -1,           63,        -64,       64,       8191, 1 << 20, 1700000000123LL,
    1LL << 48, -(1LL << 55), 1LL << 56, INT64_MAX, INT64_MIN};
static const size_t LENS[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 63, 64, 200};
#define NLONGS (sizeof LONGS / sizeof LONGS[0])
#define NLENS (sizeof LENS / sizeof LENS[0])

static sl_value str_of(sl_arena *a, size_t len, int k) {
  char *s = sl_arena_alloc(a, len + 1);
  for (size_t i = 0; i < len; i++)
    s[i] = (char)('a' + (i * 7 + (size_t)k) % 26);
  s[len] = '\0';
  return sl_value_string(s, len);
}

/* Record k of schema `which` (0 READING, 1 EVERY_OP, 2 STRING_LAST, 3 NO_FIELDS). */
static sl_record *values(sl_arena *a, int which, int k) {
  sl_record *r = sl_record_new(a, 10);
  int64_t l = LONGS[(size_t)k % NLONGS];
  sl_value s = str_of(a, LENS[(size_t)k % NLENS], k);
  double d = k % 5 == 4 ? NAN : k * -1.25e10 + 0.5;
  switch (which) {
  case 0:
    set(r, "machine_id", s);
    set(r, "ts", sl_value_int(l));
    set(r, "temperature", sl_value_double(d));
    set(r, "vibration", sl_value_double(-d));
    set(r, "site", k & 1 ? sl_value_null() : str_of(a, 7, k));
    break;
  case 1:
    set(r, "s", s);
    set(r, "os", k & 1 ? sl_value_null() : str_of(a, LENS[(size_t)(k + 3) % NLENS], k));
    set(r, "so", k & 2 ? sl_value_null() : s);
    set(r, "d", sl_value_double(d));
    set(r, "od", k & 4 ? sl_value_null() : sl_value_double(d / 3));
    set(r, "do", k & 8 ? sl_value_null() : sl_value_double(-d));
    set(r, "ol", k & 2 ? sl_value_null() : sl_value_int(LONGS[(size_t)(k + 5) % NLONGS]));
    set(r, "lo", k & 1 ? sl_value_null() : sl_value_int(LONGS[(size_t)(k + 2) % NLONGS]));
    set(r, "l", sl_value_int(l));
    break;
  case 2:
    set(r, "l", sl_value_int(l));
    set(r, "s", s);
    break;
  default: break;
  }
  return r;
}

/* Strings are NUL-terminated copies (record.h: "NUL-terminated when made by sluice"). */
static int nul_terminated(const sl_value *v) {
  return v->type != SL_TYPE_STRING || v->as.str.ptr[v->as.str.len] == '\0';
}

/* Same fields in the same order, same shape and room, same metadata. */
static int records_same(const sl_record *x, const sl_record *y) {
  if (x->count != y->count || x->cap != y->cap || x->shape != y->shape || x->key != y->key ||
      x->key_len != y->key_len || x->raw != y->raw || x->raw_len != y->raw_len ||
      x->timestamp != y->timestamp || x->offset != y->offset || x->partition != y->partition ||
      x->source_id != y->source_id || x->source_name != y->source_name ||
      x->header_count != y->header_count || x->headers != y->headers)
    return 0;
  for (uint32_t i = 0; i < x->count; i++)
    if (x->fields[i].name != y->fields[i].name ||
        !value_equal(&x->fields[i].value, &y->fields[i].value) ||
        !nul_terminated(&x->fields[i].value) || !nul_terminated(&y->fields[i].value))
      return 0;
  return 1;
}

/* `buf` decoded with the flat program and by the generic decoder (the same plan without
 * it): the same status, message, reason and record. `meta` is the source record. */
static int same_decode(const sl_avro_schema *fast, const sl_avro_schema *slow, const void *buf,
                       size_t len, const sl_record *meta, sl_arena *a) {
  sl_record *r1 = NULL, *r2 = NULL;
  sl_error e1 = {0}, e2 = {0};
  sl_decode_opts o1 = {3, NULL}, o2 = {3, NULL};
  int rc1 = sl_avro_decode_meta(fast, buf, len, meta, &o1, a, &r1, &e1);
  int rc2 = sl_avro_decode_meta(slow, buf, len, meta, &o2, a, &r2, &e2);
  if (rc1 != rc2 || strcmp(e1.message, e2.message) != 0 || o1.reason != o2.reason) {
    fprintf(stderr, "\n  flat: %d '%s', generic: %d '%s'\n", rc1, e1.message, rc2, e2.message);
    return 0;
  }
  if (rc1 == SL_OK && !records_same(r1, r2)) {
    fprintf(stderr, "\n  flat and generic records differ (%zu bytes)\n", len);
    return 0;
  }
  return 1;
}

/* A source record around `buf`: key, position, time, headers, raw bytes. */
static sl_record *source_record(sl_arena *a, const void *buf, size_t len) {
  sl_record *m = sl_record_new(a, 0);
  sl_record_set_raw(m, buf, len);
  sl_record_set_key(m, "dev-1", 5);
  sl_record_set_position(m, 2, "sim", 3, 12345);
  sl_record_set_timestamp(m, 1700000000999LL);
  sl_record_header_add(m, "h", "v", 1);
  return m;
}

/* Every datum of `rounds` records, every truncation of it and every byte replaced by each
 * value that changes a varint, a branch or a length: flat and generic must agree. */
static int fuzz_against_generic(sl_avro_schema *fast, sl_avro_schema *slow,
                                const sl_avro_schema *writer, int which, int rounds) {
  static const unsigned char subst[] = {0, 1, 2, 3, 4, 0x7f, 0x80, 0x81, 0xfe, 0xff};
  sl_arena *a = sl_arena_new(0);
  int failures = 0;
  for (int k = 0; k < rounds; k++) {
    sl_buf b = SL_BUF_INIT;
    sl_error err = {0};
    sl_record *in = values(a, which, k);
    CU_ASSERT_EQUAL_FATAL(sl_avro_encode(writer, in, &b, &err), SL_OK);
    /* One byte more, for the trailing-bytes check and substitutions past the end. */
    unsigned char *buf = malloc(b.len + 1);
    if (b.len) /* a record of no fields encodes to nothing (b.data NULL) */
      memcpy(buf, b.data, b.len);
    buf[b.len] = 7;
    sl_record *meta = source_record(a, buf, b.len + 1);
    /* Each truncation in a block of its own size: ASan sees any read past the end. */
    for (size_t cut = 0; cut <= b.len + 1; cut++) {
      unsigned char *part = malloc(cut ? cut : 1);
      memcpy(part, buf, cut);
      failures += !same_decode(fast, slow, part, cut, source_record(a, part, cut), a);
      free(part);
    }
    for (size_t at = 0; at < b.len; at++) {
      unsigned char keep = buf[at];
      for (size_t v = 0; v < sizeof subst; v++) {
        buf[at] = subst[v];
        failures += !same_decode(fast, slow, buf, b.len, meta, a);
      }
      buf[at] = keep;
    }
    free(buf);
    sl_buf_free(&b);
    sl_arena_reset(a);
  }
  sl_arena_destroy(a);
  return failures;
}

/* Varints the encoder never writes: an 11-byte one (an error), non-canonical ones (valid:
 * 0 in two bytes, a union branch in two bytes), a 10th byte with high bits. */
static void test_odd_varints(void) {
  static const struct {
    const char *schema;
    const char *bytes;
    size_t len;
  } cases[] = {
      {STRING_LAST, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00\x00", 12},
      {STRING_LAST, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f\x00", 11},
      {STRING_LAST, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x02z", 12},
      {STRING_LAST, "\x80\x00\x00", 3},
      {STRING_LAST,
       "\x00\x84\x00"
       "ab",
       5},
      {STRING_LAST, "\x00\x03", 2},
      {READING,
       "\x02m\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x82\x00\x02s",
       23},
      {READING, "\x02m\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00",
       21},
  };
  sl_arena *a = sl_arena_new(0);
  int failures = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_avro_schema *fast = parse(cases[i].schema), *slow = parse(cases[i].schema);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fast);
    CU_ASSERT_PTR_NOT_NULL_FATAL(slow);
    slow->flat = NULL;
    sl_record *meta = source_record(a, cases[i].bytes, cases[i].len);
    failures += !same_decode(fast, slow, cases[i].bytes, cases[i].len, meta, a);
    sl_avro_schema_free(fast);
    sl_avro_schema_free(slow);
  }
  CU_ASSERT_EQUAL(failures, 0);
  sl_arena_destroy(a);
}

static void test_flat_program(void) {
  sl_avro_schema *s = parse(READING);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s->flat);
  CU_ASSERT_EQUAL(s->flat->nslots, 5);
  CU_ASSERT_EQUAL(s->flat->cap, 5 + SL_RECORD_ROOM);
  static const uint8_t want[] = {AV_OP_STRING, AV_OP_LONG,       AV_OP_DOUBLE,
                                 AV_OP_DOUBLE, AV_OP_OPT_STRING, AV_OP_END};
  for (size_t i = 0; i < sizeof want; i++)
    CU_ASSERT_EQUAL(s->flat->ops[i].op, want[i]);
  CU_ASSERT_EQUAL(s->flat->ops[4].off, 4 * sizeof(sl_field));
  CU_ASSERT_EQUAL(s->flat->ops[5].off, 5 * sizeof(sl_field)); /* a spare slot */
  sl_avro_schema_free(s);
  /* Not flat: an int (range check), a nested record, a field with a default in a
   * resolved plan, a writer-only field to skip. */
  static const char *const not_flat[] = {
      REC("{\"name\":\"i\",\"type\":\"int\"}"),
      REC("{\"name\":\"l\",\"type\":\"long\"},{\"name\":\"n\",\"type\":"
          "{\"type\":\"record\",\"name\":\"N\",\"fields\":[]}}"),
  };
  for (size_t i = 0; i < sizeof not_flat / sizeof not_flat[0]; i++) {
    s = parse(not_flat[i]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NULL(s->flat);
    sl_avro_schema_free(s);
  }
  sl_avro_schema *w = parse(REC("{\"name\":\"a\",\"type\":\"long\"},"
                                "{\"name\":\"b\",\"type\":\"string\"}"));
  sl_avro_schema *with_default = parse(REC("{\"name\":\"a\",\"type\":\"long\"},"
                                           "{\"name\":\"b\",\"type\":\"string\"},"
                                           "{\"name\":\"c\",\"type\":\"long\",\"default\":1}"));
  sl_avro_schema *fewer = parse(REC("{\"name\":\"b\",\"type\":\"string\"}"));
  sl_error err = {0};
  sl_avro_schema *r1 = sl_avro_schema_resolve(w, with_default, &err);
  sl_avro_schema *r2 = sl_avro_schema_resolve(w, fewer, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r2);
  CU_ASSERT_PTR_NULL(r1->flat);
  CU_ASSERT_PTR_NULL(r2->flat);
  sl_avro_schema_free(r1);
  sl_avro_schema_free(r2);
  sl_avro_schema_free(w);
  sl_avro_schema_free(with_default);
  sl_avro_schema_free(fewer);
}

static void test_flat_equals_generic(void) {
  static const char *const schemas[] = {READING, EVERY_OP, STRING_LAST, NO_FIELDS};
  for (int which = 0; which < 4; which++) {
    sl_avro_schema *fast = parse(schemas[which]), *slow = parse(schemas[which]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fast);
    CU_ASSERT_PTR_NOT_NULL_FATAL(slow);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fast->flat); /* else this compares the generic with itself */
    slow->flat = NULL;
    CU_ASSERT_EQUAL(fuzz_against_generic(fast, slow, fast, which, which == 3 ? 1 : 40), 0);
    sl_avro_schema_free(fast);
    sl_avro_schema_free(slow);
  }
}

/* A resolved plan whose reader lists the writer's fields in another order: the flat
 * program writes each field to its reader slot. */
static void test_flat_resolved_order(void) {
  sl_avro_schema *w = parse(STRING_LAST);
  sl_avro_schema *rd = parse(REC("{\"name\":\"s\",\"type\":\"string\"},"
                                 "{\"name\":\"l\",\"type\":\"long\"}"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rd);
  sl_error err = {0};
  sl_avro_schema *fast = sl_avro_schema_resolve(w, rd, &err);
  sl_avro_schema *slow = sl_avro_schema_resolve(w, rd, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(fast);
  CU_ASSERT_PTR_NOT_NULL_FATAL(slow);
  CU_ASSERT_PTR_NOT_NULL_FATAL(fast->flat);
  CU_ASSERT_EQUAL(fast->flat->ops[0].off, sizeof(sl_field)); /* writer's l: reader slot 1 */
  slow->flat = NULL;
  CU_ASSERT_EQUAL(fuzz_against_generic(fast, slow, w, 2, 40), 0);
  sl_arena *a = sl_arena_new(0);
  sl_buf b = SL_BUF_INIT;
  sl_record *got = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_avro_encode(w, values(a, 2, 7), &b, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_avro_decode(fast, b.data, b.len, a, &got, &err), SL_OK);
  CU_ASSERT_PTR_EQUAL(sl_record_name_at(got, 0), sl_name_cstr("s"));
  CU_ASSERT_EQUAL(sl_record_get_cstr(got, "l")->as.i, LONGS[7]);
  sl_buf_free(&b);
  sl_arena_destroy(a);
  sl_avro_schema_free(fast);
  sl_avro_schema_free(slow);
  sl_avro_schema_free(w);
  sl_avro_schema_free(rd);
}

/* A batch decoded in runs: each run stops at the record that fails (its error and reason
 * set) or has no raw bytes (nothing set); results carry their source's metadata, and a
 * header added to a result does not reach the source's shared header table. */
static void test_decode_records_runs(void) {
  sl_avro_schema *s = parse(READING);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  sl_arena *a = sl_arena_new(0);
  sl_buf good = SL_BUF_INIT;
  sl_error err = {0};
  CU_ASSERT_EQUAL_FATAL(sl_avro_encode(s, values(a, 0, 3), &good, &err), SL_OK);
  sl_record *ins[5];
  for (int i = 0; i < 5; i++)
    ins[i] = source_record(a, good.data, good.len);
  sl_record_set_raw(ins[1], good.data, good.len - 1); /* truncated */
  sl_record_set_raw(ins[3], NULL, 0);
  sl_record_set_timestamp(ins[4], 77);
  sl_record *outs[5] = {NULL};
  sl_decode_opts opts = {SL_DECODE_MAX_FIELDS, NULL};
  CU_ASSERT_EQUAL(sl_avro_decode_records(s, ins, 5, &opts, a, outs, &err), 1);
  CU_ASSERT_EQUAL(err.code, SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "truncated record"));
  CU_ASSERT_STRING_EQUAL(opts.reason, "decode");
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_avro_decode_records(s, ins + 2, 3, &opts, a, outs + 2, &err), 1);
  CU_ASSERT_EQUAL(err.code, SL_OK); /* no raw bytes: the caller's to report */
  CU_ASSERT_EQUAL(sl_avro_decode_records(s, ins + 4, 1, &opts, a, outs + 4, &err), 1);
  for (int i = 0; i < 5; i += 2) {
    sl_record *o = outs[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    size_t n;
    CU_ASSERT_PTR_EQUAL(sl_record_key(o, &n), ins[i]->key);
    CU_ASSERT_PTR_EQUAL(sl_record_raw(o, &n), good.data);
    CU_ASSERT_EQUAL(n, good.len);
    CU_ASSERT_EQUAL(sl_record_timestamp(o), i == 4 ? 77 : 1700000000999LL);
    CU_ASSERT_EQUAL(sl_record_offset(o), 12345);
    CU_ASSERT_EQUAL(sl_record_partition(o), 3);
    CU_ASSERT_STRING_EQUAL(sl_record_source_name(o), "sim");
    CU_ASSERT_EQUAL(sl_record_count(o), 5);
    CU_ASSERT_PTR_EQUAL(sl_record_arena(o), a);
    CU_ASSERT_EQUAL_FATAL(sl_record_header_count(o), 1);
  }
  /* The header table is shared (the source's has room for more), until the result adds
   * a header: then it copies the table instead of writing over the source's next slot. */
  const void *hv;
  size_t hl;
  CU_ASSERT_PTR_EQUAL(outs[2]->headers, ins[2]->headers);
  CU_ASSERT_EQUAL(sl_record_header_add(ins[2], "h3", "x", 1), SL_OK);
  CU_ASSERT_EQUAL(sl_record_header_count(outs[2]), 1);
  CU_ASSERT_EQUAL(sl_record_header_add(outs[2], "h2", "w", 1), SL_OK);
  CU_ASSERT_STRING_EQUAL(sl_record_header_at(ins[2], 1, &hv, &hl), "h3");
  CU_ASSERT_STRING_EQUAL(sl_record_header_at(outs[2], 0, &hv, &hl), "h");
  CU_ASSERT_STRING_EQUAL(sl_record_header_at(outs[2], 1, &hv, &hl), "h2");
  CU_ASSERT_EQUAL(sl_record_header_count(ins[2]), 2);
  CU_ASSERT_EQUAL(sl_record_header_count(outs[2]), 2);
  sl_buf_free(&good);
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

/* Decoded strings are copies in the record's arena, NUL-terminated: the input bytes (a
 * Kafka message, a file buffer) may go before the batch does. Under ASan, reading a
 * string after its input is freed fails this test if a string borrows the input. */
static void test_strings_outlive_input(void) {
  sl_avro_schema *s = parse(EVERY_OP);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s->flat);
  sl_arena *a = sl_arena_new(0);
  for (int k = 0; k < (int)NLENS; k++) {
    sl_buf b = SL_BUF_INIT;
    sl_error err = {0};
    sl_record *want = values(a, 1, k), *got = NULL;
    CU_ASSERT_EQUAL_FATAL(sl_avro_encode(s, want, &b, &err), SL_OK);
    char *copy = malloc(b.len);
    memcpy(copy, b.data, b.len);
    CU_ASSERT_EQUAL_FATAL(sl_avro_decode(s, copy, b.len, a, &got, &err), SL_OK);
    memset(copy, 0xff, b.len);
    free(copy);
    for (uint32_t i = 0; i < got->count; i++)
      CU_ASSERT(value_equal(&got->fields[i].value, &want->fields[i].value) &&
                nul_terminated(&got->fields[i].value));
    sl_buf_free(&b);
  }
  sl_arena_destroy(a);
  sl_avro_schema_free(s);
}

int suite_core_avro_decode_flat(void) {
  CU_pSuite s = CU_add_suite("core_avro_decode_flat", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "which plans get a flat program", test_flat_program);
  CU_add_test(s, "flat equals generic on every truncation and substitution",
              test_flat_equals_generic);
  CU_add_test(s, "resolved plan in reader order", test_flat_resolved_order);
  CU_add_test(s, "overlong and non-canonical varints", test_odd_varints);
  CU_add_test(s, "a batch decoded in runs, metadata carried", test_decode_records_runs);
  CU_add_test(s, "strings outlive the input bytes", test_strings_outlive_input);
  return CU_get_error();
}
