/* SPDX-License-Identifier: Apache-2.0 */
/* sl_redis_format_argv writes what hiredis's redisFormatCommandArgv writes, byte for
 * byte: empty arguments, binary bytes (CR, LF, NUL), lengths of every digit count. */
#include <CUnit/CUnit.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1dull;
}

static void check_same(int argc, const char **argv, const size_t *len) {
  char *want = NULL;
  int n = redisFormatCommandArgv(&want, argc, argv, len);
  sl_buf got = SL_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(sl_redis_format_argv(&got, argc, argv, len), SL_OK);
  CU_ASSERT_EQUAL(got.len, (size_t)n);
  CU_ASSERT(n >= 0 && got.len == (size_t)n && memcmp(got.data, want, got.len) == 0);
  redisFreeCommand(want);
  sl_buf_free(&got);
}

static void test_fixed_commands(void) {
  const char *a1[] = {"PING"};
  size_t l1[] = {4};
  check_same(1, a1, l1);
  const char *a2[] = {"SET", "k", "", "x\r\n\0y"};
  size_t l2[] = {3, 1, 0, 6};
  check_same(4, a2, l2);
}

static void test_random_commands(void) {
  static char data[200000];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)next();
  const char *argv[64];
  size_t len[64];
  for (int round = 0; round < 2000; round++) {
    int argc = 1 + (int)(next() % 64);
    for (int i = 0; i < argc; i++) {
      /* lengths of 1 to 6 digits */
      size_t max = (size_t)1 << (next() % 18);
      len[i] = next() % max;
      argv[i] = data + next() % (sizeof data - len[i]);
    }
    check_same(argc, argv, len);
  }
}

int suite_connectors_redis_resp(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_resp", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "known commands as hiredis writes them", test_fixed_commands);
  CU_add_test(s, "2000 random commands as hiredis writes them", test_random_commands);
  return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
