/* SPDX-License-Identifier: Apache-2.0 */
/* The application API (/api/v1/...) and /readyz: request parsing, the Redis
 * reads behind each endpoint (asynchronous, on the server thread) and the JSON
 * answers. Redis layout, written by the cache and alert sinks:
 *   sl:cache:<cache>:v:<key>   latest record (JSON string)
 *   sl:cache:<cache>:h:<key>   history list, newest first
 *   sl:cache:<cache>:keys      sorted set of keys, all scores 0 (lex order)
 *   sl:alerts:<pipeline>       hash "<alert>\x1f<key json>" -> alert JSON */
#include <ctype.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "http/http_internal.h"

#define HISTORY_DEFAULT 10
#define LIST_DEFAULT 100
#define LIMIT_MAX 1000
#define MAX_SEGMENTS 8
#define MAX_ALERT_KEYS 10000

typedef struct api_op {
  sl_http_server *s;
  struct evhttp_request *req;
  char *cache, *key, *prefix;
  int limit;
  sl_buf out;
  char **keys; /* list: page keys; alerts: hash names */
  size_t nkeys, kcap;
  int pending; /* alerts: HGETALL replies still due */
  size_t done; /* alerts: HGETALL replies received (index of the next one) */
  int first;   /* alerts: no item written yet */
  char *next_cursor;
} api_op;

static void op_free(api_op *op) {
  if (!op)
    return;
  for (size_t i = 0; i < op->nkeys; i++)
    free(op->keys[i]);
  free(op->keys);
  free(op->cache);
  free(op->key);
  free(op->prefix);
  free(op->next_cursor);
  sl_buf_free(&op->out);
  free(op);
}

static int op_push_key(api_op *op, const char *k, size_t len) {
  if (op->nkeys == op->kcap) {
    size_t nc = op->kcap ? op->kcap * 2 : 16;
    char **nk = realloc(op->keys, nc * sizeof *nk);
    if (!nk)
      return SL_ERR_NOMEM;
    op->keys = nk;
    op->kcap = nc;
  }
  if (!(op->keys[op->nkeys] = strndup(k, len)))
    return SL_ERR_NOMEM;
  op->nkeys++;
  return SL_OK;
}

/* Stored records are JSON written by our sinks; anything else is quoted so
 * one bad value cannot break the whole answer. */
static void put_stored(sl_buf *b, const char *v, size_t len) {
  size_t i = 0;
  while (i < len && isspace((unsigned char)v[i]))
    i++;
  if (i < len && (v[i] == '{' || v[i] == '['))
    sl_buf_append(b, v, len);
  else
    sl_buf_json_string(b, v, len);
}

/* 503 naming the cluster node or state at fault when there is one. */
static void unavailable(sl_http_server *s, struct evhttp_request *req, const char *what) {
  const char *why = http_redis_why(s);
  char msg[400];
  snprintf(msg, sizeof msg, "%s (Redis) unavailable%s%s", what, why ? ": " : "", why ? why : "");
  http_reply_error(s, req, 503, msg);
}

static int reply_failed(api_op *op, redisReply *r) {
  if (!r) {
    unavailable(op->s, op->req, "cache storage");
    return 1;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    http_reply_error(op->s, op->req, 502, "cache storage (Redis) refused the read");
    return 1;
  }
  return 0;
}

static void send_op(api_op *op, int argc, const char **argv, const size_t *lens,
                    redisCallbackFn *fn) {
  if (http_redis_argv(op->s, fn, op, argc, argv, lens) != SL_OK) {
    unavailable(op->s, op->req, "cache storage");
    op_free(op);
  }
}

static int redis_key(sl_buf *b, const char *kind, const char *cache, const char *key) {
  sl_buf_reset(b);
  return sl_buf_printf(b, "sl:cache:%s:%s:%s", cache, kind, key ? key : "");
}

/* ---- GET /api/v1/caches/{cache}/{key} ---- */

static void on_latest(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  api_op *op = priv;
  redisReply *r = reply;
  if (!reply_failed(op, r)) {
    if (r->type == REDIS_REPLY_STRING) {
      http_reply(op->s, op->req, 200, "application/json", r->str, r->len);
    } else {
      sl_buf_reset(&op->out);
      sl_buf_puts(&op->out, "no record for this key in cache '");
      sl_buf_puts(&op->out, op->cache);
      sl_buf_puts(&op->out, "'");
      http_reply_error(op->s, op->req, 404, op->out.data);
    }
  }
  op_free(op);
}

static void get_latest(api_op *op) {
  redis_key(&op->out, "v", op->cache, op->key);
  const char *argv[] = {"GET", op->out.data};
  size_t lens[] = {3, op->out.len};
  send_op(op, 2, argv, lens, on_latest);
}

/* ---- GET /api/v1/caches/{cache}/{key}/history?limit=N ---- */

static void on_history(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  api_op *op = priv;
  redisReply *r = reply;
  if (!reply_failed(op, r)) {
    sl_buf *b = &op->out;
    sl_buf_reset(b);
    sl_buf_puts(b, "{\"cache\":");
    sl_buf_json_string(b, op->cache, strlen(op->cache));
    sl_buf_puts(b, ",\"key\":");
    sl_buf_json_string(b, op->key, strlen(op->key));
    sl_buf_puts(b, ",\"items\":[");
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
      if (i)
        sl_buf_putc(b, ',');
      put_stored(b, r->element[i]->str ? r->element[i]->str : "null", r->element[i]->len);
    }
    sl_buf_puts(b, "]}");
    http_reply_json(op->s, op->req, 200, b);
  }
  op_free(op);
}

static void get_history(api_op *op) {
  char stop[16];
  snprintf(stop, sizeof stop, "%d", op->limit - 1);
  redis_key(&op->out, "h", op->cache, op->key);
  const char *argv[] = {"LRANGE", op->out.data, "0", stop};
  size_t lens[] = {6, op->out.len, 1, strlen(stop)};
  send_op(op, 4, argv, lens, on_history);
}

/* ---- GET /api/v1/caches/{cache}?prefix=&limit=&cursor= ---- */

static void on_list_values(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  api_op *op = priv;
  redisReply *r = reply;
  if (!reply_failed(op, r)) {
    sl_buf *b = &op->out;
    sl_buf_reset(b);
    sl_buf_puts(b, "{\"items\":[");
    int first = 1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && i < op->nkeys; i++) {
      if (r->element[i]->type != REDIS_REPLY_STRING)
        continue; /* indexed but expired or deleted meanwhile */
      sl_buf_puts(b, first ? "{\"key\":" : ",{\"key\":");
      first = 0;
      sl_buf_json_string(b, op->keys[i], strlen(op->keys[i]));
      sl_buf_puts(b, ",\"record\":");
      put_stored(b, r->element[i]->str, r->element[i]->len);
      sl_buf_putc(b, '}');
    }
    sl_buf_puts(b, "],\"next_cursor\":");
    if (op->next_cursor)
      sl_buf_json_string(b, op->next_cursor, strlen(op->next_cursor));
    else
      sl_buf_puts(b, "null");
    sl_buf_putc(b, '}');
    http_reply_json(op->s, op->req, 200, b);
  }
  op_free(op);
}

static void on_list_keys(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  api_op *op = priv;
  redisReply *r = reply;
  if (reply_failed(op, r))
    goto done;
  size_t plen = op->prefix ? strlen(op->prefix) : 0;
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
    redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_STRING || (plen && (e->len < plen ||
                                                    memcmp(e->str, op->prefix, plen) != 0)))
      break; /* lex order: past the prefix range nothing matches any more */
    if (memchr(e->str, '\0', e->len))
      continue;
    if (op->nkeys == (size_t)op->limit) {
      op->next_cursor = strdup(op->keys[op->nkeys - 1]);
      break;
    }
    if (op_push_key(op, e->str, e->len) != SL_OK) {
      http_reply_error(op->s, op->req, 500, "out of memory");
      goto done;
    }
  }
  if (op->nkeys == 0) {
    static const char empty[] = "{\"items\":[],\"next_cursor\":null}";
    http_reply(op->s, op->req, 200, "application/json", empty, sizeof empty - 1);
    goto done;
  }
  const char **argv = calloc(op->nkeys + 1, sizeof *argv);
  size_t *lens = calloc(op->nkeys + 1, sizeof *lens);
  sl_buf keys = SL_BUF_INIT;
  size_t *offs = calloc(op->nkeys, sizeof *offs);
  if (!argv || !lens || !offs) {
    free(argv);
    free(lens);
    free(offs);
    http_reply_error(op->s, op->req, 500, "out of memory");
    goto done;
  }
  argv[0] = "MGET";
  lens[0] = 4;
  for (size_t i = 0; i < op->nkeys; i++) {
    offs[i] = keys.len;
    sl_buf_printf(&keys, "sl:cache:%s:v:%s", op->cache, op->keys[i]);
    lens[i + 1] = keys.len - offs[i];
  }
  for (size_t i = 0; i < op->nkeys; i++)
    argv[i + 1] = keys.data + offs[i];
  send_op(op, (int)op->nkeys + 1, argv, lens, on_list_values);
  free(argv);
  free(lens);
  free(offs);
  sl_buf_free(&keys);
  return;
done:
  op_free(op);
}

static void list_keys(api_op *op, const char *cursor) {
  /* Start after the cursor, or at the prefix, whichever is later. */
  sl_buf min = SL_BUF_INIT;
  if (cursor && (!op->prefix || strcmp(cursor, op->prefix) >= 0)) {
    sl_buf_putc(&min, '(');
    sl_buf_puts(&min, cursor);
  } else if (op->prefix && *op->prefix) {
    sl_buf_putc(&min, '[');
    sl_buf_puts(&min, op->prefix);
  } else {
    sl_buf_puts(&min, "-");
  }
  char count[16];
  snprintf(count, sizeof count, "%d", op->limit + 1);
  redis_key(&op->out, "keys", op->cache, NULL);
  op->out.len--; /* drop the trailing ':' of the generic key form */
  op->out.data[op->out.len] = '\0';
  const char *argv[] = {"ZRANGEBYLEX", op->out.data, min.data, "+", "LIMIT", "0", count};
  size_t lens[] = {11, op->out.len, min.len, 1, 5, 1, strlen(count)};
  send_op(op, 7, argv, lens, on_list_keys);
  sl_buf_free(&min);
}

/* ---- GET /api/v1/alerts?state=firing ---- */

static void alerts_finish(api_op *op) {
  sl_buf_puts(&op->out, "]}");
  http_reply_json(op->s, op->req, 200, &op->out);
  op_free(op);
}

static void on_alert_hash(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  api_op *op = priv;
  redisReply *r = reply;
  const char *pipeline = op->keys[op->done++] + strlen("sl:alerts:");
  for (size_t i = 1; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i += 2) {
    json_t *a = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
    if (!json_is_object(a)) {
      json_decref(a);
      continue;
    }
    if (!json_object_get(a, "pipeline"))
      json_object_set_new(a, "pipeline", json_string(pipeline));
    char *text = json_dumps(a, JSON_COMPACT);
    if (text) {
      sl_buf_puts(&op->out, op->first ? "" : ",");
      sl_buf_puts(&op->out, text);
      op->first = 0;
      free(text);
    }
    json_decref(a);
  }
  if (--op->pending == 0) {
    if (!r)
      unavailable(op->s, op->req, "alert storage"), op_free(op);
    else
      alerts_finish(op);
  }
}

static void alerts_fetch(api_op *op) {
  sl_buf_reset(&op->out);
  sl_buf_puts(&op->out, "{\"items\":[");
  op->first = 1;
  if (op->nkeys == 0) {
    alerts_finish(op);
    return;
  }
  op->pending = (int)op->nkeys;
  for (size_t i = 0; i < op->nkeys; i++) {
    const char *argv[] = {"HGETALL", op->keys[i]};
    size_t lens[] = {7, strlen(op->keys[i])};
    int rc = http_redis_argv(op->s, on_alert_hash, op, 2, argv, lens);
    if (rc != SL_OK) {
      /* Nothing was queued when the first send fails: answer now. Later ones
       * cannot fail without the earlier callbacks firing with NULL. */
      if (i == 0) {
        unavailable(op->s, op->req, "alert storage");
        op_free(op);
        return;
      }
      op->pending -= (int)(op->nkeys - i);
      break;
    }
  }
}

static int has_key(const api_op *op, const char *k, size_t len) {
  for (size_t i = 0; i < op->nkeys; i++)
    if (strlen(op->keys[i]) == len && memcmp(op->keys[i], k, len) == 0)
      return 1;
  return 0;
}

static void on_alert_scan(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  api_op *op = priv;
  redisReply *r = reply;
  if (reply_failed(op, r)) {
    op_free(op);
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING) {
    http_reply_error(op->s, op->req, 502, "unexpected SCAN reply from Redis");
    op_free(op);
    return;
  }
  redisReply *ks = r->element[1];
  for (size_t i = 0; ks->type == REDIS_REPLY_ARRAY && i < ks->elements; i++)
    if (ks->element[i]->type == REDIS_REPLY_STRING && op->nkeys < MAX_ALERT_KEYS &&
        !has_key(op, ks->element[i]->str, ks->element[i]->len))
      op_push_key(op, ks->element[i]->str, ks->element[i]->len);
  const char *cursor = r->element[0]->str;
  if (strcmp(cursor, "0") == 0 || op->nkeys >= MAX_ALERT_KEYS) {
    alerts_fetch(op);
    return;
  }
  const char *argv[] = {"SCAN", cursor, "MATCH", "sl:alerts:*", "COUNT", "1000"};
  size_t lens[] = {4, strlen(cursor), 5, 11, 5, 4};
  send_op(op, 6, argv, lens, on_alert_scan);
}

static void get_alerts(api_op *op) {
  for (size_t i = 0; i < op->s->cfg.npipelines; i++) {
    sl_buf_reset(&op->out);
    sl_buf_printf(&op->out, "sl:alerts:%s", op->s->cfg.pipelines[i]);
    if (!has_key(op, op->out.data, op->out.len))
      op_push_key(op, op->out.data, op->out.len);
  }
  if (!op->s->cfg.serve_mode) {
    alerts_fetch(op);
    return;
  }
  const char *argv[] = {"SCAN", "0", "MATCH", "sl:alerts:*", "COUNT", "1000"};
  size_t lens[] = {4, 1, 5, 11, 5, 4};
  send_op(op, 6, argv, lens, on_alert_scan);
}

/* ---- /readyz ---- */

typedef struct ready_op {
  sl_http_server *s;
  struct evhttp_request *req;
  int pipeline_ok;
  const char *why;    /* why the pipeline is not ready: static text or why_buf */
  char why_buf[400];
} ready_op;

static void ready_answer(ready_op *op, const char *redis) {
  int ok = op->pipeline_ok != 0 && strcmp(redis, "ok") == 0;
  const char *pipe = op->pipeline_ok < 0 ? "n/a" : op->pipeline_ok ? "ok" : "not ready";
  sl_buf b = SL_BUF_INIT;
  int redis_ok = strcmp(redis, "ok") == 0;
  if (ok) {
    sl_buf_puts(&b, "{\"status\":\"ok\"");
  } else if (op->pipeline_ok == 0) { /* the pipeline's own reason names the dependency */
    char msg[480];
    snprintf(msg, sizeof msg, "not ready: %s%s", op->why,
             redis_ok ? "" : "; Redis unreachable from the HTTP server");
    sl_buf_puts(&b, "{\"error\":"); /* the reason may quote a dependency's error */
    sl_buf_json_string(&b, msg, strlen(msg));
    sl_buf_puts(&b, ",\"status\":503");
  } else {
    sl_buf_puts(&b, "{\"error\":\"not ready: Redis unreachable\",\"status\":503");
  }
  sl_buf_printf(&b, ",\"checks\":{\"pipeline\":\"%s\",\"redis\":\"%s\"}}", pipe, redis);
  http_reply_json(op->s, op->req, ok ? 200 : 503, &b);
  sl_buf_free(&b);
  free(op);
}

static void on_ping(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  redisReply *r = reply;
  ready_answer(priv, r && r->type == REDIS_REPLY_STATUS ? "ok" : "unreachable");
}

void http_readyz(sl_http_server *s, struct evhttp_request *req) {
  ready_op *op = calloc(1, sizeof *op);
  if (!op) {
    http_reply_error(s, req, 500, "out of memory");
    return;
  }
  op->s = s;
  op->req = req;
  op->why = s->cfg.not_ready ? s->cfg.not_ready(s->cfg.ud, op->why_buf, sizeof op->why_buf) : NULL;
  op->pipeline_ok = s->cfg.ready ? s->cfg.ready(s->cfg.ud) != 0 : -1;
  if (op->pipeline_ok == 0 && !op->why)
    op->why = "pipeline not processing";
  else if (op->pipeline_ok > 0 && op->why) /* changed in between: the later answer wins */
    op->pipeline_ok = 0;
  const char *argv[] = {"PING"};
  size_t lens[] = {4};
  if (http_redis_argv(s, on_ping, op, 1, argv, lens) != SL_OK)
    ready_answer(op, "unreachable");
}

/* ---- routing ---- */

static int valid_cache(const char *c) {
  size_t n = strlen(c);
  if (n == 0 || n > 128)
    return 0;
  for (; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
      return 0;
  return 1;
}

/* Parse limit: absent -> dflt; a decimal in [1, LIMIT_MAX] else -1. */
static int parse_limit(const char *v, int dflt) {
  if (!v)
    return dflt;
  if (!*v || strlen(v) > 6)
    return -1;
  for (const char *p = v; *p; p++)
    if (*p < '0' || *p > '9')
      return -1;
  int n = atoi(v);
  return n >= 1 && n <= LIMIT_MAX ? n : -1;
}

static void get_pipelines(sl_http_server *s, struct evhttp_request *req) {
  sl_buf b = SL_BUF_INIT;
  int rc = SL_OK;
  if (s->cfg.pipelines_json)
    rc = s->cfg.pipelines_json(s->cfg.ud, &b);
  else
    rc = sl_buf_puts(&b, "{\"pipelines\":[]}");
  if (rc != SL_OK)
    http_reply_error(s, req, 500, "cannot describe the pipelines");
  else
    http_reply_json(s, req, 200, &b);
  sl_buf_free(&b);
}

/* A lookup table's entry, served from the running pipeline's memory. */
static void get_table_entry(sl_http_server *s, struct evhttp_request *req, const char *table,
                            const char *key) {
  sl_buf b = SL_BUF_INIT;
  int rc = s->cfg.table_entry ? s->cfg.table_entry(s->cfg.ud, table, key, &b) : SL_ERR_NOT_FOUND;
  if (rc == SL_ERR_NOT_FOUND)
    http_reply_error(s, req, 404, "no such table or key");
  else if (rc != SL_OK)
    http_reply_error(s, req, 500, "cannot read the table");
  else
    http_reply_json(s, req, 200, &b);
  sl_buf_free(&b);
}

void http_api_route(sl_http_server *s, struct evhttp_request *req, const char *path) {
  char *seg[MAX_SEGMENTS];
  size_t nseg = 0;
  struct evkeyvalq q;
  TAILQ_INIT(&q);
  api_op *op = NULL;
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
  if (query && evhttp_parse_query_str(query, &q) != 0) {
    http_reply_error(s, req, 400, "malformed query string");
    goto out;
  }
  if (strncmp(path, "/api/v1/", 8) != 0)
    goto not_found;
  /* Split and percent-decode the segments: keys may contain %2F and ':'. */
  for (const char *p = path + 8; nseg < MAX_SEGMENTS;) {
    size_t n = strcspn(p, "/");
    char *raw = strndup(p, n);
    size_t dlen = 0;
    char *dec = raw ? evhttp_uridecode(raw, 0, &dlen) : NULL;
    free(raw);
    if (!dec)
      goto oom;
    seg[nseg++] = dec;
    if (dlen != strlen(dec)) {
      http_reply_error(s, req, 400, "path contains a NUL byte");
      goto out;
    }
    if (!p[n])
      break;
    p += n + 1;
  }
  if (nseg == 1 && strcmp(seg[0], "pipelines") == 0) {
    get_pipelines(s, req);
    goto out;
  }
  if (nseg == 3 && strcmp(seg[0], "tables") == 0) {
    get_table_entry(s, req, seg[1], seg[2]);
    goto out;
  }
  if (!(op = calloc(1, sizeof *op)))
    goto oom;
  op->s = s;
  op->req = req;
  if (nseg == 1 && strcmp(seg[0], "alerts") == 0) {
    const char *state = evhttp_find_header(&q, "state");
    if (state && strcmp(state, "firing") != 0) {
      http_reply_error(s, req, 400, "state must be 'firing' (only firing alerts are kept)");
      goto out;
    }
    get_alerts(op);
    op = NULL;
    goto out;
  }
  if (nseg < 2 || nseg > 4 || strcmp(seg[0], "caches") != 0 ||
      (nseg == 4 && strcmp(seg[3], "history") != 0))
    goto not_found;
  if (!valid_cache(seg[1])) {
    http_reply_error(s, req, 400, "cache names are 1-128 characters of A-Z a-z 0-9 _ - .");
    goto out;
  }
  if (nseg >= 3 && !*seg[2])
    goto not_found;
  op->cache = strdup(seg[1]);
  op->key = nseg >= 3 ? strdup(seg[2]) : NULL;
  if (!op->cache || (nseg >= 3 && !op->key))
    goto oom;
  op->limit = parse_limit(evhttp_find_header(&q, "limit"),
                          nseg == 2 ? LIST_DEFAULT : HISTORY_DEFAULT);
  if (op->limit < 0) {
    http_reply_error(s, req, 400, "limit must be an integer from 1 to 1000");
    goto out;
  }
  if (nseg == 2) {
    const char *prefix = evhttp_find_header(&q, "prefix");
    if (prefix && *prefix && !(op->prefix = strdup(prefix)))
      goto oom;
    list_keys(op, evhttp_find_header(&q, "cursor"));
  } else if (nseg == 3) {
    get_latest(op);
  } else {
    get_history(op);
  }
  op = NULL; /* owned by the Redis callback now */
  goto out;
not_found:
  http_reply_error(s, req, 404, "no such endpoint");
  goto out;
oom:
  http_reply_error(s, req, 500, "out of memory");
out:
  op_free(op);
  for (size_t i = 0; i < nseg; i++)
    free(seg[i]);
  evhttp_clear_headers(&q);
}
