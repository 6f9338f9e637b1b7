/* SPDX-License-Identifier: Apache-2.0 */
/* The devices file and API-key authentication (core/gateway/gateway_devices.c). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway.h"
#include "gateway/gateway_coap.h"

/* printf %s KEY | sha256sum */
#define DIGEST_K1                                                                                  \
  "e40efdd4e566dc07a241aeadaf04e32e5f9f0c1a2472da3c7de81a21c4124f6f" /* demo-key-m0001 */
#define DIGEST_K2                                                                                  \
  "b069048cbf6a45630e5d022341ece1ec75e1b103217d508df909a49c9d206c2e" /* demo-key-m0002 */

static sl_gw_devices *parse(const char *text, sl_error *err) {
  sl_error_clear(err);
  return sl_gw_devices_parse(text, strlen(text), "devices.txt", err);
}

static void test_hash_matches_sha256sum(void) {
  char hex[65];
  sl_gw_hash_key("demo-key-m0001", 14, hex);
  CU_ASSERT_STRING_EQUAL(hex, DIGEST_K1);
  sl_gw_hash_key("", 0, hex); /* the well-known digest of nothing */
  CU_ASSERT_STRING_EQUAL(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_parse_and_auth(void) {
  sl_error err;
  sl_gw_devices *d = parse("# plant 1\n"
                           "\n"
                           "m0001 " DIGEST_K1 "\n"
                           "  m0002\t" DIGEST_K2 "  \r\n",
                           &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_EQUAL(sl_gw_devices_count(d), 2);
  const char *dev = sl_gw_devices_auth(d, "demo-key-m0001", 14);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dev);
  CU_ASSERT_STRING_EQUAL(dev, "m0001");
  dev = sl_gw_devices_auth(d, "demo-key-m0002", 14);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dev);
  CU_ASSERT_STRING_EQUAL(dev, "m0002");
  CU_ASSERT_PTR_NULL(sl_gw_devices_auth(d, "demo-key-m0003", 14));
  CU_ASSERT_PTR_NULL(sl_gw_devices_auth(d, "demo-key-m000", 13)); /* a prefix is not the key */
  CU_ASSERT_PTR_NULL(sl_gw_devices_auth(d, "", 0));
  CU_ASSERT_PTR_NULL(sl_gw_devices_auth(d, NULL, 0));
  /* The digest itself is not a key: the file is not a secret. */
  CU_ASSERT_PTR_NULL(sl_gw_devices_auth(d, DIGEST_K1, 64));
  sl_gw_devices_free(d);
  sl_gw_devices_free(NULL);
  /* Upper-case hex is accepted. */
  d = parse("M1 E40EFDD4E566DC07A241AEADAF04E32E5F9F0C1A2472DA3C7DE81A21C4124F6F", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_PTR_NOT_NULL(sl_gw_devices_auth(d, "demo-key-m0001", 14));
  sl_gw_devices_free(d);
  d = parse("", &err); /* empty: nobody gets in, but it is not an error */
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_EQUAL(sl_gw_devices_count(d), 0);
  sl_gw_devices_free(d);
}

static void expect_bad(const char *text, const char *contains) {
  sl_error err;
  sl_gw_devices *d = parse(text, &err);
  CU_ASSERT_PTR_NULL(d);
  sl_gw_devices_free(d);
  if (!strstr(err.message, contains)) {
    fprintf(stderr, "\n'%s' does not contain '%s'\n", err.message, contains);
    CU_FAIL("unexpected error");
  }
}

static void test_bad_lines(void) {
  expect_bad("m1 " DIGEST_K1 "\nm2\n", "devices.txt:2: expected \"DEVICE_ID SHA256_HEX_OF_KEY\"");
  expect_bad("m1 secret-key\n", "devices.txt:1: 'secret-key' is not a SHA-256 digest");
  expect_bad("m1 " DIGEST_K1 "00\n", "is not a SHA-256 digest");
  expect_bad("m1 " DIGEST_K1 " extra\n", "is not a SHA-256 digest");
  expect_bad("m\"1 " DIGEST_K1 "\n", "devices.txt:1: device id must be");
  expect_bad("m1 " DIGEST_K1 "\nm1 " DIGEST_K2 "\n", "devices.txt:2: device 'm1' listed twice");
  expect_bad("m1 " DIGEST_K1 "\nm2 " DIGEST_K1 "\n", "has the same key as 'm1'");
}

/* One rule for device ids, from the devices file or an MQTT topic level. */
static void test_device_id_rule(void) {
  char id[200];
  memset(id, 'x', sizeof id);
  CU_ASSERT_TRUE(sl_gw_device_id_valid("m0001", 5));
  CU_ASSERT_TRUE(sl_gw_device_id_valid(id, 128));
  CU_ASSERT_FALSE(sl_gw_device_id_valid(id, 129));
  CU_ASSERT_FALSE(sl_gw_device_id_valid("", 0));
  CU_ASSERT_FALSE(sl_gw_device_id_valid("a b", 3));
  CU_ASSERT_FALSE(sl_gw_device_id_valid("a\"b", 3));
  CU_ASSERT_FALSE(sl_gw_device_id_valid("a\\b", 3));
  CU_ASSERT_FALSE(sl_gw_device_id_valid("a\x7f", 2));
}

static void test_load(void) {
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_PTR_NULL(sl_gw_devices_load("/nonexistent/devices.txt", &err));
  CU_ASSERT_EQUAL(err.code, SL_ERR_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/devices.txt"));
  sl_gw_devices *d = sl_gw_devices_load(SLUICE_SOURCE_DIR "/pipelines/devices.example.txt", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_EQUAL(sl_gw_devices_count(d), 3);
  const char *dev = sl_gw_devices_auth(d, "demo-key-m0003", 14);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dev);
  CU_ASSERT_STRING_EQUAL(dev, "m0003");
  sl_gw_devices_free(d);
}

/* The CoAP PSK file: the identity finds the device and its key (the key
 * itself: DTLS needs it), weak or malformed lines are refused with
 * file:line, the identity is compared whole. */
static void test_psk_file(void) {
  sl_error err;
  sl_error_clear(&err);
  const char *text = "# coaps keys\n"
                     "m0001 0123456789abcdef0123\n"
                     "\n"
                     "  m0002\tk2-k2-k2-k2-k2-k2-k2  \n";
  sl_gw_psks *k = sl_gw_psks_parse(text, strlen(text), "psk.txt", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(k);
  CU_ASSERT_EQUAL(sl_gw_psks_count(k), 2);
  const uint8_t *key = NULL;
  size_t kl = 0;
  const char *dev = sl_gw_psks_find(k, "m0002", 5, &key, &kl);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dev);
  CU_ASSERT_STRING_EQUAL(dev, "m0002");
  CU_ASSERT_EQUAL(kl, 20);
  CU_ASSERT_EQUAL(memcmp(key, "k2-k2-k2-k2-k2-k2-k2", 20), 0);
  CU_ASSERT_PTR_NULL(sl_gw_psks_find(k, "m000", 4, &key, &kl));   /* no prefix match */
  CU_ASSERT_PTR_NULL(sl_gw_psks_find(k, "m00011", 6, &key, &kl)); /* nor a longer one */
  sl_gw_psks_free(k);

  const struct {
    const char *text, *error;
  } bad[] = {
      {"m1 short\n", "psk.txt:1: expected \"DEVICE_ID KEY\" with a key of 16 to 128"},
      {"m1\n", "psk.txt:1: expected"},
      {"m1 0123456789abcdef extra\n", "psk.txt:1: expected"},
      {"m\"1 0123456789abcdef\n", "psk.txt:1: device id must be"},
      {"m1 0123456789abcdef\nm1 fedcba9876543210\n", "psk.txt:2: device 'm1' listed twice"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sl_error_clear(&err);
    CU_ASSERT_PTR_NULL(sl_gw_psks_parse(bad[i].text, strlen(bad[i].text), "psk.txt", &err));
    if (!strstr(err.message, bad[i].error)) {
      fprintf(stderr, "\n'%s' gave '%s', expected '%s'\n", bad[i].text, err.message, bad[i].error);
      CU_FAIL("unexpected error");
    }
  }
  sl_error_clear(&err);
  CU_ASSERT_PTR_NULL(sl_gw_psks_load("/nonexistent/psk.txt", &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "cannot open the CoAP PSK file /nonexistent/psk.txt"));
}

int suite_core_gateway_devices(void) {
  CU_pSuite s = CU_add_suite("core_gateway_devices", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "hash matches sha256sum", test_hash_matches_sha256sum);
  CU_add_test(s, "parse and authenticate", test_parse_and_auth);
  CU_add_test(s, "bad lines name file and line", test_bad_lines);
  CU_add_test(s, "the device id rule", test_device_id_rule);
  CU_add_test(s, "load from a file", test_load);
  CU_add_test(s, "CoAP PSK file", test_psk_file);
  return 0;
}
