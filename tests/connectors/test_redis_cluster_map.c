/* SPDX-License-Identifier: Apache-2.0 */
/* What both Redis Cluster clients share (connectors/redis_cluster_map.c):
 * the slot map parsed from CLUSTER SLOTS replies (well-formed, with an
 * empty host, hostile), MOVED / ASK redirections, and the key that routes a
 * command. Replies are parsed from RESP text by hiredis' own reader, as
 * they arrive from a server. */
#include <CUnit/CUnit.h>
#include <hiredis/hiredis.h>
#include <string.h>

#include "../../connectors/redis_internal.h"

static redisReply *resp(const char *text) {
  redisReader *rd = redisReaderCreate();
  void *r = NULL;
  redisReaderFeed(rd, text, strlen(text));
  if (redisReaderGetReply(rd, &r) != REDIS_OK)
    r = NULL;
  redisReaderFree(rd);
  return r;
}

/* One range of slots lo..hi served by host:port, as CLUSTER SLOTS writes it
 * (primary first, then a replica), into buf. */
#define RANGE(lo, hi, host, port)                                                                  \
  "*4\r\n:" lo "\r\n:" hi "\r\n*3\r\n$" host "\r\n:" port                                          \
  "\r\n$2\r\nid\r\n*3\r\n$9\r\n127.0.0.1\r\n:"                                                     \
  "1\r\n$2\r\nid\r\n"

static void test_map_parse(void) {
  redisReply *r = resp("*3\r\n" RANGE("0", "5460", "9\r\n127.0.0.1", "7000") RANGE(
      "5461", "10922", "9\r\n127.0.0.1", "7001") RANGE("10923", "16383", "0\r\n", "7002"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  sl_cluster_map m;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(sl_cluster_map_parse(r, "10.0.0.9", 7002, &m, &err), SL_OK);
  CU_ASSERT_EQUAL(m.nnodes, 3);
  CU_ASSERT_EQUAL(m.nodes[m.slot[0]].port, 7000);
  CU_ASSERT_EQUAL(m.nodes[m.slot[5460]].port, 7000);
  CU_ASSERT_EQUAL(m.nodes[m.slot[5461]].port, 7001);
  /* An empty host: the address the reply came from. */
  CU_ASSERT_STRING_EQUAL(m.nodes[m.slot[16383]].host, "10.0.0.9");
  CU_ASSERT_EQUAL(m.nodes[m.slot[16383]].port, 7002);
  /* The replica listed after each primary is not a node of the map. */
  CU_ASSERT_EQUAL(sl_cluster_map_node(&m, "127.0.0.1", 9, 1), 3);
  sl_cluster_map_free(&m);
  freeReplyObject(r);
}

static void test_map_gaps_and_hostile(void) {
  sl_cluster_map m;
  sl_error err;
  /* A slot nobody serves (a failed primary, resharding) stays unmapped. */
  redisReply *r = resp("*1\r\n" RANGE("100", "200", "9\r\n127.0.0.1", "7000"));
  CU_ASSERT_EQUAL_FATAL(sl_cluster_map_parse(r, "h", 1, &m, &err), SL_OK);
  CU_ASSERT_EQUAL(m.slot[99], SL_CLUSTER_NO_NODE);
  CU_ASSERT_EQUAL(m.slot[201], SL_CLUSTER_NO_NODE);
  CU_ASSERT_EQUAL(m.slot[150], 0);
  sl_cluster_map_free(&m);
  freeReplyObject(r);
  /* No slot served yet: unavailable (a cluster being created). */
  r = resp("*0\r\n");
  CU_ASSERT_EQUAL(sl_cluster_map_parse(r, "h", 1, &m, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "serves no slots"));
  CU_ASSERT_PTR_NULL(m.nodes);
  freeReplyObject(r);
  /* A range past the last slot, reversed, or an entry of the wrong shape. */
  const char *bad[] = {"*1\r\n" RANGE("0", "16384", "1\r\nh", "1"),
                       "*1\r\n" RANGE("9", "3", "1\r\nh", "1"), "*1\r\n*2\r\n:0\r\n:1\r\n",
                       "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n:5\r\n:6\r\n",
                       "*1\r\n*3\r\n:0\r\n$1\r\n1\r\n*2\r\n$1\r\nh\r\n:6\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = resp(bad[i]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(sl_cluster_map_parse(r, "h", 1, &m, &err), SL_ERR_INTERNAL);
    CU_ASSERT_PTR_NULL(m.nodes);
    freeReplyObject(r);
  }
}

static void test_redirects(void) {
  int ask = -1, slot = -1, port = -1;
  char host[64];
  redisReply *r = resp("-MOVED 3999 127.0.0.1:6381\r\n");
  CU_ASSERT_TRUE(sl_cluster_parse_redirect(r, &ask, &slot, host, sizeof host, &port));
  CU_ASSERT_EQUAL(ask, 0);
  CU_ASSERT_EQUAL(slot, 3999);
  CU_ASSERT_STRING_EQUAL(host, "127.0.0.1");
  CU_ASSERT_EQUAL(port, 6381);
  freeReplyObject(r);
  r = resp("-ASK 16383 ::1:7000\r\n"); /* IPv6: the port after the last ':' */
  CU_ASSERT_TRUE(sl_cluster_parse_redirect(r, &ask, &slot, host, sizeof host, &port));
  CU_ASSERT_EQUAL(ask, 1);
  CU_ASSERT_STRING_EQUAL(host, "::1");
  CU_ASSERT_EQUAL(port, 7000);
  freeReplyObject(r);
  const char *not_one[] = {"-MOVED 16384 h:1\r\n", "-MOVED 1 h:0\r\n", "-MOVED 1 h\r\n",
                           "-ERR MOVED 1 h:1\r\n", "+MOVED 1 h:1\r\n", "-MOVED x h:1\r\n",
                           "-ASK 1 h:99999\r\n",   "$3\r\nASK\r\n"};
  for (size_t i = 0; i < sizeof not_one / sizeof not_one[0]; i++) {
    r = resp(not_one[i]);
    CU_ASSERT_FALSE(sl_cluster_parse_redirect(r, &ask, &slot, host, sizeof host, &port));
    freeReplyObject(r);
  }
  CU_ASSERT_FALSE(sl_cluster_parse_redirect(NULL, &ask, &slot, host, sizeof host, &port));
  /* A host longer than the caller's buffer is refused, not cut. */
  r = resp("-MOVED 1 a-very-long-host-name.example:1\r\n");
  CU_ASSERT_FALSE(sl_cluster_parse_redirect(r, &ask, &slot, host, 8, &port));
  freeReplyObject(r);
}

static void test_command_keys(void) {
  const char *k = NULL;
  size_t kl = 0;
  const char *get[2] = {"get", "sl:cache:c:v:k"};
  size_t gl[2] = {3, 14};
  CU_ASSERT_TRUE(sl_cluster_cmd_key(2, get, gl, &k, &kl));
  CU_ASSERT_EQUAL(kl, 14);
  CU_ASSERT_EQUAL(k, get[1]);
  const char *scan[2] = {"SCAN", "0"}, *ping[1] = {"PING"}, *pub[3] = {"PUBLISH", "ch", "m"};
  size_t sl[2] = {4, 1}, pl[1] = {4}, ul[3] = {7, 2, 1};
  CU_ASSERT_FALSE(sl_cluster_cmd_key(2, scan, sl, &k, &kl));
  CU_ASSERT_FALSE(sl_cluster_cmd_key(1, ping, pl, &k, &kl));
  CU_ASSERT_FALSE(sl_cluster_cmd_key(3, pub, ul, &k, &kl));
  const char *eval[5] = {"EVALSHA", "abc", "1", "sl:{p:t:0}:epoch", "x"};
  size_t el[5] = {7, 3, 1, 16, 1};
  CU_ASSERT_TRUE(sl_cluster_cmd_key(5, eval, el, &k, &kl));
  CU_ASSERT_EQUAL(k, eval[3]);
  eval[2] = "0"; /* no keys: any node */
  CU_ASSERT_FALSE(sl_cluster_cmd_key(5, eval, el, &k, &kl));
}

int suite_connectors_redis_cluster_map(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_cluster_map", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "CLUSTER SLOTS into a map", test_map_parse);
  CU_add_test(s, "gaps and hostile CLUSTER SLOTS replies", test_map_gaps_and_hostile);
  CU_add_test(s, "MOVED and ASK", test_redirects);
  CU_add_test(s, "the key that routes a command", test_command_keys);
  return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
