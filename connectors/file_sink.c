/* SPDX-License-Identifier: Apache-2.0 */
/* file_sink and stdout_sink: JSON Lines. A record written is acknowledged
 * when flush() has handed it to the kernel (and, for files, fdatasync'd), so
 * checkpoints never run ahead of what is on disk. Window results carry a
 * deterministic `_id` (pipeline/stream/key/window_start) so that duplicates
 * after a crash can be removed downstream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/format.h"
#include "lang/connector.h"

typedef struct file_sink {
  const sl_connector_env *env;
  FILE *fp;
  int owns_fp;
  char *path;
  sl_format *format;
  sl_buf buf;   /* encoding scratch, reused */
  int dirty;    /* written since the last flush */
  /* with_id, per record: names interned and the "pipeline/node/" prefix
   * built once at open (interning takes a process-wide lock). */
  sl_name n_window_start, n_id;
  char *id_prefix;
  size_t id_prefix_len;
} file_sink;

static const sl_config_entry file_sink_config[] = {
    {"path", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "file to append JSON Lines to"},
    {"format", SL_CFG_STRING, 0, "json", "\"json\" or \"raw\" (the bytes of field 'value')"},
    {"truncate", SL_CFG_BOOL, 0, "false", "start with an empty file instead of appending"},
    {NULL, 0, 0, NULL, NULL},
};

static const sl_config_entry stdout_sink_config[] = {
    {"format", SL_CFG_STRING, 0, "json", "\"json\" or \"raw\""},
    {NULL, 0, 0, NULL, NULL},
};

static void file_sink_close(void *state) {
  file_sink *s = state;
  if (!s)
    return;
  if (s->fp) {
    fflush(s->fp);
    if (s->owns_fp)
      fclose(s->fp);
  }
  sl_format_free(s->format);
  sl_buf_free(&s->buf);
  free(s->id_prefix);
  free(s->path);
  free(s);
}

static int open_common(const sl_connector_env *env, const sl_config *cfg, FILE *fp, int owns,
                       const char *name, void **state, sl_error *err) {
  file_sink *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->env = env;
  s->fp = fp;
  s->owns_fp = owns;
  s->path = strdup(name);
  s->n_window_start = sl_name_cstr("window_start");
  s->n_id = sl_name_cstr("_id");
  sl_buf prefix = SL_BUF_INIT;
  if (sl_buf_printf(&prefix, "%s/%s/", env->pipeline, env->node_name) == SL_OK) {
    s->id_prefix = prefix.data;
    s->id_prefix_len = prefix.len;
  } else {
    sl_buf_free(&prefix);
  }
  s->format = sl_format_open(cfg, "json", err);
  if (!s->path || !s->format || !s->n_window_start || !s->n_id || !s->id_prefix) {
    int rc = s->format ? sl_error_set(err, SL_ERR_NOMEM, "out of memory") : err->code;
    s->fp = NULL;
    file_sink_close(s);
    return rc;
  }
  *state = s;
  return SL_OK;
}

/* Offline: the format is an error; a directory missing or not writable
 * here only a warning (the file is written where the pipeline runs). */
static void file_sink_check(const sl_config *cfg, sl_check_report report, void *ud) {
  char path[4096], dir[4096], msg[8600];
  sl_error err;
  sl_error_clear(&err);
  sl_format *f = sl_format_open(cfg, "json", &err);
  if (!f)
    report(ud, 0, err.message);
  sl_format_free(f);
  sl_path_relative_to(sl_config_file(cfg), sl_config_string(cfg, "path", ""), path, sizeof path);
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    dir[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  if (access(dir, W_OK) != 0) {
    snprintf(msg, sizeof msg, "cannot write '%s' here: directory '%s': %s (run needs it)", path,
             dir, strerror(errno));
    report(ud, 1, msg);
  }
}

static int file_sink_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                          sl_error *err) {
  char path[4096];
  sl_path_relative_to(sl_config_file(cfg), sl_config_string(cfg, "path", ""), path, sizeof path);
  FILE *fp = fopen(path, sl_config_bool(cfg, "truncate", 0) ? "wb" : "ab");
  if (!fp)
    return sl_error_set(err, SL_ERR_IO, "%s:%d: cannot open '%s' for writing: %s",
                        sl_config_file(cfg), sl_config_line(cfg), path, strerror(errno));
  int rc = open_common(env, cfg, fp, 1, path, state, err);
  if (rc != SL_OK)
    fclose(fp);
  return rc;
}

static int stdout_sink_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                            sl_error *err) {
  return open_common(env, cfg, stdout, 0, "stdout", state, err);
}

/* `_id` for window results: pipeline/node/key/window_start. */
static const sl_record *with_id(file_sink *s, const sl_record *r, sl_arena *a) {
  const sl_value *ws = sl_record_get(r, s->n_window_start);
  if (!ws || ws->type != SL_TYPE_INT || sl_record_get(r, s->n_id))
    return r;
  size_t klen;
  const char *key = sl_record_key(r, &klen);
  char tail[32];
  int t = snprintf(tail, sizeof tail, "/%lld", (long long)ws->as.i);
  size_t n = s->id_prefix_len, total = n + klen + (size_t)t;
  char *id = sl_arena_alloc(a, total + 1);
  sl_record *c = sl_record_copy(a, r);
  if (!id || !c)
    return r;
  memcpy(id, s->id_prefix, n);
  if (klen)
    memcpy(id + n, key, klen);
  memcpy(id + n + klen, tail, (size_t)t + 1);
  sl_record_set(c, s->n_id, sl_value_string(id, total));
  return c;
}

static int file_sink_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  file_sink *s = state;
  sl_arena *a = sl_batch_arena(in);
  *written = 0;
  for (size_t i = 0; i < sl_batch_count(in); i++) {
    const sl_record *r = with_id(s, sl_batch_at(in, i), a);
    sl_buf_reset(&s->buf);
    sl_error e;
    if (sl_format_encode(s->format, r, &s->buf, &e) != SL_OK) {
      int rc = s->env->dead_letter(s->env->runtime, r, "encode", e.message);
      if (rc != SL_OK)
        return sl_error_set(err, rc, "%s: cannot dead-letter", s->path);
    } else {
      sl_buf_putc(&s->buf, '\n');
      if (fwrite(s->buf.data, 1, s->buf.len, s->fp) != s->buf.len)
        return sl_error_set(err, SL_ERR_IO, "writing %s: %s", s->path, strerror(errno));
      s->dirty = 1;
    }
    (*written)++;
  }
  return SL_OK;
}

static int file_sink_flush(void *state, int timeout_ms, sl_error *err) {
  (void)timeout_ms;
  file_sink *s = state;
  if (!s->dirty)
    return SL_OK;
  if (fflush(s->fp) != 0)
    return sl_error_set(err, SL_ERR_IO, "writing %s: %s", s->path, strerror(errno));
  if (s->owns_fp && fdatasync(fileno(s->fp)) != 0 && errno != EINVAL)
    return sl_error_set(err, SL_ERR_IO, "syncing %s: %s", s->path, strerror(errno));
  s->dirty = 0;
  return SL_OK;
}

const sl_sink_desc sl_file_sink = {
    .name = "file_sink",
    .summary = "append records to a JSON Lines file",
    .config = file_sink_config,
    .positional = "path",
    .open = file_sink_open,
    .write = file_sink_write,
    .flush = file_sink_flush,
    .close = file_sink_close,
    .check = file_sink_check,
};

const sl_sink_desc sl_stdout_sink = {
    .name = "stdout_sink",
    .summary = "print records as JSON Lines on standard output",
    .config = stdout_sink_config,
    .open = stdout_sink_open,
    .write = file_sink_write,
    .flush = file_sink_flush,
    .close = file_sink_close,
};
