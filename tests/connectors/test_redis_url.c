/* SPDX-License-Identifier: Apache-2.0 */
/* SLUICE_REDIS_URL forms beyond the plain server (connectors/redis_url.c):
 * redis+sentinel:// with its sentinels and primary name, the WAIT
 * parameters, and hostile input (too many sentinels, unknown parameters,
 * passwords that must not show up in messages). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "../../connectors/redis.h"

static void test_sentinel_forms(void) {
  sl_redis_url u;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(
      sl_redis_url_parse("redis+sentinel://s1:26380,s2,[::1]:7/mymaster", &u, &err), SL_OK);
  CU_ASSERT_EQUAL(u.nsentinels, 3);
  CU_ASSERT_STRING_EQUAL(u.sentinels[0].host, "s1");
  CU_ASSERT_EQUAL(u.sentinels[0].port, 26380);
  CU_ASSERT_STRING_EQUAL(u.sentinels[1].host, "s2");
  CU_ASSERT_EQUAL(u.sentinels[1].port, 26379); /* the sentinel default */
  CU_ASSERT_STRING_EQUAL(u.sentinels[2].host, "::1");
  CU_ASSERT_EQUAL(u.sentinels[2].port, 7);
  CU_ASSERT_STRING_EQUAL(u.primary, "mymaster");
  CU_ASSERT_EQUAL(u.db, 0);
  CU_ASSERT_EQUAL(u.wait_replicas, 0);
  CU_ASSERT_EQUAL(u.wait_timeout_ms, 1000);
  CU_ASSERT_STRING_EQUAL(u.host, ""); /* found at connect time */

  CU_ASSERT_EQUAL_FATAL(
      sl_redis_url_parse("redis+sentinel://u:p%40w@h:1/pm/3?wait_replicas=1&wait_timeout_ms=250"
                         "&sentinel_password=s%26p",
                         &u, &err),
      SL_OK);
  CU_ASSERT_EQUAL(u.nsentinels, 1);
  CU_ASSERT_STRING_EQUAL(u.user, "u");
  CU_ASSERT_STRING_EQUAL(u.password, "p@w");
  CU_ASSERT_STRING_EQUAL(u.primary, "pm");
  CU_ASSERT_EQUAL(u.db, 3);
  CU_ASSERT_EQUAL(u.wait_replicas, 1);
  CU_ASSERT_EQUAL(u.wait_timeout_ms, 250);
  CU_ASSERT_STRING_EQUAL(u.sentinel_password, "s&p");

  /* WAIT works with a plain replicated server too. */
  CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse("redis://h:6380/2?wait_replicas=2", &u, &err), SL_OK);
  CU_ASSERT_EQUAL(u.nsentinels, 0);
  CU_ASSERT_STRING_EQUAL(u.host, "h");
  CU_ASSERT_EQUAL(u.port, 6380);
  CU_ASSERT_EQUAL(u.db, 2);
  CU_ASSERT_EQUAL(u.wait_replicas, 2);
}

static void test_cluster_seeds(void) {
  sl_redis_url u;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(
      sl_redis_url_parse("redis://u:pw@n1:7000,n2,[::1]:7002?wait_replicas=1", &u, &err), SL_OK);
  CU_ASSERT_EQUAL(u.nseeds, 3);
  CU_ASSERT_EQUAL(u.nsentinels, 0);
  CU_ASSERT_STRING_EQUAL(u.seeds[0].host, "n1");
  CU_ASSERT_EQUAL(u.seeds[0].port, 7000);
  CU_ASSERT_STRING_EQUAL(u.seeds[1].host, "n2");
  CU_ASSERT_EQUAL(u.seeds[1].port, 6379); /* the Redis default */
  CU_ASSERT_STRING_EQUAL(u.seeds[2].host, "::1");
  CU_ASSERT_EQUAL(u.seeds[2].port, 7002);
  CU_ASSERT_STRING_EQUAL(u.host, "n1"); /* the first seed, for messages */
  CU_ASSERT_STRING_EQUAL(u.password, "pw");
  CU_ASSERT_EQUAL(u.wait_replicas, 1);
  /* One host: a seed list of none (cluster or not is found on connect). */
  CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse("redis://n1:7000", &u, &err), SL_OK);
  CU_ASSERT_EQUAL(u.nseeds, 0);
  /* A cluster has database 0 only; empty seeds are errors. */
  CU_ASSERT_EQUAL(sl_redis_url_parse("redis://n1,n2/3", &u, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "database 0"));
  CU_ASSERT_EQUAL(sl_redis_url_parse("redis://n1,,n2", &u, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "missing cluster node host"));
  CU_ASSERT_EQUAL(sl_redis_url_parse("redis://n1,n2:0", &u, &err), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(sl_redis_url_parse("redis://n1,n2,n3,n4,n5,n6,n7,n8,n9", &u, &err),
                  SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than 8 cluster nodes"));
}

static void test_bad_urls(void) {
  static const struct {
    const char *url, *says;
  } cases[] = {
      {"redis+sentinel://s1:26379", "primary's name"},
      {"redis+sentinel://s1:26379/", "primary's name"},
      {"redis+sentinel:///mymaster", "missing sentinel host"},
      {"redis+sentinel://s1,,s2/m", "missing sentinel host"},
      {"redis+sentinel://s1,/m", "missing sentinel host"},
      {"redis+sentinel://s1:0/m", "bad port"},
      {"redis+sentinel://s1:x/m", "bad port"},
      {"redis+sentinel://a,b,c,d,e,f,g,h,i/m", "more than 8 sentinels"},
      {"redis+sentinel://s/m/x", "database number"},
      {"redis+sentinel://s/m?wait_replicas=x", "wait_replicas"},
      {"redis+sentinel://s/m?wait_replicas=101", "wait_replicas"},
      {"redis+sentinel://s/m?wait_timeout_ms=0", "wait_timeout_ms"},
      {"redis+sentinel://s/m?sentinel_password=", "sentinel_password"},
      {"redis+sentinel://s/m?color=red", "unknown parameter 'color'"},
      {"redis+sentinel://s/m?wait_replicas", "without '=value'"},
      {"redis://h?sentinel_password=x", "needs a redis+sentinel://"},
      {"redis://h?wait_replicas=1#frag", "'#...'"},
      {"redis+cluster://h", "must start with"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_redis_url u;
    sl_error err;
    sl_error_clear(&err);
    int rc = sl_redis_url_parse(cases[i].url, &u, &err);
    CU_ASSERT_EQUAL(rc, SL_ERR_INVALID);
    if (!strstr(err.message, cases[i].says))
      fprintf(stderr, "%s: '%s' does not say '%s'\n", cases[i].url, err.message, cases[i].says);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].says));
  }
}

/* Neither the data nodes' password nor the sentinels' may leak into what
 * the handle prints (logs, /readyz, errors). */
static void test_describe_hides_passwords(void) {
  sl_error err;
  sl_redis *r = sl_redis_new(
      "redis+sentinel://:t0pSecret@127.0.0.1:1,127.0.0.1:2/mymaster/4?sentinel_password=sEntPw",
      NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  const char *d = sl_redis_describe(r);
  CU_ASSERT_STRING_EQUAL(d, "redis+sentinel://:***@127.0.0.1:1,127.0.0.1:2/mymaster/4");
  sl_redis_free(r);
  sl_error_clear(&err);
  CU_ASSERT_PTR_NULL(
      sl_redis_new("redis+sentinel://:t0pSecret@h/m?sentinel_password=sEntPw&x=1", NULL, &err));
  CU_ASSERT_PTR_NULL(strstr(err.message, "t0pSecret"));
  CU_ASSERT_PTR_NULL(strstr(err.message, "sEntPw"));
}

int suite_connectors_redis_url(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_url", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "redis+sentinel:// and WAIT parameters", test_sentinel_forms);
  CU_add_test(s, "bad URLs say what is wrong", test_bad_urls);
  CU_add_test(s, "redis:// with several nodes: cluster seeds", test_cluster_seeds);
  CU_add_test(s, "descriptions hide passwords", test_describe_hides_passwords);
  return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
