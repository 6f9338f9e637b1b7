/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the redis_*.c files: the connection's context, reply
 * classification and key building. Not used outside connectors/redis_*. */
#ifndef SLUICE_REDIS_INTERNAL_H
#define SLUICE_REDIS_INTERNAL_H

#include <hiredis/hiredis.h>

#include "buf.h"
#include "redis.h"

/* Connected context (connecting first when needed), or NULL with `err` set. */
redisContext *sl_redis_ctx(sl_redis *r, sl_error *err);

/* The connection failed while doing `what`: drop it and report
 * SL_ERR_UNAVAILABLE with hiredis' reason. */
int sl_redis_io_error(sl_redis *r, const char *what, sl_error *err);

/* Classify an error reply received while doing `what`: WRONGPASS, NOAUTH,
 * NOPERM -> SL_ERR_INVALID; LOADING, BUSY, TRYAGAIN, MASTERDOWN,
 * CLUSTERDOWN, READONLY -> SL_ERR_UNAVAILABLE; anything else SL_ERR_INTERNAL. */
int sl_redis_reply_error(sl_redis *r, const redisReply *rep, const char *what, sl_error *err);

/* Read one pipelined reply. On an I/O failure the connection is dropped and
 * SL_ERR_UNAVAILABLE returned; an error *reply* is returned as a reply. */
int sl_redis_read(sl_redis *r, redisReply **rep, const char *what, sl_error *err);

/* Run one command (argv form) and return its reply, error replies
 * converted with sl_redis_reply_error (and freed). */
int sl_redis_run(sl_redis *r, int argc, const char **argv, const size_t *argvlen, redisReply **rep,
                 const char *what, sl_error *err);

/* Once per connection before the first checkpoint: load the checkpoint
 * script and run the AOF/ACL safety check (redis/redis#14541). */
int sl_redis_state_ready(sl_redis *r, sl_error *err);
/* SHA1 of the loaded checkpoint script. */
const char *sl_redis_script_sha(const sl_redis *r);
/* Forget that the script is loaded (after NOSCRIPT). */
void sl_redis_script_lost(sl_redis *r);

/* "sl:{P:T:N}:" into `b` (reset first). */
int sl_redis_partition_prefix(sl_buf *b, const char *pipeline, const char *topic,
                              int32_t partition);

#endif
