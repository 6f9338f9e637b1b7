/* SPDX-License-Identifier: Apache-2.0 */
/* Canonical key encoding of strings: exact bytes with NULs escaped, round
 * trip, and byte order equal to string order (prefixes first). */
#include <CUnit/CUnit.h>
#include <string.h>

#include "base/buf.h"
#include "sluice/record.h"
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
  CU_ASSERT(memcmp(b.data + 1, "a\0\xff" "b\0\xff" "\0\1", 8) == 0);
  encode("", 0, &b);
  CU_ASSERT_EQUAL(b.len, 3);
  sl_buf_free(&b);
  sl_buf_free(&plain);
}

static void test_round_trip_and_order(void) {
  static const struct {
    const char *s;
    size_t n;
  } in[] = {{"", 0}, {"\0", 1}, {"\0\0", 2}, {"a", 1}, {"a\0", 2}, {"a\0a", 3},
            {"ab", 2}, {"m\0" "1x", 4}, {"m0001", 5}, {"m0002", 5}};
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

int suite_core_key_encode(void) {
  CU_pSuite s = CU_add_suite("core/key_encode", NULL, NULL);
  if (!s || !CU_add_test(s, "exact bytes, NULs escaped", test_exact_bytes) ||
      !CU_add_test(s, "round trip, byte order is string order", test_round_trip_and_order))
    return -1;
  return 0;
}
