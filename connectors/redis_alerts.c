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

/* Append the commands of one change to the connection's output; the
 * strings are copied there, so the buffers are the caller's scratch. */
static int append_change(sl_redis *r, const char *pipeline, const sl_alert_change *ch, sl_buf *hash,
                         sl_buf *field, sl_buf *event, sl_error *err) {
  sl_buf_reset(hash);
  sl_buf_reset(field);
  sl_buf_reset(event);
  if (build_keys(hash, field, pipeline, ch->alert, ch->key_json) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  size_t jl = ch->json ? strlen(ch->json) : 0;
  /* The event stream wants {"type":..,"data":..} (see core/http/http_redis.c). */
  if (ch->json && sl_buf_printf(event, "{\"type\":\"alert\",\"data\":%s}", ch->json) != SL_OK)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  const char *put[4] = {"HSET", hash->data, field->data, ch->json};
  size_t putl[4] = {4, hash->len, field->len, jl};
  const char *del[3] = {"HDEL", hash->data, field->data};
  size_t dell[3] = {4, hash->len, field->len};
  const char *add[3] = {"SADD", PIPELINES_KEY, pipeline};
  size_t addl[3] = {4, sizeof PIPELINES_KEY - 1, strlen(pipeline)};
  const char *pub[3] = {"PUBLISH", "sl:events", event->data};
  size_t publ[3] = {7, 9, event->len};
  /* One key per command: on a Redis Cluster each goes to its slot's node. */
  static const char what[] = "storing alerts";
  int rc = ch->firing ? sl_redis_append(r, 4, put, putl, what, err) : SL_OK;
  if (rc == SL_OK)
    rc = ch->firing ? sl_redis_append(r, 3, add, addl, what, err)
                    : sl_redis_append(r, 3, del, dell, what, err);
  if (rc == SL_OK && ch->json)
    rc = sl_redis_append(r, 3, pub, publ, what, err);
  return rc;
}

static int commands_of(const sl_alert_change *ch) {
  return (ch->firing ? 2 : 1) + (ch->json != NULL);
}

int sl_alerts_apply(sl_redis *r, const char *pipeline, const sl_alert_change *ch, size_t n,
                    sl_error *err) {
  const char *what = "storing alerts";
  for (size_t i = 0; i < n; i++)
    if (!pipeline || !ch[i].alert || (ch[i].firing && !ch[i].json))
      return sl_error_set(err, SL_ERR_INVALID, "alert store: pipeline, alert and JSON required");
  if (!sl_redis_ctx(r, err))
    return err ? err->code : SL_ERR_UNAVAILABLE;
  sl_buf hash = SL_BUF_INIT, field = SL_BUF_INIT, event = SL_BUF_INIT;
  int rc = SL_OK;
  size_t replies = 0;
  for (size_t i = 0; i < n && rc == SL_OK; i++) {
    rc = append_change(r, pipeline, &ch[i], &hash, &field, &event, err);
    replies += (size_t)commands_of(&ch[i]);
  }
  sl_buf_free(&hash);
  sl_buf_free(&field);
  sl_buf_free(&event);
  if (rc != SL_OK) {
    sl_redis_disconnect(r); /* replies owed to a half-sent pipeline */
    return rc;
  }
  int first = SL_OK;
  for (size_t i = 0; i < replies; i++) {
    redisReply *rep;
    rc = sl_redis_read(r, &rep, what, err);
    if (rc != SL_OK)
      return rc;
    if (rep->type == REDIS_REPLY_ERROR && first == SL_OK)
      first = sl_redis_reply_error(r, rep, what, err);
    freeReplyObject(rep);
  }
  return first;
}

int sl_alerts_put_firing(sl_redis *r, const char *pipeline, const char *alert, const char *key_json,
                         const char *alert_json, sl_error *err) {
  sl_alert_change ch = {alert, key_json, alert_json, 1};
  return sl_alerts_apply(r, pipeline, &ch, 1, err);
}

int sl_alerts_resolve(sl_redis *r, const char *pipeline, const char *alert, const char *key_json,
                      const char *alert_json, sl_error *err) {
  sl_alert_change ch = {alert, key_json, alert_json, 0};
  return sl_alerts_apply(r, pipeline, &ch, 1, err);
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
    if ((rc = sl_redis_append(r, 2, argv, lens, "listing alerts", err)) != SL_OK) {
      sl_redis_disconnect(r);
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
