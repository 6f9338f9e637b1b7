/* SPDX-License-Identifier: Apache-2.0 */
/* Redis Cluster hash slots (connectors/redis_cluster.c): the CRC16 test
 * vector of the Redis Cluster specification and the hash-tag rules. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../../connectors/redis.h"

static int slot(const char *k) { return sl_redis_key_slot(k, strlen(k)); }

static void test_crc16_vector(void) {
  /* The spec: CRC16("123456789") = 0x31C3 (XMODEM); 0x31C3 % 16384 = 12739. */
  CU_ASSERT_EQUAL(slot("123456789"), 0x31C3 & 16383);
  CU_ASSERT_EQUAL(slot("123456789"), 12739);
  CU_ASSERT_EQUAL(slot(""), 0);
}

static void test_hash_tags(void) {
  /* Only the first {...} counts, and only when not empty. */
  CU_ASSERT_EQUAL(slot("{user1000}.following"), slot("user1000"));
  CU_ASSERT_EQUAL(slot("{user1000}.followers"), slot("user1000"));
  CU_ASSERT_EQUAL(slot("foo{bar}{zap}"), slot("bar"));
  CU_ASSERT_EQUAL(slot("foo{{bar}}zap"), slot("{bar"));
  CU_ASSERT_NOT_EQUAL(slot("foo{}{bar}"), slot("bar")); /* "{}": the whole key */
  CU_ASSERT_NOT_EQUAL(slot("foo{bar"), slot("bar"));    /* no closing brace */
  /* (test_redis_cluster.c compares these with CLUSTER KEYSLOT of a server) */
  /* The key layout: a partition's keys share a slot, whatever follows. */
  CU_ASSERT_EQUAL(slot("sl:{p:t:3}:epoch"), slot("sl:{p:t:3}:state:op1"));
  CU_ASSERT_EQUAL(slot("sl:{p:t:3}:offset"), slot("p:t:3"));
  /* Binary keys: the length counts, not a NUL. */
  CU_ASSERT_NOT_EQUAL(sl_redis_key_slot("a\0b", 3), sl_redis_key_slot("a", 1));
}

int suite_connectors_redis_cluster_slot(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_cluster_slot", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "CRC16 test vector", test_crc16_vector);
  CU_add_test(s, "hash tags", test_hash_tags);
  return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
