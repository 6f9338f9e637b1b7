/* SPDX-License-Identifier: Apache-2.0 */
/* One `sluice test` case (core/cli/test_case.c, core/cli/test_input.c): the graph
 * rewrite, the watermark advances that number the outputs, `_partition` and
 * `_time`, and what a bad input line does. Real pipeline files, the real
 * runtime; no clock, no sleeps. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/test_case.h"
#include "engine/graph_validate.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"

static char dir[256];
static char path[320];

static int setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sluice_testcase_XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *fp = fopen(p, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs(text, fp);
  fclose(fp);
}

typedef struct loaded {
  sl_registry *reg;
  sl_lua *lua;
  sl_graph_desc *g;
  sl_test_case tc;
} loaded;

/* Load `body` as p.lua in the case directory `dir` and prepare the case. */
static int prepare(loaded *l, const char *body, sl_error *err) {
  memset(l, 0, sizeof *l);
  write_file("p.lua", body);
  snprintf(path, sizeof path, "%s/p.lua", dir);
  l->reg = sl_registry_new_builtin(err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(l->reg);
  CU_ASSERT_EQUAL_FATAL(sl_test_case_register(l->reg), SL_OK);
  l->g = sl_lua_load_pipeline(path, NULL, 0, l->reg, &l->lua, err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(l->g);
  sl_graph_validate(l->g, l->reg, NULL);
  CU_ASSERT_EQUAL_FATAL(l->g->nerrors, 0);
  l->tc.dir = dir;
  return sl_test_case_prepare(&l->tc, l->g, err);
}

static void unload(loaded *l) {
  sl_test_case_free(&l->tc);
  sl_graph_desc_free(l->g);
  sl_lua_close(l->lua);
  sl_registry_free(l->reg);
}

static const sl_test_capture *capture(const loaded *l, const char *id) {
  for (size_t i = 0; i < l->tc.nsinks; i++)
    if (strcmp(l->tc.sinks[i].id, id) == 0)
      return &l->tc.sinks[i];
  CU_FAIL("no capture");
  return NULL;
}

static const char *str(const sl_test_capture *c, size_t i, const char *field) {
  return json_string_value(json_object_get(c->recs[i].json, field));
}

static long long num(const sl_test_capture *c, size_t i, const char *field) {
  return (long long)json_number_value(json_object_get(c->recs[i].json, field));
}

#define PIPELINE                                                                                   \
  "local sl = require \"sluice\"\n"                                                                \
  "local p = sl.pipeline { name = \"tc\", state = \"redis\" }\n"                                   \
  "local r = p:kafka_source { id = \"in\", topic = \"t\" }:decode { format = \"json\" }\n"         \
  "r:window { tumbling = \"1s\", key = \"k\", time = \"ts\" }:aggregate { n = \"count()\" }\n"     \
  "  :file_sink { id = \"out\", path = \"never-written.jsonl\" }\n"                                \
  "r:filter \"k = 'b'\":kafka_sink { topic = \"bs\" }\n"

static void test_rewrite_replaces_every_connector(void) {
  loaded l;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(prepare(&l, PIPELINE, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(l.g->state, "memory"); /* whatever the file says */
  int dl = 0;
  for (size_t i = 0; i < l.g->count; i++) {
    const sl_node_desc *n = &l.g->nodes[i];
    if (n->kind == SL_NODE_SOURCE)
      CU_ASSERT_STRING_EQUAL(n->type, "test_input");
    if (n->kind == SL_NODE_SINK && strcmp(n->type, "dead_letter") != 0)
      CU_ASSERT_STRING_EQUAL(n->type, "test_output");
    dl += strcmp(n->type, "dead_letter") == 0;
  }
  CU_ASSERT_EQUAL(dl, 1); /* added: dead letters are always captured */
  CU_ASSERT_EQUAL(l.tc.nsinks, 3);
  CU_ASSERT_STRING_EQUAL(l.tc.sinks[0].id, "out");
  CU_ASSERT_STRING_EQUAL(l.tc.sinks[1].id, "kafka_sink:bs"); /* the derived id */
  CU_ASSERT_STRING_EQUAL(l.tc.sinks[1].file, "kafka_sink:bs.jsonl");
  CU_ASSERT_STRING_EQUAL(l.tc.sinks[2].id, "dead_letter");
  unload(&l);
}

static void test_outputs_are_numbered_by_watermark_advance(void) {
  mkdir(strcat(strcpy(path, dir), "/input"), 0755);
  /* ts 2500 closes [0,1s) for a and b in one advance; 1s..2s has nothing
   * yet; [2s,3s) fires at the end of input. The b records pass the filter
   * one traversal each. */
  write_file("input/in.jsonl", "{\"k\":\"a\",\"ts\":100}\n"
                               "{\"k\":\"b\",\"ts\":200}\n"
                               "{\"k\":\"a\",\"ts\":2500}\n");
  loaded l;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(prepare(&l, PIPELINE, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_test_case_run(&l.tc, l.g, l.reg, &err), SL_OK);
  const sl_test_capture *out = capture(&l, "out"), *bs = capture(&l, "kafka_sink:bs");
  CU_ASSERT_EQUAL_FATAL(out->count, 3);
  CU_ASSERT_STRING_EQUAL(str(out, 0, "k"), "a");
  CU_ASSERT_STRING_EQUAL(str(out, 1, "k"), "b");
  CU_ASSERT_EQUAL(out->recs[0].group, out->recs[1].group); /* one advance */
  CU_ASSERT_EQUAL(num(out, 2, "window_start"), 2000);
  CU_ASSERT(out->recs[2].group > out->recs[1].group); /* the drain: later */
  /* `_id` as file_sink writes it: pipeline/sink/key/window_start. */
  CU_ASSERT_STRING_EQUAL(str(out, 0, "_id"), "tc/out/a/0");
  CU_ASSERT_EQUAL_FATAL(bs->count, 1);
  CU_ASSERT(bs->recs[0].group < out->recs[0].group);            /* b passed before ts 2500 came */
  CU_ASSERT_PTR_NULL(json_object_get(bs->recs[0].json, "_id")); /* not a window result */
  /* --update material: the sink's records without _id, one per line. */
  CU_ASSERT_PTR_NULL(strstr(out->lines.data, "_id"));
  CU_ASSERT_EQUAL(capture(&l, "dead_letter")->count, 0);
  char never[512];
  snprintf(never, sizeof never, "%s/never-written.jsonl", dir);
  CU_ASSERT_EQUAL(access(never, F_OK), -1); /* the real sink was never opened */
  unload(&l);
}

static void test_partitions_hold_the_watermark_and_time_sets_timestamps(void) {
  /* Partition 1 at ts 100 holds the watermark back although partition 0
   * went on to 5000: its record at 900 is not late. */
  write_file("input/in.jsonl", "{\"_partition\":1,\"k\":\"a\",\"ts\":100,\"_time\":7}\n"
                               "{\"_partition\":0,\"k\":\"a\",\"ts\":5000}\n"
                               "{\"_partition\":1,\"k\":\"a\",\"ts\":900}\n"
                               "not json\n");
  loaded l;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(prepare(&l, PIPELINE, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_test_case_run(&l.tc, l.g, l.reg, &err), SL_OK);
  const sl_test_capture *out = capture(&l, "out"), *dl = capture(&l, "dead_letter");
  CU_ASSERT_EQUAL_FATAL(out->count, 2);
  CU_ASSERT_EQUAL(num(out, 0, "n"), 2); /* both partition-1 records */
  CU_ASSERT_EQUAL_FATAL(dl->count, 1);  /* the line that is not JSON */
  json_t *src = json_object_get(dl->recs[0].json, "source");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(src, "name")), "t");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(src, "partition")), 0);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(src, "offset")), 1); /* 2nd of partition 0 */
  unload(&l);
}

static void test_time_is_the_record_timestamp(void) {
  /* Without a time field the window uses the record timestamp: _time. */
  write_file("input/in.jsonl", "{\"k\":\"a\",\"_time\":1500}\n"
                               "{\"k\":\"a\",\"_time\":1700,\"_partition\":0}\n");
  loaded l;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(prepare(&l,
                                "local sl = require \"sluice\"\n"
                                "local p = sl.pipeline { name = \"tc\" }\n"
                                "local r = p:kafka_source { id = \"in\", topic = \"t\" }\n"
                                "  :decode { format = \"json\" }\n"
                                "r:window { tumbling = \"1s\", key = \"k\" }\n"
                                "  :aggregate { n = \"count()\" }:stdout_sink { id = \"out\" }\n"
                                "r:stdout_sink { id = \"raw\" }\n",
                                &err),
                        SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_test_case_run(&l.tc, l.g, l.reg, &err), SL_OK);
  const sl_test_capture *out = capture(&l, "out"), *raw = capture(&l, "raw");
  CU_ASSERT_EQUAL_FATAL(out->count, 1);
  CU_ASSERT_EQUAL(num(out, 0, "window_start"), 1000);
  CU_ASSERT_EQUAL(num(out, 0, "n"), 2);
  CU_ASSERT_EQUAL_FATAL(raw->count, 2);
  for (size_t i = 0; i < raw->count; i++) /* taken out before the pipeline sees them */
    CU_ASSERT_EQUAL(json_object_size(raw->recs[i].json), 1);
  unload(&l);
}

/* Regression (found merging event time at the source): the replaced source
 * lost its time/delay/idle, so windows fell back to the record timestamp. */
static void test_source_event_time_is_kept(void) {
  mkdir(strcat(strcpy(path, dir), "/input"), 0755);
  write_file("input/in.jsonl", "{\"k\":\"a\",\"ts\":1500,\"_time\":99000}\n"
                               "{\"k\":\"a\",\"ts\":1700,\"_time\":1}\n"
                               "{\"k\":\"a\"}\n");
  loaded l;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(prepare(&l,
                                "local sl = require \"sluice\"\n"
                                "local p = sl.pipeline { name = \"tc\" }\n"
                                "p:kafka_source { id = \"in\", topic = \"t\", time = \"ts\",\n"
                                "                 delay = \"1s\" }\n"
                                "  :decode { format = \"json\" }\n"
                                "  :window { tumbling = \"1s\", key = \"k\" }\n"
                                "  :aggregate { n = \"count()\" }:stdout_sink { id = \"out\" }\n",
                                &err),
                        SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_test_case_run(&l.tc, l.g, l.reg, &err), SL_OK);
  const sl_test_capture *out = capture(&l, "out"), *dl = capture(&l, "dead_letter");
  CU_ASSERT_EQUAL_FATAL(out->count, 1);
  CU_ASSERT_EQUAL(num(out, 0, "window_start"), 1000); /* from ts, not _time */
  CU_ASSERT_EQUAL(num(out, 0, "n"), 2);
  CU_ASSERT_EQUAL_FATAL(dl->count, 1); /* no ts: reason time */
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(dl->recs[0].json, "reason")), "time");
  unload(&l);
}

static void test_bad_partition_names_the_line(void) {
  write_file("input/in.jsonl", "{\"k\":\"a\",\"ts\":1}\n\n{\"_partition\":-1,\"k\":\"a\"}\n");
  loaded l;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL_FATAL(prepare(&l, PIPELINE, &err), SL_OK);
  CU_ASSERT_NOT_EQUAL(sl_test_case_run(&l.tc, l.g, l.reg, &err), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "input/in.jsonl:3: _partition must be an integer"));
  unload(&l);
}

static void test_unknown_ids_list_the_pipelines(void) {
  write_file("input/in.jsonl", "");
  mkdir(strcat(strcpy(path, dir), "/expect"), 0755);
  write_file("expect/outt.jsonl", "");
  loaded l;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(prepare(&l, PIPELINE, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "expect/outt.jsonl: no sink of "));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "its sink ids: 'out', 'kafka_sink:bs'"));
  unload(&l);
  char p[512];
  snprintf(p, sizeof p, "%s/expect/outt.jsonl", dir);
  unlink(p);
}

int suite_core_test_case(void) {
  CU_pSuite s = CU_add_suite("core_test_case", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "a source's event time survives the swap", test_source_event_time_is_kept);
  CU_add_test(s, "rewrite replaces every connector", test_rewrite_replaces_every_connector);
  CU_add_test(s, "outputs are numbered by watermark advance",
              test_outputs_are_numbered_by_watermark_advance);
  CU_add_test(s, "partitions hold the watermark",
              test_partitions_hold_the_watermark_and_time_sets_timestamps);
  CU_add_test(s, "_time is the record timestamp", test_time_is_the_record_timestamp);
  CU_add_test(s, "bad _partition names the line", test_bad_partition_names_the_line);
  CU_add_test(s, "unknown ids list the pipeline's", test_unknown_ids_list_the_pipelines);
  return 0;
}
