/* SPDX-License-Identifier: Apache-2.0 */
/* Event time at the source (core/lang/source_time.c): the time field in every
 * accepted format (int ms, double ms, RFC 3339, nested, Avro
 * timestamp-micros through the Avro decoder), why a record has no valid
 * time, `sluice check` of the options, and windows taking the source's
 * delay and idle. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/varint.h"
#include "codec/format.h"
#include "lang/graph.h"
#include "lang/registry.h"
#include "lang/source_time.h"

static sl_arena *arena;

static sl_record *rec(const char *name, sl_value v) {
  sl_record *r = sl_record_new(arena, 2);
  sl_record_set(r, sl_name_cstr(name), v);
  sl_record_set_timestamp(r, 42); /* the arrival time, to be replaced */
  return r;
}

static void test_formats(void) {
  sl_config *c = sl_config_new("t.lua", 3);
  sl_config_put_string(c, "time", "ts");
  sl_source_time *st = NULL;
  sl_error err;
  char why[160];
  CU_ASSERT_EQUAL_FATAL(sl_source_time_new(c, &st, &err), SL_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(st);
  sl_record *r = rec("ts", sl_value_int(1700000000123));
  CU_ASSERT_EQUAL(sl_source_time_assign(st, r, why, sizeof why), SL_OK);
  CU_ASSERT_EQUAL(sl_record_timestamp(r), 1700000000123);
  r = rec("ts", sl_value_double(1700000000123.9));
  CU_ASSERT_EQUAL(sl_source_time_assign(st, r, why, sizeof why), SL_OK);
  CU_ASSERT_EQUAL(sl_record_timestamp(r), 1700000000123);
  r = rec("ts", sl_value_string("2023-11-14T22:13:20.123Z", 24));
  CU_ASSERT_EQUAL(sl_source_time_assign(st, r, why, sizeof why), SL_OK);
  CU_ASSERT_EQUAL(sl_record_timestamp(r), 1700000000123);
  sl_source_time_free(st);
  sl_config_destroy(c);

  /* nested path */
  c = sl_config_new("t.lua", 3);
  sl_config_put_string(c, "time", "meta.ts");
  CU_ASSERT_EQUAL_FATAL(sl_source_time_new(c, &st, &err), SL_OK);
  sl_record *meta = sl_record_new(arena, 1);
  sl_record_set(meta, sl_name_cstr("ts"), sl_value_int(5000));
  r = rec("meta", sl_value_record(meta));
  CU_ASSERT_EQUAL(sl_source_time_assign(st, r, why, sizeof why), SL_OK);
  CU_ASSERT_EQUAL(sl_record_timestamp(r), 5000);
  sl_source_time_free(st);
  sl_config_destroy(c);

  /* no `time`: nothing to do */
  c = sl_config_new("t.lua", 3);
  st = (sl_source_time *)1;
  CU_ASSERT_EQUAL(sl_source_time_new(c, &st, &err), SL_OK);
  CU_ASSERT_PTR_NULL(st);
  sl_source_time_free(NULL);
  sl_config_destroy(c);
}

static void test_invalid_times(void) {
  sl_config *c = sl_config_new("t.lua", 3);
  sl_config_put_string(c, "time", "ts");
  sl_source_time *st = NULL;
  sl_error err;
  char why[160];
  CU_ASSERT_EQUAL_FATAL(sl_source_time_new(c, &st, &err), SL_OK);
  struct {
    sl_record *r;
    const char *why;
  } bad[] = {
      {rec("other", sl_value_int(1)), "event time field 'ts': missing or null"},
      {rec("ts", sl_value_null()), "event time field 'ts': missing or null"},
      {rec("ts", sl_value_string("yesterday", 9)), "not an RFC 3339 timestamp"},
      {rec("ts", sl_value_bool(1)), "not a time"},
      {rec("ts", sl_value_int(INT64_MAX)), "out of range"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CU_ASSERT_EQUAL(sl_source_time_assign(st, bad[i].r, why, sizeof why), SL_ERR_PARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].why));
    CU_ASSERT_EQUAL(sl_record_timestamp(bad[i].r), 42); /* unchanged */
  }
  sl_source_time_free(st);
  sl_config_destroy(c);
  c = sl_config_new("t.lua", 3);
  sl_config_put_string(c, "time", "a..b");
  CU_ASSERT_EQUAL(sl_source_time_new(c, &st, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "t.lua:3: time = 'a..b' is not a field path"));
  sl_config_destroy(c);
}

/* Avro timestamp-micros reaches the source's time as milliseconds. */
static void test_avro_timestamp_micros(void) {
  char dir[] = "/tmp/sluice-srctime-XXXXXX", path[300];
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/r.avsc", dir);
  FILE *fp = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"ts\",\"type\":"
        "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}}]}",
        fp);
  fclose(fp);
  sl_config *fc = sl_config_new("t.lua", 1);
  sl_config_put_string(fc, "format", "avro");
  sl_config_put_string(fc, "schema", path);
  sl_error err;
  sl_format *f = sl_format_open(fc, "json", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  sl_buf datum = SL_BUF_INIT;
  sl_varint_put(&datum, sl_zigzag(INT64_C(1700000000123456)));
  sl_record *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_format_decode(f, datum.data, datum.len, arena, &r, NULL, &err), SL_OK);
  sl_config *c = sl_config_new("t.lua", 3);
  sl_config_put_string(c, "time", "ts");
  sl_source_time *st = NULL;
  char why[160];
  CU_ASSERT_EQUAL_FATAL(sl_source_time_new(c, &st, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_source_time_assign(st, r, why, sizeof why), SL_OK);
  CU_ASSERT_EQUAL(sl_record_timestamp(r), 1700000000123);
  sl_source_time_free(st);
  sl_config_destroy(c);
  sl_buf_free(&datum);
  sl_format_free(f);
  sl_config_destroy(fc);
  unlink(path);
  rmdir(dir);
}

/* A graph of one source with `opts` (key, value pairs) and a child `kid`. */
static sl_graph_desc *graph(const char *source, const char *kid, const char *const *opts) {
  sl_graph_desc *g = calloc(1, sizeof *g);
  g->file = strdup("p.lua");
  g->name = strdup("p");
  g->state = strdup("memory");
  g->pipeline = sl_config_new("p.lua", 1);
  sl_config *c = sl_config_new("p.lua", 2);
  sl_config_put_string(c, source[0] == 'k' ? "topic" : "path", "in");
  for (size_t i = 0; opts && opts[i]; i += 2)
    sl_config_put_string(c, opts[i], opts[i + 1]);
  int s = sl_graph_add_node(g, SL_NODE_SOURCE, source, c, -1, 2);
  sl_config *k = sl_config_new("p.lua", 3);
  if (strcmp(kid, "decode") == 0)
    sl_config_put_string(k, "format", "json");
  else
    sl_config_put_string(k, "tumbling", "10s");
  int d = sl_graph_add_node(g, SL_NODE_OPERATOR, kid, k, s, 3);
  if (strcmp(kid, "decode") == 0) { /* then a window below the decode */
    sl_config *w = sl_config_new("p.lua", 4);
    sl_config_put_string(w, "tumbling", "10s");
    sl_graph_add_node(g, SL_NODE_OPERATOR, "window", w, d, 4);
  }
  return g;
}

static int has_error(const sl_graph_desc *g, const char *text) {
  for (size_t i = 0; i < g->nerrors; i++)
    if (strstr(g->errors[i], text))
      return 1;
  return 0;
}

static void test_check_and_inherit(void) {
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);

  /* kafka_source with time: a raw source, its first step must be decode */
  const char *const with_time[] = {"time", "ts", "delay", "2s", "idle", "1m", NULL};
  sl_graph_desc *g = graph("kafka_source", "window", with_time);
  sl_source_time_prepare(g, reg);
  CU_ASSERT_TRUE(has_error(g, "p.lua:3: window: the records of kafka_source are raw bytes "
                              "until :decode{}"));
  sl_graph_desc_free(g);

  /* ... then the window below the decode takes the source's delay and idle */
  g = graph("kafka_source", "decode", with_time);
  sl_source_time_prepare(g, reg);
  CU_ASSERT_EQUAL(g->nerrors, 0);
  CU_ASSERT_EQUAL(sl_config_duration_ms(g->nodes[2].config, "delay", 0), 2000);
  CU_ASSERT_EQUAL(sl_config_duration_ms(g->nodes[2].config, "idle", 0), 60000);
  sl_graph_desc_free(g);

  /* a window with its own delay keeps it; one with its own time inherits nothing */
  g = graph("file_source", "window", with_time);
  sl_config_put_string(g->nodes[1].config, "delay", "5s");
  sl_source_time_prepare(g, reg);
  CU_ASSERT_EQUAL(g->nerrors, 0);
  CU_ASSERT_EQUAL(sl_config_duration_ms(g->nodes[1].config, "delay", 0), 5000);
  CU_ASSERT_EQUAL(sl_config_duration_ms(g->nodes[1].config, "idle", 0), 60000);
  sl_graph_desc_free(g);
  g = graph("file_source", "window", with_time);
  sl_config_put_string(g->nodes[1].config, "time", "other");
  sl_source_time_prepare(g, reg);
  CU_ASSERT_FALSE(sl_config_has(g->nodes[1].config, "delay"));
  sl_graph_desc_free(g);

  /* bad options, each with file:line */
  const char *const no_time[] = {"delay", "2s", NULL};
  g = graph("file_source", "window", no_time);
  sl_source_time_prepare(g, reg);
  CU_ASSERT_TRUE(has_error(g, "p.lua:2: file_source: `delay` and `idle` shape the watermark"));
  CU_ASSERT_FALSE(sl_config_has(g->nodes[1].config, "delay")); /* nothing inherited */
  sl_graph_desc_free(g);
  const char *const bad_path[] = {"time", ".ts", "idle", "0s", NULL};
  g = graph("stdin_source", "window", bad_path);
  sl_source_time_prepare(g, reg);
  CU_ASSERT_TRUE(has_error(g, "p.lua:2: stdin_source: time = '.ts' is not a field path"));
  CU_ASSERT_TRUE(has_error(g, "p.lua:2: stdin_source: idle must be positive"));
  sl_graph_desc_free(g);
  /* file_source{format = "raw"} is raw bytes too */
  const char *const raw[] = {"time", "ts", "format", "raw", NULL};
  g = graph("file_source", "window", raw);
  sl_source_time_prepare(g, reg);
  CU_ASSERT_TRUE(has_error(g, "raw bytes until :decode{}"));
  sl_graph_desc_free(g);
  sl_registry_free(reg);
}

static int setup(void) { return (arena = sl_arena_new(0)) ? 0 : -1; }
static int teardown(void) {
  sl_arena_destroy(arena);
  return 0;
}

int suite_core_source_time(void) {
  CU_pSuite s = CU_add_suite("core/source_time", setup, teardown);
  if (!s || !CU_add_test(s, "time field formats", test_formats) ||
      !CU_add_test(s, "records without a valid time", test_invalid_times) ||
      !CU_add_test(s, "Avro timestamp-micros", test_avro_timestamp_micros) ||
      !CU_add_test(s, "sluice check and inherited watermark strategy", test_check_and_inherit))
    return -1;
  return 0;
}
