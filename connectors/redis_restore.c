/* SPDX-License-Identifier: Apache-2.0 */
/* Restore of one partition's checkpointed state: the stored next offset and
 * every (operator, key, value) streamed to a callback. HSCAN with a large
 * COUNT, one cursor per operator, each round pipelined across operators, so
 * a million keys take about a hundred round trips and memory stays bounded
 * by one round of replies (HGETALL would build the whole hash in memory).
 *
 * HSCAN may return a field twice when Redis resizes the hash during the
 * scan; values are identical then (nobody else writes: the restoring worker
 * holds the newest epoch), so restore callbacks must overwrite, not merge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

#define SCAN_COUNT "10000"

typedef struct scan_op {
  char cursor[24];   /* "0" to start, NULL-like "" when done */
  size_t koff, klen; /* key in the key buffer */
  int done;
} scan_op;

/* Append "HSCAN key cursor COUNT n" for every operator still scanning. */
static int append_round(sl_redis *r, const sl_buf *keys, const scan_op *ops, size_t nops,
                        size_t *sent, sl_error *err) {
  *sent = 0;
  for (size_t i = 0; i < nops; i++) {
    if (ops[i].done)
      continue;
    const char *argv[5] = {"HSCAN", keys->data + ops[i].koff, ops[i].cursor, "COUNT", SCAN_COUNT};
    size_t lens[5] = {5, ops[i].klen, strlen(ops[i].cursor), 5, sizeof SCAN_COUNT - 1};
    int rc = sl_redis_append(r, 5, argv, lens, "state restore", err);
    if (rc != SL_OK)
      return rc;
    (*sent)++;
  }
  return SL_OK;
}

/* Handle one HSCAN reply; returns SL_OK, an error, or the callback's stop. */
static int take_reply(sl_redis *r, redisReply *rep, scan_op *op, const char *op_id,
                      sl_state_entry_fn cb, void *ud, sl_error *err) {
  if (rep->type == REDIS_REPLY_ERROR)
    return sl_redis_reply_error(r, rep, "HSCAN of operator state", err);
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
      rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY ||
      rep->element[1]->elements % 2)
    return sl_error_set(err, SL_ERR_INTERNAL, "unexpected HSCAN reply");
  const redisReply *items = rep->element[1];
  for (size_t j = 0; j + 1 < items->elements; j += 2) {
    const redisReply *k = items->element[j], *v = items->element[j + 1];
    int stop = cb(ud, op_id, k->str, k->len, v->str, v->len);
    if (stop)
      return sl_error_set(err, stop < 0 ? stop : SL_ERR_INVALID,
                          "state restore of operator '%s' stopped by the callback (%d)", op_id,
                          stop);
  }
  snprintf(op->cursor, sizeof op->cursor, "%s", rep->element[0]->str);
  op->done = strcmp(op->cursor, "0") == 0;
  return SL_OK;
}

static int read_offset(sl_redis *r, const sl_buf *prefix, int64_t *next_offset, sl_error *err) {
  sl_buf key = SL_BUF_INIT;
  if (sl_buf_append(&key, prefix->data, prefix->len) != SL_OK ||
      sl_buf_puts(&key, "offset") != SL_OK) {
    sl_buf_free(&key);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  const char *argv[2] = {"GET", key.data};
  size_t lens[2] = {3, key.len};
  redisReply *rep;
  int rc = sl_redis_run(r, 2, argv, lens, &rep, "GET of the stored offset", err);
  sl_buf_free(&key);
  if (rc != SL_OK)
    return rc;
  *next_offset = -1;
  if (rep->type == REDIS_REPLY_STRING) {
    char *end;
    long long v = strtoll(rep->str, &end, 10);
    if (*end || v < 0)
      rc = sl_error_set(err, SL_ERR_PARSE, "stored offset '%.40s' is not a number", rep->str);
    else
      *next_offset = v;
  }
  freeReplyObject(rep);
  return rc;
}

int sl_state_load(sl_redis *r, const char *pipeline, const char *topic, int32_t partition,
                  const char *const *op_ids, size_t nops, sl_state_entry_fn cb, void *ud,
                  int64_t *next_offset, sl_error *err) {
  sl_buf prefix = SL_BUF_INIT, keys = SL_BUF_INIT;
  scan_op *ops = calloc(nops ? nops : 1, sizeof *ops);
  int rc = SL_ERR_NOMEM;
  if (!ops || sl_redis_partition_prefix(&prefix, pipeline, topic, partition) != SL_OK) {
    sl_error_set(err, rc, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < nops; i++) {
    ops[i].koff = keys.len;
    if (sl_buf_append(&keys, prefix.data, prefix.len) != SL_OK ||
        sl_buf_printf(&keys, "state:%s", op_ids[i]) != SL_OK) {
      sl_error_set(err, rc, "out of memory");
      goto out;
    }
    ops[i].klen = keys.len - ops[i].koff;
    strcpy(ops[i].cursor, "0");
  }
  rc = read_offset(r, &prefix, next_offset, err);
  while (rc == SL_OK) {
    size_t sent = 0;
    rc = append_round(r, &keys, ops, nops, &sent, err);
    if (rc != SL_OK || !sent)
      break;
    /* Read every reply of the round even after a failure, so the
     * connection stays in step. */
    int first = SL_OK;
    for (size_t i = 0; i < nops; i++) {
      if (ops[i].done)
        continue;
      redisReply *rep;
      int rr = sl_redis_read(r, &rep, "state restore", err);
      if (rr != SL_OK) {
        first = rr;
        break;
      }
      if (first == SL_OK)
        first = take_reply(r, rep, &ops[i], op_ids[i], cb, ud, err);
      freeReplyObject(rep);
    }
    rc = first;
  }
out:
  free(ops);
  sl_buf_free(&prefix);
  sl_buf_free(&keys);
  return rc;
}
