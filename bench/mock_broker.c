/* SPDX-License-Identifier: Apache-2.0 */
/* mock_broker: librdkafka's mock cluster, the broker sluice embeds when
 * SLUICE_KAFKA_BROKERS is unset, in a process of its own, so that several
 * worker processes can join one consumer group on it (inside a sluice
 * process it serves that process only, and it makes every topic with 4
 * partitions). For bench/scale_out.sh --embedded.
 *
 *   mock_broker        prints "SLUICE_TEST_KAFKA_BROKERS=HOST:PORT", then reads
 *                      lines "TOPIC PARTITIONS" on stdin and creates each topic
 *                      (answering "created TOPIC" or "error TOPIC: why"); the
 *                      mock cannot create topics through the Admin API.
 *                      Exits at the end of stdin, taking its data with it. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* The handle only hosts the cluster's threads; it never connects. */
  if (rd_kafka_conf_set(conf, "bootstrap.servers", "", errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr)) {
    fprintf(stderr, "mock_broker: %s\n", errstr);
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "mock_broker: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
  if (!mc) {
    fprintf(stderr, "mock_broker: cannot start librdkafka's mock cluster\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  printf("SLUICE_TEST_KAFKA_BROKERS=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  char line[512], topic[256];
  int parts;
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "%255s %d", topic, &parts) != 2 || parts < 1) {
      printf("error: expected \"TOPIC PARTITIONS\", got %s", line);
    } else {
      rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topic, parts, 1);
      if (e)
        printf("error %s: %s\n", topic, rd_kafka_err2str(e));
      else
        printf("created %s\n", topic);
    }
    fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
