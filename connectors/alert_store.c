/* SPDX-License-Identifier: Apache-2.0 */
/* alert_store: keeps the firing alerts of a pipeline in Redis for
 * GET /api/v1/alerts and announces every change on the event stream. The
 * runtime attaches one behind every alert operator of a pipeline that uses
 * Redis. Changes are staged in write() and sent by flush(); while Redis is
 * down they stay staged (flush says "unavailable") and nothing is lost. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "codec/json_codec.h"
#include "lang/connector.h"
#include "redis.h"

typedef struct staged_alert {
  char *name, *key_json, *json;
  int firing;
} staged_alert;

typedef struct alert_store {
  const sl_connector_env *env;
  sl_redis *redis;
  staged_alert *items;
  size_t n, cap, sent; /* items[0..sent) are done */
} alert_store;

static const sl_config_entry alert_store_config[] = {{NULL, 0, 0, NULL, NULL}};

static void staged_free(staged_alert *a) {
  free(a->name);
  free(a->key_json);
  free(a->json);
}

static void store_close(void *state) {
  alert_store *s = state;
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++)
    staged_free(&s->items[i]);
  free(s->items);
  sl_redis_free(s->redis);
  free(s);
}

static int store_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                      sl_error *err) {
  (void)cfg;
  alert_store *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->env = env;
  s->redis = sl_redis_new(env->redis_url, NULL, err);
  if (!s->redis) {
    free(s);
    return err->code;
  }
  *state = s;
  return SL_OK;
}

static char *string_field(const sl_record *r, const char *name) {
  const sl_value *v = sl_record_get_cstr(r, name);
  if (!v || v->type != SL_TYPE_STRING)
    return NULL;
  return strndup(v->as.str.ptr, v->as.str.len);
}

static int store_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  alert_store *s = state;
  *written = 0;
  for (size_t i = 0; i < sl_batch_count(in); i++, (*written)++) {
    const sl_record *r = sl_batch_at(in, i);
    char *name = string_field(r, "alert"), *st = string_field(r, "state");
    const sl_value *key = sl_record_get_cstr(r, "key");
    sl_buf kj = SL_BUF_INIT, j = SL_BUF_INIT;
    int ok = name && st && key && sl_json_encode_value(key, &kj, err) == SL_OK &&
             sl_json_encode(r, &j, err) == SL_OK;
    if (ok && s->n == s->cap) {
      size_t ncap = s->cap ? s->cap * 2 : 16;
      staged_alert *n = realloc(s->items, ncap * sizeof *n);
      ok = n != NULL;
      if (n) {
        s->items = n;
        s->cap = ncap;
      }
    }
    if (ok) {
      staged_alert *a = &s->items[s->n++];
      a->name = name;
      a->key_json = kj.data;
      a->json = j.data;
      a->firing = strcmp(st, "firing") == 0;
      free(st);
      continue;
    }
    free(name);
    free(st);
    sl_buf_free(&kj);
    sl_buf_free(&j);
    s->env->dead_letter(s->env->runtime, r, "sink", "alert_store: not an alert record");
  }
  return SL_OK;
}

static int store_flush(void *state, int timeout_ms, sl_error *err) {
  (void)timeout_ms;
  alert_store *s = state;
  /* In rounds of up to 256 changes, one Redis round trip each. */
  sl_alert_change batch[256];
  while (s->sent < s->n) {
    int64_t retry_in;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    size_t k = 0;
    for (; k < 256 && s->sent + k < s->n; k++) {
      const staged_alert *a = &s->items[s->sent + k];
      batch[k] = (sl_alert_change){a->name, a->key_json, a->json, a->firing};
    }
    int rc = sl_redis_ensure(s->redis, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                             &retry_in, err);
    if (rc == SL_OK)
      rc = sl_alerts_apply(s->redis, s->env->pipeline, batch, k, err);
    if (rc != SL_OK)
      return rc == SL_ERR_INVALID ? rc : SL_ERR_UNAVAILABLE;
    s->sent += k;
  }
  for (size_t i = 0; i < s->n; i++)
    staged_free(&s->items[i]);
  s->n = s->sent = 0;
  return SL_OK;
}

const sl_sink_desc sl_alert_store_sink = {
    .name = "alert_store",
    .summary = "firing alerts in Redis for the API (attached automatically)",
    .config = alert_store_config,
    .open = store_open,
    .write = store_write,
    .flush = store_flush,
    .close = store_close,
};
