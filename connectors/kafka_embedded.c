/* SPDX-License-Identifier: Apache-2.0 */
/* The embedded broker (SLUICE_KAFKA_BROKERS=embedded, the default): one
 * librdkafka mock cluster per process, owned by a dedicated rd_kafka_t and
 * shared by every Kafka connector through a reference count. It speaks the
 * Kafka protocol on a loopback port, so kcat and other processes can use it
 * too; its data lives in memory and is gone when the last connector closes. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "kafka.h"

static pthread_mutex_t embedded_lock = PTHREAD_MUTEX_INITIALIZER;
static rd_kafka_t *embedded_rk; /* owns the mock cluster */
static rd_kafka_mock_cluster_t *embedded_mcluster;
static const char *embedded_bootstraps; /* owned by the cluster */
static int embedded_refs;

static int embedded_start(sl_error *err) {
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (!conf)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  /* The handle only hosts the cluster's threads; it never connects. */
  rd_kafka_conf_set(conf, "bootstrap.servers", "", errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  embedded_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!embedded_rk) {
    rd_kafka_conf_destroy(conf);
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "embedded kafka broker: %s", errstr);
  }
  embedded_mcluster = rd_kafka_mock_cluster_new(embedded_rk, 1);
  if (!embedded_mcluster) {
    rd_kafka_destroy(embedded_rk);
    embedded_rk = NULL;
    return sl_error_set(err, SL_ERR_UNAVAILABLE,
                        "embedded kafka broker: could not start librdkafka's mock cluster "
                        "(set SLUICE_KAFKA_BROKERS to a real broker instead)");
  }
  embedded_bootstraps = rd_kafka_mock_cluster_bootstraps(embedded_mcluster);
  /* The process log, not a connector's: the broker outlives any one
   * connector, and this address is what a person points kcat at. */
  sl_log(SL_LOG_INFO, "kafka", "embedded Kafka broker listening on %s (kcat -b %s -L)",
         embedded_bootstraps, embedded_bootstraps);
  return SL_OK;
}

int sl_kafka_embedded_acquire(const char **bootstraps, sl_error *err) {
  int rc = SL_OK;
  pthread_mutex_lock(&embedded_lock);
  if (embedded_refs == 0)
    rc = embedded_start(err);
  if (rc == SL_OK) {
    embedded_refs++;
    if (bootstraps)
      *bootstraps = embedded_bootstraps;
  }
  pthread_mutex_unlock(&embedded_lock);
  return rc;
}

void sl_kafka_embedded_release(void) {
  pthread_mutex_lock(&embedded_lock);
  if (embedded_refs > 0 && --embedded_refs == 0) {
    rd_kafka_mock_cluster_destroy(embedded_mcluster);
    rd_kafka_destroy(embedded_rk);
    embedded_mcluster = NULL;
    embedded_rk = NULL;
    embedded_bootstraps = NULL;
  }
  pthread_mutex_unlock(&embedded_lock);
}

rd_kafka_mock_cluster_t *sl_kafka_embedded_cluster(void) {
  rd_kafka_mock_cluster_t *m;
  pthread_mutex_lock(&embedded_lock);
  m = embedded_mcluster;
  pthread_mutex_unlock(&embedded_lock);
  return m;
}

int sl_kafka_embedded_topic(const char *topic, int partitions, sl_error *err) {
  rd_kafka_resp_err_t e;
  pthread_mutex_lock(&embedded_lock);
  if (!embedded_mcluster) {
    pthread_mutex_unlock(&embedded_lock);
    return sl_error_set(err, SL_ERR_INTERNAL, "embedded kafka broker is not running");
  }
  /* Creating an existing topic fails with TOPIC_ALREADY_EXISTS: fine. */
  e = rd_kafka_mock_topic_create(embedded_mcluster, topic,
                                 partitions > 0 ? partitions : SL_KAFKA_EMBEDDED_PARTITIONS, 1);
  pthread_mutex_unlock(&embedded_lock);
  if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "embedded kafka broker: creating topic '%s': %s",
                        topic, rd_kafka_err2str(e));
  return SL_OK;
}
