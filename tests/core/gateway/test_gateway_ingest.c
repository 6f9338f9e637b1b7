/* SPDX-License-Identifier: Apache-2.0 */
/* MQTT messages into Kafka (core/gateway/gateway_ingest.c), without an MQTT broker:
 * the function the subscriber calls, whose SL_OK allows the MQTT ack. It
 * must mean "in Kafka": valid messages are readable with the device key,
 * invalid ones are in the dead-letter topic with the reason, and a Kafka
 * failure returns an error (the message is then not acknowledged). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_fixture.h"
#include "kafka.h"

#define RD_KAFKAP_PRODUCE 0

static int ingest(gf_gateway *g, const char *mqtt_topic, const char *payload, sl_error *err) {
  sl_error_clear(err);
  return sl_gw_ingest_mqtt(&g->ingest, &g->conf->mqtt[0], mqtt_topic, payload, strlen(payload),
                           err);
}

static void test_valid_and_invalid(void) {
  gf_gateway g;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, NULL, 0), 0);
  /* Returns only once Kafka acknowledged: reading right after must find it. */
  CU_ASSERT_EQUAL(ingest(&g, "plant/m0042/t", "{\"ts\":1,\"temperature\":2,\"vibration\":3}", &err),
                  SL_OK);
  CU_ASSERT_EQUAL(ingest(&g, "plant/m0043/t",
                         "[{\"ts\":2,\"temperature\":2,\"vibration\":3},"
                         "{\"ts\":3,\"temperature\":2,\"vibration\":3,\"machine_id\":\"m0043\"}]",
                         &err),
                  SL_OK);
  CU_ASSERT_EQUAL(ingest(&g, "plant/m0044/t", "{\"ts\":\"later\"}", &err), SL_OK);
  CU_ASSERT_EQUAL(ingest(&g, "plant/m0045/t",
                         "{\"ts\":4,\"temperature\":2,\"vibration\":3,\"machine_id\":\"m9\"}",
                         &err),
                  SL_OK);
  CU_ASSERT_EQUAL(ingest(&g, "plant/m0046/t", "\xff\xfe", &err), SL_OK);
  /* A device level the devices file would refuse (over 128 characters). */
  char topic[200];
  snprintf(topic, sizeof topic, "plant/%0130d/t", 7);
  CU_ASSERT_EQUAL(ingest(&g, topic, "{\"ts\":5,\"temperature\":2,\"vibration\":3}", &err), SL_OK);

  gf_message m[8];
  CU_ASSERT_EQUAL_FATAL(gf_consume(g.topic, 3, m, 8), 3);
  int m42 = 0, m43 = 0;
  for (int i = 0; i < 3; i++) {
    m42 += strcmp(m[i].key, "m0042") == 0 && strstr(m[i].value, "\"machine_id\":\"m0042\"");
    m43 += strcmp(m[i].key, "m0043") == 0 && strstr(m[i].value, "\"machine_id\":\"m0043\"");
  }
  CU_ASSERT_EQUAL(m42, 1);
  CU_ASSERT_EQUAL(m43, 2);

  /* Dead letters as pipelines write them: original bytes, key, reason in headers. */
  CU_ASSERT_EQUAL_FATAL(gf_consume(g.dlq, 4, m, 8), 4);
  for (int i = 0; i < 4; i++) {
    CU_ASSERT(m[i].error_header[0] != '\0');
    if (m[i].key[0] == '\0') {
      CU_ASSERT_PTR_NOT_NULL(strstr(m[i].error_header, "no valid device id in the MQTT topic"));
    } else if (strcmp(m[i].key, "m0044") == 0) {
      CU_ASSERT_STRING_EQUAL(m[i].value, "{\"ts\":\"later\"}");
      CU_ASSERT_PTR_NOT_NULL(strstr(m[i].error_header, "field 'ts'"));
    } else if (strcmp(m[i].key, "m0045") == 0) {
      CU_ASSERT_PTR_NOT_NULL(strstr(m[i].error_header, "is 'm9' but the authenticated device"));
    } else {
      CU_ASSERT_STRING_EQUAL(m[i].key, "m0046");
      CU_ASSERT_STRING_EQUAL(m[i].value, "\xff\xfe");
    }
  }
  gf_stop(&g);
}

/* Kafka does not acknowledge in time: the caller must not acknowledge the
 * MQTT message; once Kafka is back, the redelivered message goes through. */
static void test_kafka_failure_is_not_acknowledged(void) {
  gf_gateway g;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, "timeout = '300ms'", 0), 0);
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_broker_set_down(mc, 1);
  const char *msg = "{\"ts\":1,\"temperature\":2,\"vibration\":3}";
  CU_ASSERT_EQUAL(ingest(&g, "plant/m0042/t", msg, &err), SL_ERR_UNAVAILABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "kafka"));
  rd_kafka_mock_broker_set_up(mc, 1);
  int rc = -1;
  for (int i = 0; i < 60 && rc != SL_OK; i++) /* each attempt is bounded by the 300ms timeout */
    rc = ingest(&g, "plant/m0042/t", msg, &err);
  CU_ASSERT_EQUAL(rc, SL_OK);
  gf_message m[4];
  CU_ASSERT_EQUAL(gf_consume(g.topic, 1, m, 4), 1); /* the failed attempt left nothing */
  gf_stop(&g);
}

/* Kafka refuses a message for good (here: not authorised): refusing the
 * MQTT message would have the broker redeliver it first, forever, and
 * stall the subscription; it goes to the dead-letter topic with the reason
 * and is acknowledged. */
static void test_permanent_refusal_is_dead_lettered(void) {
  gf_gateway g;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(gf_start(&g, NULL, 0), 0);
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_push_request_errors(mc, RD_KAFKAP_PRODUCE, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  const char *msg = "{\"ts\":1,\"temperature\":2,\"vibration\":3}";
  CU_ASSERT_EQUAL(ingest(&g, "plant/m0042/t", msg, &err), SL_OK);
  gf_message m[4];
  CU_ASSERT_EQUAL_FATAL(gf_consume(g.dlq, 1, m, 4), 1);
  CU_ASSERT_STRING_EQUAL(m[0].key, "m0042");
  CU_ASSERT_STRING_EQUAL(m[0].value, msg);
  CU_ASSERT_PTR_NOT_NULL(strstr(m[0].error_header, "Kafka refused it"));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(m[0].error_header, rd_kafka_err2str(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)));
  gf_stop(&g);
}

/* A record over message.max.bytes is invalid; its dead letter (the whole
 * payload) is too large as well: it is counted, logged and acknowledged,
 * and the subscription goes on. */
static void test_too_large_does_not_stall(void) {
  gf_gateway g;
  sl_error err;
  setenv("SLUICE_KAFKA_MESSAGE_MAX_BYTES", "2000", 1);
  int rc = gf_start(&g, NULL, 0);
  unsetenv("SLUICE_KAFKA_MESSAGE_MAX_BYTES");
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  char big[3000];
  int n = snprintf(big, sizeof big, "{\"ts\":1,\"temperature\":2,\"vibration\":3,\"pad\":\"");
  memset(big + n, 'x', 2500);
  snprintf(big + n + 2500, sizeof big - (size_t)n - 2500, "\"}");
  CU_ASSERT_EQUAL(ingest(&g, "plant/m0042/t", big, &err), SL_OK);
  CU_ASSERT_EQUAL(ingest(&g, "plant/m0042/t", "{\"ts\":2,\"temperature\":2,\"vibration\":3}", &err),
                  SL_OK);
  gf_message m[4];
  CU_ASSERT_EQUAL(gf_consume(g.topic, 1, m, 4), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(m[0].value, "\"ts\":2"));
  gf_stop(&g);
}

static void expect_property(gf_gateway *g, const char *name, const char *want) {
  char v[64] = "";
  size_t n = sizeof v;
  CU_ASSERT_EQUAL(rd_kafka_conf_get(rd_kafka_conf(sl_gw_producer_client(g->producer)), name, v, &n),
                  RD_KAFKA_CONF_OK);
  if (strcmp(v, want) != 0) {
    fprintf(stderr, "\n%s is '%s', expected '%s'\n", name, v, want);
    CU_FAIL("a property the delivery contract depends on was overridden");
  }
}

/* Users' settings cannot turn off what every answer waits for: a report per
 * record, successes included, within the file's timeout. */
static void test_contract_properties_forced(void) {
  gf_gateway g;
  setenv("SLUICE_KAFKA_DELIVERY_REPORT_ONLY_ERROR", "true", 1);
  setenv("SLUICE_KAFKA_MESSAGE_TIMEOUT_MS", "600000", 1);
  int rc = gf_start(&g, "timeout = '300ms'", 0);
  unsetenv("SLUICE_KAFKA_DELIVERY_REPORT_ONLY_ERROR");
  unsetenv("SLUICE_KAFKA_MESSAGE_TIMEOUT_MS");
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  expect_property(&g, "delivery.report.only.error", "false");
  expect_property(&g, "message.timeout.ms", "300");
  gf_stop(&g);
}

int suite_core_gateway_ingest(void) {
  CU_pSuite s = CU_add_suite("core_gateway_ingest", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "valid into the topic, invalid into the dead-letter topic",
              test_valid_and_invalid);
  CU_add_test(s, "delivery-contract properties are forced", test_contract_properties_forced);
  CU_add_test(s, "too large for Kafka: acknowledged, the subscription goes on",
              test_too_large_does_not_stall);
  if (gf_is_embedded()) {
    CU_add_test(s, "Kafka failure: not acknowledged", test_kafka_failure_is_not_acknowledged);
    CU_add_test(s, "Kafka refuses for good: dead-lettered", test_permanent_refusal_is_dead_lettered);
  }
  return 0;
}
