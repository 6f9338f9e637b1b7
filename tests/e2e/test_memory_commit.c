/* SPDX-License-Identifier: Apache-2.0 */
/* End to end, state = "memory" with a Kafka source (the embedded broker
 * unless SLUICE_TEST_KAFKA_BROKERS names one): a graceful stop commits
 * offsets up to, and not past, the first record of the window still open,
 * and a restart in the same group replays it so its result counts every
 * record (SPEC.md section 7, at-least-once). */
#include <CUnit/CUnit.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "engine/graph_validate.h"
#include "engine/runtime.h"
#include "kafka.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"

static const char *brokers(void) {
  const char *b = getenv("SLUICE_TEST_KAFKA_BROKERS");
  return b && *b ? b : "embedded";
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

/* Run pipeline file `pl`; with want > 0 stop it gracefully once it has
 * taken `want` records (a Kafka source never drains), else run to the end. */
static int run_pipeline(const char *pl, uint64_t want) {
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  sl_lua *lua = NULL;
  sl_graph_desc *g = reg ? sl_lua_load_pipeline(pl, NULL, 0, reg, &lua, &err) : NULL;
  int rc = -1;
  if (!g) {
    fprintf(stderr, "pipeline: %s\n", err.message);
    goto out;
  }
  sl_graph_validate(g, reg, NULL);
  for (size_t i = 0; i < g->nerrors; i++)
    fprintf(stderr, "%s\n", g->errors[i]);
  run_ctx c = {0};
  c.rt = g->nerrors ? NULL : sl_runtime_new(g, reg, NULL, &err);
  if (!c.rt)
    goto out;
  pthread_t th;
  pthread_create(&th, NULL, run_thread, &c);
  if (want) { /* poll the count, bounded: the group join takes seconds */
    for (int i = 0; i < 6000 && sl_runtime_records_in(c.rt) < want; i++) {
      struct timespec ts = {0, 10 * 1000000L};
      nanosleep(&ts, NULL);
    }
    CU_ASSERT_EQUAL(sl_runtime_records_in(c.rt), want);
    sl_runtime_stop(c.rt);
  }
  pthread_join(th, NULL);
  if (c.rc != SL_OK)
    fprintf(stderr, "run: %s\n", c.err.message);
  rc = c.rc;
  sl_runtime_free(c.rt);
out:
  sl_graph_desc_free(g);
  sl_lua_close(lua);
  sl_registry_free(reg);
  return rc;
}

/* The group's committed offsets of partitions 0..63 of `topic` into out
 * (-1 when none); returns how many partitions have one. */
static int committed(const char *boot, const char *group, const char *topic, int64_t *out) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", boot, errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk)
    return -1;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
  for (int p = 0; p < 64; p++)
    rd_kafka_topic_partition_list_add(l, topic, p);
  int n = 0;
  if (rd_kafka_committed(rk, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
    for (int i = 0; i < l->cnt; i++) {
      int has = !l->elems[i].err && l->elems[i].offset >= 0;
      out[l->elems[i].partition] = has ? l->elems[i].offset : -1;
      n += has;
    }
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_destroy(rk);
  return n;
}

static void test_stop_before_fire_then_replay(void) {
  const char *boot = brokers();
  int embedded = strcmp(boot, "embedded") == 0;
  if (embedded) /* hold the broker so topics outlive each pipeline */
    CU_ASSERT_EQUAL_FATAL(sl_kafka_embedded_acquire(&boot, NULL), SL_OK);
  char dir[] = "/tmp/sluice-memcommit-XXXXXX", topic[64], group[64];
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  snprintf(topic, sizeof topic, "sl-memcommit-%ld", (long)getpid());
  snprintf(group, sizeof group, "sl-memcommit-g-%ld", (long)getpid());
  char in[320], in2[320], prod[320], prod2[320], pl[320], out1[320], out2[320];
  snprintf(in, sizeof in, "%s/in.jsonl", dir);
  snprintf(in2, sizeof in2, "%s/in2.jsonl", dir);
  snprintf(prod, sizeof prod, "%s/produce.lua", dir);
  snprintf(prod2, sizeof prod2, "%s/produce2.lua", dir);
  snprintf(pl, sizeof pl, "%s/p.lua", dir);
  snprintf(out1, sizeof out1, "%s/out1.jsonl", dir);
  snprintf(out2, sizeof out2, "%s/out2.jsonl", dir);
  /* 5 records in hour 0, 5 in hour 1 (the first fires hour 0), all of one
   * key, so one partition: hour 1 opens at offset 5 of that partition. */
  sl_buf text = SL_BUF_INIT;
  for (int i = 0; i < 10; i++)
    sl_buf_printf(&text, "{\"k\":\"a\",\"ts\":%d}\n", (i < 5 ? 0 : 3600000) + i);
  write_file(in, text.data);
  write_file(in2, "{\"k\":\"a\",\"ts\":7200000}\n"); /* fires hour 1 after the restart */
  sl_buf kafka = SL_BUF_INIT;
  sl_buf_printf(&kafka, "kafka = { [\"bootstrap.servers\"] = \"%s\", "
                        "[\"session.timeout.ms\"] = 6000, [\"heartbeat.interval.ms\"] = 500 }",
                embedded ? "embedded" : boot);
  sl_buf p = SL_BUF_INIT;
  for (int k = 0; k < 2; k++) {
    sl_buf_reset(&p);
    sl_buf_printf(&p, "local sl = require \"sluice\"\n"
                      "local p = sl.pipeline { name = \"memcommit-produce\", state = \"memory\", %s }\n"
                      "p:file_source { path = \"%s\" }:kafka_sink { topic = \"%s\", key = \"k\" }\n",
                  kafka.data, k ? "in2.jsonl" : "in.jsonl", topic);
    write_file(k ? prod2 : prod, p.data);
  }
  CU_ASSERT_EQUAL_FATAL(run_pipeline(prod, 0), SL_OK);

  for (int run = 0; run < 2; run++) {
    sl_buf_reset(&p);
    sl_buf_printf(&p, "local sl = require \"sluice\"\n"
                      "local p = sl.pipeline { name = \"memcommit\", state = \"memory\", "
                      "checkpoint = \"100ms\", %s }\n"
                      "p:kafka_source { topic = \"%s\", group = \"%s\" }\n"
                      "  :decode { format = \"json\" }\n"
                      "  :window { tumbling = \"1h\", key = \"k\", time = \"ts\" }\n"
                      "  :aggregate { n = \"count()\" }\n"
                      "  :file_sink { path = \"%s\" }\n",
                  kafka.data, topic, group, run ? "out2.jsonl" : "out1.jsonl");
    write_file(pl, p.data);
    /* first run: all 10; after the restart: 5 replayed + the new one */
    CU_ASSERT_EQUAL_FATAL(run_pipeline(pl, run ? 6 : 10), SL_OK);
    if (run == 0) {
      int64_t off[64];
      CU_ASSERT_EQUAL(committed(boot, group, topic, off), 1);
      int64_t best = -1;
      for (int i = 0; i < 64; i++)
        best = off[i] > best ? off[i] : best;
      /* past hour 0 (emitted), not past hour 1's first record */
      CU_ASSERT_EQUAL(best, 5);
      CU_ASSERT_EQUAL(run_pipeline(prod2, 0), SL_OK);
    }
  }
  /* Run 1 emitted hour 0 (n = 5); run 2 replayed hour 1 and emitted it
   * with all 5 records when the hour-2 record advanced the watermark. */
  FILE *fp = fopen(out1, "r");
  char line[512];
  int lines = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  while (fgets(line, sizeof line, fp)) {
    lines++;
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"window_start\":0,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"n\":5"));
  }
  fclose(fp);
  CU_ASSERT_EQUAL(lines, 1);
  fp = fopen(out2, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  lines = 0;
  while (fgets(line, sizeof line, fp)) {
    lines++;
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"window_start\":3600000,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"n\":5"));
  }
  fclose(fp);
  CU_ASSERT_EQUAL(lines, 1);
  sl_buf_free(&text);
  sl_buf_free(&kafka);
  sl_buf_free(&p);
  const char *files[] = {in, in2, prod, prod2, pl, out1, out2};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++)
    unlink(files[i]);
  rmdir(dir);
  if (embedded)
    sl_kafka_embedded_release();
}

int suite_e2e_memory_commit(void) {
  CU_pSuite s = CU_add_suite("e2e/memory_commit", NULL, NULL);
  if (!s || !CU_add_test(s, "memory state: stop before a window fires, restart replays it",
                         test_stop_before_fire_then_replay))
    return -1;
  return 0;
}
