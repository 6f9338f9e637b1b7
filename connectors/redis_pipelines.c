/* SPDX-License-Identifier: Apache-2.0 */
/* The registry of running pipelines in Redis, so that `sluice serve` (the
 * API scaled apart from the workers) can show every pipeline: each worker
 * writes its pipelines document into the hash `sl:pipelines` every few
 * seconds, with the time it did so. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis.h"
#include "redis_internal.h"

int sl_pipelines_announce(sl_redis *r, const char *name, const char *doc, sl_error *err) {
  const char *argv[4] = {"HSET", "sl:pipelines", name, doc};
  size_t lens[4] = {4, 12, strlen(name), strlen(doc)};
  redisReply *rep = NULL;
  int rc = sl_redis_run(r, 4, argv, lens, &rep, "announcing the pipeline", err);
  freeReplyObject(rep);
  return rc;
}

int sl_pipelines_list(sl_redis *r, sl_buf *out, sl_error *err) {
  const char *argv[2] = {"HGETALL", "sl:pipelines"};
  size_t lens[2] = {7, 12};
  redisReply *rep = NULL;
  int rc = sl_redis_run(r, 2, argv, lens, &rep, "listing pipelines", err);
  if (rc != SL_OK) {
    freeReplyObject(rep);
    return rc;
  }
  sl_buf_puts(out, "{\"pipelines\":[");
  for (size_t i = 1; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i += 2) {
    if (i > 1)
      sl_buf_putc(out, ',');
    sl_buf_append(out, rep->element[i]->str, rep->element[i]->len);
  }
  freeReplyObject(rep);
  return sl_buf_puts(out, "]}");
}
