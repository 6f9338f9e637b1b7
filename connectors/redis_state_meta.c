/* SPDX-License-Identifier: Apache-2.0 */
/* A pipeline's stored state seen from outside the workers (redis_state.h):
 * the inventory found by SCAN over sl:{P:*}, the state metadata hash
 * sl:{P}:nodes, and deletion for `sluice state drop|reset` and for
 * --allow-state-loss. Nothing here is on the record path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"
#include "redis_state.h"

#define SCAN_COUNT "10000"

/* ---- inventory -------------------------------------------------------------- */

static sl_state_part_info *part_of(sl_state_inventory *inv, const char *topic, size_t tlen,
                                   int32_t partition) {
  for (size_t i = 0; i < inv->nparts; i++)
    if (inv->parts[i].partition == partition && strlen(inv->parts[i].topic) == tlen &&
        memcmp(inv->parts[i].topic, topic, tlen) == 0)
      return &inv->parts[i];
  sl_state_part_info *n = realloc(inv->parts, (inv->nparts + 1) * sizeof *n);
  if (!n)
    return NULL;
  inv->parts = n;
  sl_state_part_info *p = &n[inv->nparts];
  memset(p, 0, sizeof *p);
  p->topic = strndup(topic, tlen);
  p->partition = partition;
  p->next_offset = -1;
  if (!p->topic)
    return NULL;
  inv->nparts++;
  return p;
}

static int add_op(sl_state_part_info *p, const char *id) {
  for (size_t i = 0; i < p->nops; i++)
    if (strcmp(p->ops[i].id, id) == 0)
      return SL_OK;
  sl_state_op_info *n = realloc(p->ops, (p->nops + 1) * sizeof *n);
  if (!n)
    return SL_ERR_NOMEM;
  p->ops = n;
  memset(&n[p->nops], 0, sizeof *n);
  if (!(n[p->nops].id = strdup(id)))
    return SL_ERR_NOMEM;
  p->nops++;
  return SL_OK;
}

typedef struct scan_ctx {
  sl_state_inventory *inv;
  const char *pipeline;
  const char *const *topics;
  size_t ntopics;
} scan_ctx;

/* A topic with ':' may be a longer pipeline name's: only known ones count. */
static int own_topic(const scan_ctx *x, const char *t, size_t len) {
  if (!memchr(t, ':', len))
    return 1;
  for (size_t i = 0; i < x->ntopics; i++)
    if (strlen(x->topics[i]) == len && memcmp(x->topics[i], t, len) == 0)
      return 1;
  return 0;
}

/* "sl:{P:T:N}:rest" -> the part and, for a state hash, its operator. Keys
 * of another layout or of another pipeline are skipped. */
static int take_key(const scan_ctx *x, const char *key, size_t len) {
  sl_state_inventory *inv = x->inv;
  const char *pipeline = x->pipeline;
  size_t plen = strlen(pipeline);
  if (len < plen + 5 || memcmp(key, "sl:{", 4) != 0 || memcmp(key + 4, pipeline, plen) != 0 ||
      key[4 + plen] != ':')
    return SL_OK;
  const char *t = key + 5 + plen, *end = key + len;
  const char *close = NULL;
  for (const char *q = t; q + 1 < end; q++)
    if (q[0] == '}' && q[1] == ':')
      close = q;
  if (!close)
    return SL_OK;
  const char *colon = close;
  while (colon > t && colon[-1] != ':')
    colon--;
  if (colon <= t + 1)
    return SL_OK;
  char *num_end;
  long part = strtol(colon, &num_end, 10);
  if (num_end != close || part < 0 || part > INT32_MAX)
    return SL_OK;
  const char *rest = close + 2;
  size_t rlen = (size_t)(end - rest);
  int is_state = rlen > 6 && memcmp(rest, "state:", 6) == 0;
  if (!is_state && !(rlen == 5 && memcmp(rest, "epoch", 5) == 0) &&
      !(rlen == 6 && memcmp(rest, "offset", 6) == 0))
    return SL_OK;
  if (!own_topic(x, t, (size_t)(colon - 1 - t)))
    return SL_OK;
  sl_state_part_info *p = part_of(inv, t, (size_t)(colon - 1 - t), (int32_t)part);
  if (!p)
    return SL_ERR_NOMEM;
  if (!is_state)
    return SL_OK;
  char *id = strndup(rest + 6, rlen - 6);
  int rc = id ? add_op(p, id) : SL_ERR_NOMEM;
  free(id);
  return rc;
}

/* The pipeline name with glob characters escaped, for SCAN MATCH. */
static int match_pattern(sl_buf *b, const char *pipeline) {
  sl_buf_puts(b, "sl:{");
  for (const char *c = pipeline; *c; c++) {
    if (strchr("*?[]\\", *c))
      sl_buf_putc(b, '\\');
    sl_buf_putc(b, *c);
  }
  return sl_buf_puts(b, ":*");
}

static int scan_keys(sl_redis *r, const scan_ctx *x, sl_error *err) {
  sl_buf pat = SL_BUF_INIT;
  if (match_pattern(&pat, x->pipeline) != SL_OK) {
    sl_buf_free(&pat);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  int rc = SL_OK;
  /* A Redis Cluster spreads the partitions over its primaries: scan each. */
  int nodes = sl_redis_nprimaries(r);
  for (int node = 0; node < nodes && rc == SL_OK; node++) {
    char cursor[32] = "0";
    if ((rc = sl_redis_pin(r, node, err)) != SL_OK)
      break;
    do {
      const char *argv[6] = {"SCAN", cursor, "MATCH", pat.data, "COUNT", SCAN_COUNT};
      size_t lens[6] = {4, strlen(cursor), 5, pat.len, 5, sizeof SCAN_COUNT - 1};
      redisReply *rep;
      rc = sl_redis_run(r, 6, argv, lens, &rep, "SCAN of the pipeline's state keys", err);
      if (rc != SL_OK)
        break;
      if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
          rep->element[0]->type != REDIS_REPLY_STRING ||
          rep->element[1]->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        rc = sl_error_set(err, SL_ERR_INTERNAL, "unexpected SCAN reply");
        break;
      }
      snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
      for (size_t i = 0; i < rep->element[1]->elements && rc == SL_OK; i++) {
        const redisReply *k = rep->element[1]->element[i];
        if (k->type == REDIS_REPLY_STRING)
          rc = take_key(x, k->str, k->len);
      }
      freeReplyObject(rep);
      if (rc != SL_OK)
        rc = sl_error_set(err, rc, "out of memory");
    } while (rc == SL_OK && strcmp(cursor, "0") != 0);
  }
  sl_buf_free(&pat);
  return rc;
}

/* GET of an integer key; *v untouched when the key does not exist. */
static int get_int(sl_redis *r, const sl_buf *key, int64_t *v, sl_error *err) {
  const char *argv[2] = {"GET", key->data};
  size_t lens[2] = {3, key->len};
  redisReply *rep;
  int rc = sl_redis_run(r, 2, argv, lens, &rep, "GET of a partition's epoch or offset", err);
  if (rc != SL_OK)
    return rc;
  if (rep->type == REDIS_REPLY_STRING)
    *v = strtoll(rep->str, NULL, 10);
  freeReplyObject(rep);
  return SL_OK;
}

/* HLEN, and with `bytes` the lengths of every field and value (HSCAN). */
static int op_size(sl_redis *r, const sl_buf *key, sl_state_op_info *op, int bytes, sl_error *err) {
  const char *argv[5] = {"HLEN", key->data};
  size_t lens[5] = {4, key->len};
  redisReply *rep;
  int rc = sl_redis_run(r, 2, argv, lens, &rep, "HLEN of operator state", err);
  if (rc != SL_OK)
    return rc;
  op->entries = rep->type == REDIS_REPLY_INTEGER ? (size_t)rep->integer : 0;
  freeReplyObject(rep);
  char cursor[32] = "0";
  while (bytes) {
    argv[0] = "HSCAN";
    argv[2] = cursor;
    argv[3] = "COUNT";
    argv[4] = SCAN_COUNT;
    lens[0] = 5;
    lens[2] = strlen(cursor);
    lens[3] = 5;
    lens[4] = sizeof SCAN_COUNT - 1;
    rc = sl_redis_run(r, 5, argv, lens, &rep, "HSCAN of operator state", err);
    if (rc != SL_OK)
      return rc;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[1]->type == REDIS_REPLY_ARRAY) {
      snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
      for (size_t i = 0; i < rep->element[1]->elements; i++)
        op->bytes += rep->element[1]->element[i]->len;
    } else {
      snprintf(cursor, sizeof cursor, "0");
    }
    freeReplyObject(rep);
    bytes = strcmp(cursor, "0") != 0;
  }
  return SL_OK;
}

static int cmp_part(const void *a, const void *b) {
  const sl_state_part_info *x = a, *y = b;
  int c = strcmp(x->topic, y->topic);
  return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static int cmp_op(const void *a, const void *b) {
  return strcmp(((const sl_state_op_info *)a)->id, ((const sl_state_op_info *)b)->id);
}

int sl_state_inventory_load(sl_redis *r, const char *pipeline, const char *const *topics,
                            size_t ntopics, int sizes, sl_state_inventory *inv, sl_error *err) {
  memset(inv, 0, sizeof *inv);
  scan_ctx x = {inv, pipeline, topics, ntopics};
  int rc = scan_keys(r, &x, err);
  sl_buf key = SL_BUF_INIT;
  for (size_t i = 0; i < inv->nparts && rc == SL_OK; i++) {
    sl_state_part_info *p = &inv->parts[i];
    if (p->nops)
      qsort(p->ops, p->nops, sizeof *p->ops, cmp_op);
    if (sl_redis_partition_prefix(&key, pipeline, p->topic, p->partition) != SL_OK ||
        sl_buf_puts(&key, "epoch") != SL_OK)
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    if (rc == SL_OK)
      rc = get_int(r, &key, &p->epoch, err);
    if (rc == SL_OK && (sl_redis_partition_prefix(&key, pipeline, p->topic, p->partition) ||
                        sl_buf_puts(&key, "offset")))
      rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    if (rc == SL_OK)
      rc = get_int(r, &key, &p->next_offset, err);
    for (size_t k = 0; k < p->nops && rc == SL_OK; k++) {
      if (sl_redis_partition_prefix(&key, pipeline, p->topic, p->partition) ||
          sl_buf_printf(&key, "state:%s", p->ops[k].id))
        rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      if (rc == SL_OK)
        rc = op_size(r, &key, &p->ops[k], sizes, err);
    }
  }
  sl_buf_free(&key);
  if (rc != SL_OK) {
    sl_state_inventory_free(inv);
    return rc;
  }
  if (inv->nparts)
    qsort(inv->parts, inv->nparts, sizeof *inv->parts, cmp_part);
  return SL_OK;
}

void sl_state_inventory_free(sl_state_inventory *inv) {
  if (!inv)
    return;
  for (size_t i = 0; i < inv->nparts; i++) {
    for (size_t k = 0; k < inv->parts[i].nops; k++)
      free(inv->parts[i].ops[k].id);
    free(inv->parts[i].ops);
    free(inv->parts[i].topic);
  }
  free(inv->parts);
  memset(inv, 0, sizeof *inv);
}

/* ---- metadata ------------------------------------------------------------------ */

static int meta_key(sl_buf *b, const char *pipeline) {
  sl_buf_reset(b);
  return sl_buf_printf(b, "sl:{%s}:nodes", pipeline);
}

void sl_state_meta_free(sl_state_meta *m, size_t n) {
  for (size_t i = 0; m && i < n; i++) {
    free(m[i].id);
    free(m[i].type);
    free(m[i].topic);
    free(m[i].shape);
  }
  free(m);
}

/* "TYPE\nTOPIC\nSHAPE" into the entry. */
static int meta_parse(sl_state_meta *e, const char *id, const char *v, size_t len) {
  const char *nl1 = memchr(v, '\n', len);
  const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - v)) : NULL;
  if (!nl2)
    return SL_ERR_PARSE;
  e->id = strdup(id);
  e->type = strndup(v, (size_t)(nl1 - v));
  e->topic = strndup(nl1 + 1, (size_t)(nl2 - nl1 - 1));
  e->shape = strndup(nl2 + 1, len - (size_t)(nl2 + 1 - v));
  return e->id && e->type && e->topic && e->shape ? SL_OK : SL_ERR_NOMEM;
}

int sl_state_meta_read(sl_redis *r, const char *pipeline, sl_state_meta **out, size_t *n,
                       int *present, sl_error *err) {
  *out = NULL;
  *n = 0;
  *present = 0;
  sl_buf key = SL_BUF_INIT;
  if (meta_key(&key, pipeline) != SL_OK) {
    sl_buf_free(&key);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  const char *argv[2] = {"HGETALL", key.data};
  size_t lens[2] = {7, key.len};
  redisReply *rep;
  int rc = sl_redis_run(r, 2, argv, lens, &rep, "HGETALL of the state metadata", err);
  sl_buf_free(&key);
  if (rc != SL_OK)
    return rc;
  size_t count = rep->type == REDIS_REPLY_ARRAY ? rep->elements / 2 : 0;
  sl_state_meta *m = calloc(count ? count : 1, sizeof *m);
  if (!m) {
    freeReplyObject(rep);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < count && rc == SL_OK; i++) {
    const redisReply *f = rep->element[2 * i], *v = rep->element[2 * i + 1];
    rc = meta_parse(&m[i], f->str, v->str, v->len);
    if (rc != SL_OK)
      rc =
          sl_error_set(err, rc, "state metadata of node '%s' in %s is malformed", f->str, pipeline);
  }
  freeReplyObject(rep);
  if (rc != SL_OK) {
    sl_state_meta_free(m, count);
    return rc;
  }
  *out = m;
  *n = count;
  *present = count > 0;
  return SL_OK;
}

/* Replace the hash in one step. A script rather than MULTI/EXEC: the ACL
 * of docs/state.md grants @scripting but not @transaction. */
static const char meta_script[] =
    "redis.call('DEL', KEYS[1]) "
    "for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end "
    "return #ARGV / 2";

int sl_state_meta_write(sl_redis *r, const char *pipeline, const sl_state_meta *m, size_t n,
                        sl_error *err) {
  size_t argc = 4 + 2 * n;
  const char **argv = calloc(argc, sizeof *argv);
  size_t *lens = calloc(argc, sizeof *lens);
  sl_buf key = SL_BUF_INIT, vals = SL_BUF_INIT;
  size_t *offs = calloc(n ? n : 1, sizeof *offs);
  /* A script's writes meet the redis/redis#14541 pitfall like a
   * checkpoint's: the same safety check refuses first (docs/state.md). */
  int rc = sl_redis_state_ready(r, err);
  if (rc != SL_OK)
    goto out;
  rc = SL_ERR_NOMEM;
  if (!argv || !lens || !offs || meta_key(&key, pipeline) != SL_OK)
    goto out;
  for (size_t i = 0; i < n; i++) { /* values first: the buffer may move while it grows */
    offs[i] = vals.len;
    if (sl_buf_printf(&vals, "%s\n%s\n%s", m[i].type, m[i].topic, m[i].shape) != SL_OK)
      goto out;
  }
  argv[0] = "EVAL";
  argv[1] = meta_script;
  argv[2] = "1";
  argv[3] = key.data;
  for (size_t i = 0; i < n; i++) {
    argv[4 + 2 * i] = m[i].id;
    argv[5 + 2 * i] = vals.data + offs[i];
    lens[5 + 2 * i] = (i + 1 < n ? offs[i + 1] : vals.len) - offs[i];
  }
  for (size_t i = 0; i < argc; i++)
    if (!lens[i])
      lens[i] = strlen(argv[i]);
  redisReply *rep;
  rc = sl_redis_run(r, (int)argc, argv, lens, &rep, "writing the state metadata", err);
  if (rc == SL_OK)
    freeReplyObject(rep);
out:
  if (rc == SL_ERR_NOMEM)
    sl_error_set(err, rc, "out of memory writing the state metadata");
  free(argv);
  free(lens);
  free(offs);
  sl_buf_free(&key);
  sl_buf_free(&vals);
  return rc;
}

/* ---- deletion -------------------------------------------------------------------- */

static int del_key(sl_redis *r, const sl_buf *key, size_t *deleted, sl_error *err) {
  const char *argv[2] = {"DEL", key->data};
  size_t lens[2] = {3, key->len};
  redisReply *rep;
  int rc = sl_redis_run(r, 2, argv, lens, &rep, "DEL of pipeline state", err);
  if (rc != SL_OK)
    return rc;
  if (rep->type == REDIS_REPLY_INTEGER)
    *deleted += (size_t)rep->integer;
  freeReplyObject(rep);
  return SL_OK;
}

static int hdel_meta(sl_redis *r, const char *pipeline, const char *id, sl_error *err) {
  sl_buf key = SL_BUF_INIT;
  if (meta_key(&key, pipeline) != SL_OK) {
    sl_buf_free(&key);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  const char *argv[3] = {"HDEL", key.data, id};
  size_t lens[3] = {4, key.len, strlen(id)};
  redisReply *rep;
  int rc = sl_redis_run(r, 3, argv, lens, &rep, "HDEL of state metadata", err);
  sl_buf_free(&key);
  if (rc == SL_OK)
    freeReplyObject(rep);
  return rc;
}

int sl_state_drop_op(sl_redis *r, const char *pipeline, const sl_state_inventory *inv,
                     const char *id, size_t *deleted, sl_error *err) {
  *deleted = 0;
  sl_buf key = SL_BUF_INIT;
  int rc = SL_OK;
  for (size_t i = 0; i < inv->nparts && rc == SL_OK; i++) {
    const sl_state_part_info *p = &inv->parts[i];
    for (size_t k = 0; k < p->nops && rc == SL_OK; k++) {
      if (strcmp(p->ops[k].id, id) != 0)
        continue;
      if (sl_redis_partition_prefix(&key, pipeline, p->topic, p->partition) ||
          sl_buf_printf(&key, "state:%s", id))
        rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      else
        rc = del_key(r, &key, deleted, err);
    }
  }
  sl_buf_free(&key);
  return rc == SL_OK ? hdel_meta(r, pipeline, id, err) : rc;
}

int sl_state_reset(sl_redis *r, const char *pipeline, const sl_state_inventory *inv,
                   size_t *deleted, sl_error *err) {
  *deleted = 0;
  sl_buf key = SL_BUF_INIT;
  int rc = SL_OK;
  for (size_t i = 0; i < inv->nparts && rc == SL_OK; i++) {
    const sl_state_part_info *p = &inv->parts[i];
    static const char *const fixed[] = {"epoch", "offset"};
    for (size_t k = 0; k < 2 + p->nops && rc == SL_OK; k++) {
      if (sl_redis_partition_prefix(&key, pipeline, p->topic, p->partition) ||
          (k < 2 ? sl_buf_puts(&key, fixed[k]) : sl_buf_printf(&key, "state:%s", p->ops[k - 2].id)))
        rc = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      else
        rc = del_key(r, &key, deleted, err);
    }
  }
  if (rc == SL_OK && meta_key(&key, pipeline) == SL_OK)
    rc = del_key(r, &key, deleted, err);
  sl_buf_reset(&key);
  if (rc == SL_OK && sl_buf_printf(&key, "sl:alerts:%s", pipeline) == SL_OK)
    rc = del_key(r, &key, deleted, err);
  sl_buf_free(&key);
  return rc;
}
