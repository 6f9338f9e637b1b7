/* SPDX-License-Identifier: Apache-2.0 */
/* Topic tables: p:table{ id, topic, key, format?, schema?, registry? }. Every
 * worker reads the whole compacted topic with its own consumer: no group, all
 * partitions assigned from the beginning, nothing committed (like a Kafka
 * Streams GlobalKTable). The latest value per key wins; a tombstone (null
 * value) deletes the message key. The table counts as caught up once every
 * partition reached the end offset it had when the table was opened;
 * sl_table_kafka_wait() bounds how long start-up waits for that. Later
 * changes keep streaming in and are published at most every 100 ms. Values
 * that cannot be decoded, or keys past max_entries, are logged (rate-limited)
 * and counted in sluice_table_errors_total; the table keeps its other keys. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/metrics.h"
#include "codec/format.h"
#include "kafka.h"
#include "kafka_conf.h"
#include "tables.h"

#define PUBLISH_EVERY_MS 100

struct sl_table_kafka {
  sl_table *table;
  char *topic, *pipeline;
  sl_name key;
  sl_format *format;
  rd_kafka_t *rk;
  int embedded;
  int32_t npart;
  int64_t *target, *pos; /* per partition: end offset at open, next offset read */
  sl_arena *scratch;
  sl_metric *m_errors;
  pthread_t thread;
  pthread_mutex_t lock; /* guards the fields below */
  pthread_cond_t changed;
  int stop, started, caught_up;
  uint64_t loaded;  /* records applied */
  char error[1024]; /* the first max_entries refusal while catching up, or "" */
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* `fatal`: a key past max_entries makes the table incomplete, which start-up
 * refuses (a bad value only loses that value: it is logged and skipped). */
static void note_error(sl_table_kafka *k, const rd_kafka_message_t *m, const char *msg, int fatal) {
  sl_metric_add(k->m_errors, 1);
  char where[64];
  snprintf(where, sizeof where, "table:%s", sl_table_id(k->table));
  sl_log_limited(where, 10, SL_LOG_ERROR, "table", "table '%s': %s partition %d offset %lld: %s",
                 sl_table_id(k->table), k->topic, (int)m->partition, (long long)m->offset, msg);
  pthread_mutex_lock(&k->lock);
  if (fatal && !k->caught_up && !k->error[0])
    snprintf(k->error, sizeof k->error, "%.200s partition %d offset %lld: %.700s", k->topic,
             (int)m->partition, (long long)m->offset, msg);
  pthread_mutex_unlock(&k->lock);
}

/* Apply one message to the writer's map. */
static void apply(sl_table_kafka *k, const rd_kafka_message_t *m) {
  if (!m->payload) { /* a tombstone */
    if (m->key)
      sl_table_delete(k->table, m->key, m->key_len);
    else
      note_error(k, m, "tombstone without a key", 0);
    return;
  }
  sl_error e;
  sl_error_clear(&e);
  sl_record *r;
  sl_arena_reset(k->scratch);
  if (sl_format_decode(k->format, m->payload, m->len, k->scratch, &r, NULL, &e) != SL_OK) {
    note_error(k, m, e.message, 0);
    return;
  }
  /* The key field of the value, else the message key (compaction's key). */
  const sl_value *kv = sl_record_get(r, k->key);
  char buf[32];
  const char *key = m->key;
  size_t klen = m->key_len;
  if (kv && !sl_table_key_of(kv, buf, sizeof buf, &key, &klen))
    key = NULL;
  if (!key) {
    note_error(k, m, "no key: neither the key field (a string or an integer) nor a message key", 0);
    return;
  }
  if (sl_table_put(k->table, key, klen, r, &e) != SL_OK)
    note_error(k, m, e.message, 1);
}

static int reached_end(const sl_table_kafka *k) {
  for (int32_t p = 0; p < k->npart; p++)
    if (k->pos[p] < k->target[p])
      return 0;
  return 1;
}

static void publish(sl_table_kafka *k, int log) {
  sl_error e;
  sl_error_clear(&e);
  if (sl_tables_publish(k->table, k->pipeline, log, &e) != SL_OK)
    sl_log(SL_LOG_ERROR, "table", "table '%s': %s", sl_table_id(k->table), e.message);
}

static void *consume(void *arg) {
  sl_table_kafka *k = arg;
  int dirty = 0, caught_up = 0;
  int64_t last_publish = now_ms();
  for (;;) {
    pthread_mutex_lock(&k->lock);
    int stop = k->stop;
    pthread_mutex_unlock(&k->lock);
    if (stop)
      break;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 100);
    if (m && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      /* The end, as the consumer's position: past transaction markers too,
       * which no message offset reaches. */
      if (m->partition >= 0 && m->partition < k->npart && m->offset > k->pos[m->partition])
        k->pos[m->partition] = m->offset;
    } else if (m && m->err) {
      sl_log_limited("table-consumer", 10, SL_LOG_WARN, "table", "table '%s': %s: %s",
                     sl_table_id(k->table), k->topic, rd_kafka_message_errstr(m));
    } else if (m && !m->err) {
      apply(k, m);
      if (m->partition >= 0 && m->partition < k->npart)
        k->pos[m->partition] = m->offset + 1;
      dirty++;
      pthread_mutex_lock(&k->lock);
      k->loaded++;
      pthread_mutex_unlock(&k->lock);
    }
    if (m)
      rd_kafka_message_destroy(m);
    int at_end = !caught_up && reached_end(k);
    /* While catching up one publish at the end; then every PUBLISH_EVERY_MS. */
    if (at_end || (caught_up && dirty && now_ms() - last_publish >= PUBLISH_EVERY_MS)) {
      publish(k, at_end);
      dirty = 0;
      last_publish = now_ms();
    }
    if (at_end) {
      caught_up = 1;
      pthread_mutex_lock(&k->lock);
      k->caught_up = 1;
      pthread_cond_broadcast(&k->changed);
      pthread_mutex_unlock(&k->lock);
    }
  }
  return NULL;
}

/* Partitions and their end offsets now; assign all from the beginning. */
static int assign_all(sl_table_kafka *k, sl_error *err) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, k->topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t e =
      rkt ? rd_kafka_metadata(k->rk, 0, rkt, &md, 10000) : RD_KAFKA_RESP_ERR__FAIL;
  if (rkt)
    rd_kafka_topic_destroy(rkt);
  if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
    int rc = sl_error_set(
        err, SL_ERR_UNAVAILABLE, "table '%s': topic '%s': %s", sl_table_id(k->table), k->topic,
        e                                         ? rd_kafka_err2str(e)
        : md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err)
                                                  : "no partitions");
    if (md)
      rd_kafka_metadata_destroy(md);
    return rc;
  }
  k->npart = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  k->target = calloc((size_t)k->npart, sizeof *k->target);
  k->pos = calloc((size_t)k->npart, sizeof *k->pos);
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(k->npart);
  if (!k->target || !k->pos || !l) {
    if (l)
      rd_kafka_topic_partition_list_destroy(l);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  for (int32_t p = 0; p < k->npart; p++) {
    int64_t lo, hi;
    e = rd_kafka_query_watermark_offsets(k->rk, k->topic, p, &lo, &hi, 10000);
    if (e) {
      rd_kafka_topic_partition_list_destroy(l);
      return sl_error_set(err, SL_ERR_UNAVAILABLE, "table '%s': end offsets of '%s': %s",
                          sl_table_id(k->table), k->topic, rd_kafka_err2str(e));
    }
    k->pos[p] = lo;
    k->target[p] = hi;
    rd_kafka_topic_partition_list_add(l, k->topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  e = rd_kafka_assign(k->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (e)
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "table '%s': assign: %s", sl_table_id(k->table),
                        rd_kafka_err2str(e));
  return SL_OK;
}

void sl_table_kafka_close(sl_table_kafka *k) {
  if (!k)
    return;
  if (k->started) {
    pthread_mutex_lock(&k->lock);
    k->stop = 1;
    pthread_mutex_unlock(&k->lock);
    pthread_join(k->thread, NULL);
  }
  if (k->rk) {
    rd_kafka_consumer_close(k->rk);
    rd_kafka_destroy(k->rk);
  }
  if (k->embedded)
    sl_kafka_embedded_release();
  sl_format_free(k->format);
  sl_arena_destroy(k->scratch);
  pthread_cond_destroy(&k->changed);
  pthread_mutex_destroy(&k->lock);
  free(k->target);
  free(k->pos);
  free(k->topic);
  free(k->pipeline);
  free(k);
}

sl_table_kafka *sl_table_kafka_open(sl_table *t, const sl_config *decl, const sl_connector_env *env,
                                    sl_error *err) {
  sl_table_kafka *k = calloc(1, sizeof *k);
  if (!k) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&k->lock, NULL);
  pthread_cond_init(&k->changed, NULL);
  k->table = t;
  k->topic = strdup(sl_config_string(decl, "topic", ""));
  k->pipeline = strdup(env->pipeline ? env->pipeline : "");
  k->key = sl_name_cstr(sl_config_string(decl, "key", ""));
  k->scratch = sl_arena_new(0);
  char labels[512];
  snprintf(labels, sizeof labels, "pipeline=%s,table=%s", k->pipeline ? k->pipeline : "",
           sl_table_id(t));
  k->m_errors =
      sl_metrics_counter("sluice_table_errors_total",
                         "Table records skipped: undecodable, no key, past max_entries.", labels);
  if (!k->topic || !k->pipeline || !k->key || !k->scratch) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out_fail;
  }
  if (!(k->format = sl_format_open(decl, "json", err)))
    goto out_fail;
  /* No group membership: assign() never joins a group and nothing is
   * committed, so every worker reads every partition. librdkafka still
   * wants a group.id for assign(): one per pipeline and table, never used. */
  char group[400];
  snprintf(group, sizeof group, "%s.table.%s", k->pipeline, sl_table_id(t));
  const sl_kafka_prop forced[] = {
      {"group.id", group},
      {"enable.partition.eof", "true"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
  };
  rd_kafka_conf_t *conf = NULL;
  if (sl_kafka_conf_new(env, NULL, 0, forced, sizeof forced / sizeof forced[0], &conf, &k->embedded,
                        err) != SL_OK)
    goto out_fail;
  if (k->embedded && sl_kafka_embedded_topic(k->topic, 0, err) != SL_OK) {
    rd_kafka_conf_destroy(conf);
    goto out_fail;
  }
  char errstr[512];
  if (!(k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
    rd_kafka_conf_destroy(conf);
    sl_error_set(err, SL_ERR_INVALID, "table '%s': %s", sl_table_id(t), errstr);
    goto out_fail;
  }
  rd_kafka_poll_set_consumer(k->rk);
  if (assign_all(k, err) != SL_OK)
    goto out_fail;
  if (pthread_create(&k->thread, NULL, consume, k) != 0) {
    sl_error_set(err, SL_ERR_INTERNAL, "table '%s': cannot start its consumer", sl_table_id(t));
    goto out_fail;
  }
  k->started = 1;
  return k;
out_fail:
  sl_table_kafka_close(k);
  return NULL;
}

int sl_table_kafka_status(sl_table_kafka *k, char *why, size_t n) {
  pthread_mutex_lock(&k->lock);
  int ok = k->caught_up;
  if (!ok)
    snprintf(why, n, "table '%s' catching up with topic '%s' (%llu records read)",
             sl_table_id(k->table), k->topic, (unsigned long long)k->loaded);
  pthread_mutex_unlock(&k->lock);
  return ok;
}

int sl_table_kafka_wait(sl_table_kafka *k, int64_t wait_ms, const volatile int *stop,
                        sl_error *err) {
  int64_t until = now_ms() + wait_ms;
  pthread_mutex_lock(&k->lock);
  while (!k->caught_up && now_ms() < until && !(stop && *stop)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L; /* wakes to notice a stop request */
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&k->changed, &k->lock, &ts);
  }
  int rc = SL_OK;
  if (k->error[0])
    rc = sl_error_set(err, SL_ERR_INVALID, "table '%s': %s", sl_table_id(k->table), k->error);
  else if (!k->caught_up && !(stop && *stop))
    rc = sl_error_set(err, SL_ERR_UNAVAILABLE,
                      "table '%s': not caught up with topic '%s' after %lld ms (%llu records "
                      "read; raise the table's wait option, or check the brokers)",
                      sl_table_id(k->table), k->topic, (long long)wait_ms,
                      (unsigned long long)k->loaded);
  pthread_mutex_unlock(&k->lock);
  return rc;
}
