/* SPDX-License-Identifier: Apache-2.0 */
/* Kafka connectors against a real broker protocol: the embedded mock cluster
 * (default) or the broker named by SLUICE_TEST_KAFKA_BROKERS (e.g. one from
 * scripts/kafka-broker.sh). The same tests run against both; fault-injection
 * tests need the mock cluster and are only registered with it. Waits are
 * bounded polls on the broker, never sleeps. */
#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/record_internal.h"
#include "codec/avro_codec.h"
#include "codec/json_codec.h"
#include "kafka.h"
#include "kafka_conf.h"

#define RD_KAFKAP_PRODUCE 0 /* Kafka protocol ApiKey of Produce */
#define POLL_MS 250
#define MAX_POLLS 160 /* 40 s for a group join plus fetch, far above normal */

/* ---- the fake runtime --------------------------------------------------- */

typedef struct tk_dead {
  sl_record *record;
  char reason[32];
  char message[256];
} tk_dead;

typedef struct tk_env {
  sl_connector_env env;
  sl_config *kafka;
  sl_arena *arena; /* dead letters and consumed records */
  sl_buf logs;     /* every log line, '\n'-separated */
  tk_dead dead[256];
  size_t dead_count;
  size_t assigned; /* partitions currently assigned */
  size_t assigns, revokes;
  int lost;               /* on_assignment_lost calls */
  int64_t restore_offset; /* what on_assign returns for each partition */
  double wakeups;         /* sluice_kafka_fetcher_wakeups_total counted by the source */
  char pipeline[64];
} tk_env;

static const char *test_brokers(void) {
  const char *b = getenv("SLUICE_TEST_KAFKA_BROKERS");
  return b && *b ? b : "embedded";
}

static int is_embedded(void) { return strcmp(test_brokers(), "embedded") == 0; }

/* Unique names per test run so a real broker's leftovers never interfere. */
static void unique(char *out, size_t cap, const char *what) {
  static unsigned seq;
  snprintf(out, cap, "sl-test-%s-%ld-%u", what, (long)getpid(), ++seq);
}

static void tk_log(void *rt, sl_log_level level, const char *fmt, ...) {
  tk_env *t = rt;
  va_list ap;
  char line[2048];
  (void)level;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  sl_buf_puts(&t->logs, line);
  sl_buf_putc(&t->logs, '\n');
}

static void tk_counter(void *rt, const char *name, double delta) {
  tk_env *t = rt;
  if (strcmp(name, "sluice_kafka_fetcher_wakeups_total") == 0)
    t->wakeups += delta;
}

static int tk_dead_letter(void *rt, const sl_record *r, const char *reason, const char *msg) {
  tk_env *t = rt;
  if (t->dead_count == sizeof t->dead / sizeof t->dead[0])
    return SL_ERR_LIMIT;
  tk_dead *d = &t->dead[t->dead_count++];
  d->record = sl_record_clone(t->arena, r);
  snprintf(d->reason, sizeof d->reason, "%s", reason);
  snprintf(d->message, sizeof d->message, "%s", msg);
  return SL_OK;
}

static int tk_on_assign(void *rt, int32_t source_id, const int32_t *parts, size_t n,
                        int64_t *offsets) {
  tk_env *t = rt;
  (void)source_id;
  (void)parts;
  for (size_t i = 0; i < n; i++)
    offsets[i] = t->restore_offset;
  t->assigned += n;
  t->assigns++;
  return SL_OK;
}

static void tk_on_assignment_lost(void *rt, int32_t source_id) {
  (void)source_id;
  ((tk_env *)rt)->lost++;
}

static int tk_on_revoke(void *rt, int32_t source_id, const int32_t *parts, size_t n) {
  tk_env *t = rt;
  (void)source_id;
  (void)parts;
  t->assigned -= n;
  t->revokes++;
  return SL_OK;
}

static void tk_init(tk_env *t) {
  memset(t, 0, sizeof *t);
  t->arena = sl_arena_new(0);
  t->kafka = sl_config_new("test", 1);
  sl_config_put_string(t->kafka, "bootstrap.servers", test_brokers());
  /* A departed member that did not leave cleanly blocks a group's next
   * rebalance for the session timeout: keep it at the broker's minimum. */
  sl_config_put_number(t->kafka, "session.timeout.ms", 6000);
  sl_config_put_number(t->kafka, "heartbeat.interval.ms", 500);
  unique(t->pipeline, sizeof t->pipeline, "pipe");
  t->restore_offset = -1;
  t->env.pipeline = t->pipeline;
  t->env.kafka = t->kafka;
  t->env.state = "memory";
  t->env.source_id = 2;
  t->env.node_name = "kafka_sink#1";
  t->env.runtime = t;
  t->env.log = tk_log;
  t->env.counter_add = tk_counter;
  t->env.dead_letter = tk_dead_letter;
  t->env.on_assign = tk_on_assign;
  t->env.on_revoke = tk_on_revoke;
  t->env.on_assignment_lost = tk_on_assignment_lost;
  /* The embedded broker lives while a connector holds it: the test holds
   * it too, so topics survive between a sink's close and a source's open. */
  if (is_embedded())
    CU_ASSERT_EQUAL(sl_kafka_embedded_acquire(NULL, NULL), SL_OK);
}

static void tk_free(tk_env *t) {
  if (is_embedded())
    sl_kafka_embedded_release();
  sl_config_destroy(t->kafka);
  sl_arena_destroy(t->arena);
  sl_buf_free(&t->logs);
}

/* ---- helpers ------------------------------------------------------------ */

static void *open_sink_format(tk_env *t, const char *topic, const char *key, int raw,
                              const char *schema) {
  sl_config *c = sl_config_new("test", 1);
  sl_error err;
  void *st = NULL;
  sl_config_put_string(c, "topic", topic);
  if (schema) {
    sl_config_put_string(c, "format", "avro");
    sl_config_put_string(c, "schema", schema);
  }
  if (key)
    sl_config_put_string(c, "key", key);
  if (raw)
    sl_config_put_bool(c, "raw", 1);
  int rc = sl_kafka_sink.open(&t->env, c, &st, &err);
  if (rc)
    fprintf(stderr, "kafka_sink open: %s\n", err.message);
  CU_ASSERT_EQUAL(rc, SL_OK);
  sl_config_destroy(c);
  return st;
}

static void *open_sink(tk_env *t, const char *topic, const char *key, int raw) {
  return open_sink_format(t, topic, key, raw, NULL);
}

static void *open_source(tk_env *t, const char *topic, const char *group, const char *start) {
  sl_config *c = sl_config_new("test", 1);
  sl_error err;
  void *st = NULL;
  sl_config_put_string(c, "topic", topic);
  if (group)
    sl_config_put_string(c, "group", group);
  if (start)
    sl_config_put_string(c, "start", start);
  int rc = sl_kafka_source.open(&t->env, c, &st, &err);
  if (rc)
    fprintf(stderr, "kafka_source open: %s\n", err.message);
  CU_ASSERT_EQUAL(rc, SL_OK);
  sl_config_destroy(c);
  return st;
}

/* {"site":"s1","id":i,"v":i*1.5} keyed by the template, header trace=i. */
static sl_record *make_record(sl_arena *a, int i, int with_window) {
  sl_record *r = sl_record_new(a, 4);
  char *trace = sl_arena_alloc(a, 16);
  int n = snprintf(trace, 16, "t%d", i);
  sl_record_set(r, sl_name_cstr("site"), sl_value_string("s1", 2));
  sl_record_set(r, sl_name_cstr("id"), sl_value_int(i));
  sl_record_set(r, sl_name_cstr("v"), sl_value_double(i * 1.5));
  if (with_window)
    sl_record_set(r, sl_name_cstr("window_start"), sl_value_int(1000 * (int64_t)i));
  sl_record_header_add(r, "trace", trace, (size_t)n);
  sl_record_set_position(r, 0, "input", 3, 100 + i);
  return r;
}

/* Write every record of `b` through backpressure, then flush. */
static int write_all(void *sink, sl_batch *b, int *limits) {
  sl_error err;
  size_t done = 0;
  int rc = SL_OK;
  for (int guard = 0; done < sl_batch_count(b) && guard < 10000; guard++) {
    sl_batch rest;
    size_t written = 0;
    sl_batch_init(&rest, sl_batch_arena(b));
    for (size_t i = done; i < sl_batch_count(b); i++)
      sl_batch_push(&rest, sl_batch_at(b, i));
    rc = sl_kafka_sink.write(sink, &rest, &written, &err);
    sl_batch_release(&rest);
    done += written;
    if (rc == SL_ERR_LIMIT) {
      if (limits)
        (*limits)++;
      sl_kafka_sink.flush(sink, 100, &err); /* make room */
      continue;
    }
    if (rc)
      return rc;
  }
  CU_ASSERT_EQUAL(done, sl_batch_count(b));
  return sl_kafka_sink.flush(sink, 30000, &err);
}

static int produce(tk_env *t, const char *topic, int from, int n, int with_window) {
  void *sink = open_sink(t, topic, "{site}-{id}", 0);
  sl_batch b;
  int rc;
  if (!sink)
    return SL_ERR_INTERNAL;
  sl_batch_init(&b, t->arena);
  for (int i = from; i < from + n; i++)
    sl_batch_push(&b, make_record(t->arena, i, with_window && i % 5 == 0));
  rc = write_all(sink, &b, NULL);
  sl_batch_release(&b);
  sl_kafka_sink.close(sink);
  return rc;
}

/* Poll until `want` records arrived (or the poll budget is spent), then
 * `extra` more empty polls to catch anything that should not be there. */
static size_t consume(void *src, sl_batch *b, size_t want, int extra) {
  sl_error err;
  int eof;
  for (int i = 0; i < MAX_POLLS && sl_batch_count(b) < want; i++)
    CU_ASSERT_EQUAL(sl_kafka_source.poll(src, b, 64, POLL_MS, &eof, &err), SL_OK);
  for (int i = 0; i < extra; i++)
    CU_ASSERT_EQUAL(sl_kafka_source.poll(src, b, 64, POLL_MS, &eof, &err), SL_OK);
  if (sl_batch_count(b) != want)
    fprintf(stderr, "consumed %zu records, expected %zu\n", sl_batch_count(b), want);
  return sl_batch_count(b);
}

static const char *header(const sl_record *r, const char *name, size_t *len) {
  for (size_t i = 0; i < sl_record_header_count(r); i++) {
    const void *v;
    if (strcmp(sl_record_header_at(r, i, &v, len), name) == 0)
      return v;
  }
  return NULL;
}

static int64_t field_int(tk_env *t, const sl_record *r, const char *name) {
  size_t len;
  const char *raw = sl_record_raw(r, &len);
  sl_record *d = NULL;
  sl_error err;
  if (sl_json_decode(raw, len, t->arena, &d, &err) != SL_OK)
    return -1;
  const sl_value *v = sl_record_get_cstr(d, name);
  return v && v->type == SL_TYPE_INT ? v->as.i : -1;
}

/* ---- configuration ------------------------------------------------------ */

static void test_redaction(void) {
  static const char *const secret[] = {"sasl.password",
                                       "ssl.key.password",
                                       "ssl.key.pem",
                                       "ssl.keystore.password",
                                       "sasl.oauthbearer.client.secret",
                                       "sasl.oauthbearer.config",
                                       "SASL.PASSWORD",
                                       "ssl.key.location",
                                       "some.token"};
  static const char *const plain[] = {"bootstrap.servers", "sasl.username", "security.protocol",
                                      "sasl.mechanism",    "client.id",     "ssl.ca.location"};
  for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
    CU_ASSERT_EQUAL(sl_kafka_conf_is_secret(secret[i]), 1);
    CU_ASSERT_STRING_EQUAL(sl_kafka_conf_redact(secret[i], "hunter2"), "[redacted]");
  }
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
    CU_ASSERT_EQUAL(sl_kafka_conf_is_secret(plain[i]), 0);
    CU_ASSERT_STRING_EQUAL(sl_kafka_conf_redact(plain[i], "v"), "v");
  }
}

static void test_env_property_names(void) {
  char p[64];
  CU_ASSERT_EQUAL(sl_kafka_conf_env_property("SLUICE_KAFKA_SECURITY_PROTOCOL", p, sizeof p), 1);
  CU_ASSERT_STRING_EQUAL(p, "security.protocol");
  CU_ASSERT_EQUAL(sl_kafka_conf_env_property("SLUICE_KAFKA_SASL_PASSWORD", p, sizeof p), 1);
  CU_ASSERT_STRING_EQUAL(p, "sasl.password");
  CU_ASSERT_EQUAL(sl_kafka_conf_env_property("SLUICE_KAFKA_BROKERS", p, sizeof p), 1);
  CU_ASSERT_STRING_EQUAL(p, "bootstrap.servers");
  CU_ASSERT_EQUAL(sl_kafka_conf_env_property("SLUICE_REDIS_URL", p, sizeof p), 0);
  CU_ASSERT_EQUAL(sl_kafka_conf_env_property("SLUICE_KAFKA_", p, sizeof p), 0);
  CU_ASSERT_EQUAL(sl_kafka_conf_env_property("SLUICE_KAFKA_CLIENT_ID", p, 4), 0);
}

static void test_config_passthrough(void) {
  tk_env t;
  rd_kafka_conf_t *conf = NULL;
  sl_error err;
  char v[256];
  size_t vl;
  int emb = -1;
  tk_init(&t);
  setenv("SLUICE_KAFKA_SASL_USERNAME", "alice", 1);
  setenv("SLUICE_KAFKA_SASL_PASSWORD", "hunter2-env", 1);
  setenv("SLUICE_KAFKA_CLIENT_ID", "from-env", 1);
  setenv("SLUICE_KAFKA_BROKERS", "127.0.0.1:1", 1);
  sl_config_destroy(t.kafka);
  t.kafka = sl_config_new("test", 1);
  t.env.kafka = t.kafka;
  sl_config_put_string(t.kafka, "client.id", "from-table"); /* table beats environment */
  sl_config_put_number(t.kafka, "socket.timeout.ms", 12345);
  sl_config_put_bool(t.kafka, "enable.auto.commit", 1);
  sl_config_put_string(t.kafka, "ssl.key.password", "hunter3-table");
  const sl_kafka_prop forced[] = {{"enable.auto.commit", "false"}};
  CU_ASSERT_EQUAL_FATAL(sl_kafka_conf_new(&t.env, NULL, 0, forced, 1, &conf, &emb, &err), SL_OK);
  CU_ASSERT_EQUAL(emb, 0);
  vl = sizeof v;
  CU_ASSERT(rd_kafka_conf_get(conf, "client.id", v, &vl) == RD_KAFKA_CONF_OK &&
            strcmp(v, "from-table") == 0);
  vl = sizeof v;
  CU_ASSERT(rd_kafka_conf_get(conf, "sasl.username", v, &vl) == RD_KAFKA_CONF_OK &&
            strcmp(v, "alice") == 0);
  vl = sizeof v;
  CU_ASSERT(rd_kafka_conf_get(conf, "socket.timeout.ms", v, &vl) == RD_KAFKA_CONF_OK &&
            strcmp(v, "12345") == 0);
  vl = sizeof v;
  CU_ASSERT(rd_kafka_conf_get(conf, "enable.auto.commit", v, &vl) == RD_KAFKA_CONF_OK &&
            strcmp(v, "false") == 0);
  vl = sizeof v;
  CU_ASSERT(rd_kafka_conf_get(conf, "bootstrap.servers", v, &vl) == RD_KAFKA_CONF_OK &&
            strcmp(v, "127.0.0.1:1") == 0);
  rd_kafka_conf_destroy(conf);
  /* The description is logged, secrets are not. */
  CU_ASSERT_PTR_NOT_NULL(strstr(t.logs.data, "sasl.username=alice"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.logs.data, "sasl.password=[redacted]"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.logs.data, "ssl.key.password=[redacted]"));
  CU_ASSERT_PTR_NULL(strstr(t.logs.data, "hunter2"));
  CU_ASSERT_PTR_NULL(strstr(t.logs.data, "hunter3"));

  /* A misspelt property is named in the error. */
  sl_config_put_string(t.kafka, "sasl.pasword", "x");
  CU_ASSERT_EQUAL(sl_kafka_conf_new(&t.env, NULL, 0, NULL, 0, &conf, &emb, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "sasl.pasword"));
  CU_ASSERT_PTR_NULL(strstr(err.message, "hunter"));
  unsetenv("SLUICE_KAFKA_SASL_USERNAME");
  unsetenv("SLUICE_KAFKA_SASL_PASSWORD");
  unsetenv("SLUICE_KAFKA_CLIENT_ID");
  unsetenv("SLUICE_KAFKA_BROKERS");
  tk_free(&t);
}

/* A connector default (kafka_source's queued.min.messages and the like) gives way to the
 * environment, and the environment to the pipeline's kafka table: users can always set
 * linger.ms, whatever sluice's defaults. */
static void test_defaults_overridden(void) {
  tk_env t;
  char v[64];
  size_t vl;
  int emb;
  sl_error err;
  rd_kafka_conf_t *conf = NULL;
  const sl_kafka_prop defaults[] = {{"linger.ms", "1"}};
  static const char *const want[] = {"1", "7", "20"};
  tk_init(&t);
  for (int step = 0; step < 3; step++) {
    if (step == 1)
      setenv("SLUICE_KAFKA_LINGER_MS", "7", 1);
    if (step == 2)
      sl_config_put_number(t.kafka, "linger.ms", 20);
    CU_ASSERT_EQUAL_FATAL(sl_kafka_conf_new(&t.env, defaults, 1, NULL, 0, &conf, &emb, &err),
                          SL_OK);
    vl = sizeof v;
    CU_ASSERT(rd_kafka_conf_get(conf, "linger.ms", v, &vl) == RD_KAFKA_CONF_OK &&
              strcmp(v, want[step]) == 0);
    rd_kafka_conf_destroy(conf);
    if (emb)
      sl_kafka_embedded_release();
  }
  unsetenv("SLUICE_KAFKA_LINGER_MS");
  tk_free(&t);
}

/* The queue sizes that keep a worker catching up on a backlog near 120 MiB (issue 16)
 * are in the properties sluice logs for each client, and a pipeline's own value wins. */
static void test_default_queue_sizes(void) {
  tk_env t;
  char topic[96];
  tk_init(&t);
  unique(topic, sizeof topic, "qsize");
  void *src = open_source(&t, topic, NULL, "earliest");
  void *sink = open_sink(&t, topic, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.logs.data, "queued.max.messages.kbytes=4096"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.logs.data, "queued.min.messages=50000"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.logs.data, "queue.buffering.max.messages=20000"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t.logs.data, "max.poll.interval.ms=300000"));
  sl_kafka_source.close(src);
  sl_kafka_sink.close(sink);
  /* Regression: a runtime paused for its 10-minute retry budget stopped
   * polling past librdkafka's 5-minute max.poll.interval.ms and left the
   * group. The poll interval now outlasts the budget by a minute. */
  sl_buf_reset(&t.logs);
  t.env.retry_budget_ms = 600000;
  src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL(strstr(t.logs.data, "max.poll.interval.ms=660000"));
  sl_kafka_source.close(src);
  t.env.retry_budget_ms = 0;
  /* The log lists every property in the order applied: the table's last. */
  sl_buf_reset(&t.logs);
  sl_config_put_number(t.kafka, "queue.buffering.max.messages", 50000);
  sink = open_sink(&t, topic, NULL, 0);
  const char *dflt = strstr(t.logs.data, "queue.buffering.max.messages=20000");
  const char *own = strstr(t.logs.data, "queue.buffering.max.messages=50000");
  CU_ASSERT(dflt && own && own > dflt);
  sl_kafka_sink.close(sink);
  tk_free(&t);
}

static void test_bad_options(void) {
  tk_env t;
  sl_config *c = sl_config_new("test", 1);
  sl_error err;
  void *st = (void *)1;
  tk_init(&t);
  sl_config_put_string(c, "topic", "x");
  sl_config_put_string(c, "start", "beginning");
  CU_ASSERT_EQUAL(sl_kafka_source.open(&t.env, c, &st, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NULL(st);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "beginning"));
  sl_config_put_string(c, "key", "{site");
  CU_ASSERT_EQUAL(sl_kafka_sink.open(&t.env, c, &st, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "missing '}'"));
  sl_config_put_string(c, "key", "id");
  sl_config_put_string(c, "format", "xml");
  CU_ASSERT_EQUAL(sl_kafka_sink.open(&t.env, c, &st, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "xml"));
  sl_kafka_source.close(NULL);
  sl_kafka_sink.close(NULL);
  sl_config_destroy(c);
  tk_free(&t);
}

/* ---- round trip --------------------------------------------------------- */

static void test_round_trip(void) {
  enum { N = 40 };
  tk_env t;
  char topic[96];
  sl_batch b;
  int seen[N] = {0};
  int64_t last_offset[64];
  tk_init(&t);
  unique(topic, sizeof topic, "rt");
  CU_ASSERT_EQUAL_FATAL(produce(&t, topic, 0, N, 1), SL_OK);
  CU_ASSERT_EQUAL(t.dead_count, 0);

  void *src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  sl_batch_init(&b, t.arena);
  CU_ASSERT_EQUAL(consume(src, &b, N, 1), N);
  CU_ASSERT(t.assigned >= 1);
  for (size_t i = 0; i < 64; i++)
    last_offset[i] = -1;
  for (size_t i = 0; i < sl_batch_count(&b); i++) {
    const sl_record *r = sl_batch_at(&b, i);
    int64_t id = field_int(&t, r, "id");
    CU_ASSERT_FATAL(id >= 0 && id < N);
    CU_ASSERT_EQUAL(seen[id], 0);
    seen[id]++;
    /* value */
    char want[160], got_key[64];
    size_t len, klen;
    const char *raw = sl_record_raw(r, &len);
    sl_record *val = NULL;
    sl_error err;
    CU_ASSERT_EQUAL_FATAL(sl_json_decode(raw, len, t.arena, &val, &err), SL_OK);
    CU_ASSERT_EQUAL(sl_record_count(val), id % 5 == 0 ? 4 : 3);
    const sl_value *site = sl_record_get_cstr(val, "site");
    CU_ASSERT(site && site->type == SL_TYPE_STRING && site->as.str.len == 2 &&
              memcmp(site->as.str.ptr, "s1", 2) == 0);
    const sl_value *v = sl_record_get_cstr(val, "v");
    CU_ASSERT(v && v->type == SL_TYPE_DOUBLE && v->as.d == (double)id * 1.5);
    /* key from the template */
    const char *key = sl_record_key(r, &klen);
    snprintf(got_key, sizeof got_key, "s1-%lld", (long long)id);
    CU_ASSERT(key && klen == strlen(got_key) && memcmp(key, got_key, klen) == 0);
    /* headers: ours, then the sluice-id */
    const char *trace = header(r, "trace", &len);
    snprintf(want, sizeof want, "t%lld", (long long)id);
    CU_ASSERT(trace && len == strlen(want) && memcmp(trace, want, len) == 0);
    const char *sid = header(r, "sluice-id", &len);
    if (id % 5 == 0)
      snprintf(want, sizeof want, "%s/kafka_sink#1/s1-%lld/%lld", t.pipeline, (long long)id,
               (long long)id * 1000);
    else
      snprintf(want, sizeof want, "%s/kafka_sink#1/input/3/%lld", t.pipeline, (long long)id + 100);
    CU_ASSERT(sid && len == strlen(want) && memcmp(sid, want, len) == 0);
    /* position: ours, increasing per partition without gaps */
    CU_ASSERT_EQUAL(sl_record_source_id(r), 2);
    CU_ASSERT_STRING_EQUAL(sl_record_source_name(r), topic);
    CU_ASSERT(sl_record_timestamp(r) > 0);
    int32_t p = sl_record_partition(r);
    CU_ASSERT_FATAL(p >= 0 && p < 64);
    CU_ASSERT_EQUAL(sl_record_offset(r), last_offset[p] + 1);
    last_offset[p] = sl_record_offset(r);
  }
  sl_kafka_source.close(src);
  CU_ASSERT(t.revokes >= 1);
  CU_ASSERT_EQUAL(t.assigned, 0);
  sl_batch_release(&b);
  tk_free(&t);
}

/* ---- commit semantics --------------------------------------------------- */

static void test_commit_half_then_resume(void) {
  enum { N = 24 };
  tk_env t;
  char topic[96], group[96];
  sl_batch b;
  sl_error err;
  int64_t count[64] = {0};
  sl_offset offs[64];
  size_t noffs = 0, expect = 0;
  tk_init(&t);
  unique(topic, sizeof topic, "commit");
  unique(group, sizeof group, "group");
  CU_ASSERT_EQUAL_FATAL(produce(&t, topic, 0, N, 0), SL_OK);

  void *src = open_source(&t, topic, group, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  sl_batch_init(&b, t.arena);
  if (consume(src, &b, N, 0) != N) {
    CU_FAIL("did not consume every produced record");
    sl_kafka_source.close(src);
    goto out;
  }
  for (size_t i = 0; i < N; i++)
    count[sl_record_partition(sl_batch_at(&b, i))]++;
  /* Commit the first half of every partition; nothing else may be. */
  for (int32_t p = 0; p < 64; p++) {
    if (!count[p])
      continue;
    offs[noffs++] = (sl_offset){p, count[p] / 2};
    expect += (size_t)(count[p] - count[p] / 2);
  }
  CU_ASSERT_EQUAL(sl_kafka_source.commit(src, offs, noffs, &err), SL_OK);
  sl_kafka_source.close(src);
  sl_batch_clear(&b);

  src = open_source(&t, topic, group, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  CU_ASSERT_EQUAL(consume(src, &b, expect, 2), expect);
  for (size_t i = 0; i < sl_batch_count(&b); i++) {
    const sl_record *r = sl_batch_at(&b, i);
    CU_ASSERT(sl_record_offset(r) >= count[sl_record_partition(r)] / 2);
  }
  sl_kafka_source.close(src);
  sl_batch_clear(&b);

  /* Offsets restored by the runtime (on_assign) win over committed ones. */
  t.restore_offset = 0;
  src = open_source(&t, topic, group, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  CU_ASSERT_EQUAL(consume(src, &b, N, 0), N);
  sl_kafka_source.close(src);
out:
  sl_batch_release(&b);
  tk_free(&t);
}

/* A checkpoint offset past the partition's end (the topic was recreated):
 * the source refuses to resume instead of counting old and new records. */
static void test_restored_offset_past_end(void) {
  tk_env t;
  char topic[96];
  sl_batch b;
  int eof;
  sl_error err;
  tk_init(&t);
  unique(topic, sizeof topic, "recreated");
  CU_ASSERT_EQUAL_FATAL(produce(&t, topic, 0, 6, 0), SL_OK);
  sl_batch_init(&b, t.arena);
  t.restore_offset = 1000;
  void *src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  int rc = SL_OK;
  for (int i = 0; i < MAX_POLLS && rc == SL_OK; i++)
    rc = sl_kafka_source.poll(src, &b, 64, 200, &eof, &err);
  CU_ASSERT_EQUAL(rc, SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(err.message, "the checkpoint resumes at offset 1000 but the partition ends at"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "recreated"));
  CU_ASSERT_EQUAL(sl_batch_count(&b), 0);
  sl_kafka_source.close(src);
  sl_batch_release(&b);
  tk_free(&t);
}

static void test_start_latest(void) {
  tk_env t;
  char topic[96];
  sl_batch b;
  int eof;
  sl_error err;
  tk_init(&t);
  unique(topic, sizeof topic, "latest");
  CU_ASSERT_EQUAL_FATAL(produce(&t, topic, 0, 5, 0), SL_OK);
  void *src = open_source(&t, topic, NULL, "latest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  sl_batch_init(&b, t.arena);
  /* Produce one new record per round until one arrives: the old ones must
   * never show up, whenever the assignment lands. */
  for (int k = 0; k < 60 && sl_batch_count(&b) == 0; k++) {
    CU_ASSERT_EQUAL_FATAL(produce(&t, topic, 5 + k, 1, 0), SL_OK);
    CU_ASSERT_EQUAL(sl_kafka_source.poll(src, &b, 64, 500, &eof, &err), SL_OK);
  }
  CU_ASSERT(sl_batch_count(&b) >= 1);
  for (size_t i = 0; i < sl_batch_count(&b); i++)
    CU_ASSERT(field_int(&t, sl_batch_at(&b, i), "id") >= 5);
  sl_kafka_source.close(src);
  sl_batch_release(&b);
  tk_free(&t);
}

/* Two members of one group with the cooperative-sticky assignor: the second
 * one's arrival moves only some partitions (incremental revoke/assign), and
 * every partition ends up owned by exactly one of them. Both members are
 * closed only after their first assignment (librdkafka < 2.3.0 aborts
 * otherwise, see kafka_source.c). */
static void test_cooperative_two_members(void) {
  tk_env a, b;
  char topic[96], group[96];
  sl_batch ba, bb;
  sl_error err;
  int eof;
  tk_init(&a);
  tk_init(&b);
  sl_config_put_string(a.kafka, "partition.assignment.strategy", "cooperative-sticky");
  sl_config_put_string(b.kafka, "partition.assignment.strategy", "cooperative-sticky");
  unique(topic, sizeof topic, "coop");
  unique(group, sizeof group, "coop-group");
  CU_ASSERT_EQUAL_FATAL(produce(&a, topic, 0, 8, 0), SL_OK);
  sl_batch_init(&ba, a.arena);
  sl_batch_init(&bb, b.arena);
  void *sa = open_source(&a, topic, group, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(sa);
  CU_ASSERT_EQUAL(consume(sa, &ba, 8, 0), 8);
  size_t total = a.assigned;
  CU_ASSERT(total >= 2);
  void *sb = open_source(&b, topic, group, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(sb);
  for (int i = 0; i < MAX_POLLS && !(b.assigned > 0 && a.assigned + b.assigned == total); i++) {
    CU_ASSERT_EQUAL(sl_kafka_source.poll(sa, &ba, 64, POLL_MS / 2, &eof, &err), SL_OK);
    CU_ASSERT_EQUAL(sl_kafka_source.poll(sb, &bb, 64, POLL_MS / 2, &eof, &err), SL_OK);
  }
  CU_ASSERT(a.assigned > 0 && b.assigned > 0);
  CU_ASSERT_EQUAL(a.assigned + b.assigned, total);
  CU_ASSERT(a.revokes >= 1);     /* incremental: A gave some partitions up */
  CU_ASSERT_EQUAL(a.assigns, 1); /* and kept the rest without a new assignment */
  sl_kafka_source.close(sb);
  sl_kafka_source.close(sa);
  sl_batch_release(&ba);
  sl_batch_release(&bb);
  tk_free(&b);
  tk_free(&a);
}

/* ---- dead-letter (raw) mode --------------------------------------------- */

static void test_dead_letter_raw(void) {
  static const char *const hdrs[][2] = {{"sluice-error", "expected ':' at byte 9"},
                                        {"sluice-reason", "decode"},
                                        {"sluice-source-topic", "telemetry"},
                                        {"sluice-source-partition", "2"},
                                        {"sluice-source-offset", "41"}};
  tk_env t;
  char topic[96];
  sl_batch b, got;
  tk_init(&t);
  unique(topic, sizeof topic, "dlq");
  void *sink = open_sink(&t, topic, NULL, 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sink);
  sl_batch_init(&b, t.arena);
  sl_record *r = sl_record_new(t.arena, 0);
  sl_record_set_raw(r, "{\"broken\" 1\x01", 12);
  sl_record_set_key(r, "dev-7", 5);
  for (size_t i = 0; i < 5; i++)
    sl_record_header_add(r, hdrs[i][0], hdrs[i][1], strlen(hdrs[i][1]));
  sl_batch_push(&b, r);
  CU_ASSERT_EQUAL(write_all(sink, &b, NULL), SL_OK);
  sl_kafka_sink.close(sink);

  void *src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  sl_batch_init(&got, t.arena);
  if (consume(src, &got, 1, 0) != 1) {
    CU_FAIL("the dead-letter record did not arrive");
    sl_kafka_source.close(src);
    goto out;
  }
  const sl_record *d = sl_batch_at(&got, 0);
  size_t len;
  const void *raw = sl_record_raw(d, &len);
  CU_ASSERT(len == 12 && memcmp(raw, "{\"broken\" 1\x01", 12) == 0);
  raw = sl_record_key(d, &len);
  CU_ASSERT(len == 5 && memcmp(raw, "dev-7", 5) == 0);
  CU_ASSERT_EQUAL_FATAL(sl_record_header_count(d), 5);
  for (size_t i = 0; i < 5; i++) {
    const void *v;
    CU_ASSERT_STRING_EQUAL(sl_record_header_at(d, i, &v, &len), hdrs[i][0]);
    CU_ASSERT(len == strlen(hdrs[i][1]) && memcmp(v, hdrs[i][1], len) == 0);
  }
  sl_kafka_source.close(src);
out:
  sl_batch_release(&b);
  sl_batch_release(&got);
  tk_free(&t);
}

/* ---- Avro --------------------------------------------------------------- */

static const char avro_schema_json[] =
    "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":["
    "{\"name\":\"site\",\"type\":\"string\"},{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"v\",\"type\":\"double\"},"
    "{\"name\":\"window_start\",\"type\":[\"null\",\"long\"],\"default\":null}]}";

static void test_avro_round_trip(void) {
  enum { N = 6 };
  tk_env t;
  char topic[96], path[] = "/tmp/sluice-test-avro-XXXXXX";
  sl_batch b;
  sl_error err;
  size_t written = 0;
  int seen[N] = {0};
  tk_init(&t);
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL(write(fd, avro_schema_json, strlen(avro_schema_json)),
                  (ssize_t)strlen(avro_schema_json));
  close(fd);
  unique(topic, sizeof topic, "avro");
  void *sink = open_sink_format(&t, topic, "id", 0, path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sink);
  sl_batch_init(&b, t.arena);
  for (int i = 0; i < N; i++)
    sl_batch_push(&b, make_record(t.arena, i, 0));
  /* A record the schema cannot encode is dead-lettered, not a failed flush. */
  sl_record *bad = sl_record_new(t.arena, 1);
  sl_record_set(bad, sl_name_cstr("id"), sl_value_int(99));
  sl_record_set_raw(bad, "orig", 4);
  sl_batch_push(&b, bad);
  CU_ASSERT_EQUAL(sl_kafka_sink.write(sink, &b, &written, &err), SL_OK);
  CU_ASSERT_EQUAL(written, N + 1);
  CU_ASSERT_EQUAL(sl_kafka_sink.flush(sink, 30000, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 1);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "sink");
  CU_ASSERT_PTR_NOT_NULL(strstr(t.dead[0].message, "site"));
  sl_kafka_sink.close(sink);
  sl_batch_clear(&b);

  sl_avro_schema *schema = sl_avro_schema_load(path, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
  void *src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  CU_ASSERT_EQUAL(consume(src, &b, N, 1), N);
  for (size_t i = 0; i < sl_batch_count(&b); i++) {
    size_t len;
    const void *raw = sl_record_raw(sl_batch_at(&b, i), &len);
    sl_record *d = NULL;
    CU_ASSERT_EQUAL_FATAL(sl_avro_decode(schema, raw, len, t.arena, &d, &err), SL_OK);
    const sl_value *id = sl_record_get_cstr(d, "id"), *v = sl_record_get_cstr(d, "v");
    CU_ASSERT_FATAL(id && id->type == SL_TYPE_INT && id->as.i >= 0 && id->as.i < N);
    CU_ASSERT(v && v->type == SL_TYPE_DOUBLE && v->as.d == (double)id->as.i * 1.5);
    seen[id->as.i]++;
  }
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(seen[i], 1);
  sl_kafka_source.close(src);
  sl_avro_schema_free(schema);
  unlink(path);
  sl_batch_release(&b);
  tk_free(&t);
}

static void test_avro_needs_schema(void) {
  tk_env t;
  sl_config *c = sl_config_new("test", 1);
  sl_error err;
  void *st = NULL;
  tk_init(&t);
  sl_config_put_string(c, "topic", "x");
  sl_config_put_string(c, "format", "avro");
  CU_ASSERT_EQUAL(sl_kafka_sink.open(&t.env, c, &st, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "schema"));
  sl_config_put_string(c, "schema", "/nonexistent/x.avsc");
  CU_ASSERT_NOT_EQUAL(sl_kafka_sink.open(&t.env, c, &st, &err), SL_OK);
  CU_ASSERT_PTR_NULL(st);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/x.avsc"));
  sl_config_destroy(c);
  tk_free(&t);
}

/* ---- backpressure ------------------------------------------------------- */

static void test_backpressure_tiny_queue(void) {
  enum { N = 60 };
  tk_env t;
  char topic[96];
  sl_batch b;
  int limits = 0, seen[N] = {0};
  tk_init(&t);
  sl_config_put_number(t.kafka, "queue.buffering.max.messages", 4);
  unique(topic, sizeof topic, "bp");
  void *sink = open_sink(&t, topic, "id", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sink);
  sl_batch_init(&b, t.arena);
  for (int i = 0; i < N; i++)
    sl_batch_push(&b, make_record(t.arena, i, 0));
  CU_ASSERT_EQUAL(write_all(sink, &b, &limits), SL_OK);
  CU_ASSERT(limits > 0); /* the queue really was full */
  CU_ASSERT_EQUAL(t.dead_count, 0);
  sl_kafka_sink.close(sink);
  sl_batch_clear(&b);

  void *src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  CU_ASSERT_EQUAL(consume(src, &b, N, 1), N);
  for (size_t i = 0; i < sl_batch_count(&b); i++) {
    int64_t id = field_int(&t, sl_batch_at(&b, i), "id");
    CU_ASSERT_FATAL(id >= 0 && id < N);
    seen[id]++;
  }
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(seen[i], 1);
  sl_kafka_source.close(src);
  sl_batch_release(&b);
  tk_free(&t);
}

/* librdkafka before 2.2 stops fetching while its queue is at queued.min.messages and
 * looks again up to a second later; kafka_source wakes it when the queue has run dry
 * while records are known to wait. One message per batch and per fetch with a queue of
 * one message: without the wake-up that is up to a second per message, far past
 * consume()'s 160 polls of 250 ms for N of them. */
static void test_stalled_fetcher_woken(void) {
  enum { N = 100 };
  tk_env t;
  char topic[96];
  sl_batch b;
  sl_error err;
  tk_init(&t);
  sl_config_put_number(t.kafka, "linger.ms", 0);
  unique(topic, sizeof topic, "wake");
  void *sink = open_sink(&t, topic, "id", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sink);
  sl_batch_init(&b, t.arena);
  for (int i = 0; i < N; i++) { /* each its own batch */
    sl_batch_push(&b, make_record(t.arena, i, 0));
    CU_ASSERT_EQUAL(write_all(sink, &b, NULL), SL_OK);
    CU_ASSERT_EQUAL(sl_kafka_sink.flush(sink, 10000, &err), SL_OK);
    sl_batch_clear(&b);
  }
  sl_kafka_sink.close(sink);
  sl_config_put_number(t.kafka, "queued.min.messages", 1);
  sl_config_put_number(t.kafka, "max.partition.fetch.bytes", 1);
  void *src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  CU_ASSERT_EQUAL(consume(src, &b, N, 0), N);
  if (rd_kafka_version() < 0x020200ff)
    CU_ASSERT(t.wakeups > 0);
  sl_kafka_source.close(src);
  sl_batch_release(&b);
  tk_free(&t);
}

/* ---- fault injection (embedded broker only) ----------------------------- */

static void test_retriable_produce_errors(void) {
  enum { N = 10 };
  tk_env t;
  char topic[96];
  sl_batch b;
  int seen[N] = {0};
  tk_init(&t);
  unique(topic, sizeof topic, "retry");
  void *sink = open_sink(&t, topic, "{site}-{id}", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sink);
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_push_request_errors(mc, RD_KAFKAP_PRODUCE, 3, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  sl_batch_init(&b, t.arena);
  for (int i = 0; i < N; i++)
    sl_batch_push(&b, make_record(t.arena, i, 0));
  CU_ASSERT_EQUAL(write_all(sink, &b, NULL), SL_OK);
  CU_ASSERT_EQUAL(t.dead_count, 0);
  sl_batch_clear(&b);
  void *src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  CU_ASSERT_EQUAL(consume(src, &b, N, 2), N); /* once each: no loss, no duplicate */
  for (size_t i = 0; i < sl_batch_count(&b); i++) {
    int64_t id = field_int(&t, sl_batch_at(&b, i), "id");
    CU_ASSERT_FATAL(id >= 0 && id < N);
    seen[id]++;
  }
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(seen[i], 1);
  sl_kafka_source.close(src);
  sl_kafka_sink.close(sink);
  sl_batch_release(&b);
  tk_free(&t);
}

/* Every record of a failed delivery is dead-lettered with its position and
 * flush() fails exactly once; it is never reported as delivered. */
static void check_failed_delivery(tk_env *t, void *sink, int n) {
  sl_batch b;
  sl_error err;
  size_t written = 0;
  sl_batch_init(&b, t->arena);
  for (int i = 0; i < n; i++)
    sl_batch_push(&b, make_record(t->arena, i, 0));
  CU_ASSERT_EQUAL(sl_kafka_sink.write(sink, &b, &written, &err), SL_OK);
  CU_ASSERT_EQUAL(written, (size_t)n);
  int rc = SL_ERR_UNAVAILABLE;
  for (int i = 0; i < 20 && rc == SL_ERR_UNAVAILABLE; i++)
    rc = sl_kafka_sink.flush(sink, 1000, &err);
  CU_ASSERT_EQUAL(rc, SL_ERR_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "dead-letter"));
  CU_ASSERT_EQUAL_FATAL(t->dead_count, (size_t)n);
  for (size_t i = 0; i < t->dead_count; i++) {
    const sl_record *d = t->dead[i].record;
    size_t len;
    CU_ASSERT_STRING_EQUAL(t->dead[i].reason, "sink");
    CU_ASSERT_EQUAL(sl_record_partition(d), 3);
    CU_ASSERT_STRING_EQUAL(sl_record_source_name(d), "input");
    int64_t id = sl_record_offset(d) - 100;
    CU_ASSERT(id >= 0 && id < n);
    CU_ASSERT(field_int(t, d, "id") == id); /* raw = the encoded value */
    CU_ASSERT_PTR_NOT_NULL(header(d, "sluice-id", &len));
  }
  CU_ASSERT_EQUAL(sl_kafka_sink.flush(sink, 1000, &err), SL_OK); /* reported once */
  sl_batch_release(&b);
}

static void test_permanent_produce_error(void) {
  tk_env t;
  char topic[96];
  tk_init(&t);
  unique(topic, sizeof topic, "perm");
  void *sink = open_sink(&t, topic, "{site}-{id}", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sink);
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_push_request_errors(mc, RD_KAFKAP_PRODUCE, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  check_failed_delivery(&t, sink, 1);
  sl_kafka_sink.close(sink);
  tk_free(&t);
}

/* The broker goes away: once the group session times out the source
 * reports its assignment lost (the worker turns not ready), and a new
 * assignment follows when the broker is back. */
static void test_assignment_lost(void) {
  tk_env t;
  char topic[96];
  sl_batch b;
  int eof;
  sl_error err;
  tk_init(&t);
  unique(topic, sizeof topic, "lost");
  CU_ASSERT_EQUAL_FATAL(produce(&t, topic, 0, 4, 0), SL_OK);
  void *src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  sl_batch_init(&b, t.arena);
  CU_ASSERT_EQUAL(consume(src, &b, 4, 0), 4);
  CU_ASSERT_EQUAL(t.lost, 0);
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  size_t assigns = t.assigns;
  rd_kafka_mock_broker_set_down(mc, 1);
  for (int i = 0; i < 100 && t.lost == 0; i++) /* session timeout: 6 s */
    sl_kafka_source.poll(src, &b, 64, 200, &eof, &err);
  rd_kafka_mock_broker_set_up(mc, 1);
  CU_ASSERT_EQUAL(t.lost, 1);
  for (int i = 0; i < 150 && t.assigns == assigns; i++)
    sl_kafka_source.poll(src, &b, 64, 200, &eof, &err);
  CU_ASSERT(t.assigns > assigns);
  sl_kafka_source.close(src);
  sl_batch_release(&b);
  tk_free(&t);
}

static void test_message_timeout(void) {
  tk_env t;
  char topic[96];
  tk_init(&t);
  sl_config_put_number(t.kafka, "message.timeout.ms", 300);
  unique(topic, sizeof topic, "timeout");
  void *sink = open_sink(&t, topic, "{site}-{id}", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sink);
  rd_kafka_mock_cluster_t *mc = sl_kafka_embedded_cluster();
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  rd_kafka_mock_broker_set_down(mc, 1);
  check_failed_delivery(&t, sink, 3);
  rd_kafka_mock_broker_set_up(mc, 1);
  sl_kafka_sink.close(sink);
  tk_free(&t);
}

/* ---- kcat interop ------------------------------------------------------- */

/* The broker address kcat can use (the embedded broker's real port). */
static const char *kcat_brokers(void) {
  const char *b = NULL;
  if (!is_embedded())
    return test_brokers();
  sl_kafka_embedded_acquire(&b, NULL);
  sl_kafka_embedded_release(); /* tk_init holds it */
  return b;
}

static void test_kcat_interop(void) {
  tk_env t;
  char topic[96], out_topic[96], cmd[512], line[1024];
  sl_batch b;
  if (system("kcat -V >/dev/null 2>&1") != 0) {
    printf("\n  note: kcat not installed, interop test skipped\n");
    return;
  }
  tk_init(&t);
  const char *brokers = kcat_brokers();
  CU_ASSERT_PTR_NOT_NULL_FATAL(brokers);
  unique(topic, sizeof topic, "kcat-in");
  unique(out_topic, sizeof out_topic, "kcat-out");
  if (is_embedded()) {
    CU_ASSERT_EQUAL(sl_kafka_embedded_topic(topic, 0, NULL), SL_OK);
    CU_ASSERT_EQUAL(sl_kafka_embedded_topic(out_topic, 0, NULL), SL_OK);
  }

  /* kcat -> kafka_source */
  snprintf(cmd, sizeof cmd, "timeout 60 kcat -P -b %s -t %s -K : -H origin=kcat", brokers, topic);
  FILE *p = popen(cmd, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  for (int i = 0; i < 3; i++)
    fprintf(p, "dev%d:{\"n\":%d}\n", i, i);
  CU_ASSERT_EQUAL(pclose(p), 0);
  void *src = open_source(&t, topic, NULL, "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  sl_batch_init(&b, t.arena);
  CU_ASSERT_EQUAL(consume(src, &b, 3, 0), 3);
  for (size_t i = 0; i < sl_batch_count(&b); i++) {
    const sl_record *r = sl_batch_at(&b, i);
    size_t klen, hlen;
    const char *key = sl_record_key(r, &klen);
    int64_t n = field_int(&t, r, "n");
    char want[16];
    snprintf(want, sizeof want, "dev%lld", (long long)n);
    CU_ASSERT(key && klen == strlen(want) && memcmp(key, want, klen) == 0);
    const char *h = header(r, "origin", &hlen);
    CU_ASSERT(h && hlen == 4 && memcmp(h, "kcat", 4) == 0);
  }
  sl_kafka_source.close(src);
  sl_batch_clear(&b);
  /* Nothing downstream reads headers (the runtime says so): the same records,
   * without them. */
  t.env.headers_unread = 1;
  src = open_source(&t, topic, "kcat-no-headers", "earliest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src);
  CU_ASSERT_EQUAL(consume(src, &b, 3, 0), 3);
  for (size_t i = 0; i < sl_batch_count(&b); i++) {
    const sl_record *r = sl_batch_at(&b, i);
    size_t klen;
    const char *key = sl_record_key(r, &klen);
    char want[16];
    snprintf(want, sizeof want, "dev%lld", (long long)field_int(&t, r, "n"));
    CU_ASSERT(key && klen == strlen(want) && memcmp(key, want, klen) == 0);
    CU_ASSERT_EQUAL(sl_record_header_count(r), 0);
  }
  sl_kafka_source.close(src);
  t.env.headers_unread = 0; /* the source read it until closed */
  sl_batch_clear(&b);

  /* kafka_sink -> kcat -C */
  void *sink = open_sink(&t, out_topic, "{site}-{id}", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sink);
  for (int i = 0; i < 3; i++)
    sl_batch_push(&b, make_record(t.arena, i, 0));
  CU_ASSERT_EQUAL(write_all(sink, &b, NULL), SL_OK);
  sl_kafka_sink.close(sink);
  snprintf(cmd, sizeof cmd,
           "timeout 60 kcat -C -b %s -t %s -o beginning -c 3 -q -f '%%k %%h %%s\\n'", brokers,
           out_topic);
  p = popen(cmd, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  int lines = 0, found[3] = {0};
  while (fgets(line, sizeof line, p)) {
    int id;
    lines++;
    if (sscanf(line, "s1-%d ", &id) == 1 && id >= 0 && id < 3) {
      char want[256];
      found[id]++;
      snprintf(want, sizeof want, "trace=t%d,sluice-id=%s/kafka_sink#1/input/3/%d ", id, t.pipeline,
               100 + id);
      CU_ASSERT_PTR_NOT_NULL(strstr(line, want));
      CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"site\":\"s1\""));
    }
  }
  CU_ASSERT_EQUAL(pclose(p), 0);
  CU_ASSERT_EQUAL(lines, 3);
  for (int i = 0; i < 3; i++)
    CU_ASSERT_EQUAL(found[i], 1);
  sl_batch_release(&b);
  tk_free(&t);
}

int suite_connectors_kafka(void) {
  CU_pSuite s = CU_add_suite("connectors_kafka", NULL, NULL);
  if (!s)
    return -1;
  printf("\n  kafka tests against %s\n", test_brokers());
  CU_add_test(s, "redaction", test_redaction);
  CU_add_test(s, "env property names", test_env_property_names);
  CU_add_test(s, "config pass-through", test_config_passthrough);
  CU_add_test(s, "bad options", test_bad_options);
  CU_add_test(s, "default queue sizes", test_default_queue_sizes);
  CU_add_test(s, "defaults give way to environment and table", test_defaults_overridden);
  CU_add_test(s, "round trip", test_round_trip);
  CU_add_test(s, "commit half then resume", test_commit_half_then_resume);
  CU_add_test(s, "start latest", test_start_latest);
  CU_add_test(s, "restored offset past the end", test_restored_offset_past_end);
  CU_add_test(s, "cooperative two members", test_cooperative_two_members);
  CU_add_test(s, "dead-letter raw mode", test_dead_letter_raw);
  CU_add_test(s, "avro round trip", test_avro_round_trip);
  CU_add_test(s, "avro needs schema", test_avro_needs_schema);
  CU_add_test(s, "backpressure tiny queue", test_backpressure_tiny_queue);
  CU_add_test(s, "kcat interop", test_kcat_interop);
  if (is_embedded()) {
    /* It counts on each of 100 fetches being woken within a poll budget: the
     * in-process broker answers at once, while a real broker on a loaded CI
     * host sometimes holds the wake-up request behind an in-flight fetch
     * (the source then backs off for a second) and ran out of budget at 92. */
    CU_add_test(s, "a stalled fetcher is woken", test_stalled_fetcher_woken);
    CU_add_test(s, "retriable produce errors", test_retriable_produce_errors);
    CU_add_test(s, "permanent produce error", test_permanent_produce_error);
    CU_add_test(s, "message timeout", test_message_timeout);
    CU_add_test(s, "assignment lost while the broker is down", test_assignment_lost);
  } else {
    printf("  note: fault-injection tests need the embedded broker and are not registered\n");
  }
  return 0;
}
