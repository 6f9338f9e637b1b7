/* SPDX-License-Identifier: Apache-2.0 */
/* postgres_sink against a real PostgreSQL (tests/postgres_fixture.h): the
 * types a table made by create = true gets and the values read back (with
 * and without `columns`), a
 * re-emitted window result replacing its row (also twice in one batch),
 * insert mode appending, a table lacking columns named in the error, a row
 * PostgreSQL refuses going to the dead letters while the others land, and
 * a server restart and outage during a run: flush() reports PostgreSQL as
 * the reason and, once it is back, every row is there exactly once; a login
 * that needs a password fails at start, and works with PGPASSFILE or a
 * password in the URL; TLS with a verified server certificate from the URL. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "base/record_internal.h"
#include "lang/connector.h"
#include "postgres_fixture.h"
#include "tls_fixture.h"

extern const sl_sink_desc sl_postgres_sink;

static pgf_server pg;

typedef struct fake_rt {
  int ndead;
  char reason[4][16];
  char message[4][512];
  char raw[4][512];
} fake_rt;

static void f_log(void *rt, sl_log_level level, const char *fmt, ...) {
  (void)rt, (void)level, (void)fmt;
}

static void f_counter(void *rt, const char *name, double delta) { (void)rt, (void)name, (void)delta; }

static int f_dead(void *runtime, const sl_record *r, const char *reason, const char *message) {
  fake_rt *rt = runtime;
  if (rt->ndead < 4) {
    size_t len;
    const char *raw = sl_record_raw(r, &len);
    snprintf(rt->reason[rt->ndead], sizeof rt->reason[0], "%s", reason);
    snprintf(rt->message[rt->ndead], sizeof rt->message[0], "%s", message);
    snprintf(rt->raw[rt->ndead], sizeof rt->raw[0], "%.*s", (int)len, raw ? raw : "");
  }
  rt->ndead++;
  return SL_OK;
}

typedef struct fx {
  fake_rt rt;
  sl_connector_env env;
  sl_arena *arena;
  void *sink;
  sl_batch batch;
  sl_error err;
} fx;

static sl_config *cfg_url(const char *url, const char *table, const char *mode, int create) {
  sl_config *c = sl_config_new("pg.lua", 7);
  sl_config_put_string(c, "url", url);
  sl_config_put_string(c, "table", table);
  sl_config_put_string(c, "mode", mode);
  sl_config_put_bool(c, "create", create);
  sl_config_put_number(c, "batch", 3); /* several statements per test */
  return c;
}

static sl_config *cfg(const char *table, const char *mode, int create) {
  return cfg_url(pg.url, table, mode, create);
}

static int fx_open(fx *f, sl_config *c) {
  memset(f, 0, sizeof *f);
  f->arena = sl_arena_new(0);
  f->env.pipeline = "plant";
  f->env.node_name = "stats_db";
  f->env.runtime = &f->rt;
  f->env.log = f_log;
  f->env.counter_add = f_counter;
  f->env.dead_letter = f_dead;
  sl_batch_init(&f->batch, f->arena);
  sl_error_clear(&f->err);
  int rc = sl_postgres_sink.open(&f->env, c, &f->sink, &f->err);
  sl_config_destroy(c);
  return rc;
}

static void fx_close(fx *f) {
  sl_postgres_sink.close(f->sink);
  sl_batch_release(&f->batch);
  sl_arena_destroy(f->arena);
}

/* A window result of machine `m`: key, window bounds, aggregates. */
static sl_record *result(fx *f, const char *m, int64_t ws, double avg, int64_t n) {
  sl_record *r = sl_record_new(f->arena, 6);
  sl_record_set(r, sl_name_cstr("machine_id"), sl_value_string(m, strlen(m)));
  sl_record_set(r, sl_name_cstr("window_start"), sl_value_int(ws));
  sl_record_set(r, sl_name_cstr("window_end"), sl_value_int(ws + 10000));
  sl_record_set(r, sl_name_cstr("avg_temp"), sl_value_double(avg));
  sl_record_set(r, sl_name_cstr("n"), sl_value_int(n));
  sl_record_set_key(r, m, strlen(m));
  sl_record_set_timestamp(r, ws + 9999);
  return r;
}

/* Write the batch as the runtime does (flush and retry on backpressure),
 * then flush until PostgreSQL acknowledged it. Returns the last status. */
static int put(fx *f) {
  size_t done = 0;
  for (int tries = 0; done < f->batch.count && tries < 200; tries++) {
    sl_batch view = f->batch;
    view.records += done;
    view.count -= done;
    size_t w = 0;
    int rc = sl_postgres_sink.write(f->sink, &view, &w, &f->err);
    done += w;
    if (rc != SL_OK && rc != SL_ERR_LIMIT)
      return rc;
    if (rc == SL_ERR_LIMIT && (rc = sl_postgres_sink.flush(f->sink, 200, &f->err)) != SL_OK &&
        rc != SL_ERR_UNAVAILABLE)
      return rc;
  }
  sl_batch_clear(&f->batch);
  int rc = SL_ERR_UNAVAILABLE;
  for (int tries = 0; rc == SL_ERR_UNAVAILABLE && tries < 150; tries++)
    rc = sl_postgres_sink.flush(f->sink, 200, &f->err);
  return rc;
}

static void q(const char *sql, char *out, size_t cap) {
  int rc = pgf_query(&pg, sql, out, cap);
  if (rc != 0)
    fprintf(stderr, "query failed: %s\n", out);
  CU_ASSERT_EQUAL(rc, 0);
}

/* ---- tests -------------------------------------------------------------- */

static void test_types_create(void) {
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, cfg("typed", "upsert", 1)), SL_OK);
  sl_record *r = result(&f, "m1", 1700000000000, 21.5, 4);
  sl_record *meta = sl_record_new(f.arena, 2);
  sl_record_set(meta, sl_name_cstr("site"), sl_value_string("lyon", 4));
  sl_array *tags = sl_array_new(f.arena, 2);
  sl_array_push(tags, sl_value_int(1));
  sl_array_push(tags, sl_value_string("a\tb", 3));
  sl_record_set(r, sl_name_cstr("ok"), sl_value_bool(1));
  sl_record_set(r, sl_name_cstr("meta"), sl_value_record(meta));
  sl_record_set(r, sl_name_cstr("tags"), sl_value_array(tags));
  const char *note = "line\\1\nline 2"; /* COPY escapes both */
  sl_record_set(r, sl_name_cstr("note"), sl_value_string(note, strlen(note)));
  sl_record_set(r, sl_name_cstr("spare"), sl_value_null());
  sl_batch_push(&f.batch, r);
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  char out[1024];
  q("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) "
    "FROM pg_attribute WHERE attrelid = 'typed'::regclass AND attnum > 0",
    out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "_id text,event_time timestamp with time zone,machine_id text,"
                              "window_start timestamp with time zone,window_end timestamp with "
                              "time zone,avg_temp double precision,n bigint,ok boolean,meta "
                              "jsonb,tags jsonb,note text,spare text");
  q("SET TIME ZONE 'UTC'; SELECT _id, event_time, machine_id, window_start, window_end, avg_temp, "
    "n, ok, meta->>'site', tags->>1, note, spare IS NULL FROM typed",
    out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "plant/stats_db/m1/1700000000000|2023-11-14 22:13:29.999+00|m1|"
                              "2023-11-14 22:13:20+00|2023-11-14 22:13:30+00|21.5|4|t|lyon|a\tb|"
                              "line\\1\nline 2|t");
  fx_close(&f);
}

/* `columns` picks the fields; create = true types them from the first
 * record even though they were named before any record arrived. */
static void test_columns_create(void) {
  sl_config *c = cfg("picked", "upsert", 1);
  const char *cols[] = {"n", "machine_id"};
  sl_config_put_list(c, "columns", cols, 2);
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, c), SL_OK);
  sl_batch_push(&f.batch, result(&f, "m9", 0, 1.5, 7));
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  char out[256];
  q("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) "
    "FROM pg_attribute WHERE attrelid = 'picked'::regclass AND attnum > 0",
    out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "_id text,event_time timestamp with time zone,n bigint,machine_id text");
  q("SELECT _id, n, machine_id FROM picked", out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "plant/stats_db/m9/0|7|m9");
  fx_close(&f);
}

static void test_upsert_replaces(void) {
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, cfg("stats_u", "upsert", 1)), SL_OK);
  sl_batch_push(&f.batch, result(&f, "m1", 0, 10.0, 1));
  sl_batch_push(&f.batch, result(&f, "m2", 0, 20.0, 1));
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  /* A replay after a crash re-emits m1's window; a late record updates m2's
   * twice within one batch: the last one wins. */
  sl_batch_push(&f.batch, result(&f, "m1", 0, 10.0, 1));
  sl_batch_push(&f.batch, result(&f, "m2", 0, 21.0, 2));
  sl_batch_push(&f.batch, result(&f, "m2", 0, 22.0, 3));
  sl_batch_push(&f.batch, result(&f, "m1", 10000, 11.0, 1));
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  char out[512];
  q("SELECT string_agg(machine_id || ':' || extract(epoch from window_start)::int || ':' || "
    "avg_temp || ':' || n, ',' ORDER BY _id) FROM stats_u",
    out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "m1:0:10:1,m1:10:11:1,m2:0:22:3");
  fx_close(&f);
}

static void test_insert_appends(void) {
  char out[256];
  q("CREATE TABLE log_i (_id text NOT NULL, event_time timestamptz, machine_id text, "
    "window_start bigint, window_end bigint, avg_temp numeric, n int)",
    out, sizeof out);
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, cfg("log_i", "insert", 0)), SL_OK);
  for (int i = 0; i < 2; i++)
    sl_batch_push(&f.batch, result(&f, "m1", 0, 10.25, 1));
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  /* The table's own types: bigint window bounds take the milliseconds. */
  q("SELECT count(*), min(window_end), sum(avg_temp) FROM log_i", out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "2|10000|20.50");
  fx_close(&f);
}

static void test_missing_columns(void) {
  char out[256];
  q("CREATE TABLE thin (_id text PRIMARY KEY, machine_id text)", out, sizeof out);
  sl_config *c = cfg("thin", "upsert", 0);
  const char *cols[] = {"machine_id", "avg_temp", "n"};
  sl_config_put_list(c, "columns", cols, 3);
  fx f;
  CU_ASSERT_EQUAL(fx_open(&f, c), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "table thin lacks column(s): event_time "
                                               "timestamptz, avg_temp (any type), n (any type)"));
  fx_close(&f);
  /* Without `columns` the first record names them: write() stops the run. */
  q("ALTER TABLE thin ADD COLUMN event_time timestamptz", out, sizeof out);
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, cfg("thin", "upsert", 0)), SL_OK);
  sl_batch_push(&f.batch, result(&f, "m1", 0, 1.0, 1));
  CU_ASSERT_EQUAL(put(&f), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "window_start timestamptz, window_end "
                                               "timestamptz, avg_temp double precision, n bigint"));
  fx_close(&f);
  /* No table and no create = true. */
  CU_ASSERT_EQUAL(fx_open(&f, cfg("absent", "upsert", 0)), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "table absent does not exist"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "create = true"));
  fx_close(&f);
}

static void test_refused_row_dead_lettered(void) {
  char out[256];
  q("CREATE TABLE checked (_id text PRIMARY KEY, event_time timestamptz, machine_id text, "
    "window_start timestamptz, window_end timestamptz, avg_temp float8 CHECK (avg_temp < 100), "
    "n bigint)",
    out, sizeof out);
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, cfg("checked", "upsert", 0)), SL_OK);
  sl_batch_push(&f.batch, result(&f, "m1", 0, 10.0, 1));
  sl_batch_push(&f.batch, result(&f, "m2", 0, 500.0, 1)); /* violates the CHECK */
  sl_batch_push(&f.batch, result(&f, "m3", 0, 30.0, 1));
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  q("SELECT string_agg(machine_id, ',' ORDER BY machine_id) FROM checked", out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "m1,m3");
  CU_ASSERT_EQUAL(f.rt.ndead, 1);
  CU_ASSERT_STRING_EQUAL(f.rt.reason[0], "sink");
  CU_ASSERT_PTR_NOT_NULL(strstr(f.rt.message[0], "checked_avg_temp_check"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f.rt.raw[0], "plant/stats_db/m2/0\t"));
  fx_close(&f);
}

static void test_server_restart_and_outage(void) {
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, cfg("survive", "upsert", 1)), SL_OK);
  for (int i = 0; i < 5; i++)
    sl_batch_push(&f.batch, result(&f, "m1", i * 10000, i, 1));
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  /* A restart drops the connection under the sink. */
  CU_ASSERT_EQUAL_FATAL(pgf_restart(&pg), 0);
  for (int i = 5; i < 10; i++)
    sl_batch_push(&f.batch, result(&f, "m1", i * 10000, i, 1));
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  /* Down: flush() names PostgreSQL and keeps the rows. */
  CU_ASSERT_EQUAL_FATAL(pgf_down(&pg), 0);
  for (int i = 10; i < 15; i++)
    sl_batch_push(&f.batch, result(&f, "m1", i * 10000, i, 1));
  size_t w = 0;
  CU_ASSERT_EQUAL(sl_postgres_sink.write(f.sink, &f.batch, &w, &f.err), SL_OK);
  CU_ASSERT_EQUAL(w, 5);
  sl_batch_clear(&f.batch);
  int rc = SL_OK;
  for (int tries = 0; tries < 50 && (rc == SL_OK || !strstr(f.err.message, "PostgreSQL")); tries++)
    rc = sl_postgres_sink.flush(f.sink, 100, &f.err);
  CU_ASSERT_EQUAL(rc, SL_ERR_UNAVAILABLE);
  CU_ASSERT_TRUE(f.err.retriable);
  CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "not yet written to PostgreSQL 127.0.0.1:"));
  CU_ASSERT_EQUAL_FATAL(pgf_start_again(&pg), 0);
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  char out[128];
  q("SELECT count(*), count(DISTINCT _id), sum(avg_temp) FROM survive", out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "15|15|105");
  fx_close(&f);
}

/* A role that must give a password (scram-sha-256 for it in pg_hba.conf):
 * refused without one, at start and with the reason; accepted with the
 * password from a PGPASSFILE (libpq reads it) or in the URL. */
static void test_password_and_pgpassfile(void) {
  char out[256], path[256], url[300];
  q("CREATE ROLE writer LOGIN PASSWORD 's3cret'; GRANT ALL ON SCHEMA public TO writer", out,
    sizeof out);
  snprintf(path, sizeof path, "%s/data/pg_hba.conf", pg.dir);
  FILE *f = fopen(path, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  static char hba[16384];
  size_t n = fread(hba, 1, sizeof hba - 1, f);
  hba[n] = '\0';
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(path, "w"));
  fprintf(f, "host all writer 127.0.0.1/32 scram-sha-256\n%s", hba);
  fclose(f);
  q("SELECT pg_reload_conf()", out, sizeof out);
  const char *at = strchr(pg.url, '@') + 1; /* 127.0.0.1:PORT/postgres */
  snprintf(url, sizeof url, "postgresql://writer@%s", at);
  unsetenv("PGPASSFILE");
  fx f1;
  CU_ASSERT_EQUAL(fx_open(&f1, cfg_url(url, "secured", "upsert", 1)), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(f1.err.message, "cannot log in to PostgreSQL 127.0.0.1:"));
  CU_ASSERT_PTR_NOT_NULL(strstr(f1.err.message, "PGPASSFILE"));
  fx_close(&f1);
  /* host:port:db:user:password, mode 0600 or libpq ignores it */
  char passfile[256], port[16];
  snprintf(passfile, sizeof passfile, "%s/pgpass", pg.dir);
  snprintf(port, sizeof port, "%.*s", (int)strcspn(at + 10, "/"), at + 10);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(passfile, "w"));
  fprintf(f, "127.0.0.1:%s:postgres:writer:s3cret\n", port);
  fclose(f);
  chmod(passfile, 0600);
  setenv("PGPASSFILE", passfile, 1);
  CU_ASSERT_EQUAL_FATAL(fx_open(&f1, cfg_url(url, "secured", "upsert", 1)), SL_OK);
  sl_batch_push(&f1.batch, result(&f1, "m1", 0, 1.0, 1));
  CU_ASSERT_EQUAL(put(&f1), SL_OK);
  fx_close(&f1);
  unsetenv("PGPASSFILE");
  snprintf(url, sizeof url, "postgresql://writer:s3cret@%s", at);
  CU_ASSERT_EQUAL_FATAL(fx_open(&f1, cfg_url(url, "secured", "upsert", 1)), SL_OK);
  sl_batch_push(&f1.batch, result(&f1, "m2", 0, 2.0, 1));
  CU_ASSERT_EQUAL(put(&f1), SL_OK);
  fx_close(&f1);
  q("SELECT string_agg(machine_id, ',' ORDER BY machine_id), min(tableowner) FROM secured, "
    "pg_tables WHERE tablename = 'secured'",
    out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "m1,m2|writer");
}

/* TLS from the URL: the server gets a certificate for 127.0.0.1, the sink
 * verifies it (sslmode=verify-full, sslrootcert) and its session is
 * encrypted. */
static void test_tls_from_url(void) {
  char dir[128], out[512], url[600], sql[1024];
  SSL_CTX *ctx = tls_fixture_server(dir, sizeof dir);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
  SSL_CTX_free(ctx);
  /* The server reads its key only when it owns it with mode 0600. */
  struct stat data;
  char from[300], to[300];
  snprintf(to, sizeof to, "%s/data", pg.dir);
  CU_ASSERT_EQUAL_FATAL(stat(to, &data), 0);
  const char *files[] = {"cert.pem", "key.pem"};
  for (int i = 0; i < 2; i++) {
    snprintf(from, sizeof from, "%s/%s", dir, files[i]);
    snprintf(to, sizeof to, "%s/data/server-%s", pg.dir, files[i]);
    FILE *in = fopen(from, "r"), *o = fopen(to, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    size_t n = fread(sql, 1, sizeof sql, in);
    for (; n > 0; n = fread(sql, 1, sizeof sql, in))
      fwrite(sql, 1, n, o);
    fclose(in);
    fclose(o);
    CU_ASSERT_EQUAL(chmod(to, 0600), 0);
    CU_ASSERT_EQUAL(chown(to, data.st_uid, data.st_gid), 0);
  }
  snprintf(sql, sizeof sql,
           "ALTER SYSTEM SET ssl_cert_file = '%s/data/server-cert.pem';\n"
           "ALTER SYSTEM SET ssl_key_file = '%s/data/server-key.pem';\n"
           "ALTER SYSTEM SET ssl = on;\nSELECT pg_reload_conf();",
           pg.dir, pg.dir);
  q(sql, out, sizeof out);
  snprintf(url, sizeof url, "%s?sslmode=verify-full&sslrootcert=%s/cert.pem", pg.url, dir);
  fx f;
  CU_ASSERT_EQUAL_FATAL(fx_open(&f, cfg_url(url, "over_tls", "upsert", 1)), SL_OK);
  sl_batch_push(&f.batch, result(&f, "m1", 0, 1.0, 1));
  CU_ASSERT_EQUAL(put(&f), SL_OK);
  q("SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
    "WHERE ssl AND application_name = 'sluice'",
    out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "1");
  fx_close(&f);
  q("SELECT count(*) FROM over_tls", out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "1");
  tls_fixture_cleanup(dir);
}

static void test_close_null(void) { sl_postgres_sink.close(NULL); }

static int setup(void) { return pgf_start(&pg) == 0 ? 0 : -1; }
static int teardown(void) {
  pgf_stop(&pg);
  return 0;
}

int suite_connectors_postgres_sink(void) {
  CU_pSuite s = CU_add_suite("connectors_postgres_sink", setup, teardown);
  if (!s || !CU_add_test(s, "types of a created table", test_types_create) ||
      !CU_add_test(s, "columns and create = true", test_columns_create) ||
      !CU_add_test(s, "upsert replaces re-emitted results", test_upsert_replaces) ||
      !CU_add_test(s, "insert mode appends", test_insert_appends) ||
      !CU_add_test(s, "missing columns are named", test_missing_columns) ||
      !CU_add_test(s, "a refused row is dead-lettered", test_refused_row_dead_lettered) ||
      !CU_add_test(s, "server restart and outage", test_server_restart_and_outage) ||
      !CU_add_test(s, "password: refused, PGPASSFILE, URL", test_password_and_pgpassfile) ||
      !CU_add_test(s, "TLS from the URL", test_tls_from_url) ||
      !CU_add_test(s, "close(NULL)", test_close_null))
    return -1;
  return 0;
}
