/* SPDX-License-Identifier: Apache-2.0 */
/* POST /ingest/{topic} against a real Kafka protocol (the embedded broker,
 * or SLUICE_TEST_KAFKA_BROKERS): 202 only for what is in Kafka, keyed by the
 * device; 400 stores nothing; 401/404/405; 429 and 503 with Retry-After
 * (503 on delivery failure uses the embedded broker's fault injection). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway_fixture.h"
#include "kafka.h"

#define RD_KAFKAP_PRODUCE 0
#define READING(ts, temp) "{\"ts\":" #ts ",\"temperature\":" #temp ",\"vibration\":0.5}"

static void expect(const gf_reply *r, int status, const char *body_part) {
  CU_ASSERT_EQUAL(r->status, status);
  if (r->status != status || !strstr(r->body, body_part)) {
    fprintf(stderr, "\ngot %d %s, expected %d ...%s...\n", r->status, r->body, status, body_part);
    CU_FAIL("unexpected reply");
  }
}

static void test_accepted_only_what_is_stored(void) {
  gf_gateway g;
  gf_reply r;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, NULL, 1), 0);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, "[" READING(1, 10.5) "," READING(2, 11.5) "]", &r),
                  0);
  expect(&r, 202, "{\"accepted\":2}");
  /* One bad record: the whole request is refused and nothing is stored. */
  CU_ASSERT_EQUAL(
      gf_post(&g, g.topic, GF_KEY1,
              "[" READING(
                  3, 12.5) ",{\"ts\":4},"
                           "{\"machine_id\":\"m0002\",\"ts\":5,\"temperature\":1,\"vibration\":1}]",
              &r),
      0);
  expect(&r, 400, "\"records\":[{\"index\":1,\"error\":\"field 'temperature' is required");
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "{\"index\":2,\"error\":\"field 'machine_id' is 'm0002'"));
  CU_ASSERT_PTR_NULL(strstr(r.body, "\"index\":0"));
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY2, READING(6, 13.5), &r), 0);
  expect(&r, 202, "{\"accepted\":1}");

  gf_message m[8];
  size_t n = gf_consume(g.topic, 3, m, 8);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  int seen[7] = {0};
  for (size_t i = 0; i < n; i++) {
    int ts = 0;
    char dev[16] = "";
    CU_ASSERT_EQUAL(sscanf(strstr(m[i].value, "\"ts\":"), "\"ts\":%d", &ts), 1);
    sscanf(strstr(m[i].value, "\"machine_id\":\""), "\"machine_id\":\"%15[^\"]", dev);
    CU_ASSERT_STRING_EQUAL(m[i].key, ts == 6 ? "m0002" : "m0001"); /* keyed by device */
    CU_ASSERT_STRING_EQUAL(dev, m[i].key);                         /* and the field set */
    if (ts >= 0 && ts < 7)
      seen[ts]++;
  }
  CU_ASSERT(seen[1] == 1 && seen[2] == 1 && seen[6] == 1);
  gf_stop(&g);
}

static void test_refusals(void) {
  gf_gateway g;
  gf_reply r;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, NULL, 1), 0);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, NULL, READING(1, 1), &r), 0);
  expect(&r, 401, "missing API key");
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, "not-a-key", READING(1, 1), &r), 0);
  expect(&r, 401, "{\"error\":\"unknown API key\",\"status\":401}");
  CU_ASSERT_EQUAL(gf_post(&g, "no-such-topic", GF_KEY1, READING(1, 1), &r), 0);
  expect(&r, 404, "no such topic");
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, "not json", &r), 0);
  expect(&r, 400, "the body must be a JSON object or an array of objects");
  char path[160];
  snprintf(path, sizeof path, "/ingest/%s", g.topic);
  CU_ASSERT_EQUAL(gf_get(&g, path, &r), 0);
  expect(&r, 405, "use POST");
  CU_ASSERT_EQUAL(gf_get(&g, "/healthz", &r), 0);
  expect(&r, 200, "ok");
  CU_ASSERT_EQUAL(gf_get(&g, "/readyz", &r), 0);
  expect(&r, 200, "ready");
  CU_ASSERT_EQUAL(gf_get(&g, "/metrics", &r), 0);
  expect(&r, 200, "sluice_gateway_rejected_total{gateway=\"test-gw\",reason=\"unauthorized\"} 2");
  gf_stop(&g);
}

/* More records in one request than may ever be in flight: split it. */
static void test_too_many_records_413(void) {
  gf_gateway g;
  gf_reply r;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, "max_inflight = 2", 1), 0);
  CU_ASSERT_EQUAL(
      gf_post(&g, g.topic, GF_KEY1, "[" READING(1, 1) "," READING(2, 1) "," READING(3, 1) "]", &r),
      0);
  expect(&r, 413, "3 records in one request; the limit is 2");
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, "[" READING(1, 1) "," READING(2, 1) "]", &r), 0);
  expect(&r, 202, "{\"accepted\":2}");
  gf_stop(&g);
}

/* The gauge of records in flight, read from /metrics. */
static int inflight(gf_gateway *g) {
  gf_reply r;
  int n = -1;
  const char *p;
  if (gf_get(g, "/metrics", &r) == 0 &&
      (p = strstr(r.body, "sluice_gateway_inflight_records{gateway=\"test-gw\"} ")))
    sscanf(strchr(p, '}') + 2, "%d", &n);
  return n;
}

/* A slow Kafka (embedded broker with a 2 s round trip) holds one request's
 * records in flight: the next request over max_inflight gets 429 at once,
 * and the first one still gets its 202. */
static void test_overload_429(void) {
  gf_gateway g;
  gf_reply r;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, "max_inflight = 3", 1), 0);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, READING(0, 1), &r), 0); /* connected, warm */
  expect(&r, 202, "{\"accepted\":1}");
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_broker_set_rtt(mc, -1, 2000);
  int slow = gf_post_start(&g, g.topic, GF_KEY1, "[" READING(1, 1) "," READING(2, 1) "]");
  CU_ASSERT_FATAL(slow >= 0);
  int n = 0;
  for (int i = 0; i < 1000 && (n = inflight(&g)) != 2; i++)
    ; /* bounded: the slow request is parsed within a few loop turns */
  CU_ASSERT_EQUAL_FATAL(n, 2);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY2, "[" READING(3, 1) "," READING(4, 1) "]", &r), 0);
  expect(&r, 429, "overloaded");
  CU_ASSERT_STRING_EQUAL(r.retry_after, "1");
  CU_ASSERT_EQUAL(gf_post_finish(slow, &r), 0);
  expect(&r, 202, "{\"accepted\":2}");
  rd_kafka_mock_broker_set_rtt(mc, -1, 0);
  gf_stop(&g);
}

/* The client hangs up while its records wait for Kafka: the request is
 * finished once the reports are in, without a crash, leak or double free
 * (ASan), and the gateway goes on serving. libevent 2.1.12 (Debian 12)
 * disables reading once the body is in, so it notices the hang-up only when
 * the answer is written; a libevent that notices it earlier detaches the
 * request and leaves it to on_client_gone, a path this test cannot reach. */
static void test_client_gone_while_waiting(void) {
  gf_gateway g;
  gf_reply r;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, NULL, 1), 0);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, READING(0, 1), &r), 0); /* connected, warm */
  expect(&r, 202, "{\"accepted\":1}");
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_broker_set_rtt(mc, -1, 1000);
  int fd = gf_post_start(&g, g.topic, GF_KEY1, READING(1, 1));
  CU_ASSERT_FATAL(fd >= 0);
  int n = 0;
  for (int i = 0; i < 1000 && (n = inflight(&g)) != 1; i++)
    ; /* bounded: the request is parsed within a few loop turns */
  CU_ASSERT_EQUAL_FATAL(n, 1);
  close(fd); /* gone before Kafka answers */
  /* Same device, same partition: its report comes after the first one's. */
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, READING(2, 1), &r), 0);
  expect(&r, 202, "{\"accepted\":1}");
  rd_kafka_mock_broker_set_rtt(mc, -1, 0);
  CU_ASSERT_EQUAL(gf_get(&g, "/metrics", &r), 0);
  char want[300];
  snprintf(want, sizeof want,
           "sluice_gateway_records_total{gateway=\"test-gw\",result=\"accepted\",topic=\"%s\"} 3",
           g.topic);
  expect(&r, 200, want); /* the abandoned request was finished too */
  gf_stop(&g);
}

/* max_inflight counts records; memory is bounded by max_pending_bytes: a
 * slow Kafka holds one request (its 64 KiB arena at least), the next one
 * that would push the held bytes past the limit gets 429 at once. */
static void test_pending_bytes_429(void) {
  gf_gateway g;
  gf_reply r;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, "max_body = 100000, max_pending_bytes = 100000", 1), 0);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, READING(0, 1), &r), 0); /* connected, warm */
  expect(&r, 202, "{\"accepted\":1}");
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_broker_set_rtt(mc, -1, 1000);
  int slow = gf_post_start(&g, g.topic, GF_KEY1, READING(1, 1));
  CU_ASSERT_FATAL(slow >= 0);
  int n = 0;
  for (int i = 0; i < 1000 && (n = inflight(&g)) != 1; i++)
    ; /* bounded: the slow request is parsed within a few loop turns */
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY2, READING(2, 1), &r), 0);
  expect(&r, 429, "max_pending_bytes");
  CU_ASSERT_STRING_EQUAL(r.retry_after, "1");
  CU_ASSERT_EQUAL(gf_post_finish(slow, &r), 0);
  expect(&r, 202, "{\"accepted\":1}");
  rd_kafka_mock_broker_set_rtt(mc, -1, 0);
  /* Released with the request: the same one goes through now. */
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY2, READING(2, 1), &r), 0);
  expect(&r, 202, "{\"accepted\":1}");
  gf_stop(&g);
}

/* Kafka refuses the records: never 202, and the client is told to retry. */
static void test_delivery_failure_503(void) {
  gf_gateway g;
  gf_reply r;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, NULL, 1), 0);
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_push_request_errors(mc, RD_KAFKAP_PRODUCE, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, READING(1, 1), &r), 0);
  expect(&r, 503, "Kafka did not acknowledge 1 of 1 records");
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, rd_kafka_err2str(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)));
  CU_ASSERT_STRING_EQUAL(r.retry_after, "5");
  gf_stop(&g);
}

/* A record larger than the producer's message.max.bytes can never be
 * stored: 400 naming it (not a retryable 503), and nothing of the request
 * is stored. */
static void test_record_too_large_400(void) {
  gf_gateway g;
  gf_reply r;
  setenv("SLUICE_KAFKA_MESSAGE_MAX_BYTES", "2000", 1);
  int rc = gf_start(&g, NULL, 1);
  unsetenv("SLUICE_KAFKA_MESSAGE_MAX_BYTES");
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  char big[2600], body[3000];
  memset(big, 'x', 2400);
  big[2400] = '\0';
  snprintf(body, sizeof body,
           "[" READING(1, 1) ",{\"ts\":2,\"temperature\":1,\"vibration\":1,\"pad\":\"%s\"}]", big);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, body, &r), 0);
  expect(&r, 400, "{\"index\":1,\"error\":\"the record is ");
  CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "Kafka accepts at most 2000 per message"));
  CU_ASSERT_PTR_NULL(strstr(r.body, "\"index\":0"));
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, READING(3, 1), &r), 0);
  expect(&r, 202, "{\"accepted\":1}");
  gf_message m[4];
  CU_ASSERT_EQUAL(gf_consume(g.topic, 1, m, 4), 1); /* only the later request's record */
  CU_ASSERT_PTR_NOT_NULL(strstr(m[0].value, "\"ts\":3"));
  gf_stop(&g);
}

/* GET `path` until it answers `status` (bounded: each GET is one loop turn). */
static void get_until(gf_gateway *g, const char *path, int status, gf_reply *r) {
  for (int i = 0; i < 2000; i++)
    if (gf_get(g, path, r) == 0 && r->status == status)
      return;
}

/* A fatal producer error is for good: the statistics that see brokers up
 * (every 100 ms here) must not make the gateway look healthy again, and
 * liveness fails too, so that Kubernetes restarts the pod. */
static void test_fatal_error_is_sticky(void) {
  gf_gateway g;
  gf_reply r;
  setenv("SLUICE_KAFKA_STATISTICS_INTERVAL_MS", "100", 1);
  int rc = gf_start(&g, NULL, 1);
  unsetenv("SLUICE_KAFKA_STATISTICS_INTERVAL_MS");
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, READING(1, 1), &r), 0);
  expect(&r, 202, "{\"accepted\":1}");
  CU_ASSERT_EQUAL(rd_kafka_test_fatal_error(sl_gw_producer_client(g.producer),
                                            RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                            "injected by the test"),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
  get_until(&g, "/healthz", 503, &r);
  expect(&r, 503, "failed for good");
  CU_ASSERT(sl_gw_producer_fatal(g.producer));
  CU_ASSERT_EQUAL(gf_post(&g, g.topic, GF_KEY1, READING(2, 1), &r), 0);
  expect(&r, 503, "failed for good");
  /* Still so after the statistics saw the broker up a few times. */
  for (int i = 0; i < 200; i++) {
    CU_ASSERT_EQUAL(gf_get(&g, i % 2 ? "/readyz" : "/healthz", &r), 0);
    if (r.status != 503) {
      expect(&r, 503, "failed for good");
      break;
    }
  }
  gf_stop(&g);
}

int suite_core_gateway_http(void) {
  CU_pSuite s = CU_add_suite("core_gateway_http", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "202 only for what is stored, 400 stores nothing",
              test_accepted_only_what_is_stored);
  CU_add_test(s, "401, 404, 405, operations endpoints", test_refusals);
  CU_add_test(s, "more records than max_inflight: 413", test_too_many_records_413);
  CU_add_test(s, "a record larger than Kafka accepts: 400", test_record_too_large_400);
  CU_add_test(s, "a fatal producer error fails /healthz and /readyz for good",
              test_fatal_error_is_sticky);
  if (gf_is_embedded()) {
    CU_add_test(s, "overload: 429 with Retry-After", test_overload_429);
    CU_add_test(s, "delivery failure: 503 with Retry-After", test_delivery_failure_503);
    CU_add_test(s, "client gone while waiting for Kafka", test_client_gone_while_waiting);
    CU_add_test(s, "memory: 429 past max_pending_bytes", test_pending_bytes_429);
  }
  return 0;
}
