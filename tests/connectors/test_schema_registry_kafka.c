/* SPDX-License-Identifier: Apache-2.0 */
/* The Avro-with-registry round trip through Kafka: kafka_sink{format="avro",
 * schema, registry} registers its schema under "<topic>-value" and writes the
 * Confluent wire format; kafka_source reads it back and decode{registry,
 * schema = a newer reader schema} turns it into records again. Runs against
 * SLUICE_TEST_KAFKA_BROKERS (default: the embedded broker) and a fake
 * registry in-process. Waits are bounded polls, never sleeps. */
#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/record_internal.h"
#include "harness.h"
#include "kafka.h"
#include "registry_fixture.h"

extern const sl_operator_desc sl_op_decode;

#define POLL_MS 250
#define MAX_POLLS 160 /* 40 s for a group join plus fetch, far above normal */

static const char WRITER[] =
    "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"temp\",\"type\":\"double\"},"
    "{\"name\":\"site\",\"type\":\"string\"}]}";
/* The reader drops `site` and adds `line` with a default. */
static const char READER[] =
    "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"temp\",\"type\":\"double\"},"
    "{\"name\":\"line\",\"type\":\"int\",\"default\":7}]}";

typedef struct rk_env {
  sl_connector_env env;
  sl_config *kafka;
  char pipeline[64];
  int dead;
} rk_env;

static const char *brokers(void) {
  const char *b = getenv("SLUICE_TEST_KAFKA_BROKERS");
  return b && *b ? b : "embedded";
}

static void rk_log(void *rt, sl_log_level level, const char *fmt, ...) {
  (void)rt, (void)level, (void)fmt;
}
static void rk_counter(void *rt, const char *name, double delta) {
  (void)rt, (void)name, (void)delta;
}
static int rk_dead_letter(void *rt, const sl_record *r, const char *reason, const char *msg) {
  rk_env *e = rt;
  (void)r;
  fprintf(stderr, "dead letter (%s): %s\n", reason, msg);
  e->dead++;
  return SL_OK;
}
static int rk_on_assign(void *rt, int32_t sid, const int32_t *parts, size_t n, int64_t *offsets) {
  (void)rt, (void)sid, (void)parts;
  for (size_t i = 0; i < n; i++)
    offsets[i] = -1;
  return SL_OK;
}
static int rk_on_revoke(void *rt, int32_t sid, const int32_t *parts, size_t n) {
  (void)rt, (void)sid, (void)parts, (void)n;
  return SL_OK;
}

static void write_file(char *path, const char *text) {
  strcpy(path, "/tmp/sluice-test-regk-XXXXXX");
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

static void test_round_trip(void) {
  enum { N = 25 };
  rk_env e;
  fr_server srv;
  th_op dec;
  char topic[96], wpath[64], rpath[64], subject[128], got[1024];
  sl_error err;
  int embedded = strcmp(brokers(), "embedded") == 0, id = -1;

  memset(&e, 0, sizeof e);
  snprintf(e.pipeline, sizeof e.pipeline, "sl-test-regk-%ld", (long)getpid());
  snprintf(topic, sizeof topic, "sl-test-regk-%ld", (long)getpid());
  snprintf(subject, sizeof subject, "%s-value", topic);
  e.kafka = sl_config_new("test", 1);
  sl_config_put_string(e.kafka, "bootstrap.servers", brokers());
  e.env = (sl_connector_env){.pipeline = e.pipeline,
                             .kafka = e.kafka,
                             .state = "memory",
                             .source_id = 0,
                             .node_name = "kafka_sink#1",
                             .runtime = &e,
                             .log = rk_log,
                             .counter_add = rk_counter,
                             .dead_letter = rk_dead_letter,
                             .on_assign = rk_on_assign,
                             .on_revoke = rk_on_revoke};
  if (embedded) /* keep topics alive between the sink's close and the source's open */
    CU_ASSERT_EQUAL_FATAL(sl_kafka_embedded_acquire(NULL, NULL), SL_OK);
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  write_file(wpath, WRITER);
  write_file(rpath, READER);

  /* Produce: the schema is registered once, at open. */
  sl_config *sc = sl_config_new("test", 1);
  sl_config_put_string(sc, "topic", topic);
  sl_config_put_string(sc, "format", "avro");
  sl_config_put_string(sc, "schema", wpath);
  sl_config_put_string(sc, "registry", srv.url);
  sl_config_put_string(sc, "key", "id");
  void *sink = NULL;
  int rc = sl_kafka_sink.open(&e.env, sc, &sink, &err);
  if (rc)
    fprintf(stderr, "kafka_sink open: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
  CU_ASSERT_FATAL(fr_registered(&srv, subject, &id, got, sizeof got));
  CU_ASSERT_EQUAL(id, 100);
  sl_arena *a = sl_arena_new(0);
  sl_batch b;
  sl_batch_init(&b, a);
  for (int i = 0; i < N; i++) {
    sl_record *r = sl_record_new(a, 3);
    sl_record_set(r, sl_name_cstr("id"), sl_value_int(i));
    sl_record_set(r, sl_name_cstr("temp"), sl_value_double(20 + i * 0.25));
    sl_record_set(r, sl_name_cstr("site"), sl_value_string("s1", 2));
    sl_record_set_position(r, 0, "input", 0, i);
    sl_batch_push(&b, r);
  }
  size_t written = 0;
  CU_ASSERT_EQUAL(sl_kafka_sink.write(sink, &b, &written, &err), SL_OK);
  CU_ASSERT_EQUAL(written, N);
  CU_ASSERT_EQUAL(sl_kafka_sink.flush(sink, 30000, &err), SL_OK);
  sl_kafka_sink.close(sink);
  sl_config_destroy(sc);
  sl_batch_clear(&b);
  CU_ASSERT_EQUAL(fr_requests(&srv), 1);

  /* Consume the raw wire-format bytes back. */
  sl_config *cc = sl_config_new("test", 1);
  sl_config_put_string(cc, "topic", topic);
  sl_config_put_string(cc, "start", "earliest");
  void *src = NULL;
  rc = sl_kafka_source.open(&e.env, cc, &src, &err);
  CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
  int eof;
  for (int i = 0; i < MAX_POLLS && sl_batch_count(&b) < N; i++)
    CU_ASSERT_EQUAL(sl_kafka_source.poll(src, &b, 64, POLL_MS, &eof, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_batch_count(&b), N);
  for (size_t i = 0; i < sl_batch_count(&b); i++) {
    size_t len;
    const unsigned char *raw = sl_record_raw(sl_batch_at(&b, i), &len);
    CU_ASSERT_FATAL(raw && len > 5);
    CU_ASSERT(raw[0] == 0 && raw[1] == 0 && raw[2] == 0 && raw[3] == 0 && raw[4] == 100);
  }

  /* Decode with the registry and the newer reader schema. */
  sl_config *dc = sl_config_new("test", 1);
  sl_config_put_string(dc, "format", "avro");
  sl_config_put_string(dc, "registry", srv.url);
  sl_config_put_string(dc, "schema", rpath);
  CU_ASSERT_EQUAL_FATAL(th_op_init(&dec, &sl_op_decode, dc), SL_OK);
  sl_record *in[N];
  for (int i = 0; i < N; i++)
    in[i] = sl_batch_at(&b, (size_t)i);
  CU_ASSERT_EQUAL(th_process(&dec, in, N), SL_OK);
  CU_ASSERT_EQUAL(dec.dead_count, 0);
  CU_ASSERT_EQUAL_FATAL(dec.out_count, N);
  int seen[N] = {0};
  for (int i = 0; i < N; i++) {
    const sl_value *rid = th_out_field(&dec, (size_t)i, "id");
    CU_ASSERT_FATAL(rid && rid->type == SL_TYPE_INT && rid->as.i >= 0 && rid->as.i < N);
    seen[rid->as.i]++;
    CU_ASSERT_DOUBLE_EQUAL(th_out_field(&dec, (size_t)i, "temp")->as.d, 20 + rid->as.i * 0.25, 0);
    CU_ASSERT_EQUAL(th_out_field(&dec, (size_t)i, "line")->as.i, 7);
    CU_ASSERT_PTR_NULL(th_out_field(&dec, (size_t)i, "site"));
    size_t kl;
    const char *key = sl_record_key(dec.out[i], &kl);
    char want[16];
    snprintf(want, sizeof want, "%d", (int)rid->as.i);
    CU_ASSERT(key && kl == strlen(want) && memcmp(key, want, kl) == 0);
  }
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(seen[i], 1);
  CU_ASSERT_EQUAL(fr_gets(&srv, 100), 1); /* one fetch for N records */
  CU_ASSERT_EQUAL(e.dead, 0);

  th_op_free(&dec);
  sl_config_destroy(dc);
  sl_kafka_source.close(src);
  sl_config_destroy(cc);
  sl_batch_release(&b);
  sl_arena_destroy(a);
  unlink(wpath);
  unlink(rpath);
  fr_stop(&srv);
  if (embedded)
    sl_kafka_embedded_release();
  sl_config_destroy(e.kafka);
}

/* A registry that refuses the registration fails the sink's open, naming
 * the subject: nothing is produced without a schema id. */
static void test_sink_registration_refused(void) {
  rk_env e;
  fr_server srv;
  char wpath[64];
  sl_error err;
  memset(&e, 0, sizeof e);
  e.kafka = sl_config_new("test", 1);
  sl_config_put_string(e.kafka, "bootstrap.servers", brokers());
  e.env = (sl_connector_env){.pipeline = "p",
                             .kafka = e.kafka,
                             .state = "memory",
                             .node_name = "kafka_sink#1",
                             .runtime = &e,
                             .log = rk_log,
                             .counter_add = rk_counter,
                             .dead_letter = rk_dead_letter};
  CU_ASSERT_EQUAL_FATAL(fr_start(&srv), 0);
  srv.answer_status = 409;
  write_file(wpath, WRITER);
  sl_config *sc = sl_config_new("test", 1);
  sl_config_put_string(sc, "topic", "t1");
  sl_config_put_string(sc, "format", "avro");
  sl_config_put_string(sc, "schema", wpath);
  sl_config_put_string(sc, "registry", srv.url);
  sl_config_put_string(sc, "subject", "custom-subject");
  void *sink = NULL;
  CU_ASSERT_EQUAL(sl_kafka_sink.open(&e.env, sc, &sink, &err), SL_ERR_IO);
  CU_ASSERT_PTR_NULL(sink);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "kafka_sink 't1'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "subject 'custom-subject'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 409"));
  CU_ASSERT_STRING_EQUAL(srv.last_path, "/subjects/custom-subject/versions");
  sl_config_destroy(sc);
  unlink(wpath);
  fr_stop(&srv);
  sl_config_destroy(e.kafka);
}

int suite_connectors_schema_registry_kafka(void) {
  CU_pSuite s = CU_add_suite("connectors_schema_registry_kafka", NULL, NULL);
  if (!s)
    return -1;
  printf("\n  registry round trip against %s\n", brokers());
  CU_add_test(s, "round trip", test_round_trip);
  CU_add_test(s, "sink registration refused", test_sink_registration_refused);
  return 0;
}
