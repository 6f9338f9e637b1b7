/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper for the exactly-once e2e scripts: prints, per partition of a
 * topic, the consumer group's committed offset and the log end offset:
 *   kafka_offsets BROKERS GROUP TOPIC   ->  "P committed end" lines
 * (committed is -1 when the group has none). It never joins the group: it
 * only reads (OffsetFetch), so it does not disturb a running worker. Built
 * by scripts/e2e/lib/eos.sh with cc -lrdkafka. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: kafka_offsets BROKERS GROUP TOPIC\n");
    return 2;
  }
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "group.id", argv[2], errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr)) {
    fprintf(stderr, "kafka_offsets: %s\n", errstr);
    return 2;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "kafka_offsets: %s\n", errstr);
    return 2;
  }
  const rd_kafka_metadata_t *md;
  rd_kafka_topic_t *t = rd_kafka_topic_new(rk, argv[3], NULL);
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
  if (e || md->topic_cnt != 1 || md->topics[0].err) {
    fprintf(stderr, "kafka_offsets: metadata of %s: %s\n", argv[3],
            rd_kafka_err2str(e ? e : md->topics[0].err));
    return 1;
  }
  int n = md->topics[0].partition_cnt;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; p < n; p++)
    rd_kafka_topic_partition_list_add(l, argv[3], p);
  if ((e = rd_kafka_committed(rk, l, 10000))) {
    fprintf(stderr, "kafka_offsets: committed: %s\n", rd_kafka_err2str(e));
    return 1;
  }
  for (int i = 0; i < l->cnt; i++) {
    int64_t lo, hi;
    int p = l->elems[i].partition;
    if ((e = rd_kafka_query_watermark_offsets(rk, argv[3], p, &lo, &hi, 10000))) {
      fprintf(stderr, "kafka_offsets: end offset of %d: %s\n", p, rd_kafka_err2str(e));
      return 1;
    }
    printf("%d %lld %lld\n", p, (long long)(l->elems[i].offset < 0 ? -1 : l->elems[i].offset),
           (long long)hi);
  }
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
  return 0;
}
