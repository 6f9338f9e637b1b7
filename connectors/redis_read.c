/* SPDX-License-Identifier: Apache-2.0 */
/* Read side of the hot cache for the HTTP API: the latest record of a key,
 * its history (newest first) and a paged prefix listing of keys with their
 * latest records. Values are returned as the JSON the cache sink stored,
 * never re-encoded. Listing walks the sorted set sl:cache:<name>:keys with
 * ZRANGEBYLEX (all scores 0, so members sort bytewise); the cursor is the
 * last key of a page. Keys whose records expired (ttl) are removed from the
 * index as the listing meets them. */
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

static int valid_name(const char *name, const char *key, sl_error *err) {
  if (!name || !*name || strpbrk(name, ":{}"))
    return sl_error_set(err, SL_ERR_INVALID, "bad cache name");
  if (key && !*key)
    return sl_error_set(err, SL_ERR_INVALID, "empty cache key");
  return SL_OK;
}

static char *take(sl_buf *b) {
  char *s = b->data;
  b->data = NULL;
  b->len = b->cap = 0;
  return s;
}

int sl_cache_get_latest(sl_redis *r, const char *name, const char *key, char **out, sl_error *err) {
  *out = NULL;
  int rc = valid_name(name, key, err);
  if (rc != SL_OK)
    return rc;
  sl_buf k = SL_BUF_INIT;
  if (sl_buf_printf(&k, "sl:cache:%s:v:", name) != SL_OK || sl_buf_puts(&k, key) != SL_OK) {
    sl_buf_free(&k);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  const char *argv[2] = {"GET", k.data};
  size_t lens[2] = {3, k.len};
  redisReply *rep;
  rc = sl_redis_run(r, 2, argv, lens, &rep, "reading the cache", err);
  sl_buf_free(&k);
  if (rc != SL_OK)
    return rc;
  if (rep->type == REDIS_REPLY_STRING) {
    *out = malloc(rep->len + 1);
    if (*out) {
      memcpy(*out, rep->str, rep->len);
      (*out)[rep->len] = '\0';
    } else {
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
  } else {
    rc = sl_error_set(err, SL_ERR_NOT_FOUND, "no record for key '%.100s' in cache '%s'", key, name);
  }
  freeReplyObject(rep);
  return rc;
}

int sl_cache_history(sl_redis *r, const char *name, const char *key, long limit, char **out,
                     sl_error *err) {
  *out = NULL;
  int rc = valid_name(name, key, err);
  if (rc != SL_OK)
    return rc;
  sl_buf k = SL_BUF_INIT, res = SL_BUF_INIT;
  char stop[24];
  snprintf(stop, sizeof stop, "%ld", limit > 0 ? limit - 1 : -1L);
  if (sl_buf_printf(&k, "sl:cache:%s:h:", name) != SL_OK || sl_buf_puts(&k, key) != SL_OK) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out;
  }
  const char *argv[4] = {"LRANGE", k.data, "0", stop};
  size_t lens[4] = {6, k.len, 1, strlen(stop)};
  redisReply *rep;
  rc = sl_redis_run(r, 4, argv, lens, &rep, "reading cache history", err);
  if (rc != SL_OK)
    goto out;
  if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
    int bad = sl_buf_putc(&res, '[');
    for (size_t i = 0; i < rep->elements; i++)
      bad |= (i ? sl_buf_putc(&res, ',') : SL_OK) |
             sl_buf_append(&res, rep->element[i]->str, rep->element[i]->len);
    bad |= sl_buf_putc(&res, ']');
    freeReplyObject(rep);
    if (bad) {
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      goto out;
    }
    *out = take(&res);
    goto out;
  }
  freeReplyObject(rep);
  /* A cache without history (history = 0) still has the latest record. */
  char *latest;
  rc = sl_cache_get_latest(r, name, key, &latest, err);
  if (rc != SL_OK)
    goto out;
  if (sl_buf_putc(&res, '[') != SL_OK || sl_buf_puts(&res, latest) != SL_OK ||
      sl_buf_putc(&res, ']') != SL_OK)
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  else
    *out = take(&res);
  free(latest);
out:
  sl_buf_free(&k);
  sl_buf_free(&res);
  return rc;
}

/* ZRANGEBYLEX bounds for keys starting with `prefix`, after `cursor`. */
static int lex_bounds(sl_buf *min, sl_buf *max, const char *prefix, const char *cursor) {
  int bad = 0;
  if (cursor && *cursor && (!prefix || strcmp(cursor, prefix) >= 0))
    bad |= sl_buf_putc(min, '(') | sl_buf_puts(min, cursor);
  else if (prefix && *prefix)
    bad |= sl_buf_putc(min, '[') | sl_buf_puts(min, prefix);
  else
    bad |= sl_buf_putc(min, '-');
  if (prefix && *prefix) /* 0xff never occurs in UTF-8 text */
    bad |= sl_buf_putc(max, '[') | sl_buf_puts(max, prefix) | sl_buf_putc(max, (char)0xff);
  else
    bad |= sl_buf_putc(max, '+');
  return bad ? SL_ERR_NOMEM : SL_OK;
}

/* Pipeline GET of each member's latest record (and ZREM of expired ones)
 * and build the page. */
static int build_page(sl_redis *r, const char *name, const redisReply *members, size_t n,
                      sl_buf *res, sl_error *err) {
  sl_buf k = SL_BUF_INIT, z = SL_BUF_INIT;
  int rc = SL_OK;
  if (sl_buf_printf(&z, "sl:cache:%s:keys", name) != SL_OK) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    const redisReply *m = members->element[i];
    sl_buf_reset(&k);
    if (sl_buf_printf(&k, "sl:cache:%s:v:", name) != SL_OK ||
        sl_buf_append(&k, m->str, m->len) != SL_OK) {
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      goto out;
    }
    const char *argv[2] = {"GET", k.data};
    size_t lens[2] = {3, k.len};
    if ((rc = sl_redis_append(r, 2, argv, lens, "listing the cache", err)) != SL_OK) {
      sl_redis_disconnect(r);
      goto out;
    }
  }
  size_t expired = 0;
  int first = 1, bad = sl_buf_putc(res, '[');
  for (size_t i = 0; i < n; i++) {
    redisReply *v;
    if ((rc = sl_redis_read(r, &v, "listing the cache", err)) != SL_OK)
      goto out;
    const redisReply *m = members->element[i];
    if (v->type == REDIS_REPLY_STRING) {
      bad |= (first ? SL_OK : sl_buf_putc(res, ',')) | sl_buf_puts(res, "{\"key\":") |
             sl_buf_json_string(res, m->str, m->len) | sl_buf_puts(res, ",\"record\":") |
             sl_buf_append(res, v->str, v->len) | sl_buf_putc(res, '}');
      first = 0;
    } else if (v->type == REDIS_REPLY_NIL) {
      expired++; /* its record expired (ttl): forget the key below */
      const char *argv[3] = {"ZREM", z.data, m->str};
      size_t lens[3] = {4, z.len, m->len};
      if ((rc = sl_redis_append(r, 3, argv, lens, "listing the cache", err)) != SL_OK) {
        freeReplyObject(v);
        sl_redis_disconnect(r);
        goto out;
      }
    }
    freeReplyObject(v);
  }
  /* ZREM replies come after every GET reply of the pipeline. */
  for (size_t i = 0; i < expired; i++) {
    redisReply *zr;
    if ((rc = sl_redis_read(r, &zr, "listing the cache", err)) != SL_OK)
      goto out;
    freeReplyObject(zr);
  }
  bad |= sl_buf_putc(res, ']');
  if (bad)
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
out:
  sl_buf_free(&k);
  sl_buf_free(&z);
  return rc;
}

int sl_cache_list(sl_redis *r, const char *name, const char *prefix, long limit, const char *cursor,
                  char **out, char **next_cursor, sl_error *err) {
  *out = NULL;
  *next_cursor = NULL;
  int rc = valid_name(name, NULL, err);
  if (rc != SL_OK)
    return rc;
  if (limit <= 0)
    limit = 100;
  if (limit > 10000)
    limit = 10000;
  sl_buf z = SL_BUF_INIT, min = SL_BUF_INIT, max = SL_BUF_INIT, res = SL_BUF_INIT;
  redisReply *members = NULL;
  char count[24];
  snprintf(count, sizeof count, "%ld", limit + 1); /* one more: is there a next page? */
  if (sl_buf_printf(&z, "sl:cache:%s:keys", name) != SL_OK ||
      lex_bounds(&min, &max, prefix, cursor) != SL_OK) {
    rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    goto out;
  }
  const char *argv[7] = {"ZRANGEBYLEX", z.data, min.data, max.data, "LIMIT", "0", count};
  size_t lens[7] = {11, z.len, min.len, max.len, 5, 1, strlen(count)};
  rc = sl_redis_run(r, 7, argv, lens, &members, "listing the cache", err);
  if (rc != SL_OK)
    goto out;
  size_t n = members->type == REDIS_REPLY_ARRAY ? members->elements : 0;
  int more = n > (size_t)limit;
  if (more)
    n = (size_t)limit;
  rc = build_page(r, name, members, n, &res, err);
  if (rc != SL_OK)
    goto out;
  if (more) {
    const redisReply *last = members->element[n - 1];
    *next_cursor = malloc(last->len + 1);
    if (!*next_cursor) {
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      goto out;
    }
    memcpy(*next_cursor, last->str, last->len);
    (*next_cursor)[last->len] = '\0';
  }
  *out = take(&res);
out:
  if (members)
    freeReplyObject(members);
  sl_buf_free(&z);
  sl_buf_free(&min);
  sl_buf_free(&max);
  sl_buf_free(&res);
  return rc;
}
