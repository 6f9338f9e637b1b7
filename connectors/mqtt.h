/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's MQTT subscriber (libmosquitto), one per g:mqtt{}. Internal. */
#ifndef SLUICE_MQTT_H
#define SLUICE_MQTT_H

#include "gateway/gateway.h"

typedef struct sl_mqtt_client sl_mqtt_client;

/* Connect (retrying in the background while the broker is unreachable) and
 * subscribe with QoS 1 in a persistent session. Messages go through
 * sl_gw_ingest_mqtt() on the client's own thread; a message is acknowledged
 * to the broker only when that returned SL_OK. `m` and `g` must outlive it. */
sl_mqtt_client *sl_mqtt_start(const sl_gw_mqtt *m, sl_gw_ingest *g, sl_error *err);
/* Nonzero while connected and subscribed. */
int sl_mqtt_connected(const sl_mqtt_client *c);
/* Refuse further messages (they stay unacknowledged: the broker redelivers
 * them to the next session). Never blocks. */
void sl_mqtt_request_stop(sl_mqtt_client *c);
/* Nonzero while a message is being handed to Kafka. */
int sl_mqtt_busy(const sl_mqtt_client *c);
/* Nonzero when a SUBACK's granted QoS (`n` values) allows the guarantee:
 * QoS 1 or 2. QoS 0 (a broker capping it) or a refusal (0x80) do not. */
int sl_mqtt_granted_ok(int n, const int *qos);
/* Disconnect, join the thread, free. Call after sl_mqtt_request_stop() once
 * sl_mqtt_busy() is 0 (else it waits for that message). NULL is a no-op. */
void sl_mqtt_stop(sl_mqtt_client *c);

#endif
