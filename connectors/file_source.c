/* SPDX-License-Identifier: Apache-2.0 */
/* file_source and stdin_source: JSON Lines (or raw lines) from a file or
 * standard input. Finite: poll() reports eof at the end. Each line becomes a
 * record with its bytes, the path as source name, partition 0 and the line
 * number as offset; the event time is the arrival time unless `time = F`
 * names a field (read by the runtime once decoded: source_time.h). Lines longer
 * than max_line_bytes are dead-lettered, never truncated silently. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro_file.h"
#include "base/record_internal.h"
#include "codec/format.h"
#include "lang/connector.h"
#include "lang/source_time.h"

typedef struct file_source {
  const sl_connector_env *env;
  FILE *fp;
  int owns_fp;
  char *path;     /* source name in records */
  size_t max_line;
  int64_t line_no;  /* line (or Avro datum) number: the record's offset */
  sl_avro_file *avro; /* format = "avro": an Avro object container file */
  char *line;     /* malloc'd line buffer, max_line + 1 */
} file_source;

static const sl_config_entry file_source_config[] = {
    {"path", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "JSON Lines file to read"},
    {"format", SL_CFG_STRING, 0, "json",
     "\"json\" (JSON Lines), \"avro\" (Avro object container file) or \"raw\" lines"},
    {"max_line_bytes", SL_CFG_INT, 0, "1048576", "longest accepted line"},
    SL_SOURCE_TIME_CONFIG,
    {NULL, 0, 0, NULL, NULL},
};

static const sl_config_entry stdin_source_config[] = {
    {"format", SL_CFG_STRING, 0, "json", "\"json\" or \"raw\""},
    {"max_line_bytes", SL_CFG_INT, 0, "1048576", "longest accepted line"},
    SL_SOURCE_TIME_CONFIG,
    {NULL, 0, 0, NULL, NULL},
};

static void file_source_close(void *state) {
  file_source *s = state;
  if (!s)
    return;
  if (s->fp && s->owns_fp)
    fclose(s->fp);
  sl_avro_file_close(s->avro);
  free(s->line);
  free(s->path);
  free(s);
}

static int open_common(const sl_connector_env *env, const sl_config *cfg, FILE *fp, int owns,
                       const char *name, void **state, sl_error *err) {
  file_source *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->env = env;
  s->fp = fp;
  s->owns_fp = owns;
  s->max_line = (size_t)sl_config_int(cfg, "max_line_bytes", 1 << 20);
  s->path = strdup(name);
  s->line = malloc(s->max_line + 2);
  if (!s->path || !s->line || s->max_line == 0) {
    file_source_close(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  *state = s;
  return SL_OK;
}

static int file_source_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                            sl_error *err) {
  char path[4096];
  sl_path_relative_to(sl_config_file(cfg), sl_config_string(cfg, "path", ""), path, sizeof path);
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return sl_error_set(err, SL_ERR_IO, "%s:%d: file_source: cannot open '%s': %s",
                        sl_config_file(cfg), sl_config_line(cfg), path, strerror(errno));
  int rc = open_common(env, cfg, fp, 1, path, state, err);
  if (rc != SL_OK) {
    fclose(fp);
    return rc;
  }
  if (strcmp(sl_config_string(cfg, "format", "json"), "avro") == 0) {
    file_source *s = *state;
    s->avro = sl_avro_file_open(path, err);
    if (!s->avro) {
      char msg[sizeof err->message];
      snprintf(msg, sizeof msg, "%s", err->message);
      file_source_close(s);
      return sl_error_set(err, SL_ERR_IO, "%s:%d: file_source: %s", sl_config_file(cfg),
                          sl_config_line(cfg), msg);
    }
  }
  return SL_OK;
}

/* A missing input is only a warning: the file may exist where the
 * pipeline runs (CI checks pipelines without their data). */
static void file_source_check(const sl_config *cfg, sl_check_report report, void *ud) {
  char path[4096], msg[4200];
  sl_path_relative_to(sl_config_file(cfg), sl_config_string(cfg, "path", ""), path, sizeof path);
  FILE *fp = fopen(path, "rb");
  if (fp) {
    fclose(fp);
    return;
  }
  snprintf(msg, sizeof msg, "file_source: cannot open '%s' here: %s (run needs it)", path,
           strerror(errno));
  report(ud, 1, msg);
}

/* format = "avro": datums are decoded here, with the file's own schema. */
static int avro_poll(file_source *s, sl_batch *out, size_t max, int *eof, int64_t now,
                     sl_error *err) {
  sl_arena *a = sl_batch_arena(out);
  for (size_t i = 0; i < max; i++) {
    sl_record *r = NULL;
    sl_error e;
    int rc = sl_avro_file_next(s->avro, a, &r, &e);
    if (rc == 0) {
      *eof = 1;
      return SL_OK;
    }
    if (rc < 0 && rc != SL_ERR_PARSE)
      return sl_error_set(err, rc, "%s: %s", s->path, e.message);
    s->line_no++;
    sl_record_set_position(r, s->env->source_id, s->path, 0, s->line_no);
    sl_record_set_timestamp(r, now);
    if (rc == SL_ERR_PARSE) {
      if ((rc = s->env->dead_letter(s->env->runtime, r, "decode", e.message)) != SL_OK)
        return sl_error_set(err, rc, "cannot dead-letter datum %lld", (long long)s->line_no);
      continue;
    }
    if ((rc = sl_batch_push(out, r)) != SL_OK)
      return sl_error_set(err, rc, "out of memory");
  }
  return SL_OK;
}

static void stdin_source_check(const sl_config *cfg, sl_check_report report, void *ud) {
  if (strcmp(sl_config_string(cfg, "format", "json"), "avro") == 0)
    report(ud, 0,
           "stdin_source reads JSON Lines or raw lines; for an Avro file use file_source{path = "
           "..., format = \"avro\"}");
}

static int stdin_source_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                             sl_error *err) {
  if (strcmp(sl_config_string(cfg, "format", "json"), "avro") == 0)
    return sl_error_set(err, SL_ERR_INVALID,
                        "%s:%d: stdin_source reads JSON Lines or raw lines; for an Avro file use "
                        "file_source{path = ..., format = \"avro\"}",
                        sl_config_file(cfg), sl_config_line(cfg));
  return open_common(env, cfg, stdin, 0, "stdin", state, err);
}

/* Read one line into s->line. Returns its length, -1 at EOF; *too_long is
 * set when the line was longer than max_line (the rest is skipped). */
static long read_line(file_source *s, int *too_long) {
  size_t n = 0;
  int c;
  *too_long = 0;
  while ((c = getc(s->fp)) != EOF && c != '\n') {
    if (n < s->max_line)
      s->line[n++] = (char)c;
    else
      *too_long = 1;
  }
  if (c == EOF && n == 0 && !*too_long)
    return -1;
  if (n && s->line[n - 1] == '\r')
    n--;
  s->line[n] = '\0';
  return (long)n;
}

static int file_source_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                            sl_error *err) {
  (void)timeout_ms;
  file_source *s = state;
  sl_arena *a = sl_batch_arena(out);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  if (s->avro)
    return avro_poll(s, out, max, eof, now, err);
  for (size_t i = 0; i < max; i++) {
    int too_long;
    long n = read_line(s, &too_long);
    if (n < 0) {
      if (ferror(s->fp))
        return sl_error_set(err, SL_ERR_IO, "reading %s: %s", s->path, strerror(errno));
      *eof = 1;
      return SL_OK;
    }
    s->line_no++;
    if (n == 0 && !too_long)
      continue; /* blank lines separate nothing in JSON Lines */
    sl_record *r = sl_record_new(a, 0);
    char *bytes = r ? sl_arena_strndup(a, s->line, (size_t)n) : NULL;
    if (!bytes)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_record_set_raw(r, bytes, (size_t)n);
    sl_record_set_position(r, s->env->source_id, s->path, 0, s->line_no);
    sl_record_set_timestamp(r, now);
    if (too_long) {
      char msg[160];
      snprintf(msg, sizeof msg,
               "line %lld is longer than max_line_bytes = %zu; raw holds its first %zu bytes",
               (long long)s->line_no, s->max_line, s->max_line);
      int rc = s->env->dead_letter(s->env->runtime, r, "decode", msg);
      if (rc != SL_OK)
        return sl_error_set(err, rc, "cannot dead-letter line %lld", (long long)s->line_no);
      continue;
    }
    int rc = sl_batch_push(out, r);
    if (rc != SL_OK)
      return sl_error_set(err, rc, "out of memory");
  }
  return SL_OK;
}

const sl_source_desc sl_file_source = {
    .name = "file_source",
    .summary = "read JSON Lines from a file (finite)",
    .flags = SL_SOURCE_DECODES,
    .config = file_source_config,
    .positional = "path",
    .open = file_source_open,
    .poll = file_source_poll,
    .close = file_source_close,
    .check = file_source_check,
};

const sl_source_desc sl_stdin_source = {
    .name = "stdin_source",
    .summary = "read JSON Lines from standard input (finite)",
    .flags = SL_SOURCE_DECODES,
    .config = stdin_source_config,
    .positional = "format",
    .open = stdin_source_open,
    .poll = file_source_poll,
    .close = file_source_close,
    .check = stdin_source_check,
};
