/* SPDX-License-Identifier: Apache-2.0 */
/* kafka_source: a librdkafka consumer in a consumer group (cooperative-sticky
 * assignment). Offsets are never committed or stored automatically: only the
 * runtime's commit() moves the group's offsets, after the records' effects
 * are safe. Assignment changes are reported to the runtime (on_assign /
 * on_revoke) from inside poll(), so state restore and checkpoints happen on
 * the runtime's thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/metrics.h"
#include "base/record_internal.h"
#include "kafka.h"
#include "kafka_conf.h"
#include "lang/source_time.h"

typedef struct kafka_source {
  const sl_connector_env *env;
  rd_kafka_t *rk;
  char *topic;  /* also the records' source_name */
  int embedded; /* holds a reference on the embedded broker */
  int paused;
  int cb_status; /* an error raised inside the rebalance callback */
  sl_error cb_err;
  int64_t lag_at_ms;  /* when the consumer lag gauges were last set */
  int wake_fetcher;   /* librdkafka < 2.2: see wake_stalled_fetcher() */
  int64_t woke_at_ms; /* when the last stall check ran (future: none until then) */
} kafka_source;

static const sl_config_entry source_config[] = {
    {"topic", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "topic to consume"},
    {"group", SL_CFG_STRING, 0, "the pipeline name", "consumer group id"},
    {"start", SL_CFG_STRING, 0, "earliest",
     "where a partition without a committed offset starts: \"earliest\" or \"latest\""},
    SL_SOURCE_TIME_CONFIG, /* read at the :decode{} that follows (source_time.h) */
    {NULL, 0, 0, NULL, NULL},
};

static void source_log(const kafka_source *s, sl_log_level level, const char *fmt, const char *a,
                       const char *b) {
  if (s->env->log)
    s->env->log(s->env->runtime, level, fmt, a, b);
}

/* Partitions of our topic in `parts`, as a malloc'd array (NULL when none). */
static int32_t *partition_ids(const kafka_source *s, const rd_kafka_topic_partition_list_t *parts,
                              size_t *n) {
  int32_t *ids = malloc(((size_t)parts->cnt + 1) * sizeof *ids);
  *n = 0;
  if (!ids)
    return NULL;
  for (int i = 0; i < parts->cnt; i++)
    if (strcmp(parts->elems[i].topic, s->topic) == 0)
      ids[(*n)++] = parts->elems[i].partition;
  return ids;
}

static void set_cb_error(kafka_source *s, int code, const char *what, const char *detail) {
  if (s->cb_status)
    return; /* keep the first */
  s->cb_status =
      sl_error_set(&s->cb_err, code, "kafka_source '%s': %s: %s", s->topic, what, detail);
}

/* A restored offset past the partition's end means the topic was deleted
 * and recreated (or truncated) after the checkpoint: librdkafka would
 * silently start over at auto.offset.reset while the restored windows
 * already count the old records, so the pipeline stops instead. One before
 * the start only means retention deleted records nobody processed: that
 * is reported and consumption goes on from the start. */
static int check_restored(kafka_source *s, rd_kafka_t *rk, int32_t partition, int64_t *at) {
  int64_t offset = *at;
  int64_t lo = 0, hi = 0;
  rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, s->topic, partition, &lo, &hi, 5000);
  if (e) { /* the fetch itself will report an unreachable broker */
    if (s->env->log)
      s->env->log(s->env->runtime, SL_LOG_WARN,
                  "kafka_source '%s': partition %d: cannot check the restored offset %lld (%s)",
                  s->topic, (int)partition, (long long)offset, rd_kafka_err2str(e));
    return SL_OK;
  }
  if (offset > hi) {
    char msg[480];
    snprintf(msg, sizeof msg,
             "partition %d: the checkpoint resumes at offset %lld but the partition ends at "
             "%lld; the topic was recreated or truncated since the checkpoint, so the saved "
             "state no longer matches it. Reset the pipeline's state (docs/state.md, "
             "\"Resetting a pipeline\") or give the pipeline a new name",
             (int)partition, (long long)offset, (long long)hi);
    set_cb_error(s, SL_ERR_INVALID, "restore", msg);
    return SL_ERR_INVALID;
  }
  if (offset < lo) {
    if (s->env->log)
      s->env->log(s->env->runtime, SL_LOG_WARN,
                  "kafka_source '%s': partition %d: records %lld to %lld were deleted by "
                  "retention before they were processed; resuming at %lld",
                  s->topic, (int)partition, (long long)offset, (long long)lo - 1, (long long)lo);
    *at = lo; /* not auto.offset.reset, which may say "latest" */
  }
  return SL_OK;
}

/* librdkafka answers NULL instead of "NONE" while the consumer is closing (the
 * group's op queue is gone), and strcmp(NULL) crashed the worker at shutdown
 * (seen under UBSan in the connectors_kafka suite); closing revokes eagerly. */
static int is_cooperative(rd_kafka_t *rk) {
  const char *protocol = rd_kafka_rebalance_protocol(rk);
  return protocol && strcmp(protocol, "COOPERATIVE") == 0;
}

static void on_assign(kafka_source *s, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts) {
  size_t n = 0;
  int32_t *ids = partition_ids(s, parts, &n);
  int64_t *offsets = calloc(n + 1, sizeof *offsets);
  rd_kafka_error_t *error = NULL;
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
  int cooperative = is_cooperative(rk);

  if (!ids || !offsets) {
    set_cb_error(s, SL_ERR_NOMEM, "assignment", "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    offsets[i] = -1;
  if (n && s->env->on_assign &&
      s->env->on_assign(s->env->runtime, s->env->source_id, ids, n, offsets) != SL_OK) {
    /* Without restored state the partitions must not be consumed. */
    set_cb_error(s, SL_ERR_UNAVAILABLE, "assignment", "the runtime could not restore state");
    goto out;
  }
  /* Offsets restored from the state backend win over the committed ones:
   * they are set in the assignment itself, which starts fetching there. */
  for (size_t i = 0; i < n; i++) {
    if (offsets[i] < 0)
      continue;
    if (check_restored(s, rk, ids[i], &offsets[i]) != SL_OK)
      goto out;
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(parts, s->topic, ids[i]);
    if (tp)
      tp->offset = offsets[i];
  }
  if (cooperative)
    error = rd_kafka_incremental_assign(rk, parts);
  else
    e = rd_kafka_assign(rk, parts);
  if (error) {
    set_cb_error(s, SL_ERR_UNAVAILABLE, "assign", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  } else if (e) {
    set_cb_error(s, SL_ERR_UNAVAILABLE, "assign", rd_kafka_err2str(e));
  }
  if (s->env->counter_add)
    s->env->counter_add(s->env->runtime, "sluice_kafka_partitions_assigned", (double)n);
out:
  free(ids);
  free(offsets);
}

static void on_revoke(kafka_source *s, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts) {
  size_t n = 0;
  int32_t *ids = partition_ids(s, parts, &n);
  rd_kafka_error_t *error = NULL;
  int cooperative = is_cooperative(rk);

  /* The runtime checkpoints and drops state before the partitions go; when
   * they were lost (session timeout) another member may own them already
   * and the runtime's epoch check refuses the stale checkpoint. */
  if (n && s->env->on_revoke && s->env->on_revoke(s->env->runtime, s->env->source_id, ids, n))
    source_log(s, SL_LOG_WARN,
               "kafka_source '%s': the runtime failed to checkpoint revoked "
               "partitions%s",
               s->topic, rd_kafka_assignment_lost(rk) ? " (assignment lost)" : "");
  if (s->env->counter_add)
    s->env->counter_add(s->env->runtime, "sluice_kafka_partitions_assigned", -(double)n);
  if (rd_kafka_assignment_lost(rk) && s->env->on_assignment_lost)
    s->env->on_assignment_lost(s->env->runtime, s->env->source_id);
  if (cooperative)
    error = rd_kafka_incremental_unassign(rk, parts);
  else
    rd_kafka_assign(rk, NULL);
  if (error) {
    set_cb_error(s, SL_ERR_UNAVAILABLE, "unassign", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }
  free(ids);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
  kafka_source *s = opaque;
  if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    on_assign(s, rk, parts);
  } else if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    on_revoke(s, rk, parts);
  } else {
    set_cb_error(s, SL_ERR_UNAVAILABLE, "rebalance", rd_kafka_err2str(e));
    rd_kafka_assign(rk, NULL);
  }
}

static void source_close(void *state) {
  kafka_source *s = state;
  if (!s)
    return;
  if (s->rk) {
    /* Leaves the group; the final revocation goes through rebalance_cb so
     * the runtime sees on_revoke. Nothing is committed here. */
    rd_kafka_consumer_close(s->rk);
    rd_kafka_destroy(s->rk);
  }
  if (s->embedded)
    sl_kafka_embedded_release();
  free(s->topic);
  free(s);
}

/* Offline, for `sluice check`: what source_open() refuses before connecting
 * (the group defaults to the pipeline name, validated by check itself). */
static void source_check(const sl_config *cfg, sl_check_report report, void *ud) {
  const char *start = sl_config_string(cfg, "start", "earliest");
  char msg[300];
  if (strcmp(start, "earliest") != 0 && strcmp(start, "latest") != 0) {
    snprintf(msg, sizeof msg,
             "kafka_source '%.100s': start = '%.100s' (expected \"earliest\" or \"latest\")",
             sl_config_string(cfg, "topic", ""), start);
    report(ud, 0, msg);
  }
}

static int source_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                       sl_error *err) {
  const char *topic = sl_config_string(cfg, "topic", NULL);
  const char *group = sl_config_string(cfg, "group", env->pipeline);
  const char *start = sl_config_string(cfg, "start", "earliest");
  rd_kafka_conf_t *conf = NULL;
  kafka_source *s;
  char errstr[512];
  int rc;

  *state = NULL;
  if (!topic || !*topic)
    return sl_error_set(err, SL_ERR_INVALID, "kafka_source: 'topic' is required");
  if (!group || !*group)
    return sl_error_set(err, SL_ERR_INVALID,
                        "kafka_source '%s': no consumer group (set 'group' "
                        "or the pipeline name)",
                        topic);
  if (strcmp(start, "earliest") != 0 && strcmp(start, "latest") != 0)
    return sl_error_set(err, SL_ERR_INVALID,
                        "kafka_source '%s': start = '%s' (expected \"earliest\" or \"latest\")",
                        topic, start);
  s = calloc(1, sizeof *s);
  if (!s || !(s->topic = strdup(topic))) {
    free(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  s->env = env;

  /* librdkafka before 2.3.0 aborts (assert in
   * rd_kafka_sticky_assignor_state_destroy, librdkafka issue #4312) when a
   * cooperative-sticky consumer is closed before its first assignment;
   * there the eager range assignor is the default (rebalance_cb handles
   * both protocols). Users can still choose either through the properties. */
  int sticky_safe = rd_kafka_version() >= 0x020300ff;
  /* librdkafka bounds its prefetch queue by messages (queued.min.messages)
   * and bytes (queued.max.messages.kbytes) and before 2.2, once either is
   * reached, fetches again only when its broker thread next wakes up, up to a
   * second later (librdkafka issue #2879; 2.2 added fetch.queue.backoff.ms).
   * The queue therefore used to hold a second of records (1,000,000 messages,
   * 16 MiB), and a worker catching up on small readings peaked at 190-210 MiB
   * RSS: librdkafka keeps ~400 bytes of bookkeeping per queued message on top
   * of its bytes, and a compressed fetch overshoots the byte limit.
   * wake_stalled_fetcher() now restarts a stalled fetcher as soon as the
   * queue runs dry, so ~50k messages suffice: 4 MiB is ~50k JSON readings,
   * and the message bound keeps smaller ones (43-byte Avro) at the same
   * count (bench/README.md, "Sparse devices end to end"). Users can set both. */
  /* A paused runtime (Redis or a sink away) stops polling for up to the
   * retry budget (default 10 min); past librdkafka's max.poll.interval.ms
   * (5 min) the consumer would leave the group, and its partitions would
   * move, with a rebalance of every worker, while the outage lasts. The
   * poll interval therefore outlasts the budget by a minute (at most
   * librdkafka's maximum, a day); session.timeout.ms still notices a dead
   * process within seconds. */
  char poll_interval[24] = "300000";
  if (env->retry_budget_ms + 60000 > 300000)
    snprintf(poll_interval, sizeof poll_interval, "%lld",
             (long long)(env->retry_budget_ms + 60000 < 86400000 ? env->retry_budget_ms + 60000
                                                                 : 86400000));
  const sl_kafka_prop defaults[] = {
      {"partition.assignment.strategy", sticky_safe ? "cooperative-sticky" : "range"},
      {"allow.auto.create.topics", "true"},
      {"queued.min.messages", "50000"},
      {"queued.max.messages.kbytes", "4096"},
      {"max.poll.interval.ms", poll_interval},
  };
  /* Auto-commit would commit offsets of records whose effects are not safe
   * yet (a crash would lose them): the runtime commits explicitly. */
  const sl_kafka_prop forced[] = {
      {"group.id", group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", start},
  };
  rc = sl_kafka_conf_new(env, defaults, sizeof defaults / sizeof defaults[0], forced,
                         sizeof forced / sizeof forced[0], &conf, &s->embedded, err);
  if (rc)
    goto out_close;
  if (s->embedded && (rc = sl_kafka_embedded_topic(topic, 0, err)))
    goto out_conf;
  s->wake_fetcher = rd_kafka_version() < 0x020200ff;
  rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  rd_kafka_conf_set_opaque(conf, s);
  s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!s->rk) {
    rc = sl_error_set(err, SL_ERR_INVALID, "kafka_source '%s': %s", topic, errstr);
    goto out_conf;
  }
  conf = NULL; /* owned by rk now */
  rd_kafka_poll_set_consumer(s->rk);

  rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(s->rk, sub);
  rd_kafka_topic_partition_list_destroy(sub);
  if (e) {
    rc = sl_error_set(err, SL_ERR_UNAVAILABLE, "kafka_source '%s': subscribe: %s", topic,
                      rd_kafka_err2str(e));
    goto out_close;
  }
  *state = s;
  return SL_OK;

out_conf:
  if (conf)
    rd_kafka_conf_destroy(conf);
out_close:
  source_close(s);
  return rc;
}

/* Copy one message into a record of the batch arena. */
static int message_record(kafka_source *s, const rd_kafka_message_t *m, sl_batch *out,
                          sl_error *err) {
  sl_arena *a = sl_batch_arena(out);
  sl_record *r = sl_record_new(a, 8);
  rd_kafka_headers_t *hdrs = NULL;
  rd_kafka_timestamp_type_t tstype;
  int64_t ts;

  if (!r)
    goto nomem;
  if (m->len) {
    void *raw = sl_arena_alloc(a, m->len);
    if (!raw)
      goto nomem;
    memcpy(raw, m->payload, m->len);
    sl_record_set_raw(r, raw, m->len);
  } else {
    sl_record_set_raw(r, "", 0);
  }
  if (m->key) {
    void *key = sl_arena_alloc(a, m->key_len ? m->key_len : 1);
    if (!key)
      goto nomem;
    memcpy(key, m->key, m->key_len);
    sl_record_set_key(r, key, m->key_len);
  }
  /* librdkafka parses headers on this first access, ~1,000 instructions even
   * for a message without any (it sets up a buffer to read their count): not
   * done when nothing in the pipeline reads them. */
  if (!s->env->headers_unread && rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char *name;
    const void *val;
    size_t len;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &len) == 0; i++) {
      void *copy = NULL;
      char *hname = sl_arena_strndup(a, name, strlen(name)); /* header_add borrows it */
      if (!hname)
        goto nomem;
      if (val && len) {
        if (!(copy = sl_arena_alloc(a, len)))
          goto nomem;
        memcpy(copy, val, len);
      }
      if (sl_record_header_add(r, hname, copy ? copy : "", copy ? len : 0) != SL_OK)
        goto nomem;
    }
  }
  ts = rd_kafka_message_timestamp(m, &tstype);
  if (tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0)
    sl_record_set_timestamp(r, ts);
  sl_record_set_position(r, s->env->source_id, s->topic, m->partition, m->offset);
  if (sl_batch_push(out, r) != SL_OK)
    goto nomem;
  return SL_OK;
nomem:
  return sl_error_set(err, SL_ERR_NOMEM, "kafka_source '%s': out of memory", s->topic);
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Calls fn for each assigned partition whose position and high watermark
 * (both cached locally by librdkafka: no broker round trip) are known. */
static void each_position(kafka_source *s,
                          void (*fn)(kafka_source *s, const rd_kafka_topic_partition_t *p,
                                     int64_t hi)) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  if (rd_kafka_assignment(s->rk, &parts) || !parts)
    return;
  if (rd_kafka_position(s->rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < parts->cnt; i++) {
      int64_t lo, hi;
      rd_kafka_topic_partition_t *p = &parts->elems[i];
      if (p->offset >= 0 &&
          !rd_kafka_get_watermark_offsets(s->rk, p->topic, p->partition, &lo, &hi) && hi >= 0)
        fn(s, p, hi);
    }
  }
  rd_kafka_topic_partition_list_destroy(parts);
}

static void wake_if_behind(kafka_source *s, const rd_kafka_topic_partition_t *p, int64_t hi) {
  int64_t lo;
  if (hi <= p->offset || s->woke_at_ms > mono_ms())
    return;
  /* The answer is not needed: the request is what wakes the fetcher. A
   * leader that does not answer (broker down: the fetch reports it) must not
   * hold up every poll, so then no more asking for a second. */
  if (rd_kafka_query_watermark_offsets(s->rk, p->topic, p->partition, &lo, &hi, 200)) {
    s->woke_at_ms = mono_ms() + 1000;
    return;
  }
  if (s->env->counter_add)
    s->env->counter_add(s->env->runtime, "sluice_kafka_fetcher_wakeups_total", 1);
}

/* librdkafka before 2.2 stops fetching while the consumer queue is over
 * queued.min.messages or queued.max.messages.kbytes, and looks again only
 * when its broker thread wakes up: on a network event or a request for that
 * broker, else after up to a second (librdkafka issue #2879; 2.2 added
 * fetch.queue.backoff.ms). A worker that empties the queue sooner waited out
 * the rest of that second, so the queue had to hold a second of records (the
 * memory of ~200k messages at 500k/s) for the worker not to idle. Called
 * when poll() finds the queue empty: if librdkafka knows of records of an
 * assigned partition that we have not read (its position is below the high
 * watermark of its last fetch), the fetcher is stalled or has a fetch in
 * flight; asking that partition's leader for its offsets (one round trip,
 * which the worker would spend waiting anyway) wakes the broker thread, and
 * it fetches again at once. Checked at most every 5 ms, and after an
 * unanswered request not for a second. */
static void wake_stalled_fetcher(kafka_source *s) {
  int64_t now = mono_ms();
  if (s->paused || now - s->woke_at_ms < 5)
    return;
  s->woke_at_ms = now;
  each_position(s, wake_if_behind);
}

static void set_lag(kafka_source *s, const rd_kafka_topic_partition_t *p, int64_t hi) {
  char labels[512];
  snprintf(labels, sizeof labels, "pipeline=%s,source=%s,topic=%s,partition=%d", s->env->pipeline,
           s->env->node_name, p->topic, (int)p->partition);
  sl_metric_set(
      sl_metrics_gauge("sluice_consumer_lag", "Records in the partition not consumed yet", labels),
      (double)(hi > p->offset ? hi - p->offset : 0));
}

/* sluice_consumer_lag{pipeline,source,partition}: the high watermark
 * librdkafka last saw minus the consumer's position; refreshed at most once
 * a second. */
static void report_lag(kafka_source *s) {
  int64_t now = mono_ms();
  if (now - s->lag_at_ms < 1000)
    return;
  s->lag_at_ms = now;
  each_position(s, set_lag);
}

static int source_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                       sl_error *err) {
  kafka_source *s = state;
  char errstr[512];
  size_t got = 0;
  int rc = SL_OK;

  *eof = 0; /* a topic never ends */
  while (got < max) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 0);
    if (!m && !got && timeout_ms > 0) {
      if (s->wake_fetcher)
        wake_stalled_fetcher(s);
      m = rd_kafka_consumer_poll(s->rk, timeout_ms);
    }
    if (!m)
      break;
    if (m->err) {
      rd_kafka_resp_err_t e = m->err;
      if (e == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        rd_kafka_message_destroy(m);
        continue;
      }
      if (e == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(s->rk, errstr, sizeof errstr);
        rd_kafka_message_destroy(m);
        rc =
            sl_error_set(err, SL_ERR_UNAVAILABLE, "kafka_source '%s': fatal: %s", s->topic, errstr);
        break;
      }
      /* Transient (broker down, topic not there yet): librdkafka retries. */
      source_log(s, SL_LOG_WARN, "kafka_source '%s': %s", s->topic, rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    rc = message_record(s, m, out, err);
    rd_kafka_message_destroy(m);
    if (rc)
      break;
    got++;
  }
  if (!rc && s->cb_status) {
    rc = s->cb_status;
    *err = s->cb_err;
    s->cb_status = SL_OK;
  }
  if (got && s->env->counter_add)
    s->env->counter_add(s->env->runtime, "sluice_kafka_records_consumed_total", (double)got);
  report_lag(s);
  return rc;
}

static int source_commit(void *state, const sl_offset *offsets, size_t n, sl_error *err) {
  kafka_source *s = state;
  rd_kafka_topic_partition_list_t *list;
  rd_kafka_resp_err_t e;

  if (n == 0)
    return SL_OK;
  list = rd_kafka_topic_partition_list_new((int)n);
  if (!list)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    rd_kafka_topic_partition_list_add(list, s->topic, offsets[i].partition)->offset =
        offsets[i].next_offset;
  e = rd_kafka_commit(s->rk, list, 0 /* synchronous: the caller needs the outcome */);
  for (int i = 0; !e && i < list->cnt; i++)
    e = list->elems[i].err;
  rd_kafka_topic_partition_list_destroy(list);
  switch (e) {
  case RD_KAFKA_RESP_ERR_NO_ERROR: return SL_OK;
  case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
  case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
  case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
    return sl_error_set(err, SL_ERR_FENCED,
                        "kafka_source '%s': commit refused, the partitions were reassigned: %s",
                        s->topic, rd_kafka_err2str(e));
  default:
    sl_error_set(err, SL_ERR_UNAVAILABLE, "kafka_source '%s': commit: %s", s->topic,
                 rd_kafka_err2str(e));
    if (err)
      err->retriable = 1;
    return SL_ERR_UNAVAILABLE;
  }
}

static void source_pause(void *state) {
  kafka_source *s = state;
  rd_kafka_topic_partition_list_t *parts = NULL;
  if (s->paused || rd_kafka_assignment(s->rk, &parts))
    return;
  rd_kafka_pause_partitions(s->rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  s->paused = 1;
}

const sl_source_desc sl_kafka_source = {
    .name = "kafka_source",
    .summary = "consume a Kafka topic in a consumer group; offsets committed by the runtime",
    .config = source_config,
    .positional = "topic",
    .open = source_open,
    .poll = source_poll,
    .commit = source_commit,
    .pause = source_pause,
    .close = source_close,
    .check = source_check,
};
