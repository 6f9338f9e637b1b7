/* SPDX-License-Identifier: Apache-2.0 */
/* File tables: p:table{ id, path = "devices.jsonl", key }. The whole file is
 * parsed into a fresh map and published in one swap, so a record sees either
 * the old or the new table, never half a file. A thread checks the file's
 * identity (inode, size, mtime) every `reload` interval and reloads it when it
 * changed; a version that fails to load (a bad line, too many entries) is
 * logged and the previous table stays in use. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "codec/format.h"
#include "tables.h"

struct sl_table_file {
  sl_table *table;
  char path[4096];
  char *key;
  char *pipeline;
  int64_t every_ms;
  struct stat seen; /* identity of the version loaded last */
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int stop, started;
};

/* Parse one line into `t`; lines are records (objects) with the key field. */
static int load_line(sl_table *t, const sl_format *json, sl_name key, const char *line, size_t len,
                     sl_arena *scratch, sl_error *err) {
  sl_record *r;
  if (sl_format_decode(json, line, len, scratch, &r, NULL, err) != SL_OK)
    return err->code ? err->code : SL_ERR_PARSE;
  const sl_value *kv = sl_record_get(r, key);
  char buf[32];
  const char *k;
  size_t klen;
  if (!kv || !sl_table_key_of(kv, buf, sizeof buf, &k, &klen))
    return sl_error_set(err, SL_ERR_INVALID, "no key field '%s' (a string or an integer)", key);
  return sl_table_put(t, k, klen, r, err);
}

int sl_table_file_load(sl_table *t, const char *path, const char *key, const char *pipeline,
                       sl_error *err) {
  FILE *fp = fopen(path, "r");
  if (!fp)
    return sl_error_set(err, SL_ERR_IO, "table '%s': cannot open %s: %s", sl_table_id(t), path,
                        strerror(errno));
  sl_config *cfg = sl_config_new(path, 0);
  sl_format *json = cfg ? sl_format_open(cfg, "json", err) : NULL;
  sl_arena *scratch = sl_arena_new(0);
  sl_name k = sl_name_cstr(key);
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0;
  int rc = json && scratch && k ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_table_clear(t);
  ssize_t n;
  while (rc == SL_OK && (n = getline(&line, &cap, fp)) >= 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      n--;
    if (n == 0)
      continue;
    sl_error e;
    sl_error_clear(&e);
    /* A bad line or too many keys is a problem of the file: exit code 1. */
    if ((rc = load_line(t, json, k, line, (size_t)n, scratch, &e)) != SL_OK)
      rc = sl_error_set(err, rc == SL_ERR_NOMEM ? rc : SL_ERR_INVALID, "%s:%ld: table '%s': %s",
                        path, lineno, sl_table_id(t), e.message);
    sl_arena_reset(scratch);
  }
  if (rc == SL_OK && ferror(fp))
    rc = sl_error_set(err, SL_ERR_IO, "table '%s': reading %s failed", sl_table_id(t), path);
  if (rc == SL_OK)
    rc = sl_tables_publish(t, pipeline, 1, err);
  free(line);
  fclose(fp);
  sl_arena_destroy(scratch);
  sl_format_free(json);
  sl_config_destroy(cfg);
  return rc;
}

static int changed(const struct stat *a, const struct stat *b) {
  return a->st_ino != b->st_ino || a->st_size != b->st_size ||
         a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

static void *watch(void *arg) {
  sl_table_file *f = arg;
  pthread_mutex_lock(&f->lock);
  while (!f->stop) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = until.tv_nsec + (f->every_ms % 1000) * 1000000;
    until.tv_sec += f->every_ms / 1000 + ns / 1000000000;
    until.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&f->wake, &f->lock, &until);
    if (f->stop)
      break;
    struct stat st;
    if (stat(f->path, &st) != 0 || !changed(&st, &f->seen))
      continue; /* a file that is gone keeps its last table (it may be being replaced) */
    f->seen = st;
    sl_error err;
    sl_error_clear(&err);
    if (sl_table_file_load(f->table, f->path, f->key, f->pipeline, &err) != SL_OK)
      sl_log(SL_LOG_ERROR, "table", "%s; keeping the previous version of table '%s'", err.message,
             sl_table_id(f->table));
  }
  pthread_mutex_unlock(&f->lock);
  return NULL;
}

void sl_table_file_close(sl_table_file *f) {
  if (!f)
    return;
  if (f->started) {
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
  }
  pthread_cond_destroy(&f->wake);
  pthread_mutex_destroy(&f->lock);
  free(f->key);
  free(f->pipeline);
  free(f);
}

sl_table_file *sl_table_file_open(sl_table *t, const sl_config *decl, const char *pipeline,
                                  sl_error *err) {
  sl_table_file *f = calloc(1, sizeof *f);
  if (!f) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&f->lock, NULL);
  pthread_cond_init(&f->wake, NULL);
  f->table = t;
  sl_path_relative_to(sl_config_file(decl), sl_config_string(decl, "path", ""), f->path,
                      sizeof f->path);
  f->key = strdup(sl_config_string(decl, "key", ""));
  f->pipeline = strdup(pipeline ? pipeline : "");
  f->every_ms = sl_config_duration_ms(decl, "reload", 1000);
  if (!f->key || !f->pipeline) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out_fail;
  }
  /* The identity is taken before the load: a change during it reloads again. */
  if (stat(f->path, &f->seen) != 0) {
    sl_error_set(err, SL_ERR_IO, "table '%s': cannot open %s: %s", sl_table_id(t), f->path,
                 strerror(errno));
    goto out_fail;
  }
  if (sl_table_file_load(t, f->path, f->key, f->pipeline, err) != SL_OK)
    goto out_fail;
  if (pthread_create(&f->thread, NULL, watch, f) != 0) {
    sl_error_set(err, SL_ERR_INTERNAL, "table '%s': cannot start the reload thread",
                 sl_table_id(t));
    goto out_fail;
  }
  f->started = 1;
  return f;
out_fail:
  sl_table_file_close(f);
  return NULL;
}
