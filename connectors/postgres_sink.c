/* SPDX-License-Identifier: Apache-2.0 */
/* postgres_sink: rows into a PostgreSQL table, in the pipeline's delivery
 * flow (SPEC.md section 7). write() encodes records into batches of `batch`
 * rows and hands full (or `flush`-old) batches to the writer thread
 * (postgres_writer.c); flush() answers SL_OK only once PostgreSQL committed
 * every row written before it, so a checkpoint never covers a row that is
 * not in the table. With mode = "upsert" the output id is the primary key
 * and a replayed result replaces its row: exactly one row per window after
 * any crash. While PostgreSQL is away flush() reports SL_ERR_UNAVAILABLE
 * (the runtime pauses) and at most `max_batches` batches wait in memory
 * (write() then pushes back); past SLUICE_RETRY_BUDGET flush() gives up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postgres.h"
#include "postgres_libpq.h"

#define PG_MAX_BATCHES 8
#define PG_OPEN_WAIT_MS 12000 /* > libpq's connect_timeout of 10 s */

static const sl_config_entry pg_config[] = {
    {"url", SL_CFG_STRING, SL_CFG_REQUIRED, NULL,
     "postgresql://user@host:port/db?sslmode=... (password from the URL or PGPASSFILE)"},
    {"table", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "table to write, name or schema.name"},
    {"columns", SL_CFG_STRING_LIST, 0, "the fields of the first record",
     "record fields to write, each into the column of the same name"},
    {"mode", SL_CFG_STRING, 0, "upsert",
     "\"upsert\": the output id is the key, a re-emitted result replaces its row; "
     "\"insert\": append every row"},
    {"batch", SL_CFG_INT, 0, "1000", "rows per statement (1 to 100000)"},
    {"flush", SL_CFG_DURATION, 0, "200ms", "longest a row waits for its batch to fill"},
    {"create", SL_CFG_BOOL, 0, "false", "create the table if it does not exist"},
    {NULL, 0, 0, NULL, NULL},
};

/* "host:port/db" of the URL, for messages: never the password. */
static char *describe(const char *url) {
  PQconninfoOption *o = PQconninfoParse(url, NULL);
  const char *host = NULL, *port = NULL, *db = NULL;
  for (PQconninfoOption *p = o; p && p->keyword; p++) {
    if (!strcmp(p->keyword, "host") || (!strcmp(p->keyword, "hostaddr") && !host))
      host = p->val;
    else if (!strcmp(p->keyword, "port"))
      port = p->val;
    else if (!strcmp(p->keyword, "dbname"))
      db = p->val;
  }
  sl_buf b = SL_BUF_INIT;
  sl_buf_printf(&b, "PostgreSQL %s:%s/%s", host ? host : "localhost", port ? port : "5432",
                db ? db : "(default db)");
  PQconninfoFree(o);
  return b.data;
}

static void pg_close(void *state) {
  pg_sink *s = state;
  if (!s)
    return;
  pg_writer_stop(s);
  uint64_t lost = s->sent_rows - s->acked_rows + (s->cur ? s->cur->rows : 0);
  if (lost && s->env)
    s->env->log(s->env->runtime, SL_LOG_WARN,
                "postgres_sink %s: closing with %llu row(s) not written; the next start "
                "writes them again from the last checkpoint",
                s->table, (unsigned long long)lost);
  /* Refused rows not handed over yet belong to batches written after the
   * last flush(): no checkpoint covers them, the next start meets them
   * again. Dead letters raised now would go nowhere. */
  for (pg_failed *f = s->failed, *n; f; f = n) {
    n = f->next;
    free(f->row);
    free(f->message);
    free(f);
  }
  for (pg_batch *b = s->head, *n; b; b = n) {
    n = b->next;
    sl_buf_free(&b->text);
    free(b);
  }
  if (s->cur) {
    sl_buf_free(&s->cur->text);
    free(s->cur);
  }
  for (size_t i = 0; i < s->ncols; i++) {
    free(s->cols[i].name);
    free(s->cols[i].sql_type);
  }
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->done);
  sl_buf_free(&s->scratch);
  sl_buf_free(&s->colbuf);
  sl_buf_free(&s->idbuf);
  sl_arena_destroy(s->dl_arena);
  free(s->id_prefix);
  free(s->url);
  free(s->where);
  free(s->table);
  free(s);
}

static int add_column(pg_sink *s, const char *name) {
  pg_column *c = &s->cols[s->ncols];
  if (!(c->name = strdup(name)) || !(c->field = sl_name_cstr(name)))
    return SL_ERR_NOMEM;
  s->ncols++;
  return SL_OK;
}

static int init_sync(pg_sink *s) {
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca))
    return SL_ERR_NOMEM;
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_mutex_init(&s->lock, NULL) || pthread_cond_init(&s->wake, &ca) ||
           pthread_cond_init(&s->done, &ca);
  pthread_condattr_destroy(&ca);
  return rc ? SL_ERR_NOMEM : SL_OK;
}

static void deadline_in(struct timespec *ts, int64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* At start: wait (bounded) until the writer looked the table up, so that a
 * missing table or column stops `run` with its name before any record. */
static int wait_table_checked(pg_sink *s, sl_error *err) {
  struct timespec until;
  deadline_in(&until, PG_OPEN_WAIT_MS);
  int rc = SL_OK;
  pthread_mutex_lock(&s->lock);
  while (!s->table_checked && !s->schema_fatal &&
         pthread_cond_timedwait(&s->done, &s->lock, &until) == 0) {
  }
  if (s->schema_fatal)
    rc = sl_error_set(err, SL_ERR_INVALID, "postgres_sink: %s", s->fatal);
  else if (!s->table_checked)
    s->env->log(s->env->runtime, SL_LOG_WARN,
                "postgres_sink %s: %s does not answer at start (%s); rows wait until it does",
                s->table, s->where, s->last_error);
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static int pg_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                   sl_error *err) {
  int rc = pg_check_options(cfg, err);
  if (rc != SL_OK)
    return sl_error_set(err, rc, "postgres_sink: %s", err->message);
  pg_sink *s = calloc(1, sizeof *s);
  if (!s || init_sync(s) != SL_OK) {
    free(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  s->env = env;
  s->upsert = strcmp(sl_config_string(cfg, "mode", "upsert"), "upsert") == 0;
  s->create = sl_config_bool(cfg, "create", 0);
  s->batch_rows = (size_t)sl_config_int(cfg, "batch", 1000);
  s->flush_ms = sl_config_duration_ms(cfg, "flush", 200);
  s->max_batches = PG_MAX_BATCHES;
  s->budget_ms = 600000;
  const char *budget = getenv("SLUICE_RETRY_BUDGET");
  if (budget && *budget && sl_parse_duration(budget, &s->budget_ms, err) != SL_OK) {
    rc = sl_error_set(err, SL_ERR_INVALID, "SLUICE_RETRY_BUDGET: %s", err->message);
    goto out_close;
  }
  s->url = strdup(sl_config_string(cfg, "url", ""));
  s->table = strdup(sl_config_string(cfg, "table", ""));
  s->where = describe(s->url ? s->url : "");
  s->n_window_start = sl_name_cstr("window_start");
  s->dl_arena = sl_arena_new(0);
  sl_buf prefix = SL_BUF_INIT;
  sl_buf_printf(&prefix, "%s/%s/", env->pipeline ? env->pipeline : "",
                env->node_name ? env->node_name : "postgres_sink");
  s->id_prefix = prefix.data;
  rc = !s->url || !s->table || !s->where || !s->dl_arena || !s->id_prefix ? SL_ERR_NOMEM : SL_OK;
  for (size_t i = 0; rc == SL_OK && i < sl_config_list_len(cfg, "columns"); i++)
    rc = add_column(s, sl_config_list_string(cfg, "columns", i));
  if (rc != SL_OK) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out_close;
  }
  s->cols_fixed = s->ncols > 0;
  if ((rc = pg_writer_start(s, err)) != SL_OK || (rc = wait_table_checked(s, err)) != SL_OK)
    goto out_close;
  *state = s;
  return SL_OK;
out_close:
  pg_close(s);
  return rc;
}

/* ---- the runtime thread's side ---------------------------------------- */

/* Rows PostgreSQL refused: to the dead letters, from write()/flush() only
 * (the runtime writes dead letters raised there). */
static void release_failed(pg_sink *s) {
  pthread_mutex_lock(&s->lock);
  pg_failed *f = s->failed;
  s->failed = NULL;
  pthread_mutex_unlock(&s->lock);
  while (f) {
    pg_failed *next = f->next;
    sl_record *r = s->env ? sl_record_new(s->dl_arena, 1) : NULL;
    char *row = r ? sl_arena_strndup(s->dl_arena, f->row, strlen(f->row)) : NULL;
    char *msg = r ? sl_arena_strndup(s->dl_arena, f->message, strlen(f->message)) : NULL;
    if (r && row && msg) {
      sl_record_set_raw(r, row, strlen(row));
      s->env->dead_letter(s->env->runtime, r, "sink", msg);
      s->env->counter_add(s->env->runtime, "sluice_postgres_rows_refused_total", 1);
    } else if (s->env) {
      s->env->log(s->env->runtime, SL_LOG_ERROR, "postgres_sink %s: row lost (out of memory): %s",
                  s->table, f->message);
    }
    free(f->row);
    free(f->message);
    free(f);
    f = next;
  }
}

/* Hand the batch being filled to the writer; 0 when its queue is full. */
static int hand_off(pg_sink *s) {
  pg_batch *b = s->cur;
  if (!b || !b->rows)
    return 1;
  pthread_mutex_lock(&s->lock);
  int ok = s->queued < s->max_batches;
  if (ok) {
    if (s->tail)
      s->tail->next = b;
    else
      s->head = b;
    s->tail = b;
    s->queued++;
    s->sent_rows += b->rows;
    pthread_cond_signal(&s->wake);
  }
  pthread_mutex_unlock(&s->lock);
  if (ok)
    s->cur = NULL;
  return ok;
}

/* Columns and types from the first record (or its batch, for fields null
 * in the first); then the writer checks or creates the table. */
static int fix_columns(pg_sink *s, const sl_batch *in) {
  const sl_record *first = sl_batch_at(in, 0);
  for (size_t i = 0; !s->cols_fixed && i < sl_record_count(first) && s->ncols < PG_MAX_COLUMNS;
       i++) {
    const char *name = sl_record_name_at(first, i);
    if (strcmp(name, PG_ID_COLUMN) && strcmp(name, PG_TIME_COLUMN) && add_column(s, name))
      return SL_ERR_NOMEM;
  }
  s->cols_fixed = 1;
  for (size_t c = 0; c < s->ncols; c++) {
    const sl_value *v = NULL;
    for (size_t i = 0; i < sl_batch_count(in) && (!v || v->type == SL_TYPE_NULL); i++)
      v = sl_record_get(sl_batch_at(in, i), s->cols[c].field);
    if (!(s->cols[c].sql_type = strdup(pg_sql_type_of(v, s->cols[c].name))))
      return SL_ERR_NOMEM;
  }
  return SL_OK;
}

static int fatal_error(pg_sink *s, sl_error *err) {
  return sl_error_set(err, SL_ERR_INVALID, "postgres_sink: %s", s->fatal);
}

/* 1 when rows may be encoded (the table's column types are known). */
static int schema_known(pg_sink *s, const sl_batch *in, int *fatal, int *rc) {
  *fatal = 0;
  *rc = SL_OK;
  pthread_mutex_lock(&s->lock);
  int ready = s->schema_ready;
  *fatal = s->schema_fatal;
  if (!ready && !*fatal && !s->schema_wanted && !s->checking && sl_batch_count(in)) {
    *rc = fix_columns(s, in);
    s->schema_wanted = *rc == SL_OK;
    pthread_cond_signal(&s->wake);
  }
  pthread_mutex_unlock(&s->lock);
  return ready;
}

static int pg_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  pg_sink *s = state;
  size_t n = sl_batch_count(in), i = 0;
  int fatal, rc;
  *written = 0;
  release_failed(s);
  if (!schema_known(s, in, &fatal, &rc)) {
    if (fatal)
      return fatal_error(s, err);
    if (rc != SL_OK)
      return sl_error_set(err, rc, "out of memory");
    /* Backpressure until the writer checked the table: flush() waits. */
    return n ? sl_error_set(err, SL_ERR_LIMIT, "postgres_sink %s: table not checked yet", s->table)
             : SL_OK;
  }
  for (; i < n; i++) {
    if (s->cur && s->cur->rows >= s->batch_rows && !hand_off(s))
      break;
    if (!s->cur && !(s->cur = calloc(1, sizeof *s->cur)))
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    if (!s->cur->rows)
      s->cur->opened_ms = pg_now_ms();
    const sl_record *r = sl_batch_at(in, i);
    sl_error e;
    sl_error_clear(&e);
    rc = pg_encode_row(s, r, &s->cur->text, &e);
    if (rc == SL_OK) {
      s->cur->rows++;
    } else if (rc == SL_ERR_NOMEM) {
      return sl_error_set(err, rc, "out of memory");
    } else if ((rc = s->env->dead_letter(s->env->runtime, r, "encode", e.message)) != SL_OK) {
      return sl_error_set(err, rc, "postgres_sink %s: cannot dead-letter", s->table);
    }
  }
  *written = i;
  if (s->cur && s->cur->rows >= s->batch_rows)
    hand_off(s);
  if (i < n)
    return sl_error_set(err, SL_ERR_LIMIT, "postgres_sink %s: %zu batches wait for %s", s->table,
                        s->max_batches, s->where);
  return SL_OK;
}

static void pg_poll(void *state) {
  pg_sink *s = state;
  if (s->cur && s->cur->rows && pg_now_ms() - s->cur->opened_ms >= s->flush_ms)
    hand_off(s);
}

/* Called with the lock held, when rows are still pending. */
static int pending_error(pg_sink *s, sl_error *err) {
  uint64_t pending = s->sent_rows - s->acked_rows + (s->cur ? s->cur->rows : 0);
  int64_t down = s->down_since_ms ? pg_now_ms() - s->down_since_ms : 0;
  if (down > s->budget_ms)
    return sl_error_set(err, SL_ERR_LIMIT,
                        "postgres_sink %s: %s unreachable for %lld s (retry budget, "
                        "SLUICE_RETRY_BUDGET): %s",
                        s->table, s->where, (long long)(down / 1000), s->last_error);
  sl_error_set(err, SL_ERR_UNAVAILABLE, "postgres_sink %s: %llu row(s) not yet written to %s%s%s",
               s->table, (unsigned long long)pending, s->where,
               s->down_since_ms ? ": " : "", s->down_since_ms ? s->last_error : "");
  if (err)
    err->retriable = 1;
  return SL_ERR_UNAVAILABLE;
}

static int pg_flush(void *state, int timeout_ms, sl_error *err) {
  pg_sink *s = state;
  struct timespec until;
  deadline_in(&until, timeout_ms > 0 ? timeout_ms : 0);
  int rc = SL_OK;
  release_failed(s);
  hand_off(s);
  pthread_mutex_lock(&s->lock);
  for (;;) {
    if (s->schema_fatal) {
      pthread_mutex_unlock(&s->lock);
      return fatal_error(s, err);
    }
    if (s->acked_rows == s->sent_rows && !s->cur && (s->schema_ready || !s->schema_wanted))
      break;
    if (s->cur && s->queued < s->max_batches) {
      pthread_mutex_unlock(&s->lock);
      hand_off(s);
      pthread_mutex_lock(&s->lock);
      continue;
    }
    if (pthread_cond_timedwait(&s->done, &s->lock, &until) != 0) {
      rc = pending_error(s, err);
      break;
    }
  }
  uint64_t acked = s->acked_rows;
  pthread_mutex_unlock(&s->lock);
  release_failed(s); /* refused rows of the batches just written */
  if (acked > s->acked_reported) {
    s->env->counter_add(s->env->runtime, "sluice_postgres_rows_written_total",
                        (double)(acked - s->acked_reported));
    s->acked_reported = acked;
  }
  return rc;
}

/* `sluice check`: the options, offline (URL syntax, mode, batch and flush). */
static void pg_check(const sl_config *cfg, sl_check_report report, void *ud) {
  sl_error err;
  sl_error_clear(&err);
  if (pg_check_options(cfg, &err) != SL_OK) {
    char msg[sizeof err.message + 16];
    snprintf(msg, sizeof msg, "postgres_sink: %s", err.message);
    report(ud, 0, msg);
  }
}

const sl_sink_desc sl_postgres_sink = {
    .name = "postgres_sink",
    .summary = "write rows to a PostgreSQL table (upsert by output id: exactly-once rows)",
    .config = pg_config,
    .positional = NULL,
    .open = pg_open,
    .write = pg_write,
    .flush = pg_flush,
    .poll = pg_poll,
    .close = pg_close,
    .check = pg_check,
};
