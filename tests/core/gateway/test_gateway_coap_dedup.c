/* SPDX-License-Identifier: Apache-2.0 */
/* The answers of finished CoAP exchanges (core/gateway/gateway_coap_dedup.c): found
 * by peer and message id only, forgotten after their lifetime, the oldest
 * dropped first when full, and chains kept intact across drops. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway_coap.h"

static const sl_gw_coap_answer OK3 = {0x44, 0, 3};

static void test_find_by_peer_and_mid(void) {
  sl_gw_coap_dedup *d = sl_gw_coap_dedup_new(8, 1000);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  const uint8_t a[7] = {0, 1, 2, 127, 0, 0, 1}, b[7] = {0, 1, 3, 127, 0, 0, 1};
  CU_ASSERT_PTR_NULL(sl_gw_coap_dedup_find(d, a, 7, 42, 0));
  sl_gw_coap_dedup_put(d, a, 7, 42, &OK3, 0);
  const sl_gw_coap_answer *got = sl_gw_coap_dedup_find(d, a, 7, 42, 10);
  CU_ASSERT_PTR_NOT_NULL_FATAL(got);
  CU_ASSERT_EQUAL(got->code, 0x44);
  CU_ASSERT_EQUAL(got->records, 3);
  CU_ASSERT_PTR_NULL(sl_gw_coap_dedup_find(d, a, 7, 43, 10)); /* another message id */
  CU_ASSERT_PTR_NULL(sl_gw_coap_dedup_find(d, b, 7, 42, 10)); /* another peer port */
  CU_ASSERT_PTR_NULL(sl_gw_coap_dedup_find(d, a, 6, 42, 10)); /* another address length */
  sl_gw_coap_dedup_free(d);
}

static void test_expiry(void) {
  sl_gw_coap_dedup *d = sl_gw_coap_dedup_new(8, 1000);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  const uint8_t a[3] = {1, 2, 3};
  sl_gw_coap_dedup_put(d, a, 3, 1, &OK3, 0);
  sl_gw_coap_dedup_put(d, a, 3, 2, &OK3, 500);
  CU_ASSERT_PTR_NOT_NULL(sl_gw_coap_dedup_find(d, a, 3, 1, 999));
  CU_ASSERT_PTR_NULL(sl_gw_coap_dedup_find(d, a, 3, 1, 1000)); /* its lifetime is over */
  CU_ASSERT_PTR_NOT_NULL(sl_gw_coap_dedup_find(d, a, 3, 2, 1000));
  CU_ASSERT_EQUAL(sl_gw_coap_dedup_count(d), 1);
  CU_ASSERT_PTR_NULL(sl_gw_coap_dedup_find(d, a, 3, 2, 1500));
  CU_ASSERT_EQUAL(sl_gw_coap_dedup_count(d), 0);
  sl_gw_coap_dedup_free(d);
}

/* Full: each new entry drops the oldest, and every other one stays
 * findable although drops unlink entries from the middle of chains. */
static void test_full_drops_oldest(void) {
  enum { CAP = 64, N = 1000 };
  sl_gw_coap_dedup *d = sl_gw_coap_dedup_new(CAP, 1000000);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  const uint8_t a[7] = {0, 0, 1, 10, 0, 0, 1};
  int missing = 0, kept = 0;
  for (int i = 0; i < N; i++) {
    sl_gw_coap_answer ans = {0x44, 0, (uint32_t)i};
    sl_gw_coap_dedup_put(d, a, 7, (uint16_t)i, &ans, i);
    for (int j = i - CAP + 1; j <= i; j++) {
      const sl_gw_coap_answer *g = j >= 0 ? sl_gw_coap_dedup_find(d, a, 7, (uint16_t)j, i) : NULL;
      if (j >= 0 && (!g || g->records != (uint32_t)j))
        missing++;
    }
    if (i >= CAP)
      kept += sl_gw_coap_dedup_find(d, a, 7, (uint16_t)(i - CAP), i) != NULL;
  }
  CU_ASSERT_EQUAL(missing, 0);
  CU_ASSERT_EQUAL(kept, 0);
  CU_ASSERT_EQUAL(sl_gw_coap_dedup_count(d), CAP);
  sl_gw_coap_dedup_free(d);
}

static void test_address_too_long(void) {
  sl_gw_coap_dedup *d = sl_gw_coap_dedup_new(4, 1000);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  uint8_t big[SL_GW_COAP_ADDR_MAX + 1];
  memset(big, 7, sizeof big);
  sl_gw_coap_dedup_put(d, big, sizeof big, 1, &OK3, 0);
  CU_ASSERT_EQUAL(sl_gw_coap_dedup_count(d), 0);
  CU_ASSERT_PTR_NULL(sl_gw_coap_dedup_find(d, big, sizeof big, 1, 0));
  sl_gw_coap_dedup_free(d);
}

int suite_core_gateway_coap_dedup(void) {
  CU_pSuite s = CU_add_suite("core_gateway_coap_dedup", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "found by peer and message id", test_find_by_peer_and_mid);
  CU_add_test(s, "forgotten after the exchange lifetime", test_expiry);
  CU_add_test(s, "full: the oldest goes first", test_full_drops_oldest);
  CU_add_test(s, "an address too long is not kept", test_address_too_long);
  return 0;
}
