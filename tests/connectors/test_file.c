/* SPDX-License-Identifier: Apache-2.0 */
/* file_source, file_sink and stdout_sink with a fake connector env that
 * captures dead letters. */
#include <CUnit/CUnit.h>
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/record_internal.h"
#include "engine/graph_validate.h"
#include "engine/runtime.h"
#include "lang/connector.h"
#include "lang/graph.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"

extern const sl_source_desc sl_file_source;
extern const sl_sink_desc sl_file_sink, sl_stdout_sink;

static char dir[256];
static int ndead;
static char dead_reason[32], dead_msg[256];
static int64_t dead_offset;

static int fake_dead_letter(void *rt, const sl_record *r, const char *reason, const char *msg) {
  (void)rt;
  ndead++;
  snprintf(dead_reason, sizeof dead_reason, "%s", reason);
  snprintf(dead_msg, sizeof dead_msg, "%s", msg);
  dead_offset = sl_record_offset(r);
  return SL_OK;
}

static sl_connector_env env = {.pipeline = "pl", .state = "memory", .node_name = "file_sink#3",
                               .dead_letter = fake_dead_letter};

static int setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sluice_file_XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void write_bytes(const char *name, const char *bytes) {
  char p[400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *fp = fopen(p, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs(bytes, fp);
  fclose(fp);
}

static char *read_all(const char *name) {
  char p[400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *fp = fopen(p, "rb");
  if (!fp)
    return NULL;
  static char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  buf[n] = '\0';
  fclose(fp);
  return buf;
}

/* A config as the Lua loader makes it: file = the pipeline file in dir. */
static sl_config *cfg_in_dir(void) {
  char file[400];
  snprintf(file, sizeof file, "%s/p.lua", dir);
  return sl_config_new(file, 5);
}

static void test_source_lines(void) {
  write_bytes("in.jsonl", "{\"a\":1}\n\n{\"a\":2}\r\n   \n{\"a\":3}");
  sl_config *c = cfg_in_dir();
  sl_config_put_string(c, "path", "in.jsonl");
  void *st = NULL;
  sl_error err;
  sl_error_clear(&err);
  ndead = 0;
  CU_ASSERT_EQUAL_FATAL(sl_file_source.open(&env, c, &st, &err), SL_OK);
  sl_arena *a = sl_arena_new(0);
  sl_batch b;
  sl_batch_init(&b, a);
  int eof = 0;
  CU_ASSERT_EQUAL(sl_file_source.poll(st, &b, 100, 0, &eof, &err), SL_OK);
  CU_ASSERT_EQUAL(eof, 1);
  /* the blank line is skipped; a line of spaces is kept (the decoder judges it) */
  CU_ASSERT_EQUAL_FATAL(b.count, 4);
  size_t n;
  const char *raw = sl_record_raw(b.records[0], &n);
  CU_ASSERT_EQUAL(n, 7);
  CU_ASSERT_NSTRING_EQUAL(raw, "{\"a\":1}", 7);
  raw = sl_record_raw(b.records[1], &n);
  CU_ASSERT_EQUAL(n, 7); /* CRLF: the \r is dropped */
  CU_ASSERT_NSTRING_EQUAL(raw, "{\"a\":2}", 7);
  raw = sl_record_raw(b.records[3], &n);
  CU_ASSERT_EQUAL(n, 7); /* last line without newline */
  CU_ASSERT_NSTRING_EQUAL(raw, "{\"a\":3}", 7);
  CU_ASSERT_EQUAL(sl_record_offset(b.records[0]), 1); /* line numbers as offsets */
  CU_ASSERT_EQUAL(sl_record_offset(b.records[1]), 3);
  CU_ASSERT_EQUAL(sl_record_offset(b.records[2]), 4);
  CU_ASSERT_EQUAL(sl_record_offset(b.records[3]), 5);
  CU_ASSERT_EQUAL(sl_record_partition(b.records[0]), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(sl_record_source_name(b.records[0]), "in.jsonl"));
  CU_ASSERT_EQUAL(ndead, 0);
  sl_batch_clear(&b);
  eof = 0;
  CU_ASSERT_EQUAL(sl_file_source.poll(st, &b, 100, 0, &eof, &err), SL_OK);
  CU_ASSERT_EQUAL(eof, 1);
  CU_ASSERT_EQUAL(b.count, 0);
  sl_batch_release(&b);
  sl_arena_destroy(a);
  sl_file_source.close(st);
  sl_config_destroy(c);
}

static void test_source_max_batch(void) {
  write_bytes("many.jsonl", "1\n2\n3\n4\n5\n");
  sl_config *c = cfg_in_dir();
  sl_config_put_string(c, "path", "many.jsonl");
  void *st = NULL;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(sl_file_source.open(&env, c, &st, &err), SL_OK);
  sl_arena *a = sl_arena_new(0);
  sl_batch b;
  sl_batch_init(&b, a);
  int eof = 0;
  CU_ASSERT_EQUAL(sl_file_source.poll(st, &b, 2, 0, &eof, &err), SL_OK);
  CU_ASSERT_EQUAL(b.count, 2);
  CU_ASSERT_EQUAL(eof, 0);
  sl_batch_clear(&b);
  CU_ASSERT_EQUAL(sl_file_source.poll(st, &b, 10, 0, &eof, &err), SL_OK);
  CU_ASSERT_EQUAL(b.count, 3);
  CU_ASSERT_EQUAL(sl_record_offset(b.records[0]), 3);
  CU_ASSERT_EQUAL(eof, 1);
  sl_batch_release(&b);
  sl_arena_destroy(a);
  sl_file_source.close(st);
  sl_config_destroy(c);
}

static void test_source_long_line_dead_lettered(void) {
  write_bytes("long.jsonl", "{\"a\":1}\n{\"a\":\"0123456789abcdef\"}\n{\"b\":2}\n");
  sl_config *c = cfg_in_dir();
  sl_config_put_string(c, "path", "long.jsonl");
  sl_config_put_number(c, "max_line_bytes", 10);
  void *st = NULL;
  sl_error err;
  ndead = 0;
  CU_ASSERT_EQUAL_FATAL(sl_file_source.open(&env, c, &st, &err), SL_OK);
  sl_arena *a = sl_arena_new(0);
  sl_batch b;
  sl_batch_init(&b, a);
  int eof = 0;
  CU_ASSERT_EQUAL(sl_file_source.poll(st, &b, 100, 0, &eof, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(b.count, 2);
  CU_ASSERT_EQUAL(sl_record_offset(b.records[1]), 3);
  CU_ASSERT_EQUAL(ndead, 1);
  CU_ASSERT_STRING_EQUAL(dead_reason, "decode");
  CU_ASSERT_EQUAL(dead_offset, 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(dead_msg, "max_line_bytes = 10"));
  sl_batch_release(&b);
  sl_arena_destroy(a);
  sl_file_source.close(st);
  sl_config_destroy(c);
}

static void test_source_missing_file(void) {
  sl_config *c = cfg_in_dir();
  sl_config_put_string(c, "path", "absent.jsonl");
  void *st = NULL;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_file_source.open(&env, c, &st, &err), SL_ERR_IO);
  CU_ASSERT_PTR_NULL(st);
  char want[400];
  snprintf(want, sizeof want, "cannot open '%s/absent.jsonl'", dir);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "p.lua:5: file_source"));
  sl_config_destroy(c);
}

static int sink_write_one(void *st, sl_arena *a, sl_record *r) {
  sl_batch b;
  sl_batch_init(&b, a);
  sl_batch_push(&b, r);
  size_t written = 0;
  sl_error err;
  int rc = sl_file_sink.write(st, &b, &written, &err);
  if (rc == SL_OK && written != 1)
    rc = SL_ERR_INTERNAL;
  sl_batch_release(&b);
  return rc;
}

static void test_sink_append_truncate_id_flush(void) {
  write_bytes("out.jsonl", "old\n");
  sl_config *c = cfg_in_dir();
  sl_config_put_string(c, "path", "out.jsonl");
  void *st = NULL;
  sl_error err;
  sl_arena *a = sl_arena_new(0);
  CU_ASSERT_EQUAL_FATAL(sl_file_sink.open(&env, c, &st, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_file_sink.flush(st, 0, &err), SL_OK); /* nothing pending */
  sl_record *r = sl_record_new(a, 2);
  sl_record_set(r, sl_name_cstr("a"), sl_value_int(1));
  CU_ASSERT_EQUAL(sink_write_one(st, a, r), SL_OK);
  CU_ASSERT_EQUAL(sl_file_sink.flush(st, 0, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(read_all("out.jsonl"), "old\n{\"a\":1}\n"); /* appended, flushed */
  /* a window-like record gets a deterministic _id */
  sl_record *w = sl_record_new(a, 2);
  sl_record_set(w, sl_name_cstr("window_start"), sl_value_int(1000));
  sl_record_set(w, sl_name_cstr("n"), sl_value_int(3));
  sl_record_set_key(w, "m1", 2);
  CU_ASSERT_EQUAL(sink_write_one(st, a, w), SL_OK);
  CU_ASSERT_PTR_NULL(sl_record_get_cstr(w, "_id")); /* the input is not mutated */
  sl_file_sink.close(st);
  CU_ASSERT_STRING_EQUAL(read_all("out.jsonl"),
                         "old\n{\"a\":1}\n{\"window_start\":1000,\"n\":3,\"_id\":"
                         "\"pl/file_sink#3/m1/1000\"}\n");
  sl_config_put_bool(c, "truncate", 1);
  CU_ASSERT_EQUAL_FATAL(sl_file_sink.open(&env, c, &st, &err), SL_OK);
  CU_ASSERT_EQUAL(sink_write_one(st, a, r), SL_OK);
  sl_file_sink.close(st);
  CU_ASSERT_STRING_EQUAL(read_all("out.jsonl"), "{\"a\":1}\n");
  sl_arena_destroy(a);
  sl_config_destroy(c);
}

static void test_sink_bad_dir_and_format(void) {
  sl_config *c = cfg_in_dir();
  sl_config_put_string(c, "path", "no/such/dir/out.jsonl");
  void *st = NULL;
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_file_sink.open(&env, c, &st, &err), SL_ERR_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no/such/dir/out.jsonl"));
  sl_config_put_string(c, "path", "ok.jsonl");
  sl_config_put_string(c, "format", "xml");
  CU_ASSERT_EQUAL(sl_file_sink.open(&env, c, &st, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown format 'xml'"));
  sl_config_destroy(c);
}

static void test_stdout_sink(void) {
  char p[400];
  snprintf(p, sizeof p, "%s/stdout.txt", dir);
  fflush(stdout);
  int saved = dup(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(freopen(p, "w", stdout));
  sl_config *c = sl_config_new("p.lua", 1);
  void *st = NULL;
  sl_error err;
  sl_arena *a = sl_arena_new(0);
  int rc = sl_stdout_sink.open(&env, c, &st, &err);
  if (rc == SL_OK) {
    sl_record *r = sl_record_new(a, 1);
    sl_record_set(r, sl_name_cstr("x"), sl_value_bool(1));
    sl_batch b;
    sl_batch_init(&b, a);
    sl_batch_push(&b, r);
    size_t w = 0;
    rc = sl_stdout_sink.write(st, &b, &w, &err);
    if (rc == SL_OK)
      rc = sl_stdout_sink.flush(st, 0, &err);
    sl_batch_release(&b);
    sl_stdout_sink.close(st);
  }
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  CU_ASSERT_EQUAL(rc, SL_OK);
  CU_ASSERT_STRING_EQUAL(read_all("stdout.txt"), "{\"x\":true}\n");
  sl_arena_destroy(a);
  sl_config_destroy(c);
}


/* file_source{format = "avro"}: an Avro object container file written by
 * Avro-C (an independent implementation) with a deflate codec. */
static void test_source_avro_container(void) {
  static const char schema_json[] =
      "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
      "{\"name\":\"machine_id\",\"type\":\"string\"},"
      "{\"name\":\"temperature\",\"type\":\"double\"},"
      "{\"name\":\"n\",\"type\":[\"null\",\"long\"]}]}";
  char path[400];
  snprintf(path, sizeof path, "%s/in.avro", dir);
  avro_schema_t schema;
  CU_ASSERT_EQUAL_FATAL(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0);
  avro_file_writer_t w;
  remove(path);
  CU_ASSERT_EQUAL_FATAL(avro_file_writer_create_with_codec(path, schema, &w, "deflate", 0), 0);
  avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
  avro_value_t v, f, branch;
  avro_generic_value_new(iface, &v);
  for (int i = 0; i < 2500; i++) { /* more than one batch and one block */
    char id[16];
    snprintf(id, sizeof id, "m%04d", i % 7);
    avro_value_get_by_name(&v, "machine_id", &f, NULL);
    avro_value_set_string(&f, id);
    avro_value_get_by_name(&v, "temperature", &f, NULL);
    avro_value_set_double(&f, 20.0 + i);
    avro_value_get_by_name(&v, "n", &f, NULL);
    avro_value_set_branch(&f, i % 2, &branch);
    if (i % 2)
      avro_value_set_long(&branch, i);
    else
      avro_value_set_null(&branch);
    CU_ASSERT_EQUAL(avro_file_writer_append_value(w, &v), 0);
  }
  avro_file_writer_close(w);
  avro_value_decref(&v);
  avro_value_iface_decref(iface);
  avro_schema_decref(schema);

  sl_config *c = cfg_in_dir();
  sl_config_put_string(c, "path", "in.avro");
  sl_config_put_string(c, "format", "avro");
  void *st = NULL;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(sl_file_source.open(&env, c, &st, &err), SL_OK);
  sl_arena *a = sl_arena_new(0);
  sl_batch b;
  int eof = 0, total = 0;
  while (!eof) {
    sl_batch_init(&b, a);
    CU_ASSERT_EQUAL_FATAL(sl_file_source.poll(st, &b, 1000, 0, &eof, &err), SL_OK);
    for (size_t i = 0; i < b.count; i++, total++) {
      const sl_record *r = b.records[i];
      char id[16];
      snprintf(id, sizeof id, "m%04d", total % 7);
      const sl_value *m = sl_record_get_cstr(r, "machine_id");
      CU_ASSERT(m && m->type == SL_TYPE_STRING && m->as.str.len == 5 &&
                memcmp(m->as.str.ptr, id, 5) == 0);
      CU_ASSERT_DOUBLE_EQUAL(sl_record_get_cstr(r, "temperature")->as.d, 20.0 + total, 0);
      const sl_value *n = sl_record_get_cstr(r, "n");
      if (total % 2) {
        CU_ASSERT(n && n->type == SL_TYPE_INT && n->as.i == total);
      } else {
        CU_ASSERT(n && n->type == SL_TYPE_NULL);
      }
      CU_ASSERT_EQUAL(sl_record_offset(r), total + 1);
    }
    sl_batch_release(&b);
    sl_arena_reset(a);
  }
  CU_ASSERT_EQUAL(total, 2500);
  sl_file_source.close(st);
  sl_arena_destroy(a);

  /* A file that is not an Avro container is refused at open, naming it. */
  write_bytes("bad.avro", "{\"not\":\"avro\"}\n");
  sl_config_put_string(c, "path", "bad.avro");
  CU_ASSERT_EQUAL(sl_file_source.open(&env, c, &st, &err), SL_ERR_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "bad.avro"));
  sl_config_destroy(c);
}

/* file_source{format = "avro", time = "ts"}: the source decodes the file
 * itself, so the runtime reads the time field right after the poll. 25
 * readings of one machine at 1 s steps in an Avro timestamp-millis field
 * give three 10 s windows (10, 10, 5); a datum whose time is out of range is
 * dead-lettered with reason `time`. By arrival time they would all fall in
 * one window. */
static void test_source_avro_event_time(void) {
  static const char schema_json[] =
      "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
      "{\"name\":\"machine_id\",\"type\":\"string\"},"
      "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}}]}";
  char path[400], pl[400];
  snprintf(path, sizeof path, "%s/ts.avro", dir);
  snprintf(pl, sizeof pl, "%s/ts.lua", dir);
  avro_schema_t schema;
  CU_ASSERT_EQUAL_FATAL(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0);
  avro_file_writer_t w;
  remove(path);
  CU_ASSERT_EQUAL_FATAL(avro_file_writer_create(path, schema, &w), 0);
  avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
  avro_value_t v, f;
  avro_generic_value_new(iface, &v);
  for (int i = 0; i <= 25; i++) {
    avro_value_get_by_name(&v, "machine_id", &f, NULL);
    avro_value_set_string(&f, "m1");
    avro_value_get_by_name(&v, "ts", &f, NULL);
    avro_value_set_long(&f, i < 25 ? 1700000000000 + i * 1000LL : INT64_MAX);
    CU_ASSERT_EQUAL(avro_file_writer_append_value(w, &v), 0);
  }
  avro_file_writer_close(w);
  avro_value_decref(&v);
  avro_value_iface_decref(iface);
  avro_schema_decref(schema);
  FILE *fp = fopen(pl, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs("local sl = require \"sluice\"\n"
        "local p = sl.pipeline { name = \"avro-time\" }\n"
        "p:file_source { path = \"ts.avro\", format = \"avro\", time = \"ts\" }\n"
        "  :window { tumbling = \"10s\", key = \"machine_id\" }:aggregate { n = \"count()\" }\n"
        "  :file_sink { path = \"ts_out.jsonl\", truncate = true }\n"
        "p:dead_letter { path = \"ts_dl.jsonl\" }\n",
        fp);
  fclose(fp);
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  sl_lua *lua = NULL;
  sl_graph_desc *g = sl_lua_load_pipeline(pl, NULL, 0, reg, &lua, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  sl_graph_validate(g, reg, NULL);
  CU_ASSERT_EQUAL_FATAL(g->nerrors, 0);
  sl_runtime *rt = sl_runtime_new(g, reg, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  CU_ASSERT_EQUAL(sl_runtime_run(rt, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_runtime_dead_letters(rt), 1);
  sl_runtime_free(rt);
  sl_graph_desc_free(g);
  sl_lua_close(lua);
  sl_registry_free(reg);
  char out[400], line[512];
  snprintf(out, sizeof out, "%s/ts_out.jsonl", dir);
  fp = fopen(out, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  const char *want[] = {"\"n\":10", "\"n\":10", "\"n\":5"};
  int n = 0;
  while (fgets(line, sizeof line, fp)) {
    if (n < 3)
      CU_ASSERT_PTR_NOT_NULL(strstr(line, want[n]));
    n++;
  }
  fclose(fp);
  CU_ASSERT_EQUAL(n, 3);
  snprintf(out, sizeof out, "%s/ts_dl.jsonl", dir);
  fp = fopen(out, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, fp));
  CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"reason\":\"time\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"node\":\"file_source:ts.avro\""));
  fclose(fp);
}

int suite_connectors_file(void) {
  CU_pSuite s = CU_add_suite("connectors_file", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "source: blank lines, CRLF, last line, offsets", test_source_lines);
  CU_add_test(s, "source: batch limit", test_source_max_batch);
  CU_add_test(s, "source: long line dead-lettered", test_source_long_line_dead_lettered);
  CU_add_test(s, "source: missing file names the path", test_source_missing_file);
  CU_add_test(s, "sink: append, _id, flush, truncate", test_sink_append_truncate_id_flush);
  CU_add_test(s, "sink: bad directory, bad format", test_sink_bad_dir_and_format);
  CU_add_test(s, "stdout_sink", test_stdout_sink);
  CU_add_test(s, "source: Avro container file", test_source_avro_container);
  CU_add_test(s, "source: Avro container file with time = ts", test_source_avro_event_time);
  return CU_get_error();
}
