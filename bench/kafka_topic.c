/* SPDX-License-Identifier: Apache-2.0 */
/* kafka_topic: create a topic for bench/kafka_e2e.sh, optionally with
 * message.timestamp.type=LogAppendTime so that each message's timestamp is
 * the broker's clock when it appended it (what the latency measurement
 * compares window_end with). kcat cannot create topics and the broker's
 * admin tools are not among the test jars, so librdkafka's admin API it is.
 *
 *   kafka_topic BROKERS TOPIC PARTITIONS [append-time]
 * exits 0 when the topic exists afterwards. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: kafka_topic BROKERS TOPIC PARTITIONS [append-time]\n");
    return 2;
  }
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    fprintf(stderr, "kafka_topic: %s\n", errstr);
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "kafka_topic: %s\n", errstr);
    return 1;
  }
  rd_kafka_NewTopic_t *nt =
      rd_kafka_NewTopic_new(argv[2], atoi(argv[3]), 1, errstr, sizeof errstr);
  if (!nt) {
    fprintf(stderr, "kafka_topic: %s\n", errstr);
    rd_kafka_destroy(rk);
    return 1;
  }
  if (argc > 4 && strcmp(argv[4], "append-time") == 0)
    rd_kafka_NewTopic_set_config(nt, "message.timestamp.type", "LogAppendTime");
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
  rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
  int code = 1;
  const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
  if (!res) {
    fprintf(stderr, "kafka_topic: no answer from %s within 30 s\n", argv[1]);
  } else {
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    rd_kafka_resp_err_t e = n ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      code = 0;
    else
      fprintf(stderr, "kafka_topic: %s: %s\n", argv[2], rd_kafka_topic_result_error_string(tr[0]));
  }
  if (ev)
    rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_destroy(rk);
  return code;
}
