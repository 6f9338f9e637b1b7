/* SPDX-License-Identifier: Apache-2.0 */
/* postgres_sink, the pure part: option checks that need no server (sluice
 * check), SQL identifier quoting, the mapping between record values and
 * column types, and one record -> one row in COPY text format with its
 * deterministic output id. Runs on the runtime thread; no I/O. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/record_internal.h"
#include "codec/json_codec.h"
#include "postgres.h"
#include "postgres_libpq.h"

/* ---- options ------------------------------------------------------------ */

static int check_url(const char *url, sl_error *err) {
  char *why = NULL;
  if (!url || !*url)
    return sl_error_set(err, SL_ERR_INVALID,
                        "url is empty: give postgresql://user@host:port/dbname (or "
                        "\"host=... dbname=...\")");
  /* The first PQ* call of any postgres_sink (open and `sluice check` both
   * start here): load libpq now. */
  int rc = sl_libpq_load(err);
  if (rc != SL_OK)
    return rc;
  /* libpq's own parser: the same rules the connection will use, offline. */
  PQconninfoOption *opts = PQconninfoParse(url, &why);
  if (!opts) {
    int rc = sl_error_set(err, SL_ERR_INVALID, "url is not a PostgreSQL connection string: %s",
                          why ? why : "out of memory");
    PQfreemem(why);
    return rc;
  }
  /* libpq takes any text as a port until it connects. */
  for (PQconninfoOption *o = opts; o->keyword && rc == SL_OK; o++) {
    if (strcmp(o->keyword, "port") || !o->val)
      continue;
    for (const char *p = o->val; *p && rc == SL_OK; p += strcspn(p, ","), p += *p == ',') {
      char *end;
      long port = strtol(p, &end, 10);
      if (end == p || (*end && *end != ',') || port < 1 || port > 65535)
        rc = sl_error_set(err, SL_ERR_INVALID, "url: port '%.*s' is not a number from 1 to 65535",
                          (int)strcspn(p, ","), p);
    }
  }
  PQconninfoFree(opts);
  return rc;
}

static int check_table(const char *table, sl_error *err) {
  size_t n = table ? strlen(table) : 0;
  const char *dot = table ? strchr(table, '.') : NULL;
  if (!n || n > 127 || table[0] == '.' || table[n - 1] == '.' || (dot && strchr(dot + 1, '.')))
    return sl_error_set(err, SL_ERR_INVALID,
                        "table '%s' must be a name or schema.name (at most 127 characters)",
                        table ? table : "");
  return SL_OK;
}

static int check_columns(const sl_config *cfg, sl_error *err) {
  size_t n = sl_config_list_len(cfg, "columns");
  if (sl_config_has(cfg, "columns") && n == 0)
    return sl_error_set(err, SL_ERR_INVALID, "columns is empty: list field names or leave it out");
  if (n > PG_MAX_COLUMNS)
    return sl_error_set(err, SL_ERR_INVALID, "columns: at most %d", PG_MAX_COLUMNS);
  for (size_t i = 0; i < n; i++) {
    const char *c = sl_config_list_string(cfg, "columns", i);
    if (!c || !*c || strlen(c) > 63)
      return sl_error_set(err, SL_ERR_INVALID, "columns[%zu]: a name of 1 to 63 characters",
                          i + 1);
    if (!strcmp(c, PG_ID_COLUMN) || !strcmp(c, PG_TIME_COLUMN))
      return sl_error_set(err, SL_ERR_INVALID,
                          "columns: '%s' is written by the sink itself (the output id and "
                          "the event time); leave it out",
                          c);
    for (size_t k = 0; k < i; k++)
      if (!strcmp(c, sl_config_list_string(cfg, "columns", k)))
        return sl_error_set(err, SL_ERR_INVALID, "columns: '%s' is listed twice", c);
  }
  return SL_OK;
}

int pg_check_options(const sl_config *cfg, sl_error *err) {
  const char *mode = sl_config_string(cfg, "mode", "upsert");
  int64_t batch = sl_config_int(cfg, "batch", 1000);
  int64_t flush = sl_config_duration_ms(cfg, "flush", 200);
  int rc = check_url(sl_config_string(cfg, "url", NULL), err);
  if (rc == SL_OK)
    rc = check_table(sl_config_string(cfg, "table", NULL), err);
  if (rc == SL_OK && strcmp(mode, "upsert") && strcmp(mode, "insert"))
    rc = sl_error_set(err, SL_ERR_INVALID, "mode = '%s': use \"upsert\" or \"insert\"", mode);
  if (rc == SL_OK && (batch < 1 || batch > 100000))
    rc = sl_error_set(err, SL_ERR_INVALID, "batch = %" PRId64 ": rows per statement, 1 to 100000",
                      batch);
  if (rc == SL_OK && (flush < 1 || flush > 60000))
    rc = sl_error_set(err, SL_ERR_INVALID, "flush = %" PRId64 " ms: between 1ms and 60s", flush);
  if (rc == SL_OK)
    rc = check_columns(cfg, err);
  return rc;
}

/* ---- SQL ---------------------------------------------------------------- */

static int quote_part(sl_buf *b, const char *p, size_t n) {
  int rc = sl_buf_putc(b, '"');
  for (size_t i = 0; i < n && rc == SL_OK; i++)
    rc = p[i] == '"' ? sl_buf_puts(b, "\"\"") : sl_buf_putc(b, p[i]);
  return rc == SL_OK ? sl_buf_putc(b, '"') : rc;
}

int pg_quote_ident(sl_buf *b, const char *name, int dotted) {
  const char *dot = dotted ? strchr(name, '.') : NULL;
  if (!dot)
    return quote_part(b, name, strlen(name));
  int rc = quote_part(b, name, (size_t)(dot - name));
  if (rc == SL_OK)
    rc = sl_buf_putc(b, '.');
  return rc == SL_OK ? quote_part(b, dot + 1, strlen(dot + 1)) : rc;
}

static int is_time_field(const char *field) {
  return !strcmp(field, "window_start") || !strcmp(field, "window_end");
}

const char *pg_sql_type_of(const sl_value *v, const char *field) {
  switch (v ? v->type : SL_TYPE_NULL) {
  case SL_TYPE_BOOL:
    return "boolean";
  case SL_TYPE_INT:
    return is_time_field(field) ? "timestamptz" : "bigint";
  case SL_TYPE_DOUBLE:
    return "double precision";
  case SL_TYPE_BYTES:
    return "bytea";
  case SL_TYPE_RECORD:
  case SL_TYPE_ARRAY:
    return "jsonb";
  default:
    return is_time_field(field) ? "timestamptz" : "text";
  }
}

pg_kind pg_kind_of(const char *t) {
  if (!strncmp(t, "timestamp", 9) || !strcmp(t, "date"))
    return PG_KIND_TIME;
  if (!strcmp(t, "jsonb") || !strcmp(t, "json"))
    return PG_KIND_JSON;
  if (!strcmp(t, "bytea"))
    return PG_KIND_BYTEA;
  return PG_KIND_TEXT;
}

/* ---- COPY text format --------------------------------------------------- */

/* Backslash, tab, newline and carriage return are escaped; everything else
 * goes as it is (PostgreSQL checks the encoding). */
static int copy_text(sl_buf *b, const char *p, size_t n) {
  if (sl_buf_reserve(b, n + 8))
    return SL_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *esc = p[i] == '\\' ? "\\\\" : p[i] == '\t' ? "\\t" : p[i] == '\n' ? "\\n"
                                                            : p[i] == '\r' ? "\\r" : NULL;
    int rc = esc ? sl_buf_puts(b, esc) : sl_buf_putc(b, p[i]);
    if (rc)
      return SL_ERR_NOMEM;
  }
  return SL_OK;
}

/* ms since the epoch as an ISO 8601 UTC timestamp PostgreSQL parses. */
static int put_time(sl_buf *b, int64_t ms) {
  int64_t sec = ms / 1000, frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    sec--;
  }
  time_t t = (time_t)sec;
  struct tm tm;
  if (!gmtime_r(&t, &tm))
    return sl_buf_puts(b, "\\N");
  return sl_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac)
             ? SL_ERR_NOMEM
             : SL_OK;
}

static int put_json(pg_sink *s, const sl_value *v, sl_buf *b, sl_error *err) {
  sl_buf_reset(&s->scratch);
  int rc = sl_json_encode_value(v, &s->scratch, err);
  return rc ? rc : copy_text(b, s->scratch.data ? s->scratch.data : "", s->scratch.len);
}

static int put_double(sl_buf *b, double d) {
  if (isnan(d))
    return sl_buf_puts(b, "NaN");
  if (isinf(d))
    return sl_buf_puts(b, d > 0 ? "Infinity" : "-Infinity");
  /* The shortest of %.15g and %.17g that reads back as the same double:
   * 0.1 stays "0.1" in text columns, and nothing is rounded away. */
  char txt[32];
  snprintf(txt, sizeof txt, "%.15g", d);
  if (strtod(txt, NULL) != d)
    snprintf(txt, sizeof txt, "%.17g", d);
  return sl_buf_puts(b, txt);
}

static int put_value(pg_sink *s, const pg_column *c, const sl_value *v, sl_buf *b, sl_error *err) {
  if (!v || v->type == SL_TYPE_NULL)
    return sl_buf_puts(b, "\\N");
  if (c->kind == PG_KIND_JSON)
    return put_json(s, v, b, err);
  switch (v->type) {
  case SL_TYPE_BOOL:
    return sl_buf_puts(b, v->as.b ? "t" : "f");
  case SL_TYPE_INT:
    return c->kind == PG_KIND_TIME ? put_time(b, v->as.i) : sl_buf_printf(b, "%" PRId64, v->as.i);
  case SL_TYPE_DOUBLE:
    return c->kind == PG_KIND_TIME ? put_time(b, (int64_t)llround(v->as.d)) : put_double(b, v->as.d);
  case SL_TYPE_BYTES:
    if (c->kind == PG_KIND_BYTEA) {
      int rc = sl_buf_puts(b, "\\\\x"); /* \x, its backslash escaped for COPY */
      for (size_t i = 0; i < v->as.str.len && rc == SL_OK; i++)
        rc = sl_buf_printf(b, "%02x", (unsigned char)v->as.str.ptr[i]);
      return rc;
    }
    return copy_text(b, v->as.str.ptr, v->as.str.len);
  case SL_TYPE_STRING:
    return copy_text(b, v->as.str.ptr, v->as.str.len);
  default: /* a nested record or array in a text column: as JSON */
    return put_json(s, v, b, err);
  }
}

/* ---- output ids --------------------------------------------------------- */

/* As kafka_sink's sluice-id and file_sink's _id: "<pipeline>/<node>/<key>/
 * <window_start>" for window results, "<pipeline>/<node>/<source>/
 * <partition>/<offset>" for records with a source position, else a hash of
 * the row (an alert: the same input gives the same bytes). The same output
 * gets the same id after a replay, which is what makes upsert exactly-once. */
static int build_id(pg_sink *s, const sl_record *r, const char *cols, size_t clen) {
  sl_buf *id = &s->idbuf;
  sl_buf_reset(id);
  if (sl_buf_puts(id, s->id_prefix))
    return SL_ERR_NOMEM;
  const sl_value *ws = sl_record_get(r, s->n_window_start);
  if (ws && ws->type != SL_TYPE_NULL) {
    size_t klen;
    const char *key = sl_record_key(r, &klen);
    if ((klen && sl_buf_append(id, key, klen)) || sl_buf_putc(id, '/'))
      return SL_ERR_NOMEM;
    if (ws->type == SL_TYPE_INT)
      return sl_buf_printf(id, "%" PRId64, ws->as.i) ? SL_ERR_NOMEM : SL_OK;
    sl_error e;
    return sl_json_encode_value(ws, id, &e);
  }
  if (sl_record_offset(r) >= 0) {
    const char *src = sl_record_source_name(r);
    return sl_buf_printf(id, "%s/%" PRId32 "/%" PRId64, src ? src : "", sl_record_partition(r),
                         sl_record_offset(r))
               ? SL_ERR_NOMEM
               : SL_OK;
  }
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < clen; i++)
    h = (h ^ (unsigned char)cols[i]) * 1099511628211ull;
  return sl_buf_printf(id, "v%016" PRIx64, h) ? SL_ERR_NOMEM : SL_OK;
}

int pg_encode_row(pg_sink *s, const sl_record *r, sl_buf *out, sl_error *err) {
  size_t start = out->len;
  /* The columns first: the id of a record without window or position is a
   * hash of them. */
  sl_buf *cols = &s->colbuf;
  sl_buf_reset(cols);
  int rc = SL_OK;
  for (size_t i = 0; i < s->ncols && rc == SL_OK; i++) {
    rc = sl_buf_putc(cols, '\t');
    if (rc == SL_OK)
      rc = put_value(s, &s->cols[i], sl_record_get(r, s->cols[i].field), cols, err);
  }
  if (rc == SL_OK)
    rc = build_id(s, r, cols->data, cols->len);
  if (rc == SL_OK)
    rc = copy_text(out, s->idbuf.data, s->idbuf.len);
  if (rc == SL_OK)
    rc = sl_buf_putc(out, '\t');
  if (rc == SL_OK)
    rc = put_time(out, sl_record_timestamp(r));
  if (rc == SL_OK && cols->len)
    rc = sl_buf_append(out, cols->data, cols->len);
  if (rc == SL_OK)
    rc = sl_buf_putc(out, '\n');
  if (rc != SL_OK) {
    out->len = start; /* no half row */
    if (rc == SL_ERR_NOMEM)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  return rc;
}
