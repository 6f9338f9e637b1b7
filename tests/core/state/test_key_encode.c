/* SPDX-License-Identifier: Apache-2.0 */
/* Canonical key encoding of strings: exact bytes with NULs escaped, round
 * trip, and byte order equal to string order (prefixes first); the inline
 * encoder of key_short.h against sl_key_encode on random values. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "base/buf.h"
#include "sluice/record.h"
#include "state/key_short.h"
#include "state/keyed_state.h"

static void encode(const char *s, size_t n, sl_buf *out) {
  sl_buf_reset(out);
  sl_value v = sl_value_string(s, n);
  CU_ASSERT_EQUAL(sl_key_encode(&v, out), SL_OK);
}

static void test_exact_bytes(void) {
  sl_buf b = SL_BUF_INIT, plain = SL_BUF_INIT;
  encode("m1", 2, &plain);
  CU_ASSERT_EQUAL(plain.len, 1 + 2 + 2);
  CU_ASSERT(memcmp(plain.data + 1, "m1\0\1", 4) == 0);
  encode("a\0b\0", 4, &b); /* each NUL becomes 00 ff */
  CU_ASSERT_EQUAL(b.len, 1 + 6 + 2);
  CU_ASSERT_EQUAL(b.data[0], plain.data[0]);
  CU_ASSERT(memcmp(b.data + 1,
                   "a\0\xff"
                   "b\0\xff"
                   "\0\1",
                   8) == 0);
  encode("", 0, &b);
  CU_ASSERT_EQUAL(b.len, 3);
  sl_buf_free(&b);
  sl_buf_free(&plain);
}

static void test_round_trip_and_order(void) {
  static const struct {
    const char *s;
    size_t n;
  } in[] = {{"", 0},
            {"\0", 1},
            {"\0\0", 2},
            {"a", 1},
            {"a\0", 2},
            {"a\0a", 3},
            {"ab", 2},
            {"m\0"
             "1x",
             4},
            {"m0001", 5},
            {"m0002", 5}};
  const size_t count = sizeof in / sizeof in[0];
  sl_buf prev = SL_BUF_INIT, cur = SL_BUF_INIT;
  sl_arena *a = sl_arena_new(1024);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  for (size_t i = 0; i < count; i++) {
    encode(in[i].s, in[i].n, &cur);
    const unsigned char *p = (const unsigned char *)cur.data;
    sl_value back;
    CU_ASSERT_EQUAL(sl_key_decode(&p, p + cur.len, a, &back), SL_OK);
    CU_ASSERT_EQUAL(back.type, SL_TYPE_STRING);
    CU_ASSERT_EQUAL(back.as.str.len, in[i].n);
    CU_ASSERT(memcmp(back.as.str.ptr, in[i].s, in[i].n) == 0);
    CU_ASSERT_PTR_EQUAL(p, (const unsigned char *)cur.data + cur.len);
    if (i > 0) { /* the inputs are in ascending byte order */
      size_t m = prev.len < cur.len ? prev.len : cur.len;
      int c = memcmp(prev.data, cur.data, m);
      CU_ASSERT(c < 0 || (c == 0 && prev.len < cur.len));
    }
    sl_buf_reset(&prev);
    sl_buf_append(&prev, cur.data, cur.len);
  }
  sl_arena_destroy(a);
  sl_buf_free(&prev);
  sl_buf_free(&cur);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

/* A random key value: strings and bytes of 0..80 bytes (some with NULs),
 * integers (extremes included), doubles, bools, nulls, a missing field. */
static const sl_value *random_value(sl_value *v, char *text) {
  size_t n = rnd() % 81;
  for (size_t i = 0; i < n; i++)
    text[i] = (char)(rnd() % 8 == 0 && rnd() % 4 == 0 ? 0 : 'a' + rnd() % 26);
  static const int64_t ints[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX};
  switch (rnd() % 8) {
  case 0:
  case 1:
  case 2: *v = sl_value_string(text, n); break;
  case 3: *v = sl_value_bytes(text, n); break;
  case 4: *v = sl_value_int(rnd() % 2 ? (int64_t)rnd() : ints[rnd() % 6]); break;
  case 5:
    *v = rnd() % 2 ? sl_value_double((double)(int64_t)rnd() / 7.0) : sl_value_bool(rnd() % 2);
    break;
  case 6: *v = sl_value_null(); break;
  default: return NULL;
  }
  return v;
}

static int has_nul(const sl_value *v) { return memchr(v->as.str.ptr, 0, v->as.str.len) != NULL; }

/* sl_key_put_short writes exactly what sl_key_encode writes, or refuses:
 * only long strings, strings with a NUL, doubles and bools. */
static void test_short_matches_general(void) {
  sl_buf b = SL_BUF_INIT;
  unsigned char out[SL_KEY_SHORT_ROOM + 16];
  char text[96];
  int written = 0, refused = 0;
  for (int round = 0; round < 20000; round++) {
    sl_value val;
    const sl_value *v = random_value(&val, text);
    memset(out, 0xa5, sizeof out);
    size_t n = sl_key_put_short(v, out);
    sl_buf_reset(&b);
    CU_ASSERT_EQUAL_FATAL(sl_key_encode(v, &b), SL_OK);
    int str = v && (v->type == SL_TYPE_STRING || v->type == SL_TYPE_BYTES);
    int must_refuse = v && (v->type == SL_TYPE_DOUBLE || v->type == SL_TYPE_BOOL ||
                            (str && (v->as.str.len > SL_KEY_SHORT_MAX || has_nul(v))));
    CU_ASSERT_EQUAL_FATAL(n == 0, must_refuse);
    for (size_t i = SL_KEY_SHORT_ROOM; i < sizeof out; i++) /* nothing past its room */
      CU_ASSERT_EQUAL_FATAL(out[i], 0xa5);
    if (n) {
      CU_ASSERT_EQUAL_FATAL(n, b.len);
      CU_ASSERT_FATAL(memcmp(out, b.data, n) == 0);
      written++;
    } else {
      refused++;
    }
  }
  CU_ASSERT(written > 10000 && refused > 1000);
  sl_buf_free(&b);
}

/* sl_key_same is memcmp() == 0 at every length, whichever byte differs. */
static void test_same_is_memcmp(void) {
  unsigned char a[80], b[80];
  for (size_t n = 0; n <= sizeof a; n++)
    for (int round = 0; round < 200; round++) {
      for (size_t i = 0; i < n; i++)
        a[i] = b[i] = (unsigned char)rnd();
      if (n && round % 2)
        b[rnd() % n] ^= (unsigned char)(1u << rnd() % 8);
      CU_ASSERT_EQUAL_FATAL(sl_key_same(a, b, n), memcmp(a, b, n) == 0);
    }
}

int suite_core_key_encode(void) {
  CU_pSuite s = CU_add_suite("core/key_encode", NULL, NULL);
  if (!s || !CU_add_test(s, "exact bytes, NULs escaped", test_exact_bytes) ||
      !CU_add_test(s, "round trip, byte order is string order", test_round_trip_and_order) ||
      !CU_add_test(s, "inline short keys are sl_key_encode's bytes", test_short_matches_general) ||
      !CU_add_test(s, "inline key compare is memcmp", test_same_is_memcmp))
    return -1;
  return 0;
}
