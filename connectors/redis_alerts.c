/* SPDX-License-Identifier: Apache-2.0 */
/* The store of firing alerts that GET /api/v1/alerts reads, and the
 * sl:events channel the SSE endpoint relays. One hash per pipeline,
 * sl:alerts:<pipeline>, field "<alert>\x1f<key json>" (0x1f cannot occur
 * in JSON text unescaped, so the field splits unambiguously), value the
 * alert output record as JSON. The set sl:alerts:pipelines names the
 * pipelines that ever stored an alert, for listing them all. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

#define PIPELINES_KEY "sl:alerts:pipelines"

static int build_keys(sl_buf *hash, sl_buf *field, const char *pipeline, const char *alert,
                      const char *key_json) {
  sl_buf_reset(hash);
  sl_buf_reset(field);
  if (sl_buf_printf(hash, "sl:alerts:%s", pipeline) != SL_OK ||
      sl_buf_printf(field, "%s\x1f%s", alert, key_json ? key_json : "{}") != SL_OK)
    return SL_ERR_NOMEM;
  return SL_OK;
}

/* Pipeline `n` commands, read all replies; the first failure is returned. */
static int run_all(sl_redis *r, int n, int *argc, const char ***argv, size_t **lens,
                   const char *what, sl_error *err) {
  redisContext *c = sl_redis_ctx(r, err);
  if (!c)
    return err ? err->code : SL_ERR_UNAVAILABLE;
  for (int i = 0; i < n; i++)
    if (redisAppendCommandArgv(c, argc[i], argv[i], lens[i]) != REDIS_OK)
      return sl_redis_io_error(r, what, err);
  int first = SL_OK;
  for (int i = 0; i < n; i++) {
    redisReply *rep;
    int rc = sl_redis_read(r, &rep, what, err);
    if (rc != SL_OK)
      return rc;
    if (rep->type == REDIS_REPLY_ERROR && first == SL_OK)
      first = sl_redis_reply_error(r, rep, what, err);
    freeReplyObject(rep);
  }
  return first;
}

static int alert_change(sl_redis *r, const char *pipeline, const char *alert, const char *key_json,
                        const char *alert_json, int firing, sl_error *err) {
  if (!pipeline || !alert || (firing && !alert_json))
    return sl_error_set(err, SL_ERR_INVALID, "alert store: pipeline, alert and JSON required");
  sl_buf hash = SL_BUF_INIT, field = SL_BUF_INIT, event = SL_BUF_INIT;
  int rc = build_keys(&hash, &field, pipeline, alert, key_json);
  if (rc != SL_OK) {
    rc = sl_error_set(err, rc, "out of memory");
    goto out;
  }
  size_t jl = alert_json ? strlen(alert_json) : 0;
  /* The event stream wants {"type":..,"data":..} (see core/http_redis.c). */
  if (alert_json && sl_buf_printf(&event, "{\"type\":\"alert\",\"data\":%s}", alert_json) != SL_OK) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out;
  }
  const char *put[4] = {"HSET", hash.data, field.data, alert_json};
  size_t putl[4] = {4, hash.len, field.len, jl};
  const char *del[3] = {"HDEL", hash.data, field.data};
  size_t dell[3] = {4, hash.len, field.len};
  const char *add[3] = {"SADD", PIPELINES_KEY, pipeline};
  size_t addl[3] = {4, sizeof PIPELINES_KEY - 1, strlen(pipeline)};
  const char *pub[3] = {"PUBLISH", "sl:events", event.data};
  size_t publ[3] = {7, 9, event.len};
  int argc[3];
  const char **argv[3];
  size_t *lens[3];
  int n = 0;
  if (firing) {
    argc[n] = 4, argv[n] = put, lens[n++] = putl;
    argc[n] = 3, argv[n] = add, lens[n++] = addl;
  } else {
    argc[n] = 3, argv[n] = del, lens[n++] = dell;
  }
  if (alert_json)
    argc[n] = 3, argv[n] = pub, lens[n++] = publ;
  rc = run_all(r, n, argc, argv, lens, firing ? "storing a firing alert" : "resolving an alert",
               err);
out:
  sl_buf_free(&event);
  sl_buf_free(&hash);
  sl_buf_free(&field);
  return rc;
}

int sl_alerts_put_firing(sl_redis *r, const char *pipeline, const char *alert, const char *key_json,
                         const char *alert_json, sl_error *err) {
  return alert_change(r, pipeline, alert, key_json, alert_json, 1, err);
}

int sl_alerts_resolve(sl_redis *r, const char *pipeline, const char *alert, const char *key_json,
                      const char *alert_json, sl_error *err) {
  return alert_change(r, pipeline, alert, key_json, alert_json, 0, err);
}

int sl_redis_events_publish(sl_redis *r, const char *json, size_t len, sl_error *err) {
  const char *argv[3] = {"PUBLISH", "sl:events", json};
  size_t lens[3] = {7, 9, len};
  redisReply *rep;
  int rc = sl_redis_run(r, 3, argv, lens, &rep, "PUBLISH of an event", err);
  if (rep)
    freeReplyObject(rep);
  return rc;
}

/* Append the values of one HVALS reply matching `state` to the array. */
static int append_matching(sl_buf *out, const redisReply *vals, const char *state, int *first) {
  for (size_t i = 0; i < vals->elements; i++) {
    const redisReply *v = vals->element[i];
    if (v->type != REDIS_REPLY_STRING)
      continue;
    if (state) {
      json_t *j = json_loadb(v->str, v->len, 0, NULL);
      const char *st = j ? json_string_value(json_object_get(j, "state")) : NULL;
      int match = st && strcmp(st, state) == 0;
      json_decref(j);
      if (!match)
        continue;
    }
    if ((!*first && sl_buf_putc(out, ',') != SL_OK) || sl_buf_append(out, v->str, v->len) != SL_OK)
      return SL_ERR_NOMEM;
    *first = 0;
  }
  return SL_OK;
}

int sl_alerts_list(sl_redis *r, const char *pipeline, const char *state, char **out,
                   sl_error *err) {
  *out = NULL;
  redisReply *names = NULL;
  sl_buf res = SL_BUF_INIT, key = SL_BUF_INIT;
  int rc;
  size_t np = 1;
  if (!pipeline) {
    const char *argv[2] = {"SMEMBERS", PIPELINES_KEY};
    size_t lens[2] = {8, sizeof PIPELINES_KEY - 1};
    rc = sl_redis_run(r, 2, argv, lens, &names, "listing pipelines with alerts", err);
    if (rc != SL_OK)
      goto out;
    np = names->type == REDIS_REPLY_ARRAY ? names->elements : 0;
  }
  redisContext *c = sl_redis_ctx(r, err);
  if (!c) {
    rc = err ? err->code : SL_ERR_UNAVAILABLE;
    goto out;
  }
  for (size_t i = 0; i < np; i++) { /* one pipelined HVALS per pipeline */
    sl_buf_reset(&key);
    const char *p = pipeline ? pipeline : names->element[i]->str;
    size_t pl = pipeline ? strlen(pipeline) : names->element[i]->len;
    if (sl_buf_puts(&key, "sl:alerts:") != SL_OK || sl_buf_append(&key, p, pl) != SL_OK) {
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      goto out;
    }
    const char *argv[2] = {"HVALS", key.data};
    size_t lens[2] = {5, key.len};
    if (redisAppendCommandArgv(c, 2, argv, lens) != REDIS_OK) {
      rc = sl_redis_io_error(r, "listing alerts", err);
      goto out;
    }
  }
  int first = 1;
  rc = sl_buf_putc(&res, '[');
  for (size_t i = 0; i < np; i++) {
    redisReply *rep;
    int rr = sl_redis_read(r, &rep, "listing alerts", err);
    if (rr != SL_OK) {
      rc = rr;
      goto out;
    }
    if (rep->type == REDIS_REPLY_ERROR && rc == SL_OK)
      rc = sl_redis_reply_error(r, rep, "listing alerts", err);
    else if (rep->type == REDIS_REPLY_ARRAY && rc == SL_OK)
      rc = append_matching(&res, rep, state, &first);
    freeReplyObject(rep);
  }
  if (rc == SL_OK && sl_buf_putc(&res, ']') == SL_OK) {
    *out = res.data;
    res.data = NULL;
  } else if (rc == SL_OK || rc == SL_ERR_NOMEM) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
out:
  if (names)
    freeReplyObject(names);
  sl_buf_free(&res);
  sl_buf_free(&key);
  return rc;
}
