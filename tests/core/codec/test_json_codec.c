/* SPDX-License-Identifier: Apache-2.0 */
/* JSON codec: valid and malformed documents, number edges, round trips, fuzzing. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/name_internal.h"
#include "base/record_internal.h"
#include "codec/json_codec.h"

/* Decode `in`, encode the record, compare with `want` (NULL: same as `in`). */
static void check_reencode(const char *in, const char *want) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL;
  sl_error err = {0};
  sl_buf b = SL_BUF_INIT;
  int rc = sl_json_decode(in, strlen(in), a, &r, &err);
  CU_ASSERT_EQUAL(rc, SL_OK);
  if (rc != SL_OK) {
    fprintf(stderr, "\n  decode failed for %s: %s\n", in, err.message);
  } else {
    CU_ASSERT_EQUAL(sl_json_encode(r, &b, &err), SL_OK);
    CU_ASSERT_STRING_EQUAL(b.data, want ? want : in);
    if (strcmp(b.data, want ? want : in) != 0)
      fprintf(stderr, "\n  %s -> %s\n", in, b.data);
  }
  sl_buf_free(&b);
  sl_arena_destroy(a);
}

static void test_valid_documents(void) {
  static const char *const table[][2] = {
      {"{}", NULL},
      {" \t\r\n{ } \n", "{}"},
      {"{\"a\":1}", NULL},
      {"{\"a\":-0}", "{\"a\":0}"},
      {"{\"a\":1.5,\"b\":-2.25e2,\"c\":1E3}", "{\"a\":1.5,\"b\":-225.0,\"c\":1000.0}"},
      {"{\"a\":0.1}", NULL},
      {"{\"a\":1e-400}", "{\"a\":0.0}"},
      {"{\"a\":true,\"b\":false,\"c\":null}", NULL},
      {"{\"s\":\"h\\u00e9\\n\\t\\\"\\\\\\/\"}", "{\"s\":\"h\xc3\xa9\\n\\t\\\"\\\\/\"}"},
      {"{\"s\":\"\\ud83d\\ude00\"}", "{\"s\":\"\xf0\x9f\x98\x80\"}"},
      {"{\"s\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}", NULL},
      {"{\"s\":\"\\u0001\\b\\f\"}", "{\"s\":\"\\u0001\\u0008\\u000c\"}"},
      {"{\"a\":[1,[2,[]],{\"b\":{}}],\"c\":[]}", NULL},
      {"{\"a\":{\"b\":{\"c\":\"d\"}}}", NULL},
      {"{\"a\":1,\"a\":2}", "{\"a\":2}"},
      {"{\"k\\u0065y\":1}", "{\"key\":1}"},
      {"{\"\":\"\"}", NULL},
      {"{\"big\":123456789012345678901234567890}", "{\"big\":1.2345678901234568e+29}"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    check_reencode(table[i][0], table[i][1]);
}

static void test_values_and_names(void) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r;
  sl_error err;
  const char *doc = "{\"i\":42,\"d\":2.5,\"s\":\"x\",\"o\":{\"n\":null},\"arr\":[1,\"two\",3.0]}";
  CU_ASSERT_EQUAL_FATAL(sl_json_decode(doc, strlen(doc), a, &r, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_record_count(r), 5);
  CU_ASSERT_PTR_EQUAL(sl_record_name_at(r, 0), sl_name_cstr("i")); /* interned */
  const sl_value *v = sl_record_get_cstr(r, "i");
  CU_ASSERT(v && v->type == SL_TYPE_INT && v->as.i == 42);
  v = sl_record_get_cstr(r, "d");
  CU_ASSERT(v && v->type == SL_TYPE_DOUBLE && v->as.d == 2.5);
  v = sl_record_get_cstr(r, "s");
  CU_ASSERT(v && v->type == SL_TYPE_STRING && v->as.str.len == 1 && v->as.str.ptr[1] == '\0');
  v = sl_record_get_cstr(r, "o");
  CU_ASSERT_FATAL(v && v->type == SL_TYPE_RECORD);
  CU_ASSERT(sl_record_get_cstr(v->as.rec, "n")->type == SL_TYPE_NULL);
  v = sl_record_get_cstr(r, "arr");
  CU_ASSERT_FATAL(v && v->type == SL_TYPE_ARRAY && sl_array_len(v->as.arr) == 3);
  CU_ASSERT_EQUAL(sl_array_at(v->as.arr, 0)->type, SL_TYPE_INT);
  CU_ASSERT_EQUAL(sl_array_at(v->as.arr, 1)->type, SL_TYPE_STRING);
  CU_ASSERT_EQUAL(sl_array_at(v->as.arr, 2)->type, SL_TYPE_DOUBLE);
  sl_arena_destroy(a);
}

static void test_int64_edges(void) {
  static const struct {
    const char *doc;
    sl_type type;
    int64_t i;
    double d;
  } table[] = {
      {"{\"v\":9223372036854775807}", SL_TYPE_INT, INT64_MAX, 0},
      {"{\"v\":-9223372036854775808}", SL_TYPE_INT, INT64_MIN, 0},
      {"{\"v\":9223372036854775808}", SL_TYPE_DOUBLE, 0, 9223372036854775808.0},
      {"{\"v\":-9223372036854775809}", SL_TYPE_DOUBLE, 0, -9223372036854775809.0},
      {"{\"v\":18446744073709551616}", SL_TYPE_DOUBLE, 0, 18446744073709551616.0},
      {"{\"v\":0}", SL_TYPE_INT, 0, 0},
      {"{\"v\":1.0}", SL_TYPE_DOUBLE, 0, 1.0},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    sl_arena *a = sl_arena_new(0);
    sl_record *r;
    sl_error err;
    CU_ASSERT_EQUAL_FATAL(sl_json_decode(table[i].doc, strlen(table[i].doc), a, &r, &err), SL_OK);
    const sl_value *v = sl_record_get_cstr(r, "v");
    CU_ASSERT_EQUAL(v->type, table[i].type);
    if (table[i].type == SL_TYPE_INT) {
      CU_ASSERT_EQUAL(v->as.i, table[i].i);
    } else {
      CU_ASSERT_DOUBLE_EQUAL(v->as.d, table[i].d, 0);
    }
    sl_arena_destroy(a);
  }
  sl_buf b = SL_BUF_INIT;
  sl_value v = sl_value_int(INT64_MIN);
  CU_ASSERT_EQUAL(sl_json_encode_value(&v, &b, NULL), SL_OK);
  CU_ASSERT_STRING_EQUAL(b.data, "-9223372036854775808");
  /* Every digit count and both signs print as printf does: 10^k - 1, 10^k, 10^k + 1. */
  for (int64_t p10 = 1, k = 0; k < 19; k++, p10 = k < 19 ? p10 * 10 : p10) {
    for (int64_t x = p10 - 1; x <= p10 + 1; x++) {
      for (int sign = 1; sign >= -1; sign -= 2) {
        char want[32];
        snprintf(want, sizeof want, "%" PRId64, sign * x);
        v = sl_value_int(sign * x);
        sl_buf_reset(&b);
        CU_ASSERT_EQUAL(sl_json_encode_value(&v, &b, NULL), SL_OK);
        CU_ASSERT_STRING_EQUAL(b.data, want);
      }
    }
  }
  sl_buf_free(&b);
}

static void test_malformed(void) {
  char deep[1024] = "", deep_ok[1024] = "";
  for (int i = 0; i < 65; i++)
    strcat(deep, "{\"a\":");
  strcat(deep, "1");
  for (int i = 0; i < 65; i++)
    strcat(deep, "}");
  for (int i = 0; i < 63; i++)
    strcat(deep_ok, "{\"a\":");
  strcat(deep_ok, "[1]");
  for (int i = 0; i < 63; i++)
    strcat(deep_ok, "}");
  const char *const table[][2] = {
      {"", "empty input"},
      {"   \n", "empty input"},
      {"[1,2]", "expected a JSON object at byte 0"},
      {"  42", "expected a JSON object at byte 2"},
      {"\"s\"", "expected a JSON object"},
      {"{\"a\":\"abc", "unterminated string starting at byte 5"},
      {"{\"a\":\"\\q\"}", "invalid escape in string at byte 6"},
      {"{\"a\":\"\\u12\"}", "invalid \\u escape"},
      {"{\"a\":\"\xff\"}", "invalid UTF-8 in string at byte 6"},
      {"{\"a\":\"\xc0\xaf\"}", "invalid UTF-8"},     /* overlong '/' */
      {"{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8"}, /* encoded surrogate */
      {"{\"a\":\"\xe2\x82\"}", "invalid UTF-8"},     /* truncated sequence */
      {"{\"a\":\"\\ud800\"}", "lone high surrogate"},
      {"{\"a\":\"\\ud800\\u0041\"}", "lone high surrogate"},
      {"{\"a\":\"\\udc00\"}", "lone low surrogate"},
      {"{\"a\":01}", "leading zeros are not allowed in numbers at byte 5"},
      {"{\"a\":-01}", "leading zeros"},
      {"{\"a\":1,}", "trailing comma in object at byte 7"},
      {"{\"a\":[1,]}", "trailing comma in array"},
      {"{\"a\" 1}", "expected ':' after object key at byte 5"},
      {"{\"a\":1 \"b\":2}", "expected ',' or '}' in object at byte 7"},
      {"{a:1}", "expected a string key at byte 1"},
      {"{\"a\":\"x\ny\"}", "unescaped control character in string at byte 7"},
      {"{\"a\":\"\t\"}", "unescaped control character"},
      {"{\"a\":1e999}", "number out of range"},
      {"{\"a\":-1e400}", "number out of range"},
      {"{\"a\":1.}", "expected a digit after the decimal point"},
      {"{\"a\":1e}", "expected a digit in the exponent"},
      {"{\"a\":.5}", "unexpected character"},
      {"{\"a\":+1}", "unexpected character"},
      {"{\"a\":-}", "invalid number"},
      {"{\"a\":tru}", "invalid literal"},
      {"{\"a\":nul", "invalid literal"},
      {"{\"a\":NaN}", "unexpected character"},
      {"{\"a\":1} x", "unexpected data after the JSON object at byte 8"},
      {"{\"a\":1}{}", "unexpected data after the JSON object"},
      {"{\"a\":1 // c\n}", "expected ',' or '}'"},
      {"{\"a\":", "unexpected end of input"},
      {"{\"a\":1", "unterminated object"},
      {"{\"a\":[1", "unterminated array"},
      {"{", "unterminated object"},
      {deep, "nesting deeper than 64"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    sl_arena *a = sl_arena_new(0);
    sl_record *r = (sl_record *)1;
    sl_error err = {0};
    int rc = sl_json_decode(table[i][0], strlen(table[i][0]), a, &r, &err);
    CU_ASSERT_EQUAL(rc, SL_ERR_PARSE);
    CU_ASSERT_EQUAL(err.code, SL_ERR_PARSE);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, table[i][1]));
    if (rc != SL_ERR_PARSE || !strstr(err.message, table[i][1]))
      fprintf(stderr, "\n  case %zu: rc %d, message '%s', want '%s'\n", i, rc, err.message,
              table[i][1]);
    sl_arena_destroy(a);
  }
  check_reencode(deep_ok, NULL); /* 64 levels are fine */
}

static void test_encode_special(void) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r = sl_record_new(a, 0);
  sl_record_set(r, sl_name_cstr("nan"), sl_value_double(NAN));
  sl_record_set(r, sl_name_cstr("inf"), sl_value_double(-INFINITY));
  sl_record_set(r, sl_name_cstr("whole"), sl_value_double(3.0));
  sl_record_set(r, sl_name_cstr("negz"), sl_value_double(-0.0));
  sl_record_set(r, sl_name_cstr("tenth"), sl_value_double(0.1));
  sl_record_set(r, sl_name_cstr("big"), sl_value_double(1e300));
  sl_record_set(r, sl_name_cstr("b0"), sl_value_bytes("", 0));
  sl_record_set(r, sl_name_cstr("b1"), sl_value_bytes("f", 1));
  sl_record_set(r, sl_name_cstr("b2"), sl_value_bytes("fo", 2));
  sl_record_set(r, sl_name_cstr("b3"), sl_value_bytes("foobar", 6));
  sl_record_set(r, sl_name_cstr("bin"), sl_value_bytes("\xff\x00\xfe", 3));
  sl_record_set(r, sl_name_cstr("bad"),
                sl_value_string("a\xff"
                                "b",
                                3));
  sl_record_set(r, sl_name_cstr("q\"k"), sl_value_string("\x7f", 1));
  sl_buf b = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_json_encode(r, &b, NULL), SL_OK);
  CU_ASSERT_STRING_EQUAL(b.data, "{\"nan\":null,\"inf\":null,\"whole\":3.0,\"negz\":-0.0,"
                                 "\"tenth\":0.1,\"big\":1e+300,\"b0\":\"\",\"b1\":\"Zg==\","
                                 "\"b2\":\"Zm8=\",\"b3\":\"Zm9vYmFy\",\"bin\":\"/wD+\","
                                 "\"bad\":\"a\\ufffdb\",\"q\\\"k\":\"\x7f\"}");
  sl_buf_free(&b);
  sl_arena_destroy(a);
}

/* The encoder copies plain strings in one piece and escapes the rest byte by byte: a
 * special byte after a plain run (in a name and in a value), an embedded NUL, UTF-8, and
 * a buffer that grows in the middle of a record must all come out as escaping each byte
 * would, NUL-terminated. */
static void test_encode_plain_and_escaped_strings(void) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r = sl_record_new(a, 0);
  char long_val[600];
  memset(long_val, 'x', sizeof long_val);
  long_val[590] = '"';
  sl_record_set(r, sl_name_cstr("plain"), sl_value_string("abc", 3));
  sl_record_set(r, sl_name_cstr("name\\tail"), sl_value_string("a\0b", 3));
  sl_record_set(r, sl_name_cstr("caf\xc3\xa9"), sl_value_string("tab\there \xc3\xa9", 11));
  sl_record_set(r, sl_name_cstr("long"), sl_value_string(long_val, sizeof long_val));
  sl_buf b = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_buf_append(&b, "prefix:", 7), SL_OK);
  CU_ASSERT_EQUAL(sl_json_encode(r, &b, NULL), SL_OK);
  char want[800];
  int n = snprintf(want, sizeof want,
                   "prefix:{\"plain\":\"abc\",\"name\\\\tail\":\"a\\u0000b\","
                   "\"caf\xc3\xa9\":\"tab\\there \xc3\xa9\",\"long\":\"%.590s\\\"%.9s\"}",
                   long_val, long_val);
  CU_ASSERT_EQUAL(b.len, (size_t)n);
  CU_ASSERT_EQUAL(strlen(b.data), b.len);
  CU_ASSERT_STRING_EQUAL(b.data, want);
  sl_buf_free(&b);
  sl_arena_destroy(a);
}

static void test_double_round_trip(void) {
  /* Decimal-looking doubles take the encoder's fast path; thirds take the %g path. */
  sl_arena *a = sl_arena_new(0);
  sl_buf b = SL_BUF_INIT;
  int bad = 0;
  for (int i = -200000; i <= 200000; i += 7) {
    double ds[] = {i / 1000.0, i / 3.0, i * 0.01, i * 1e-6, i * 1e9 + 0.5};
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
      sl_value v = sl_value_double(ds[k]);
      sl_buf_reset(&b);
      sl_buf_puts(&b, "{\"v\":");
      sl_json_encode_value(&v, &b, NULL);
      sl_buf_putc(&b, '}');
      sl_record *r;
      if (sl_json_decode(b.data, b.len, a, &r, NULL) != SL_OK ||
          sl_record_get_cstr(r, "v")->type != SL_TYPE_DOUBLE ||
          sl_record_get_cstr(r, "v")->as.d != ds[k]) {
        if (bad++ < 3)
          fprintf(stderr, "\n  %.17g -> %s\n", ds[k], b.data);
      }
      sl_arena_reset(a);
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
  sl_buf_reset(&b);
  sl_value v = sl_value_double(71.25);
  sl_json_encode_value(&v, &b, NULL);
  v = sl_value_double(-0.003);
  sl_json_encode_value(&v, &b, NULL);
  CU_ASSERT_STRING_EQUAL(b.data, "71.25-0.003");
  sl_buf_free(&b);
  sl_arena_destroy(a);
}

/* ---- random round trips ------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { /* xorshift64*: deterministic */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

/* The encoder's %g path, as it was before it derived 15 and 16 digits from one
 * 17-digit conversion: the shortest of %.15g, %.16g, %.17g that strtod reads back. */
static void reference_g(char *out, size_t cap, double d) {
  for (int prec = 15; prec <= 17; prec++) {
    int n = snprintf(out, cap, "%.*g", prec, d);
    if (prec == 17 || strtod(out, NULL) == d) {
      if (!strpbrk(out, ".eEn"))
        memcpy(out + n, ".0", 3);
      return;
    }
  }
}

/* The encoder writes exactly the reference's text (or a shorter decimal its fast
 * path proves exact, which must read back): averages, random bit patterns over
 * every exponent, subnormals, ties at the 16th and 17th digit, carries (9.99..). */
static void test_double_text_matches_printf(void) {
  sl_buf b = SL_BUF_INIT;
  char want[48];
  int bad = 0, compared = 0;
  uint64_t x = 0x2545f4914f6cdd1dull; /* its own xorshift: the other tests keep their inputs */
  for (int i = 0; i < 400000 && bad < 5; i++) {
    double d;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t r = x * 0x2545f4914f6cdd1dull;
    switch (i % 8) {
    case 0: memcpy(&d, &r, sizeof d); break; /* any bit pattern */
    case 1: d = (double)(int64_t)(r % 2000000 - 1000000) / (double)(1 + r % 7 + 2); break;
    case 2: d = (double)(r % 10000) / 100.0 / (double)(1 + (r >> 20) % 9); break;
    case 3: d = ldexp((double)(r >> 11), (int)((r >> 3) % 2100) - 1100); break;
    case 4: d = 0.1 * (double)(r % 1000) + 1e-15 * (double)((r >> 32) % 100); break;
    case 5: d = 1.0 - ldexp(1.0, -(int)(1 + r % 53)); break; /* 0.99999... carries */
    case 6: d = (double)(r % 100000) * 1e-5 + 5e-16; break;
    default: d = ldexp(1.0, (int)(r % 2000) - 1000) * (r & 1 ? -1 : 1); break;
    }
    if (!isfinite(d))
      continue;
    sl_value v = sl_value_double(d);
    sl_buf_reset(&b);
    sl_json_encode_value(&v, &b, NULL);
    sl_buf_putc(&b, '\0');
    reference_g(want, sizeof want, d);
    compared++;
    if (strcmp(b.data, want) == 0)
      continue;
    /* The short-decimal fast path may print fewer digits than %g would: fine if exact. */
    if (strtod(b.data, NULL) == d && strlen(b.data) < strlen(want))
      continue;
    if (bad++ < 5)
      fprintf(stderr, "\n  %a: got %s, printf %s\n", d, b.data, want);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(compared > 300000);
  sl_buf_free(&b);
}

static sl_value random_value(sl_arena *a, int depth);

static sl_record *random_record(sl_arena *a, int depth) {
  sl_record *r = sl_record_new(a, 0);
  int n = (int)(rnd() % 6);
  for (int i = 0; i < n; i++) {
    char name[16];
    snprintf(name, sizeof name, "f%d", (int)(rnd() % 20));
    sl_record_set(r, sl_name_cstr(name), random_value(a, depth + 1));
  }
  return r;
}

static sl_value random_value(sl_arena *a, int depth) {
  int kind = (int)(rnd() % (depth > 3 ? 5 : 7));
  switch (kind) {
  case 0: return sl_value_null();
  case 1: return sl_value_bool((int)(rnd() & 1));
  case 2: return sl_value_int((int64_t)rnd() >> (rnd() % 64));
  case 3: {
    uint64_t bits = rnd();
    double d;
    memcpy(&d, &bits, sizeof d);
    if (!isfinite(d))
      d = (double)(int64_t)rnd() / 7.0;
    return sl_value_double(d);
  }
  case 4: {
    size_t n = rnd() % 12;
    char *s = sl_arena_alloc(a, n + 1);
    for (size_t i = 0; i < n; i++) {
      static const char pool[] = "ab\"\\\n\x01/ z\t";
      s[i] = pool[rnd() % (sizeof pool - 1)];
    }
    s[n] = '\0';
    return sl_value_string(s, n);
  }
  case 5: return sl_value_record(random_record(a, depth));
  default: {
    sl_array *arr = sl_array_new(a, 0);
    int n = (int)(rnd() % 4);
    for (int i = 0; i < n; i++)
      sl_array_push(arr, random_value(a, depth + 1));
    return sl_value_array(arr);
  }
  }
}

static int value_equal(const sl_value *x, const sl_value *y);

static int record_equal(const sl_record *x, const sl_record *y) {
  if (sl_record_count(x) != sl_record_count(y))
    return 0;
  for (size_t i = 0; i < sl_record_count(x); i++)
    if (sl_record_name_at(x, i) != sl_record_name_at(y, i) ||
        !value_equal(sl_record_value_at(x, i), sl_record_value_at(y, i)))
      return 0;
  return 1;
}

static int value_equal(const sl_value *x, const sl_value *y) {
  if (x->type != y->type)
    return 0;
  switch (x->type) {
  case SL_TYPE_NULL: return 1;
  case SL_TYPE_BOOL: return x->as.b == y->as.b;
  case SL_TYPE_INT: return x->as.i == y->as.i;
  case SL_TYPE_DOUBLE: return memcmp(&x->as.d, &y->as.d, sizeof(double)) == 0;
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES:
    return x->as.str.len == y->as.str.len &&
           memcmp(x->as.str.ptr, y->as.str.ptr, x->as.str.len) == 0;
  case SL_TYPE_RECORD: return record_equal(x->as.rec, y->as.rec);
  case SL_TYPE_ARRAY:
    if (sl_array_len(x->as.arr) != sl_array_len(y->as.arr))
      return 0;
    for (size_t i = 0; i < sl_array_len(x->as.arr); i++)
      if (!value_equal(sl_array_at(x->as.arr, i), sl_array_at(y->as.arr, i)))
        return 0;
    return 1;
  }
  return 0;
}

static void test_round_trip_random(void) {
  sl_arena *a = sl_arena_new(0);
  sl_buf b1 = SL_BUF_INIT, b2 = SL_BUF_INIT;
  int failures = 0;
  for (int i = 0; i < 2000; i++) {
    sl_arena_reset(a);
    sl_buf_reset(&b1);
    sl_buf_reset(&b2);
    sl_record *r = random_record(a, 0), *back = NULL;
    sl_error err;
    if (sl_json_encode(r, &b1, &err) != SL_OK ||
        sl_json_decode(b1.data, b1.len, a, &back, &err) != SL_OK || !record_equal(r, back) ||
        sl_json_encode(back, &b2, &err) != SL_OK || strcmp(b1.data, b2.data) != 0) {
      if (failures++ < 3)
        fprintf(stderr, "\n  round trip failed: %s (%s)\n", b1.data, back ? b2.data : err.message);
    }
  }
  CU_ASSERT_EQUAL(failures, 0);
  sl_buf_free(&b1);
  sl_buf_free(&b2);
  sl_arena_destroy(a);
}

static void test_fuzz_never_crashes(void) {
  static const char *const seeds[] = {
      "{\"a\":[1,2.5e3,{\"b\":\"\\u00e9\\ud83d\\ude00\"}],\"c\":null,\"d\":true}",
      "{\"machine_id\":\"m1\",\"ts\":1700000000000,\"temperature\":21.5}",
  };
  static const char pool[] = "{}[]\",:0123456789.eE-+tfnul\\ \x80\xc3";
  sl_arena *a = sl_arena_new(0);
  char buf[128];
  int ok = 0, bad = 0;
  for (int i = 0; i < 50000; i++) {
    size_t n;
    if (i % 2) {
      n = rnd() % sizeof buf;
      for (size_t k = 0; k < n; k++)
        buf[k] = i % 4 == 1 ? (char)rnd() : pool[rnd() % (sizeof pool - 1)];
    } else {
      const char *s = seeds[rnd() % 2];
      n = strlen(s);
      memcpy(buf, s, n);
      for (int m = (int)(rnd() % 4); m >= 0; m--)
        buf[rnd() % n] = (char)rnd();
      n = rnd() % (n + 1); /* also truncate */
    }
    sl_record *r;
    sl_error err;
    int rc = sl_json_decode(buf, n, a, &r, &err); /* ASan checks we stay inside buf[0..n) */
    if (rc == SL_OK)
      ok++;
    else if (rc == SL_ERR_PARSE)
      bad++;
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(ok + bad, 50000);
  CU_ASSERT(bad > 0);
  sl_arena_destroy(a);
}

/* ---- numbers against strtod -------------------------------------------- */

/* Decode {"v":num} and compare with what strtoll/strtod make of num: an int when the text is
 * an integer that fits int64, otherwise the double strtod gives, bit for bit (so -0.0 and
 * the last bit of rounding count); out of range -> the parse error. Returns 0 on a match. */
static int number_mismatch(sl_arena *a, const char *num) {
  char doc[128];
  int n = snprintf(doc, sizeof doc, "{\"v\":%s}", num);
  sl_record *r = NULL;
  sl_error err = {0};
  int rc = sl_json_decode(doc, (size_t)n, a, &r, &err);
  const sl_value *v = rc == SL_OK ? sl_record_get_cstr(r, "v") : NULL;
  int bad;
  errno = 0;
  if (!strpbrk(num, ".eE") && (strtoll(num, NULL, 10), errno == 0)) {
    bad = !v || v->type != SL_TYPE_INT || v->as.i != strtoll(num, NULL, 10);
  } else {
    errno = 0;
    double want = strtod(num, NULL);
    if (errno == ERANGE && isinf(want))
      bad = rc != SL_ERR_PARSE || !strstr(err.message, "out of range");
    else
      bad = !v || v->type != SL_TYPE_DOUBLE || memcmp(&v->as.d, &want, sizeof want) != 0;
  }
  sl_arena_reset(a);
  return bad;
}

static void report_mismatch(int *bad, const char *num) {
  if ((*bad)++ < 5)
    fprintf(stderr, "\n  number %s decodes differently from strtod/strtoll\n", num);
}

static void test_numbers_match_strtod(void) {
  static const char *const table[] = {
      /* integers, int64 edges, overflow to double */
      "0", "-0", "1", "-1", "42", "1700000000000", "9007199254740992", "9007199254740993",
      "-9007199254740993", "999999999999999999", "1000000000000000000", "9223372036854775807",
      "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
      "9999999999999999999", "10000000000000000000", "18446744073709551615",
      "18446744073709551616", "123456789012345678901234567890",
      /* zeros and signs */
      "0.0", "-0.0", "0e0", "-0e0", "0E+5", "-0e-5", "0.000000", "-0.0000000000000000000000001",
      "0e999999999", "-0e-999999999",
      /* ordinary decimals (the bench's readings) */
      "21.5", "72.35", "0.123", "-3.25", "0.1", "0.2", "0.3", "1.5", "-225.0", "1E3", "2.5e-3",
      /* the fast path's edges: 2^53 mantissas, 10^22 and just past it */
      "9007199254740992.0", "9007199254740993.0", "9007199254740991e22", "9007199254740992e-22",
      "9007199254740993e-22", "1e22", "1e23", "1e-22", "1e-23", "4.9e22", "8.98846567431158e307",
      "123456789e-22", "123456789e22", "1234567890123456789e-5", "12345678901234567890e-5",
      "0.1234567890123456789", "0.12345678901234567890", "1.00000000000000000000000001",
      "0.30000000000000004", "0.3000000000000000444", "2.2250738585072011e-308",
      "2.2250738585072014e-308", "4.9406564584124654e-324", "5e-324", "2e-324", "3e-324",
      "1e-400", "-1e-400", "1.7976931348623157e308", "1.7976931348623158e308",
      "1.7976931348623159e308", "1e308", "1e309", "-1e309", "1e999", "1e99999999999",
      /* leading zeros of the fraction, long exponents */
      "0.000000000000000000000000000001", "0.0000000000000000000000001e22", "1e0000000000022",
      "1e-0000000000022", "100000000000000000000000e-2", "7.0e+0", "7.0E-0",
      /* halfway cases strtod must round to even */
      "9007199254740993", "9007199254740993.0", "9007199254740995.0", "4503599627370497.5",
      "1.00000000000000011102230246251565404236316680908203125",
      "1.00000000000000011102230246251565404236316680908203124",
  };
  sl_arena *a = sl_arena_new(0);
  int bad = 0;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (number_mismatch(a, table[i]))
      report_mismatch(&bad, table[i]);
  CU_ASSERT_EQUAL(bad, 0);
  sl_arena_destroy(a);
}

static void random_digits(char *o, size_t *n, int count, int first_nonzero) {
  int run = (int)(rnd() % 4); /* 0: random, 1: zeros, 2: nines, 3: random */
  for (int k = 0; k < count; k++) {
    int d = run == 1 ? 0 : run == 2 ? 9 : (int)(rnd() % 10);
    if (k == 0 && first_nonzero && d == 0)
      d = 1 + (int)(rnd() % 9);
    o[(*n)++] = (char)('0' + d);
  }
}

/* One random number in JSON's grammar: sign, integer part, fraction, exponent, with digit
 * counts around the fast path's limits (15-20 significant digits, exponents near 22). */
static void random_number(char *o) {
  size_t n = 0;
  if (rnd() % 2)
    o[n++] = '-';
  if (rnd() % 5 == 0)
    o[n++] = '0';
  else
    random_digits(o, &n, 1 + (int)(rnd() % (rnd() % 4 ? 8 : 22)), 1);
  if (rnd() % 5 < 3) {
    o[n++] = '.';
    random_digits(o, &n, 1 + (int)(rnd() % (rnd() % 4 ? 6 : 24)), 0);
  }
  if (rnd() % 10 < 3) {
    o[n++] = rnd() % 2 ? 'e' : 'E';
    int sign = (int)(rnd() % 3);
    if (sign)
      o[n++] = sign == 1 ? '+' : '-';
    n += (size_t)sprintf(o + n, "%d", (int)(rnd() % (rnd() % 4 ? 30 : 400)));
  }
  o[n] = '\0';
}

static void test_random_numbers_match_strtod(void) {
  sl_arena *a = sl_arena_new(0);
  char num[96];
  int bad = 0;
  for (int i = 0; i < 100000; i++) {
    random_number(num);
    if (number_mismatch(a, num))
      report_mismatch(&bad, num);
  }
  /* Doubles as printers write them: shortest, %.17g, fixed two decimals like the readings. */
  for (int i = 0; i < 30000; i++) {
    uint64_t bits = rnd();
    double d;
    memcpy(&d, &bits, sizeof d);
    if (!isfinite(d))
      continue;
    const char *fmt = i % 3 == 0 ? "%.17g" : i % 3 == 1 ? "%.15g" : "%.2f";
    if (i % 3 == 2)
      d = (double)(int64_t)(rnd() % 2000000 - 1000000) / 1000.0;
    snprintf(num, sizeof num, fmt, d);
    if (number_mismatch(a, num))
      report_mismatch(&bad, num);
  }
  CU_ASSERT_EQUAL(bad, 0);
  sl_arena_destroy(a);
}

/* RFC 8259: number = [ "-" ] int [ frac ] [ exp ], written out here independently of the
 * decoder, to check that exactly these strings are accepted as a whole value. */
static int rfc_number(const char *s) {
  if (*s == '-')
    s++;
  if (*s == '0')
    s++;
  else if (*s >= '1' && *s <= '9')
    while (*s >= '0' && *s <= '9')
      s++;
  else
    return 0;
  if (*s == '.') {
    if (*++s < '0' || *s > '9')
      return 0;
    while (*s >= '0' && *s <= '9')
      s++;
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '+' || *s == '-')
      s++;
    if (*s < '0' || *s > '9')
      return 0;
    while (*s >= '0' && *s <= '9')
      s++;
  }
  return *s == '\0';
}

static void test_number_grammar(void) {
  static const char pool[] = "0123456789.-+eE/:"; /* '/' and ':' border the digits */
  sl_arena *a = sl_arena_new(0);
  char num[16], doc[32];
  int bad = 0, valid = 0;
  for (int i = 0; i < 100000; i++) {
    size_t n = 1 + rnd() % 12;
    for (size_t k = 0; k < n; k++)
      num[k] = pool[rnd() % (rnd() % 3 ? 10 : sizeof pool - 1)];
    if (i % 4 == 0) { /* long digit runs with one bordering byte: the 8-digit path */
      for (size_t k = 0; k < n; k++)
        num[k] = (char)('0' + rnd() % 10);
      num[rnd() % n] = rnd() % 2 ? '/' : ':';
    }
    num[n] = '\0';
    int len = snprintf(doc, sizeof doc, "{\"v\":%s}", num);
    sl_record *r;
    sl_error err = {0};
    int rc = sl_json_decode(doc, (size_t)len, a, &r, &err);
    if (rc != SL_OK && strstr(err.message, "out of range")) { /* 4e331, 4e331e1: too big */
      sl_arena_reset(a);                                      /* before the grammar says */
      continue;
    }
    int ok = rc == SL_OK;
    valid += ok;
    if (ok != rfc_number(num))
      report_mismatch(&bad, num);
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(valid > 10000 && valid < 90000); /* both sides of the grammar were exercised */
  sl_arena_destroy(a);
}

/* ---- strings: the word-at-a-time scan stops at the right byte ----------- */

/* Decode {"a":"<body>"} from an exact-size heap copy (ASan sees any read past the end). */
static int decode_body(sl_arena *a, const char *body, size_t n, sl_record **r, sl_error *err) {
  size_t len = n + 8;
  char *doc = malloc(len);
  memcpy(doc, "{\"a\":\"", 6);
  memcpy(doc + 6, body, n);
  memcpy(doc + 6 + n, "\"}", 2);
  int rc = sl_json_decode(doc, len, a, r, err);
  free(doc);
  return rc;
}

static void test_string_scan_positions(void) {
  sl_arena *a = sl_arena_new(0);
  char body[64], want[64], msg[64];
  int bad = 0;
  for (size_t n = 1; n <= 40; n++) {
    for (size_t k = 0; k < n; k++) {
      for (int kind = 0; kind < 6; kind++) {
        for (size_t i = 0; i < n; i++)
          body[i] = (char)('a' + (i * 7 + n) % 26);
        body[n] = '\0';
        sl_record *r = NULL;
        sl_error err = {0};
        int rc, ok;
        if (kind == 0 || kind == 1) { /* a control byte, then DEL (plain) next to it */
          body[k] = kind ? '\x1f' : '\n';
          if (k + 1 < n)
            body[k + 1] = '\x7f';
          rc = decode_body(a, body, n, &r, &err);
          snprintf(msg, sizeof msg, "unescaped control character in string at byte %zu", 6 + k);
          ok = rc == SL_ERR_PARSE && strcmp(err.message, msg) == 0;
        } else if (kind == 2) { /* a quote ends the string early */
          body[k] = '"';
          rc = decode_body(a, body, n, &r, &err);
          snprintf(msg, sizeof msg, "at byte %zu", 7 + k);
          ok = rc == SL_ERR_PARSE && strstr(err.message, msg) != NULL;
        } else { /* an escape, a 2-byte and a 4-byte UTF-8 sequence, decoded in place */
          static const char *const ins[] = {"\\n", "\xc3\xa9", "\xf0\x9f\x98\x80"};
          static const char *const outs[] = {"\n", "\xc3\xa9", "\xf0\x9f\x98\x80"};
          const char *in = ins[kind - 3], *out = outs[kind - 3];
          size_t m = 0, w = 0;
          char doc_body[64];
          memcpy(doc_body, body, k);
          m = k;
          memcpy(doc_body + m, in, strlen(in));
          m += strlen(in);
          memcpy(doc_body + m, body + k, n - k);
          m += n - k;
          memcpy(want, body, k);
          w = k;
          memcpy(want + w, out, strlen(out));
          w += strlen(out);
          memcpy(want + w, body + k, n - k);
          w += n - k;
          rc = decode_body(a, doc_body, m, &r, &err);
          const sl_value *v = rc == SL_OK ? sl_record_get_cstr(r, "a") : NULL;
          ok = v && v->type == SL_TYPE_STRING && v->as.str.len == w &&
               memcmp(v->as.str.ptr, want, w) == 0;
        }
        if (!ok && bad++ < 5)
          fprintf(stderr, "\n  string of %zu, kind %d at %zu: rc %d '%s'\n", n, kind, k, rc,
                  err.message);
        sl_arena_reset(a);
      }
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
  sl_arena_destroy(a);
}

/* Keys are interned through a per-thread cache (codec_names.h): names that differ in one
 * byte anywhere, of every length around the hash's 4/8/32-byte steps, must each come back
 * as their own interned name. */
static void test_key_names_interned(void) {
  sl_arena *a = sl_arena_new(0);
  char key[48], doc[96];
  int bad = 0;
  for (int round = 0; round < 2; round++) { /* the second round hits the cache */
    for (size_t n = 0; n <= 44; n++) {
      for (size_t k = 0; k <= n; k++) {
        for (size_t i = 0; i < n; i++)
          key[i] = (char)('a' + i % 26);
        if (k < n)
          key[k] = 'Z';
        key[n] = '\0';
        int len = snprintf(doc, sizeof doc, "{\"%s\":1}", key);
        sl_record *r;
        if (sl_json_decode(doc, (size_t)len, a, &r, NULL) != SL_OK ||
            sl_record_name_at(r, 0) != sl_name_intern(key, n)) {
          if (bad++ < 3)
            fprintf(stderr, "\n  key '%s' came back as another name\n", key);
        }
        sl_arena_reset(a);
      }
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
  sl_arena_destroy(a);
}

/* Found by fuzz_json (tests/fuzz/regressions/json/nul-in-key): "\u0000" in a key made a
 * field named "\0", which the encoder (names are C strings) wrote as "", so a record did
 * not survive re-encoding. Such keys are refused; in values the escape stays legal. */
static void test_bug_nul_in_key(void) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL;
  sl_error err;
  const char *in = "{\"ok\":1,\"a\\u0000b\":3}";
  CU_ASSERT_EQUAL(sl_json_decode(in, strlen(in), a, &r, &err), SL_ERR_PARSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "field name contains \\u0000"));
  const char *val = "{\"s\":\"a\\u0000b\"}";
  CU_ASSERT_EQUAL_FATAL(sl_json_decode(val, strlen(val), a, &r, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "s")->as.str.len, 3);
  sl_arena_destroy(a);
}

/* Issue 14 item 5: one 1 MB object of 125,000 distinct 3-character keys took 15.8 s (each
 * key scanned all the fields before it) and interned every key for good. Now the object is
 * refused at max_fields with its reason, having made at most max_fields + 1 names. */
/* The i-th of 50 letters that need no escaping in JSON. */
static char letter(int i) { return (char)(i < 26 ? 'A' + i : 'a' + i - 26); }

static void test_bug_quadratic_distinct_keys(void) {
  enum { KEYS = 125000 };
  sl_buf b = SL_BUF_INIT;
  sl_buf_append(&b, "{", 1);
  for (int i = 0; i < KEYS; i++) {
    char k[16];
    int n = snprintf(k, sizeof k, "%s\"%c%c%c\":1", i ? "," : "", letter(i % 50),
                     letter(i / 50 % 50), letter(i / 2500 % 50));
    sl_buf_append(&b, k, (size_t)n);
  }
  sl_buf_append(&b, "}", 1);
  CU_ASSERT(b.len > 1000000);
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL;
  sl_error err;
  sl_decode_opts opts = {0, NULL};
  size_t names_before = sl_name_data_count();
  CU_ASSERT_EQUAL(sl_json_decode_opts(b.data, b.len, &opts, a, &r, &err), SL_ERR_LIMIT);
  CU_ASSERT_STRING_EQUAL(opts.reason, SL_REASON_TOO_MANY_FIELDS);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "object has more than 1000 fields (max_fields)"));
  CU_ASSERT(sl_name_data_count() - names_before <= SL_DECODE_MAX_FIELDS + 1);
  /* A lower max_fields refuses earlier; a malformed object still says "decode". */
  opts.max_fields = 10;
  CU_ASSERT_EQUAL(sl_json_decode_opts(b.data, b.len, &opts, a, &r, &err), SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than 10 fields"));
  CU_ASSERT_EQUAL(sl_json_decode_opts("{\"a\":}", 6, &opts, a, &r, &err), SL_ERR_PARSE);
  CU_ASSERT_STRING_EQUAL(opts.reason, SL_REASON_DECODE);
  /* Repeated keys cost no field each: 125,000 keys of which 900 distinct, the last wins. */
  sl_buf_reset(&b);
  sl_buf_append(&b, "{", 1);
  for (int i = 0; i < KEYS; i++) {
    char k[32];
    int n = snprintf(k, sizeof k, "%s\"%c%c\":%d", i ? "," : "", letter(i % 30),
                     letter(i / 30 % 30), i);
    sl_buf_append(&b, k, (size_t)n);
  }
  sl_buf_append(&b, "}", 1);
  opts.max_fields = 0;
  CU_ASSERT_EQUAL_FATAL(sl_json_decode_opts(b.data, b.len, &opts, a, &r, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_record_count(r), 900);
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "AA")->as.i, 124200); /* the last i = 0 mod 900 */
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "BA")->as.i, 124201);
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "dd")->as.i, 124199); /* i = 899 mod 900 */
  sl_buf_free(&b);
  sl_arena_destroy(a);
}

/* Issue 14 item 5: every key ever decoded was interned for the life of the process. Names
 * from data now have a budget; known names keep decoding past it. */
static void test_bug_unbounded_key_interning(void) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL;
  sl_error err;
  sl_decode_opts opts = {0, NULL};
  CU_ASSERT_EQUAL_FATAL(sl_json_decode("{\"known_key\":1}", 15, a, &r, &err), SL_OK);
  sl_name_set_data_max(sl_name_data_count() + 100);
  int refused = 0;
  for (int i = 0; i < 1000; i++) {
    char doc[64];
    int n = snprintf(doc, sizeof doc, "{\"fresh_%d\":1}", i);
    int rc = sl_json_decode_opts(doc, (size_t)n, &opts, a, &r, &err);
    if (rc == SL_ERR_LIMIT) {
      refused++;
      CU_ASSERT_STRING_EQUAL(opts.reason, SL_REASON_TOO_MANY_NAMES);
    }
  }
  CU_ASSERT_EQUAL(refused, 900);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "key 'fresh_999' at byte"));
  CU_ASSERT_EQUAL(sl_json_decode_opts("{\"known_key\":2}", 15, &opts, a, &r, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_record_get_cstr(r, "known_key")->as.i, 2);
  sl_name_set_data_max(SL_NAME_DATA_MAX);
  /* The names' memory is bounded too: one key longer than the byte budget is refused. */
  size_t klen = SL_NAME_DATA_BYTES + 1;
  char *doc = malloc(klen + 8);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  doc[0] = '{';
  doc[1] = '"';
  memset(doc + 2, 'k', klen);
  memcpy(doc + 2 + klen, "\":1}", 4);
  size_t before = sl_name_data_count();
  CU_ASSERT_EQUAL(sl_json_decode_opts(doc, klen + 6, &opts, a, &r, &err), SL_ERR_LIMIT);
  CU_ASSERT_STRING_EQUAL(opts.reason, SL_REASON_TOO_MANY_NAMES);
  CU_ASSERT_EQUAL(sl_name_data_count(), before);
  free(doc);
  sl_arena_destroy(a);
}

int suite_core_json_codec(void) {
  CU_pSuite s = CU_add_suite("core_json_codec", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "valid documents re-encode canonically", test_valid_documents);
  CU_add_test(s, "decoded values, types and interned names", test_values_and_names);
  CU_add_test(s, "int64 edges and overflow to double", test_int64_edges);
  CU_add_test(s, "malformed documents give positioned errors", test_malformed);
  CU_add_test(s, "NaN, integral doubles, base64, bad UTF-8 on encode", test_encode_special);
  CU_add_test(s, "plain strings copied whole, others escaped",
              test_encode_plain_and_escaped_strings);
  CU_add_test(s, "doubles round trip exactly", test_double_round_trip);
  CU_add_test(s, "doubles print as the shortest of %.15g/16g/17g", test_double_text_matches_printf);
  CU_add_test(s, "random records round trip", test_round_trip_random);
  CU_add_test(s, "random bytes never crash the decoder", test_fuzz_never_crashes);
  CU_add_test(s, "numbers decode as strtoll/strtod do, bit for bit", test_numbers_match_strtod);
  CU_add_test(s, "100k random numbers decode as strtod does", test_random_numbers_match_strtod);
  CU_add_test(s, "exactly RFC 8259 numbers are accepted", test_number_grammar);
  CU_add_test(s, "strings stop at the exact special byte", test_string_scan_positions);
  CU_add_test(s, "keys differing in one byte intern apart", test_key_names_interned);
  CU_add_test(s, "bug: quadratic decode of many distinct keys", test_bug_quadratic_distinct_keys);
  CU_add_test(s, "bug: unbounded interning of keys", test_bug_unbounded_key_interning);
  CU_add_test(s, "bug: NUL in a key", test_bug_nul_in_key);
  return 0;
}
