/* SPDX-License-Identifier: Apache-2.0 */
/* postgres_sink without a server: the offline option checks of `sluice
 * check`, identifier quoting, the types a created table gets, and rows in
 * COPY text format (escapes, NULL, timestamps, JSON, bytea, output ids for
 * window results, positioned records and records with neither). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/record_internal.h"
#include "engine/graph_validate.h"
#include "lang/graph.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "postgres.h"

static sl_config *opts(const char *url, const char *mode, double batch, const char *flush) {
  sl_config *c = sl_config_new("pg.lua", 4);
  sl_config_put_string(c, "url", url);
  sl_config_put_string(c, "table", "stats");
  sl_config_put_string(c, "mode", mode);
  sl_config_put_number(c, "batch", batch);
  sl_config_put_string(c, "flush", flush);
  return c;
}

/* The check's status; its message must contain `want` when it fails. */
static int check(sl_config *c, const char *want) {
  sl_error err;
  sl_error_clear(&err);
  int rc = pg_check_options(c, &err);
  if (want)
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
  sl_config_destroy(c);
  return rc;
}

static void test_check_options(void) {
  CU_ASSERT_EQUAL(check(opts("postgresql://u@db:5432/plant?sslmode=verify-full", "upsert", 500,
                             "100ms"),
                        NULL),
                  SL_OK);
  CU_ASSERT_EQUAL(check(opts("host=db dbname=plant", "insert", 1, "1ms"), NULL), SL_OK);
  CU_ASSERT_EQUAL(check(opts("postgresql://u@[::1/x", "upsert", 500, "1s"),
                        "not a PostgreSQL connection string"),
                  SL_ERR_INVALID);
  CU_ASSERT_EQUAL(check(opts("postgresql://u@db:port/x", "upsert", 500, "1s"),
                        "port 'port' is not a number"),
                  SL_ERR_INVALID);
  CU_ASSERT_EQUAL(check(opts("host=db nonsense=1", "upsert", 500, "1s"), "nonsense"),
                  SL_ERR_INVALID);
  CU_ASSERT_EQUAL(check(opts("", "upsert", 500, "1s"), "url is empty"), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(check(opts("host=db", "merge", 500, "1s"), "mode = 'merge'"), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(check(opts("host=db", "upsert", 0, "1s"), "batch = 0"), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(check(opts("host=db", "upsert", 100001, "1s"), "1 to 100000"), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(check(opts("host=db", "upsert", 10, "2m"), "between 1ms and 60s"),
                  SL_ERR_INVALID);
  sl_config *c = opts("host=db", "upsert", 10, "1s");
  sl_config_put_string(c, "table", "a.b.c");
  CU_ASSERT_EQUAL(check(c, "schema.name"), SL_ERR_INVALID);
  c = opts("host=db", "upsert", 10, "1s");
  const char *dup[] = {"a", "b", "a"};
  sl_config_put_list(c, "columns", dup, 3);
  CU_ASSERT_EQUAL(check(c, "'a' is listed twice"), SL_ERR_INVALID);
  c = opts("host=db", "upsert", 10, "1s");
  const char *own[] = {"a", "_id"};
  sl_config_put_list(c, "columns", own, 2);
  CU_ASSERT_EQUAL(check(c, "written by the sink itself"), SL_ERR_INVALID);
}

static void test_quote_and_types(void) {
  sl_buf b = SL_BUF_INIT;
  pg_quote_ident(&b, "plant.Stats\"x", 1);
  CU_ASSERT_STRING_EQUAL(b.data, "\"plant\".\"Stats\"\"x\"");
  sl_buf_reset(&b);
  pg_quote_ident(&b, "a.b", 0);
  CU_ASSERT_STRING_EQUAL(b.data, "\"a.b\"");
  sl_buf_free(&b);
  sl_value i = sl_value_int(1), d = sl_value_double(1.5), s = sl_value_string("x", 1);
  CU_ASSERT_STRING_EQUAL(pg_sql_type_of(&i, "n"), "bigint");
  CU_ASSERT_STRING_EQUAL(pg_sql_type_of(&i, "window_start"), "timestamptz");
  CU_ASSERT_STRING_EQUAL(pg_sql_type_of(&d, "avg"), "double precision");
  CU_ASSERT_STRING_EQUAL(pg_sql_type_of(&s, "m"), "text");
  CU_ASSERT_STRING_EQUAL(pg_sql_type_of(NULL, "m"), "text");
  CU_ASSERT_EQUAL(pg_kind_of("timestamp with time zone"), PG_KIND_TIME);
  CU_ASSERT_EQUAL(pg_kind_of("jsonb"), PG_KIND_JSON);
  CU_ASSERT_EQUAL(pg_kind_of("bytea"), PG_KIND_BYTEA);
  CU_ASSERT_EQUAL(pg_kind_of("bigint"), PG_KIND_TEXT);
}

typedef struct rows_fx {
  pg_sink s;
  sl_arena *a;
  sl_buf out;
} rows_fx;

static void fx_init(rows_fx *f, const char *const *names, const pg_kind *kinds, size_t n) {
  memset(f, 0, sizeof *f);
  f->a = sl_arena_new(0);
  f->s.id_prefix = "p/db/";
  f->s.n_window_start = sl_name_cstr("window_start");
  for (size_t i = 0; i < n; i++) {
    f->s.cols[i].name = (char *)names[i];
    f->s.cols[i].field = sl_name_cstr(names[i]);
    f->s.cols[i].kind = kinds[i];
  }
  f->s.ncols = n;
}

static void fx_free(rows_fx *f) {
  sl_buf_free(&f->out);
  sl_buf_free(&f->s.scratch);
  sl_buf_free(&f->s.colbuf);
  sl_buf_free(&f->s.idbuf);
  sl_arena_destroy(f->a);
}

static void test_encode_row(void) {
  const char *names[] = {"m", "window_start", "v", "ok", "meta", "blob", "gone"};
  const pg_kind kinds[] = {PG_KIND_TEXT, PG_KIND_TIME, PG_KIND_TEXT, PG_KIND_TEXT,
                           PG_KIND_JSON, PG_KIND_BYTEA, PG_KIND_TEXT};
  rows_fx f;
  fx_init(&f, names, kinds, 7);
  sl_record *r = sl_record_new(f.a, 8);
  sl_record_set(r, sl_name_cstr("m"), sl_value_string("a\tb\\c\nd", 7));
  sl_record_set(r, sl_name_cstr("window_start"), sl_value_int(-1));
  sl_record_set(r, sl_name_cstr("v"), sl_value_double(0.1));
  sl_record_set(r, sl_name_cstr("ok"), sl_value_bool(0));
  sl_record *meta = sl_record_new(f.a, 1);
  sl_record_set(meta, sl_name_cstr("q"), sl_value_string("\"x\"", 3));
  sl_record_set(r, sl_name_cstr("meta"), sl_value_record(meta));
  sl_record_set(r, sl_name_cstr("blob"), sl_value_bytes("\x01\xff", 2));
  sl_record_set_key(r, "k1", 2);
  sl_record_set_timestamp(r, 1700000000123);
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(pg_encode_row(&f.s, r, &f.out, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(f.out.data, "p/db/k1/-1\t2023-11-14T22:13:20.123Z\ta\\tb\\\\c\\nd\t"
                                     "1969-12-31T23:59:59.999Z\t0.1\tf\t"
                                     "{\"q\":\"\\\\\"x\\\\\"\"}\t\\\\x01ff\t\\N\n");
  fx_free(&f);
}

static void test_ids_without_window(void) {
  const char *names[] = {"v"};
  const pg_kind kinds[] = {PG_KIND_TEXT};
  rows_fx f;
  fx_init(&f, names, kinds, 1);
  sl_record *r = sl_record_new(f.a, 1);
  sl_record_set(r, sl_name_cstr("v"), sl_value_int(7));
  sl_record_set_position(r, 0, "telemetry", 3, 42);
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(pg_encode_row(&f.s, r, &f.out, &err), SL_OK);
  CU_ASSERT_EQUAL(strncmp(f.out.data, "p/db/telemetry/3/42\t", 20), 0);
  /* Neither window nor position: a hash of the values, the same each time. */
  sl_record *a = sl_record_new(f.a, 1), *b = sl_record_new(f.a, 1);
  sl_record_set(a, sl_name_cstr("v"), sl_value_int(7));
  sl_record_set(b, sl_name_cstr("v"), sl_value_int(7));
  sl_buf_reset(&f.out);
  CU_ASSERT_EQUAL(pg_encode_row(&f.s, a, &f.out, &err), SL_OK);
  CU_ASSERT_EQUAL(pg_encode_row(&f.s, b, &f.out, &err), SL_OK);
  const char *nl = strchr(f.out.data, '\n');
  CU_ASSERT_EQUAL(strncmp(f.out.data, "p/db/v", 6), 0);
  CU_ASSERT_EQUAL(strncmp(f.out.data, nl + 1, (size_t)(nl - f.out.data)), 0);
  fx_free(&f);
}

/* `sluice check` runs the sink's check hook: the error names file and line,
 * and a pipeline with good options validates without any server. */
static void test_check_through_graph(void) {
  char dir[] = "/tmp/sluice-pgcheck-XXXXXX", path[128];
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/p.lua", dir);
  const char *bodies[] = {"mode = \"merge\"", "batch = 500, flush = \"100ms\""};
  size_t want_errors[] = {1, 0};
  for (int k = 0; k < 2; k++) {
    FILE *fp = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fprintf(fp, "local sl = require \"sluice\"\n"
                "local p = sl.pipeline { name = \"c\", state = \"memory\" }\n"
                "p:file_source { path = \"in.jsonl\" }\n"
                "  :postgres_sink { url = \"postgresql://u@db.invalid/x\", table = \"t\", %s }\n",
            bodies[k]);
    fclose(fp);
    sl_error err;
    sl_error_clear(&err);
    sl_registry *reg = sl_registry_new_builtin(&err);
    sl_lua *lua = NULL;
    sl_graph_desc *g = sl_lua_load_pipeline(path, NULL, 0, reg, &lua, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    sl_graph_validate(g, reg, NULL);
    CU_ASSERT_EQUAL(g->nerrors, want_errors[k]);
    if (g->nerrors && want_errors[k]) {
      char want[256];
      snprintf(want, sizeof want, "%s:4: postgres_sink: mode = 'merge': use \"upsert\" or \"insert\"",
               path);
      CU_ASSERT_STRING_EQUAL(g->errors[0], want);
    }
    sl_graph_desc_free(g);
    sl_lua_close(lua);
    sl_registry_free(reg);
  }
  unlink(path);
  rmdir(dir);
}

int suite_connectors_postgres_rows(void) {
  CU_pSuite s = CU_add_suite("connectors_postgres_rows", NULL, NULL);
  if (!s || !CU_add_test(s, "offline option checks", test_check_options) ||
      !CU_add_test(s, "quoting and types", test_quote_and_types) ||
      !CU_add_test(s, "a row in COPY text format", test_encode_row) ||
      !CU_add_test(s, "ids without a window", test_ids_without_window) ||
      !CU_add_test(s, "sluice check runs the hook", test_check_through_graph))
    return -1;
  return 0;
}
