/* SPDX-License-Identifier: Apache-2.0 */
/* librdkafka configuration shared by the Kafka source and sink: where the
 * properties come from (environment, pipeline table, connector defaults),
 * which broker to use (a real cluster or the embedded one) and how secrets
 * are kept out of logs. Internal to connectors/. */
#ifndef SLUICE_KAFKA_CONF_H
#define SLUICE_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "lang/connector.h"

/* Environment variable naming the brokers; "embedded" or unset = the
 * in-process mock cluster. */
#define SL_KAFKA_BROKERS_ENV "SLUICE_KAFKA_BROKERS"
/* Prefix of environment variables carrying librdkafka properties. */
#define SL_KAFKA_ENV_PREFIX "SLUICE_KAFKA_"

/* 1 when a property's value must never be logged (passwords, secrets,
 * tokens, SASL/SSL keys, the OAUTHBEARER config), else 0. */
int sl_kafka_conf_is_secret(const char *prop);
/* `value`, or "[redacted]" for a secret property. Never NULL. */
const char *sl_kafka_conf_redact(const char *prop, const char *value);

/* Map an environment variable name to a librdkafka property:
 * "SLUICE_KAFKA_SASL_PASSWORD" -> "sasl.password" (prefix removed, lower
 * case, '_' -> '.'), "SLUICE_KAFKA_BROKERS" -> "bootstrap.servers".
 * Returns 1 and fills `out` (NUL-terminated) on a match, 0 otherwise (not a
 * SLUICE_KAFKA_ variable, or `out` too small). */
int sl_kafka_conf_env_property(const char *var, char *out, size_t cap);

/* A property set by the connector itself; applied last, so users cannot
 * turn off what correctness depends on (e.g. enable.auto.commit=false). */
typedef struct sl_kafka_prop {
  const char *name;
  const char *value;
} sl_kafka_prop;

/* The librdkafka configuration of one client, built in this order (later
 * wins): `defaults`, SLUICE_KAFKA_* environment variables, the pipeline's
 * env->kafka table, then `forced`. bootstrap.servers "embedded" (also the
 * default when nothing names brokers) acquires the process's embedded broker:
 * *embedded is then 1 and the caller must sl_kafka_embedded_release() after
 * destroying its client. Logs one line with every property set, secrets
 * redacted. On failure returns SL_ERR_INVALID (unknown property or bad
 * value, named in `err`) or SL_ERR_UNAVAILABLE (embedded broker). */
int sl_kafka_conf_new(const sl_connector_env *env, const sl_kafka_prop *defaults, size_t ndefaults,
                      const sl_kafka_prop *forced, size_t nforced, rd_kafka_conf_t **out,
                      int *embedded, sl_error *err);

/* For `sluice check`: set every property of the pipeline's kafka table `t`
 * (may be NULL), and with `with_env` the SLUICE_KAFKA_* environment
 * variables, on a scratch configuration, so that librdkafka itself judges
 * names and values; nothing connects. Each refused property goes to
 * `report` (never a warning). Returns how many of the table were refused. */
size_t sl_kafka_conf_check(const sl_config *t, int with_env, sl_check_report report, void *ud);

#endif
