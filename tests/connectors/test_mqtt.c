/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's MQTT subscriber (connectors/mqtt.c): what it accepts from
 * the broker's SUBACK. The guarantee needs QoS 1 (or 2) granted: with QoS 0
 * the broker's messages are acknowledged on receipt and never redelivered. */
#include <CUnit/CUnit.h>

#include "mqtt.h"

static void test_granted_qos(void) {
  int q0[] = {0}, q1[] = {1}, q2[] = {2}, refused[] = {0x80};
  CU_ASSERT_TRUE(sl_mqtt_granted_ok(1, q1));
  CU_ASSERT_TRUE(sl_mqtt_granted_ok(1, q2));
  CU_ASSERT_FALSE(sl_mqtt_granted_ok(1, q0)); /* downgraded: not ready */
  CU_ASSERT_FALSE(sl_mqtt_granted_ok(1, refused));
  CU_ASSERT_FALSE(sl_mqtt_granted_ok(0, q1));
}

int suite_connectors_mqtt(void) {
  CU_pSuite s = CU_add_suite("connectors_mqtt", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "granted QoS below 1 is refused", test_granted_qos);
  return 0;
}
