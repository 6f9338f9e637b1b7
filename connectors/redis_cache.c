/* SPDX-License-Identifier: Apache-2.0 */
/* The `cache` sink: the hot cache the HTTP API and the dashboard read.
 * Each record becomes JSON under its key field's value:
 *   SET    sl:cache:<name>:v:<key> <json> [PX ttl]       latest record
 *   LPUSH  sl:cache:<name>:h:<key> <json>; LTRIM 0 history-1; [PEXPIRE ttl]
 *   ZADD   sl:cache:<name>:keys 0 <key>                  prefix listing
 *   PUBLISH sl:events {"type":"result","cache":..,"key":..,"record":..}
 * write() stages the batch (copied) and pipelines its commands; flush()
 * reads every reply, so "acknowledged" means Redis executed them. When Redis
 * is down nothing is dropped: the staged records stay and are sent again by
 * the next flush (at-least-once: a history list may then hold a record
 * twice). Records without a usable key go to the dead-letter sink. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json_codec.h"
#include "redis_internal.h"

/* Above this many staged records write() asks the runtime to flush. */
#define CACHE_MAX_PENDING 20000
#define CACHE_MAX_BYTES (64u << 20)

typedef struct cache_entry {
  size_t koff, klen; /* cache key in `bytes` */
  size_t joff, jlen; /* record JSON in `bytes` */
  size_t eoff, elen; /* event JSON in `bytes` */
} cache_entry;

typedef struct cache_sink {
  sl_redis *r;
  const sl_connector_env *env;
  char *name;
  sl_name key_field;
  int64_t history; /* records kept per key; 0: latest only */
  int64_t ttl_ms;  /* 0: no expiry */
  sl_buf bytes;
  cache_entry *e;
  size_t n, cap;
  size_t sent;    /* entries whose commands are in the connection's pipeline */
  size_t replies; /* replies expected for them */
  sl_buf scratch; /* event JSON, then Redis key names, being built */
  sl_buf val;     /* key field rendered as text */
} cache_sink;

static const sl_config_entry cache_config[] = {
    {"name", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "cache name (the {cache} of the HTTP API)"},
    {"key", SL_CFG_STRING, SL_CFG_REQUIRED, NULL, "field whose value is the cache key"},
    {"history", SL_CFG_INT, 0, "0", "records kept per key, newest first (0: latest only)"},
    {"ttl", SL_CFG_DURATION, 0, NULL, "expiry of a key's records after its last write"},
    {NULL, 0, 0, NULL, NULL},
};

static void cache_close(void *state) {
  cache_sink *s = state;
  if (!s)
    return;
  sl_redis_free(s->r);
  free(s->name);
  free(s->e);
  sl_buf_free(&s->bytes);
  sl_buf_free(&s->scratch);
  sl_buf_free(&s->val);
  free(s);
}

/* The options open() refuses, shared with `sluice check`. */
static int cache_config_check(const sl_config *cfg, sl_error *err) {
  const char *name = sl_config_string(cfg, "name", NULL);
  const char *key = sl_config_string(cfg, "key", NULL);
  int64_t history = sl_config_int(cfg, "history", 0);
  int64_t ttl = sl_config_duration_ms(cfg, "ttl", 0);
  if (!name || !*name || strpbrk(name, ":{}") || !key || !*key)
    return sl_error_set(err, SL_ERR_INVALID,
                        "cache: 'name' and 'key' are required; the name may not contain ':', "
                        "'{' or '}'");
  if (history < 0 || history > 100000 || ttl < 0)
    return sl_error_set(err, SL_ERR_INVALID,
                        "cache '%s': history must be 0..100000 and ttl positive", name);
  return SL_OK;
}

static void cache_check(const sl_config *cfg, sl_check_report report, void *ud) {
  sl_error err;
  sl_error_clear(&err);
  if (cache_config_check(cfg, &err) != SL_OK)
    report(ud, 0, err.message);
}

static int cache_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                      sl_error *err) {
  const char *name = sl_config_string(cfg, "name", NULL);
  const char *key = sl_config_string(cfg, "key", NULL);
  int64_t history = sl_config_int(cfg, "history", 0);
  int64_t ttl = sl_config_duration_ms(cfg, "ttl", 0);
  if (cache_config_check(cfg, err) != SL_OK)
    return err->code;
  cache_sink *s = calloc(1, sizeof *s);
  if (!s || !(s->name = strdup(name)) || !(s->key_field = sl_name_cstr(key))) {
    cache_close(s);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  s->env = env;
  s->history = history;
  s->ttl_ms = ttl;
  const char *url = env && env->redis_url ? env->redis_url : "redis://127.0.0.1:6379";
  s->r = sl_redis_new(url, NULL, err);
  if (!s->r) {
    cache_close(s);
    return err ? err->code : SL_ERR_INVALID;
  }
  *state = s;
  return SL_OK;
}

/* The key field as text: strings as they are, numbers and bools printed. */
static int key_text(cache_sink *s, const sl_value *v) {
  sl_buf_reset(&s->val);
  if (!v)
    return SL_ERR_NOT_FOUND;
  switch (v->type) {
  case SL_TYPE_STRING:
    return v->as.str.len ? sl_buf_append(&s->val, v->as.str.ptr, v->as.str.len) : SL_ERR_NOT_FOUND;
  case SL_TYPE_INT: return sl_buf_printf(&s->val, "%" PRId64, v->as.i);
  case SL_TYPE_DOUBLE: return sl_buf_printf(&s->val, "%.17g", v->as.d);
  case SL_TYPE_BOOL: return sl_buf_puts(&s->val, v->as.b ? "true" : "false");
  default: return SL_ERR_TYPE;
  }
}

static int stage(cache_sink *s, const sl_record *r, sl_error *err) {
  int rc = key_text(s, sl_record_get(r, s->key_field));
  if (rc == SL_ERR_NOT_FOUND || rc == SL_ERR_TYPE) {
    char msg[300];
    snprintf(msg, sizeof msg, "cache '%s': key field '%s' is %s", s->name, s->key_field,
             rc == SL_ERR_TYPE ? "not a string, number or bool" : "missing, null or empty");
    if (s->env && s->env->dead_letter)
      return s->env->dead_letter(s->env->runtime, r, "cache", msg);
    return SL_OK;
  }
  if (rc != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    cache_entry *ne = realloc(s->e, cap * sizeof *ne);
    if (!ne)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    s->e = ne;
    s->cap = cap;
  }
  cache_entry *e = &s->e[s->n];
  size_t mark = s->bytes.len;
  e->koff = s->bytes.len;
  e->klen = s->val.len;
  if (sl_buf_append(&s->bytes, s->val.data, s->val.len) != SL_OK)
    goto nomem;
  e->joff = s->bytes.len;
  if ((rc = sl_json_encode(r, &s->bytes, err)) != SL_OK) {
    s->bytes.len = mark;
    return rc;
  }
  e->jlen = s->bytes.len - e->joff;
  e->eoff = s->bytes.len;
  /* Built aside: appending bytes of `bytes` to itself could read freed
   * memory when it grows. */
  sl_buf *ev = &s->scratch;
  sl_buf_reset(ev);
  if (sl_buf_puts(ev, "{\"type\":\"result\",\"cache\":") != SL_OK ||
      sl_buf_json_string(ev, s->name, strlen(s->name)) != SL_OK ||
      sl_buf_puts(ev, ",\"key\":") != SL_OK ||
      sl_buf_json_string(ev, s->val.data, s->val.len) != SL_OK ||
      sl_buf_puts(ev, ",\"record\":") != SL_OK ||
      sl_buf_append(ev, s->bytes.data + e->joff, e->jlen) != SL_OK ||
      sl_buf_putc(ev, '}') != SL_OK || sl_buf_append(&s->bytes, ev->data, ev->len) != SL_OK)
    goto nomem;
  e->elen = s->bytes.len - e->eoff;
  s->n++;
  return SL_OK;
nomem:
  s->bytes.len = mark;
  return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
}

/* Append one staged entry's commands to the pipeline; counts replies. */
static int send_entry(cache_sink *s, const cache_entry *e, sl_error *err) {
  const char *b = s->bytes.data;
  sl_buf *k = &s->scratch;
  sl_buf_reset(k);
  /* three key names side by side: v, h and keys */
  size_t vo = 0, ho, zo;
  if (sl_buf_printf(k, "sl:cache:%s:v:", s->name) != SL_OK ||
      sl_buf_append(k, b + e->koff, e->klen) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  ho = k->len;
  if (sl_buf_printf(k, "sl:cache:%s:h:", s->name) != SL_OK ||
      sl_buf_append(k, b + e->koff, e->klen) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  zo = k->len;
  if (sl_buf_printf(k, "sl:cache:%s:keys", s->name) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  size_t vlen = ho - vo, hlen = zo - ho, zlen = k->len - zo;
  char ttl[24], hist[24];
  snprintf(ttl, sizeof ttl, "%" PRId64, s->ttl_ms);
  snprintf(hist, sizeof hist, "%" PRId64, s->history - 1);
  /* The keys of one record differ in slot on a Redis Cluster: each command
   * goes to its own node (sl_redis_append), none spans two keys. */
  int ok = SL_OK;
#define APPEND(n, a, l) (ok = ok == SL_OK ? sl_redis_append(s->r, n, a, l, "cache write", err) : ok)
  {
    const char *argv[5] = {"SET", k->data + vo, b + e->joff, "PX", ttl};
    size_t lens[5] = {3, vlen, e->jlen, 2, strlen(ttl)};
    APPEND(s->ttl_ms ? 5 : 3, argv, lens);
    s->replies++;
  }
  if (s->history > 0) {
    const char *lp[3] = {"LPUSH", k->data + ho, b + e->joff};
    size_t lpl[3] = {5, hlen, e->jlen};
    const char *lt[4] = {"LTRIM", k->data + ho, "0", hist};
    size_t ltl[4] = {5, hlen, 1, strlen(hist)};
    APPEND(3, lp, lpl);
    APPEND(4, lt, ltl);
    s->replies += 2;
    if (s->ttl_ms) {
      const char *ex[3] = {"PEXPIRE", k->data + ho, ttl};
      size_t exl[3] = {7, hlen, strlen(ttl)};
      APPEND(3, ex, exl);
      s->replies++;
    }
  }
  const char *z[4] = {"ZADD", k->data + zo, "0", b + e->koff};
  size_t zl[4] = {4, zlen, 1, e->klen};
  APPEND(4, z, zl);
  const char *p[3] = {"PUBLISH", "sl:events", b + e->eoff};
  size_t pl[3] = {7, 9, e->elen};
  APPEND(3, p, pl);
  s->replies += 2;
#undef APPEND
  return ok;
}

/* Pipeline every staged entry not sent on this connection yet. Failing to
 * connect is not an error here: flush() reports it. */
static int send_pending(cache_sink *s, sl_error *err) {
  if (s->sent == s->n)
    return SL_OK;
  if (!sl_redis_ctx(s->r, err))
    return err ? err->code : SL_ERR_UNAVAILABLE;
  for (; s->sent < s->n; s->sent++) {
    int rc = send_entry(s, &s->e[s->sent], err);
    if (rc != SL_OK) { /* the connection (and what it owed) is dropped */
      sl_redis_disconnect(s->r);
      s->sent = s->replies = 0;
      return rc;
    }
  }
  return SL_OK;
}

static int cache_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  cache_sink *s = state;
  size_t n = sl_batch_count(in);
  *written = 0;
  for (size_t i = 0; i < n; i++) {
    if (s->n >= CACHE_MAX_PENDING || s->bytes.len >= CACHE_MAX_BYTES)
      return sl_error_set(err, SL_ERR_LIMIT, "cache '%s': %zu records waiting for Redis", s->name,
                          s->n);
    int rc = stage(s, sl_batch_at(in, i), err);
    if (rc != SL_OK)
      return rc;
    (*written)++;
  }
  /* Stream the batch now when connected; a failure surfaces in flush(). */
  sl_error ignored;
  if (sl_redis_is_connected(s->r))
    send_pending(s, &ignored);
  return SL_OK;
}

static int cache_flush(void *state, int timeout_ms, sl_error *err) {
  cache_sink *s = state;
  (void)timeout_ms; /* bounded by the connection's command timeout */
  if (!s->n)
    return SL_OK;
  int rc = send_pending(s, err);
  if (rc != SL_OK) {
    s->sent = s->replies = 0;
    return rc == SL_ERR_NOMEM ? rc : SL_ERR_UNAVAILABLE;
  }
  int first = SL_OK;
  while (s->replies) {
    redisReply *rep;
    rc = sl_redis_read(s->r, &rep, "cache write", err);
    if (rc != SL_OK) { /* connection gone: send everything again later */
      s->sent = s->replies = 0;
      return rc;
    }
    if (rep->type == REDIS_REPLY_ERROR && first == SL_OK)
      first = sl_redis_reply_error(s->r, rep, "a cache write", err);
    freeReplyObject(rep);
    s->replies--;
  }
  s->sent = 0;
  if (first != SL_OK)
    return first; /* records kept: the runtime decides (retry or stop) */
  s->n = 0;
  sl_buf_reset(&s->bytes);
  return SL_OK;
}

const sl_sink_desc sl_cache_sink = {
    .name = "cache",
    .summary = "hot cache in Redis: latest record and history per key, for the HTTP API",
    .config = cache_config,
    .positional = NULL,
    .open = cache_open,
    .write = cache_write,
    .flush = cache_flush,
    .poll = NULL,
    .close = cache_close,
    .check = cache_check,
};
