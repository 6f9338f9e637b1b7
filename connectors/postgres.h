/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to postgres_sink: the state shared by the sink API (runtime
 * thread, postgres_sink.c), the writer thread (postgres_writer.c) and the row
 * encoding (postgres_rows.c). Never installed. */
#ifndef SLUICE_POSTGRES_H
#define SLUICE_POSTGRES_H

#include <pthread.h>
#include <stdint.h>

#include "base/buf.h"
#include "lang/connector.h"

#define PG_ID_COLUMN "_id"           /* the output id: primary key in upsert mode */
#define PG_TIME_COLUMN "event_time"  /* the record's event time */
#define PG_MAX_COLUMNS 256

/* How a column's value is written, from the table's column type. */
typedef enum pg_kind {
  PG_KIND_TEXT = 0, /* text, varchar, numeric, ints, floats, booleans: PostgreSQL parses */
  PG_KIND_TIME,     /* timestamptz, timestamp, date: integer ms become a timestamp */
  PG_KIND_JSON,     /* jsonb, json: any value as JSON */
  PG_KIND_BYTEA,    /* bytea: \x hex */
} pg_kind;

typedef struct pg_column {
  char *name;      /* malloc'd; the record field (and column) name */
  sl_name field;   /* interned */
  pg_kind kind;    /* from the table; valid once schema_ready */
  char *sql_type;  /* malloc'd; the type used to create the table (create = true) */
} pg_column;

/* Rows of one statement, encoded in COPY text format by the runtime thread
 * and then owned by the writer until acknowledged. */
typedef struct pg_batch {
  struct pg_batch *next;
  sl_buf text;   /* rows, each ending with '\n' */
  size_t rows;
  size_t resumed; /* rows already written one by one after a data error */
  int64_t opened_ms;
} pg_batch;

/* A row PostgreSQL refused for its data, waiting to be dead-lettered by the
 * runtime thread. */
typedef struct pg_failed {
  struct pg_failed *next;
  char *row;     /* malloc'd COPY text of the row */
  char *message; /* malloc'd */
} pg_failed;

typedef struct pg_sink {
  const sl_connector_env *env;
  char *url;      /* malloc'd; as given (may hold a password: never logged) */
  char *where;    /* malloc'd; "host:port/db" for messages, no password */
  char *table;    /* malloc'd; as given, maybe "schema.table" */
  char *qtable;   /* malloc'd; quoted for SQL */
  int upsert;     /* mode = "upsert" */
  int create;     /* create = true */
  size_t batch_rows;
  int64_t flush_ms;
  int64_t budget_ms; /* SLUICE_RETRY_BUDGET */
  size_t max_batches; /* handed to the writer before write() pushes back */

  /* Columns written after _id and event_time: named by `columns` at open,
   * else by the first record, whose values also give the types a table made
   * by create = true gets. Written by the runtime thread only while the
   * writer is not `checking`, and never after schema_wanted. */
  pg_column cols[PG_MAX_COLUMNS];
  size_t ncols;
  int cols_fixed;

  /* Runtime thread only. */
  pg_batch *cur; /* being filled */
  sl_buf scratch; /* JSON of one value */
  sl_buf colbuf;  /* the columns of one row */
  sl_buf idbuf;
  char *id_prefix; /* "pipeline/node/" */
  sl_name n_window_start;
  sl_arena *dl_arena; /* dead-letter records: borrowed by the runtime, kept until close */
  uint64_t acked_reported; /* rows counted in the metrics so far */

  /* Shared with the writer, under `lock`. */
  pthread_mutex_t lock;
  pthread_cond_t wake;  /* to the writer: work, or stop */
  pthread_cond_t done;  /* to the runtime: progress */
  pthread_t thread;
  int thread_started;
  int stopping;
  int table_checked;   /* looked up once: exists (or will be created) */
  int checking;        /* the writer reads cols: the runtime thread keeps off */
  int schema_wanted;   /* columns and their types fixed: check (or create) them */
  int schema_ready;    /* kinds known, table checked */
  int schema_fatal;    /* the table cannot take the rows: message in fatal */
  char fatal[512];
  int connected;
  int64_t down_since_ms; /* 0 while PostgreSQL answers */
  char last_error[384];
  pg_batch *head, *tail; /* handed to the writer, oldest first */
  size_t queued;         /* batches in head..tail */
  uint64_t sent_rows, acked_rows;
  pg_failed *failed;     /* for the runtime thread to dead-letter */
  uint64_t stat_batches, stat_retries;
} pg_sink;

/* ---- postgres_rows.c ---- */
/* Append `name` quoted as an SQL identifier ("a""b"); schema.table is
 * quoted per part. */
int pg_quote_ident(sl_buf *b, const char *name, int dotted);
/* The type a table made by create = true gets for a value. */
const char *pg_sql_type_of(const sl_value *v, const char *field);
/* Kind of a column from its type as format_type() prints it. */
pg_kind pg_kind_of(const char *type_name);
/* Append one row of `r` (the id, event time, then the columns) to `out` in
 * COPY text format, ending with '\n'. */
int pg_encode_row(pg_sink *s, const sl_record *r, sl_buf *out, sl_error *err);
/* Check the sink's options without connecting (sluice check). */
int pg_check_options(const sl_config *cfg, sl_error *err);

/* ---- postgres_writer.c ---- */
/* Start the writer thread; it connects and, once schema_wanted, checks or
 * creates the table. */
int pg_writer_start(pg_sink *s, sl_error *err);
/* Ask the writer to stop and join it; batches not written stay queued. */
void pg_writer_stop(pg_sink *s);
int64_t pg_now_ms(void);

#endif
