/* SPDX-License-Identifier: Apache-2.0 */
/* Topic tables against a broker (the embedded one unless
 * SLUICE_TEST_KAFKA_BROKERS names one): catch-up at start with updates and
 * tombstones already in the topic, changes arriving mid-stream, max_entries
 * refusing the start, and a whole pipeline where a threshold change makes an
 * alert fire only for readings processed after the change arrived. */
#include <CUnit/CUnit.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/config.h"
#include "engine/graph_validate.h"
#include "engine/runtime.h"
#include "kafka.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "state/table_store.h"
#include "tables.h"

static const char *boot;
static int embedded;

static int setup(void) {
  const char *b = getenv("SLUICE_TEST_KAFKA_BROKERS");
  boot = b && *b ? b : "embedded";
  embedded = strcmp(boot, "embedded") == 0;
  /* hold the embedded broker so that topics outlive each client */
  return embedded && sl_kafka_embedded_acquire(&boot, NULL) != SL_OK;
}

static int teardown(void) {
  if (embedded)
    sl_kafka_embedded_release();
  return 0;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Produce key/value pairs (value NULL: a tombstone) and wait for delivery. */
static void produce(const char *topic, const char *const *kv, size_t n) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", boot, errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rk);
  for (size_t i = 0; i < n; i += 2) {
    const char *k = kv[i], *v = kv[i + 1];
    rd_kafka_resp_err_t e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(k, strlen(k)),
                          RD_KAFKA_V_VALUE((void *)v, v ? strlen(v) : 0),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    CU_ASSERT_EQUAL(e, RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  CU_ASSERT_EQUAL(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

static void topic_name(char *out, size_t n, const char *what) {
  snprintf(out, n, "sl-table-%s-%ld", what, (long)getpid());
  if (embedded)
    sl_kafka_embedded_topic(out, 2, NULL);
}

static sl_config *decl(const char *topic, int64_t max_entries) {
  sl_config *c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "id", topic);
  sl_config_put_string(c, "topic", topic);
  sl_config_put_string(c, "key", "machine_id");
  sl_config_put_number(c, "max_entries", (double)max_entries);
  return c;
}

static double limit(sl_table *t, const char *key) {
  sl_table_snap *s = sl_table_acquire(t);
  const sl_record *r = sl_table_snap_get(s, key, strlen(key));
  const sl_value *v = r ? sl_record_get_cstr(r, "max_temp") : NULL;
  double d = !v ? -1 : v->type == SL_TYPE_INT ? (double)v->as.i : v->as.d;
  sl_table_snap_release(s);
  return d;
}

/* A loader for `t` reading `topic` (declaration and properties freed here:
 * the loader copies what it keeps). NULL on failure, reported. */
static sl_table_kafka *open_table(sl_table *t, const char *topic, int64_t max_entries) {
  sl_config *c = decl(topic, max_entries), *props = sl_config_new("p.lua", 1);
  sl_config_put_string(props, "bootstrap.servers", boot);
  sl_connector_env env = {.pipeline = "table-test", .kafka = props};
  sl_error err;
  sl_error_clear(&err);
  sl_table_kafka *k = sl_table_kafka_open(t, c, &env, &err);
  if (!k)
    fprintf(stderr, "open: %s\n", err.message);
  sl_config_destroy(c);
  sl_config_destroy(props);
  return k;
}

static void test_catch_up_then_stream(void) {
  char topic[96];
  topic_name(topic, sizeof topic, "devices");
  const char *before[] = {
      "m1", "{\"machine_id\":\"m1\",\"site\":\"north\",\"max_temp\":80}",
      "m2", "{\"machine_id\":\"m2\",\"site\":\"south\",\"max_temp\":60}",
      "m3", "{\"machine_id\":\"m3\",\"site\":\"east\",\"max_temp\":70}",
      "m1", "{\"machine_id\":\"m1\",\"site\":\"north\",\"max_temp\":85}", /* update */
      "m3", NULL,                                                         /* tombstone */
  };
  produce(topic, before, 10);
  sl_table *t = sl_table_new(topic, 100);
  sl_table_kafka *k = open_table(t, topic, 100);
  CU_ASSERT_PTR_NOT_NULL_FATAL(k);
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_table_kafka_wait(k, 30000, NULL, &err), SL_OK);
  char why[256];
  CU_ASSERT_TRUE(sl_table_kafka_status(k, why, sizeof why));
  /* caught up: the published table already holds every change before it */
  CU_ASSERT_DOUBLE_EQUAL(limit(t, "m1"), 85, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(limit(t, "m2"), 60, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(limit(t, "m3"), -1, 1e-9);

  const char *after[] = {
      "m2", NULL,
      "m4", "{\"machine_id\":\"m4\",\"site\":\"west\",\"max_temp\":50}",
      "m1", "{\"machine_id\":\"m1\",\"site\":\"north\",\"max_temp\":90}",
  };
  produce(topic, after, 6);
  for (int i = 0; i < 1000 && limit(t, "m1") != 90; i++) /* bounded wait, not a timed assert */
    sleep_ms(10);
  CU_ASSERT_DOUBLE_EQUAL(limit(t, "m1"), 90, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(limit(t, "m2"), -1, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(limit(t, "m4"), 50, 1e-9);
  sl_table_kafka_close(k);
  sl_table_free(t);
}

static void test_max_entries_refuses_start(void) {
  char topic[96];
  topic_name(topic, sizeof topic, "full");
  const char *kv[] = {"a", "{\"machine_id\":\"a\"}", "b", "{\"machine_id\":\"b\"}",
                      "c", "{\"machine_id\":\"c\"}"};
  produce(topic, kv, 6);
  sl_table *t = sl_table_new(topic, 2);
  sl_table_kafka *k = open_table(t, topic, 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(k);
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_table_kafka_wait(k, 30000, NULL, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "max_entries = 2"));
  sl_table_kafka_close(k);
  sl_table_free(t);
}

/* A topic written in transactions ends with a commit marker that no message
 * offset reaches: catching up must still end (the consumer's position
 * counts, not the last message's offset). */
static void test_catch_up_past_transaction_markers(void) {
  char topic[96], errstr[256];
  topic_name(topic, sizeof topic, "txn");
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", boot, errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "transactional.id", topic, errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rk);
  rd_kafka_error_t *e = rd_kafka_init_transactions(rk, 10000);
  if (!e)
    e = rd_kafka_begin_transaction(rk);
  const char *v = "{\"machine_id\":\"m1\",\"max_temp\":70}";
  if (!e && rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY("m1", 2),
                              RD_KAFKA_V_VALUE((void *)v, strlen(v)),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
    CU_FAIL("produce");
  if (!e)
    e = rd_kafka_commit_transaction(rk, 10000);
  if (e)
    fprintf(stderr, "transaction: %s\n", rd_kafka_error_string(e));
  CU_ASSERT_PTR_NULL(e);
  rd_kafka_error_destroy(e);
  rd_kafka_destroy(rk);
  sl_table *t = sl_table_new(topic, 10);
  sl_table_kafka *k = open_table(t, topic, 10);
  CU_ASSERT_PTR_NOT_NULL_FATAL(k);
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_table_kafka_wait(k, 20000, NULL, &err), SL_OK);
  CU_ASSERT_DOUBLE_EQUAL(limit(t, "m1"), 70, 1e-9);
  sl_table_kafka_close(k);
  sl_table_free(t);
}

static void write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs(text, fp);
  fclose(fp);
}

typedef struct run_ctx {
  sl_runtime *rt;
  int rc;
  sl_error err;
} run_ctx;

static void *run_thread(void *arg) {
  run_ctx *c = arg;
  c->rc = sl_runtime_run(c->rt, &c->err);
  return NULL;
}

static void wait_records(sl_runtime *rt, uint64_t n) {
  for (int i = 0; i < 3000 && sl_runtime_records_in(rt) < n; i++)
    sleep_ms(10);
  CU_ASSERT_EQUAL(sl_runtime_records_in(rt), n);
}

/* Readings of m1 at 85 degrees; max_temp is 90, then 80. Only the readings
 * processed after the change reach the alert's output. */
static void test_threshold_change_fires_alert_after_it_arrives(void) {
  char devices[96], readings[96], dir[] = "/tmp/sluice-tables-XXXXXX";
  topic_name(devices, sizeof devices, "limits");
  topic_name(readings, sizeof readings, "readings");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  const char *dev[] = {"m1", "{\"machine_id\":\"m1\",\"site\":\"north\",\"max_temp\":90}"};
  produce(devices, dev, 2);
  char pl[160], out[160];
  snprintf(pl, sizeof pl, "%s/p.lua", dir);
  snprintf(out, sizeof out, "%s/alerts.jsonl", dir);
  sl_buf p = SL_BUF_INIT;
  sl_buf_printf(
      &p,
      "local sl = require \"sluice\"\n"
      "local p = sl.pipeline { name = \"tables-%ld\", kafka = { "
      "[\"bootstrap.servers\"] = \"%s\", [\"session.timeout.ms\"] = 6000, "
      "[\"heartbeat.interval.ms\"] = 500 } }\n"
      "p:table { id = \"devices\", topic = \"%s\", key = \"machine_id\" }\n"
      "p:kafka_source { topic = \"%s\" }\n"
      "  :decode { format = \"json\" }\n"
      "  :enrich { table = \"devices\", key = \"machine_id\", fields = {\"max_temp\"} }\n"
      "  :alert { name = \"hot\", key = \"machine_id\", when = \"temperature > max_temp\" }\n"
      "  :file_sink { path = \"alerts.jsonl\" }\n",
      (long)getpid(), boot, devices, readings);
  write_file(pl, p.data);
  sl_buf_free(&p);
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  sl_lua *lua = NULL;
  sl_graph_desc *g = sl_lua_load_pipeline(pl, NULL, 0, reg, &lua, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  sl_graph_validate(g, reg, NULL);
  for (size_t i = 0; i < g->nerrors; i++)
    fprintf(stderr, "%s\n", g->errors[i]);
  CU_ASSERT_EQUAL_FATAL(g->nerrors, 0);
  run_ctx c = {0};
  c.rt = sl_runtime_new(g, reg, NULL, &err);
  if (!c.rt)
    fprintf(stderr, "runtime: %s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c.rt);
  pthread_t th;
  pthread_create(&th, NULL, run_thread, &c);
  const char *cool[] = {"m1", "{\"machine_id\":\"m1\",\"temperature\":85,\"seq\":1}", "m1",
                        "{\"machine_id\":\"m1\",\"temperature\":85,\"seq\":2}"};
  produce(readings, cool, 4);
  wait_records(c.rt, 2);
  const char *lower[] = {"m1", "{\"machine_id\":\"m1\",\"site\":\"north\",\"max_temp\":80}"};
  produce(devices, lower, 2);
  sl_table *t = sl_table_find("devices");
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  for (int i = 0; i < 1000 && limit(t, "m1") != 80; i++)
    sleep_ms(10);
  CU_ASSERT_DOUBLE_EQUAL(limit(t, "m1"), 80, 1e-9);
  const char *hot[] = {"m1", "{\"machine_id\":\"m1\",\"temperature\":85,\"seq\":3}"};
  produce(readings, hot, 2);
  wait_records(c.rt, 3);
  sl_runtime_stop(c.rt);
  pthread_join(th, NULL);
  CU_ASSERT_EQUAL(c.rc, SL_OK);
  sl_runtime_free(c.rt);
  sl_graph_desc_free(g);
  sl_lua_close(lua);
  sl_registry_free(reg);
  FILE *fp = fopen(out, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  char line[1024];
  int lines = 0;
  while (fgets(line, sizeof line, fp)) {
    lines++;
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"seq\":3"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"max_temp\":80"));
  }
  fclose(fp);
  CU_ASSERT_EQUAL(lines, 1);
  CU_ASSERT_PTR_NULL(sl_table_find("devices")); /* closed with the runtime */
}

int suite_connectors_table_kafka(void) {
  CU_pSuite s = CU_add_suite("connectors_table_kafka", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "catch up, then stream changes", test_catch_up_then_stream);
  CU_add_test(s, "max_entries refuses the start", test_max_entries_refuses_start);
  CU_add_test(s, "catch up past transaction markers", test_catch_up_past_transaction_markers);
  CU_add_test(s, "threshold change fires the alert after it arrives",
              test_threshold_change_fires_alert_after_it_arrives);
  return CU_get_error();
}
