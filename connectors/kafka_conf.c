/* SPDX-License-Identifier: Apache-2.0 */
/* Builds librdkafka configurations from the three places properties come
 * from (SLUICE_KAFKA_* environment variables, the pipeline's kafka table,
 * connector-forced settings), picks the broker (real or embedded) and keeps
 * secrets out of the one log line that describes the result. */
#include "kafka_conf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/log.h"
#include "kafka.h"

extern char **environ;

#define REDACTED "[redacted]"

int sl_kafka_conf_is_secret(const char *prop) {
  static const char *const words[] = {"password", "secret", "token", "sasl.oauthbearer.config"};
  char low[256];
  size_t i;
  if (!prop)
    return 0;
  for (i = 0; prop[i] && i + 1 < sizeof low; i++)
    low[i] = (char)tolower((unsigned char)prop[i]);
  low[i] = '\0';
  for (i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strstr(low, words[i]))
      return 1;
  /* ssl.key.pem, ssl.key.location's password, ssl_key, sasl keys (keytab is
   * a path, but one that names a credential: redacting it costs nothing). */
  if ((strncmp(low, "ssl", 3) == 0 || strncmp(low, "sasl", 4) == 0) && strstr(low, "key"))
    return 1;
  return 0;
}

const char *sl_kafka_conf_redact(const char *prop, const char *value) {
  if (sl_kafka_conf_is_secret(prop))
    return REDACTED;
  return value ? value : "";
}

int sl_kafka_conf_env_property(const char *var, char *out, size_t cap) {
  size_t plen = strlen(SL_KAFKA_ENV_PREFIX), i;
  const char *p;
  if (!var || strncmp(var, SL_KAFKA_ENV_PREFIX, plen) != 0 || !var[plen] || cap == 0)
    return 0;
  p = var + plen;
  if (strcmp(p, "BROKERS") == 0) {
    if (cap < sizeof "bootstrap.servers")
      return 0;
    memcpy(out, "bootstrap.servers", sizeof "bootstrap.servers");
    return 1;
  }
  for (i = 0; p[i]; i++) {
    if (i + 1 >= cap)
      return 0;
    out[i] = p[i] == '_' ? '.' : (char)tolower((unsigned char)p[i]);
  }
  out[i] = '\0';
  return 1;
}

/* Set one property, remembering bootstrap.servers for the broker choice. */
static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *origin,
                    char **brokers, sl_buf *desc, sl_error *err) {
  char errstr[512];
  if (strcmp(name, "bootstrap.servers") == 0 || strcmp(name, "metadata.broker.list") == 0) {
    char *copy = strdup(value);
    if (!copy)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    free(*brokers);
    *brokers = copy;
    return SL_OK; /* set after the embedded choice */
  }
  if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    return sl_error_set(err, SL_ERR_INVALID, "kafka property '%s' from %s: %s", name, origin,
                        errstr);
  sl_buf_printf(desc, "%s%s=%s", desc->len ? ", " : "", name, sl_kafka_conf_redact(name, value));
  return SL_OK;
}

/* SLUICE_KAFKA_* variables. With `report` (sluice check) every refused
 * variable is reported and the rest still applied; without, the first
 * refusal is returned. */
static int apply_environment(rd_kafka_conf_t *conf, char **brokers, sl_buf *desc, sl_error *err,
                             sl_check_report report, void *ud) {
  for (char **e = environ; e && *e; e++) {
    char var[256], prop[256];
    const char *eq = strchr(*e, '=');
    size_t n;
    int rc;
    if (!eq || strncmp(*e, SL_KAFKA_ENV_PREFIX, strlen(SL_KAFKA_ENV_PREFIX)) != 0)
      continue;
    n = (size_t)(eq - *e);
    if (n >= sizeof var)
      continue;
    memcpy(var, *e, n);
    var[n] = '\0';
    if (!sl_kafka_conf_env_property(var, prop, sizeof prop))
      continue;
    rc = conf_set(conf, prop, eq + 1, var, brokers, desc, err);
    if (rc && report)
      report(ud, 0, err->message);
    else if (rc)
      return rc;
  }
  return SL_OK;
}

/* The pipeline's kafka = {...} table: strings as is, numbers and bools
 * spelled the way librdkafka parses them. */
static const char *table_value(const sl_config *t, const char *key, char *num, size_t cap,
                               sl_error *err) {
  double d;
  switch (sl_config_kind_of(t, key)) {
  case SL_CV_STRING: return sl_config_string(t, key, "");
  case SL_CV_NUMBER:
    sl_config_number(t, key, &d);
    if (d == (double)(long long)d)
      snprintf(num, cap, "%lld", (long long)d);
    else
      sl_num_text(d, num, cap); /* 0.1 reaches librdkafka as "0.1", not 0.10000000000000001 */
    return num;
  case SL_CV_BOOL: return sl_config_bool(t, key, 0) ? "true" : "false";
  default:
    sl_error_set(err, SL_ERR_INVALID,
                 "kafka property '%s' in the pipeline's kafka table must be a string, number or "
                 "boolean",
                 key);
    return NULL;
  }
}

static int apply_table(rd_kafka_conf_t *conf, const sl_config *t, char **brokers, sl_buf *desc,
                       sl_error *err) {
  size_t n = sl_config_count(t);
  for (size_t i = 0; i < n; i++) {
    const char *key = sl_config_key_at(t, i);
    char num[64];
    const char *value = table_value(t, key, num, sizeof num, err);
    if (!value)
      return err->code;
    int rc = conf_set(conf, key, value, "the pipeline's kafka table", brokers, desc, err);
    if (rc)
      return rc;
  }
  return SL_OK;
}

size_t sl_kafka_conf_check(const sl_config *t, int with_env, sl_check_report report, void *ud) {
  size_t n = t ? sl_config_count(t) : 0, bad = 0;
  /* Nothing to judge: a pipeline without Kafka should not page in the
   * ~0.5 MiB of librdkafka code and tables that rd_kafka_conf_new touches. */
  if (!n && !with_env)
    return 0;
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (!conf) {
    report(ud, 0, "out of memory");
    return 1;
  }
  char *brokers = NULL;
  sl_buf desc = SL_BUF_INIT;
  sl_error env_err;
  sl_error_clear(&env_err);
  if (with_env)
    apply_environment(conf, &brokers, &desc, &env_err, report, ud);
  free(brokers);
  sl_buf_free(&desc);
  for (size_t i = 0; i < n; i++) {
    const char *key = sl_config_key_at(t, i);
    char num[64], errstr[512], msg[800];
    sl_error err;
    sl_error_clear(&err);
    const char *value = table_value(t, key, num, sizeof num, &err);
    if (value && rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK)
      continue;
    if (value)
      snprintf(msg, sizeof msg, "kafka property '%s' from the pipeline's kafka table: %s", key,
               errstr);
    report(ud, 0, value ? msg : err.message);
    bad++;
  }
  rd_kafka_conf_destroy(conf);
  return bad;
}

/* librdkafka's own log lines join the process log (JSON or text) instead
 * of its syslog-like format on stderr. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  sl_log_level l = level <= 3 ? SL_LOG_ERROR : level == 4 ? SL_LOG_WARN
                   : level <= 6 ? SL_LOG_INFO : SL_LOG_DEBUG;
  sl_log_limited(fac, 20, l, rd_kafka_name(rk), "%s: %s", fac, buf);
}

int sl_kafka_conf_new(const sl_connector_env *env, const sl_kafka_prop *defaults, size_t ndefaults,
                      const sl_kafka_prop *forced, size_t nforced, rd_kafka_conf_t **out,
                      int *embedded, sl_error *err) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
  sl_buf desc = SL_BUF_INIT;
  char *brokers = NULL;
  char errstr[512];
  int rc = SL_OK;

  *out = NULL;
  *embedded = 0;
  if (!conf)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < ndefaults && !rc; i++)
    rc = conf_set(conf, defaults[i].name, defaults[i].value, "sluice's defaults", &brokers, &desc,
                  err);
  if (!rc)
    rc = apply_environment(conf, &brokers, &desc, err, NULL, NULL);
  if (!rc && env && env->kafka)
    rc = apply_table(conf, env->kafka, &brokers, &desc, err);
  for (size_t i = 0; i < nforced && !rc; i++)
    rc = conf_set(conf, forced[i].name, forced[i].value, "the connector", &brokers, &desc, err);
  if (rc)
    goto out_free;

  if (!brokers || !*brokers || strcmp(brokers, "embedded") == 0) {
    const char *boot;
    rc = sl_kafka_embedded_acquire(&boot, err);
    if (rc)
      goto out_free;
    *embedded = 1;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", boot, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rc = sl_error_set(err, SL_ERR_INTERNAL, "embedded broker address: %s", errstr);
      goto out_release;
    }
    sl_buf_printf(&desc, "%sbootstrap.servers=%s (embedded)", desc.len ? ", " : "", boot);
  } else {
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rc = sl_error_set(err, SL_ERR_INVALID, "kafka bootstrap.servers '%s': %s", brokers, errstr);
      goto out_free;
    }
    sl_buf_printf(&desc, "%sbootstrap.servers=%s", desc.len ? ", " : "", brokers);
  }
  if (env && env->log)
    env->log(env->runtime, SL_LOG_INFO, "kafka client properties: %s", desc.data ? desc.data : "");
  *out = conf;
  conf = NULL;
  goto out_free;

out_release:
  sl_kafka_embedded_release();
  *embedded = 0;
out_free:
  if (conf)
    rd_kafka_conf_destroy(conf);
  free(brokers);
  sl_buf_free(&desc);
  return rc;
}
