/* SPDX-License-Identifier: Apache-2.0 */
/* postgres_sink's writer thread: the only user of the libpq connection, so
 * the runtime thread never waits on PostgreSQL except in flush(). It
 * connects (URL, TLS and password as libpq reads them, PGPASSFILE included),
 * checks the table's columns (creating the table with create = true), and
 * writes the batches the runtime hands it, oldest first, each in one
 * transaction:
 *   upsert: COPY into a temporary staging table, then one
 *           INSERT ... SELECT DISTINCT ON (_id) ... ON CONFLICT (_id) DO UPDATE
 *           (the last row of a batch wins when an id repeats);
 *   insert: COPY straight into the table.
 * (bench/README.md has the measurement against multi-row INSERT.)
 * A lost connection or a transient error keeps the batch and retries it with
 * backoff on a new connection; rows PostgreSQL refuses for their data
 * (SQLSTATE classes 22 and 23) are retried one by one and the refused ones
 * go to the dead letters; a table that cannot take the rows (class 42) is
 * fatal: the run stops before any checkpoint covers the rows. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postgres.h"
#include "postgres_libpq.h"

#define PG_BACKOFF_FIRST_MS 100
#define PG_BACKOFF_MAX_MS 5000

typedef enum pg_outcome {
  PG_DONE = 0,
  PG_RETRY, /* connection lost or transient: keep the batch */
  PG_DATA,  /* the server refused a row's data */
  PG_FATAL, /* the table cannot take these rows */
} pg_outcome;

/* Writer-thread-only state. */
typedef struct pg_writer {
  pg_sink *s;
  PGconn *conn;
  int stage_ready;  /* the staging table exists on this connection */
  sl_buf sql_copy;  /* COPY ... FROM STDIN of every batch */
  sl_buf sql_merge; /* upsert: staging -> table, then COMMIT */
  char error[384];  /* of the last statement */
  int64_t backoff_ms;
  unsigned rng;
  int login_refused; /* the last connection attempt failed authentication */
} pg_writer;

int64_t pg_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's notices (NOTICE: relation exists, skipping) would go to stderr
 * outside the JSON log. */
static void quiet_notice(void *arg, const char *message) { (void)arg, (void)message; }

/* `msg` as one line into w->error. */
static void set_error(pg_writer *w, const char *msg) {
  snprintf(w->error, sizeof w->error, "%s", msg && *msg ? msg : "unknown error");
  char *o = w->error; /* newlines and libpq's tab indents become one space */
  for (const char *p = w->error; *p; p++)
    if (!strchr("\n\r\t", *p))
      *o++ = *p;
    else if (o > w->error && o[-1] != ' ')
      *o++ = ' ';
  while (o > w->error && o[-1] == ' ')
    o--;
  *o = '\0';
}

/* What a failed result means for the batch. */
static pg_outcome classify(pg_writer *w, PGresult *res) {
  set_error(w, res ? PQresultErrorMessage(res) : PQerrorMessage(w->conn));
  if (PQstatus(w->conn) != CONNECTION_OK)
    return PG_RETRY;
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (!state)
    return PG_RETRY;
  if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2))
    return PG_DATA;
  if (!strncmp(state, "42", 2))
    return PG_FATAL;
  return PG_RETRY; /* 08 connection, 40 serialization, 53 resources, 57 shutdown ... */
}

static pg_outcome exec_ok(pg_writer *w, const char *sql) {
  PGresult *res = PQexec(w->conn, sql);
  ExecStatusType st = PQresultStatus(res);
  pg_outcome o = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? PG_DONE : classify(w, res);
  PQclear(res);
  return o;
}

static void rollback(pg_writer *w) {
  PGTransactionStatusType t = PQtransactionStatus(w->conn);
  if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
    PQclear(PQexec(w->conn, "ROLLBACK"));
}

/* ---- the table ---------------------------------------------------------- */

/* The table's columns as (name, type) rows in *out; 0 rows when it does
 * not exist. */
static pg_outcome table_columns(pg_writer *w, PGresult **out) {
  sl_buf q = SL_BUF_INIT;
  pg_quote_ident(&q, w->s->table, 1);
  const char *params[] = {q.data};
  PGresult *res = PQexecParams(w->conn,
                               "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
                               "FROM pg_attribute a WHERE a.attrelid = to_regclass($1) "
                               "AND a.attnum > 0 AND NOT a.attisdropped",
                               1, NULL, params, NULL, NULL, 0);
  sl_buf_free(&q);
  *out = NULL;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    pg_outcome o = classify(w, res);
    PQclear(res);
    return o == PG_FATAL ? PG_FATAL : PG_RETRY;
  }
  *out = res;
  return PG_DONE;
}

static const char *type_of(PGresult *cols, const char *name) {
  for (int i = 0; i < PQntuples(cols); i++)
    if (!strcmp(PQgetvalue(cols, i, 0), name))
      return PQgetvalue(cols, i, 1);
  return NULL;
}

static int create_table(pg_writer *w) {
  pg_sink *s = w->s;
  sl_buf q = SL_BUF_INIT;
  sl_buf_puts(&q, "CREATE TABLE IF NOT EXISTS ");
  pg_quote_ident(&q, s->table, 1);
  sl_buf_printf(&q, " (\"%s\" text %s, \"%s\" timestamptz", PG_ID_COLUMN,
                s->upsert ? "PRIMARY KEY" : "NOT NULL", PG_TIME_COLUMN);
  for (size_t i = 0; i < s->ncols; i++) {
    sl_buf_puts(&q, ", ");
    pg_quote_ident(&q, s->cols[i].name, 0);
    sl_buf_printf(&q, " %s", s->cols[i].sql_type ? s->cols[i].sql_type : "text");
  }
  int rc = sl_buf_puts(&q, ")");
  pg_outcome o = rc ? PG_RETRY : exec_ok(w, q.data);
  sl_buf_free(&q);
  return o;
}

/* Fatal text naming every column the table lacks, with the type the sink
 * would give it. */
static void missing_columns(pg_writer *w, PGresult *cols) {
  pg_sink *s = w->s;
  sl_buf m = SL_BUF_INIT;
  sl_buf_printf(&m, "table %s lacks column(s):", s->table);
  size_t n = 0;
  if (!type_of(cols, PG_ID_COLUMN) && ++n)
    sl_buf_printf(&m, " %s text%s", PG_ID_COLUMN, s->upsert ? " PRIMARY KEY" : "");
  if (!type_of(cols, PG_TIME_COLUMN) && ++n)
    sl_buf_printf(&m, "%s %s timestamptz", n > 1 ? "," : "", PG_TIME_COLUMN);
  for (size_t i = 0; i < s->ncols; i++)
    if (!type_of(cols, s->cols[i].name) && ++n)
      sl_buf_printf(&m, "%s %s %s", n > 1 ? "," : "", s->cols[i].name,
                    s->cols[i].sql_type ? s->cols[i].sql_type : "(any type)");
  if (n)
    snprintf(s->fatal, sizeof s->fatal, "%s; add them (ALTER TABLE ... ADD COLUMN), or let the "
             "sink make a new table with create = true", m.data);
  sl_buf_free(&m);
}

/* The COPY and merge statements for these columns. */
static int build_sql(pg_writer *w) {
  pg_sink *s = w->s;
  sl_buf cols = SL_BUF_INIT, set = SL_BUF_INIT;
  sl_buf_printf(&cols, "\"%s\", \"%s\"", PG_ID_COLUMN, PG_TIME_COLUMN);
  sl_buf_printf(&set, "\"%s\" = EXCLUDED.\"%s\"", PG_TIME_COLUMN, PG_TIME_COLUMN);
  for (size_t i = 0; i < s->ncols; i++) {
    sl_buf_puts(&cols, ", ");
    pg_quote_ident(&cols, s->cols[i].name, 0);
    if (set.len)
      sl_buf_puts(&set, ", ");
    pg_quote_ident(&set, s->cols[i].name, 0);
    sl_buf_puts(&set, " = EXCLUDED.");
    pg_quote_ident(&set, s->cols[i].name, 0);
  }
  sl_buf_reset(&w->sql_copy);
  sl_buf_reset(&w->sql_merge);
  int rc;
  if (s->upsert) {
    rc = sl_buf_printf(&w->sql_copy, "COPY pg_temp.sluice_stage (%s) FROM STDIN", cols.data);
    rc |= sl_buf_puts(&w->sql_merge, "INSERT INTO ");
    rc |= pg_quote_ident(&w->sql_merge, s->table, 1);
    rc |= sl_buf_printf(&w->sql_merge,
                        " (%s) SELECT DISTINCT ON (\"%s\") %s FROM pg_temp.sluice_stage "
                        "ORDER BY \"%s\", sluice_seq DESC ON CONFLICT (\"%s\") DO ",
                        cols.data, PG_ID_COLUMN, cols.data, PG_ID_COLUMN, PG_ID_COLUMN);
    rc |= sl_buf_printf(&w->sql_merge, "UPDATE SET %s; COMMIT", set.data);
  } else {
    rc = sl_buf_puts(&w->sql_copy, "COPY ");
    rc |= pg_quote_ident(&w->sql_copy, s->table, 1);
    rc |= sl_buf_printf(&w->sql_copy, " (%s) FROM STDIN", cols.data);
  }
  sl_buf_free(&cols);
  sl_buf_free(&set);
  return rc;
}

/* Look the table up and check the columns known so far; once their types
 * are known (the first record), create the table if it is missing and
 * create = true, and learn how to write each column. Called with the lock
 * NOT held and s->checking set: the runtime thread leaves the columns alone
 * meanwhile. */
static pg_outcome check_table(pg_writer *w, int cols_fixed) {
  pg_sink *s = w->s;
  PGresult *cols;
  pg_outcome o = table_columns(w, &cols);
  if (o != PG_DONE)
    return o;
  if (PQntuples(cols) == 0) {
    PQclear(cols);
    if (!s->create) {
      snprintf(s->fatal, sizeof s->fatal,
               "table %s does not exist in %s: create it (docs/sinks.md has the statement) "
               "or set create = true",
               s->table, s->where);
      return PG_FATAL;
    }
    if (!cols_fixed)
      return PG_DONE; /* made at the first record, which gives the types */
    if ((o = create_table(w)) != PG_DONE || (o = table_columns(w, &cols)) != PG_DONE)
      return o;
  }
  s->fatal[0] = '\0';
  missing_columns(w, cols);
  if (s->fatal[0] || !cols_fixed) {
    PQclear(cols);
    return s->fatal[0] ? PG_FATAL : PG_DONE;
  }
  for (size_t i = 0; i < s->ncols; i++)
    s->cols[i].kind = pg_kind_of(type_of(cols, s->cols[i].name));
  PQclear(cols);
  return build_sql(w) ? PG_RETRY : PG_DONE;
}

static pg_outcome make_stage(pg_writer *w) {
  pg_sink *s = w->s;
  sl_buf q = SL_BUF_INIT;
  sl_buf_puts(&q, "CREATE TEMP TABLE IF NOT EXISTS sluice_stage ON COMMIT DELETE ROWS AS SELECT ");
  sl_buf_printf(&q, "\"%s\", \"%s\"", PG_ID_COLUMN, PG_TIME_COLUMN);
  for (size_t i = 0; i < s->ncols; i++) {
    sl_buf_puts(&q, ", ");
    pg_quote_ident(&q, s->cols[i].name, 0);
  }
  sl_buf_puts(&q, " FROM ");
  pg_quote_ident(&q, s->table, 1);
  sl_buf_puts(&q, " WITH NO DATA; ALTER TABLE pg_temp.sluice_stage "
              "ADD COLUMN IF NOT EXISTS sluice_seq bigserial");
  pg_outcome o = exec_ok(w, q.data);
  sl_buf_free(&q);
  w->stage_ready = o == PG_DONE;
  return o;
}

/* ---- writing ------------------------------------------------------------ */

static pg_outcome copy_rows(pg_writer *w, const char *rows, size_t len) {
  PGresult *res = PQexec(w->conn, w->sql_copy.data);
  if (PQresultStatus(res) != PGRES_COPY_IN) {
    pg_outcome o = classify(w, res);
    PQclear(res);
    return o == PG_DONE ? PG_RETRY : o;
  }
  PQclear(res);
  int ok = PQputCopyData(w->conn, rows, (int)len) == 1;
  ok = PQputCopyEnd(w->conn, ok ? NULL : "sluice: sending rows failed") == 1 && ok;
  pg_outcome o = PG_DONE;
  while ((res = PQgetResult(w->conn))) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK && o == PG_DONE)
      o = classify(w, res);
    PQclear(res);
  }
  if (!ok && o == PG_DONE) {
    set_error(w, PQerrorMessage(w->conn));
    o = PG_RETRY;
  }
  return o;
}

/* One transaction of `len` bytes of rows. */
static pg_outcome write_rows(pg_writer *w, const char *rows, size_t len) {
  if (!w->s->upsert)
    return copy_rows(w, rows, len); /* one statement: atomic on its own */
  if (!w->stage_ready) {
    pg_outcome o = make_stage(w);
    if (o != PG_DONE)
      return o;
  }
  pg_outcome o = exec_ok(w, "BEGIN");
  if (o == PG_DONE)
    o = copy_rows(w, rows, len);
  if (o == PG_DONE)
    o = exec_ok(w, w->sql_merge.data);
  if (o != PG_DONE && PQstatus(w->conn) == CONNECTION_OK)
    rollback(w);
  return o;
}

static void add_failed(pg_sink *s, const char *row, size_t len, const char *why) {
  pg_failed *f = calloc(1, sizeof *f);
  if (f && (f->row = malloc(len + 1)) && (f->message = strdup(why))) {
    memcpy(f->row, row, len);
    f->row[len] = '\0';
    pthread_mutex_lock(&s->lock);
    f->next = s->failed;
    s->failed = f;
    pthread_mutex_unlock(&s->lock);
    return;
  }
  if (f)
    free(f->row);
  free(f);
}

/* After a data error: each remaining row on its own; the refused ones are
 * dead-lettered. b->resumed survives a lost connection, so no row is
 * written twice (insert mode) or skipped. */
static pg_outcome write_one_by_one(pg_writer *w, pg_batch *b) {
  const char *p = b->text.data, *end = p + b->text.len;
  for (size_t i = 0; i < b->resumed && p < end; i++)
    p = memchr(p, '\n', (size_t)(end - p)) + 1;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)(nl - p) + 1;
    pg_outcome o = write_rows(w, p, len);
    if (o == PG_DATA) {
      char why[480];
      snprintf(why, sizeof why, "PostgreSQL refused the row for table %s: %s", w->s->table,
               w->error);
      add_failed(w->s, p, len - 1, why);
    } else if (o != PG_DONE) {
      return o;
    }
    b->resumed++;
    p += len;
  }
  return PG_DONE;
}

static pg_outcome write_batch(pg_writer *w, pg_batch *b) {
  pg_outcome o = b->resumed ? PG_DATA : write_rows(w, b->text.data, b->text.len);
  return o == PG_DATA ? write_one_by_one(w, b) : o;
}

/* ---- the thread --------------------------------------------------------- */

static PGconn *connect_db(pg_writer *w) {
  /* Listed before dbname: whatever the URL says wins over these. */
  const char *const keys[] = {"connect_timeout", "application_name", "keepalives_idle",
                              "dbname", NULL};
  const char *const vals[] = {"10", "sluice", "30", w->s->url, NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (c && PQstatus(c) == CONNECTION_OK) {
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
  }
  set_error(w, c ? PQerrorMessage(c) : "out of memory");
  /* A refused login is configuration, not an outage (see step()). */
  w->login_refused = c && (PQconnectionNeedsPassword(c) ||
                           strstr(w->error, "authentication failed") != NULL);
  PQfinish(c);
  return NULL;
}

/* Called with the lock held: note the failure and wait before retrying. */
static void back_off(pg_writer *w) {
  pg_sink *s = w->s;
  snprintf(s->last_error, sizeof s->last_error, "%s", w->error);
  if (!s->down_since_ms)
    s->down_since_ms = pg_now_ms();
  s->stat_retries++;
  pthread_cond_broadcast(&s->done);
  w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : PG_BACKOFF_FIRST_MS;
  if (w->backoff_ms > PG_BACKOFF_MAX_MS)
    w->backoff_ms = PG_BACKOFF_MAX_MS;
  w->rng = w->rng * 1103515245u + 12345u;
  int64_t wait = w->backoff_ms / 2 + (int64_t)(w->rng % (unsigned)(w->backoff_ms / 2 + 1));
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += wait / 1000;
  until.tv_nsec += (wait % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT) {
  }
}

static void drop_conn(pg_writer *w) {
  PQfinish(w->conn);
  w->conn = NULL;
  w->stage_ready = 0;
  w->s->connected = 0;
}

/* The batch at the head is written: acknowledge it. Lock held. */
static void batch_done(pg_writer *w) {
  pg_sink *s = w->s;
  pg_batch *b = s->head;
  s->head = b->next;
  if (!s->head)
    s->tail = NULL;
  s->queued--;
  s->acked_rows += b->rows;
  s->stat_batches++;
  s->down_since_ms = 0;
  w->backoff_ms = 0;
  sl_buf_free(&b->text);
  free(b);
  pthread_cond_broadcast(&s->done);
}

/* One step with the lock held; returns 0 to wait for work. */
static int step(pg_writer *w) {
  pg_sink *s = w->s;
  if (!w->conn) {
    pthread_mutex_unlock(&s->lock);
    w->conn = connect_db(w);
    pthread_mutex_lock(&s->lock);
    if (!w->conn && w->login_refused && !s->table_checked) {
      /* At start a refused login stops `run` with the reason; later (a
       * password being rotated) it is retried like an outage. */
      snprintf(s->fatal, sizeof s->fatal,
               "cannot log in to %s: %s (give the password in the URL or a PGPASSFILE)",
               s->where, w->error);
      s->schema_fatal = 1;
      pthread_cond_broadcast(&s->done);
      return 0;
    }
    if (!w->conn) {
      back_off(w);
      return 1;
    }
    s->connected = 1;
    s->down_since_ms = 0;
  }
  if (!s->schema_fatal && (!s->table_checked || (s->schema_wanted && !s->schema_ready))) {
    int fixed = s->schema_wanted;
    s->checking = 1;
    pthread_mutex_unlock(&s->lock);
    pg_outcome o = check_table(w, fixed);
    pthread_mutex_lock(&s->lock);
    s->checking = 0;
    if (o == PG_DONE) {
      s->table_checked = 1;
      s->schema_ready = fixed;
    } else if (o == PG_FATAL) {
      if (!s->fatal[0])
        snprintf(s->fatal, sizeof s->fatal, "table %s: %s", s->table, w->error);
      s->schema_fatal = 1;
    } else {
      if (PQstatus(w->conn) != CONNECTION_OK)
        drop_conn(w);
      back_off(w);
      return 1;
    }
    pthread_cond_broadcast(&s->done);
    return 1;
  }
  if (!s->head || !s->schema_ready || s->schema_fatal)
    return 0;
  pg_batch *b = s->head; /* stays queued until written: nothing is lost on failure */
  pthread_mutex_unlock(&s->lock);
  pg_outcome o = write_batch(w, b);
  pthread_mutex_lock(&s->lock);
  if (o == PG_DONE) {
    batch_done(w);
  } else if (o == PG_FATAL) {
    snprintf(s->fatal, sizeof s->fatal, "writing to table %s: %s", s->table, w->error);
    s->schema_fatal = 1;
    pthread_cond_broadcast(&s->done);
  } else {
    if (PQstatus(w->conn) != CONNECTION_OK)
      drop_conn(w);
    back_off(w);
  }
  return 1;
}

static void *writer_main(void *arg) {
  pg_writer *w = arg;
  pg_sink *s = w->s;
  pthread_mutex_lock(&s->lock);
  while (!s->stopping)
    if (!step(w) && !s->stopping)
      pthread_cond_wait(&s->wake, &s->lock);
  pthread_mutex_unlock(&s->lock);
  if (w->conn)
    PQfinish(w->conn);
  sl_buf_free(&w->sql_copy);
  sl_buf_free(&w->sql_merge);
  free(w);
  return NULL;
}

int pg_writer_start(pg_sink *s, sl_error *err) {
  pg_writer *w = calloc(1, sizeof *w);
  if (!w)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  w->s = s;
  w->rng = (unsigned)pg_now_ms() | 1u;
  if (pthread_create(&s->thread, NULL, writer_main, w) != 0) {
    free(w);
    return sl_error_set(err, SL_ERR_NOMEM, "postgres_sink: cannot start the writer thread");
  }
  s->thread_started = 1;
  return SL_OK;
}

void pg_writer_stop(pg_sink *s) {
  if (!s->thread_started)
    return;
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  s->thread_started = 0;
}
