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

/* The parsed URL of `r` (owned by `r`). */
const sl_redis_url *sl_redis_url_of(const sl_redis *r);

/* ROLE: SL_OK when the connected node is the primary; otherwise the
 * connection is dropped (the next one asks the sentinels again) and
 * SL_ERR_UNAVAILABLE returned (redis_sentinel.c). */
int sl_redis_check_primary(sl_redis *r, sl_error *err);

/* WAIT for the URL's wait_replicas after a write (`what`, for the message);
 * SL_OK at once when wait_replicas is 0. SL_ERR_UNAVAILABLE when fewer
 * replicas acknowledged within wait_timeout_ms (redis_sentinel.c). */
int sl_redis_wait_replicas(sl_redis *r, const char *what, sl_error *err);

/* "sl:{P:T:N}:" into `b` (reset first). */
int sl_redis_partition_prefix(sl_buf *b, const char *pipeline, const char *topic,
                              int32_t partition);

/* The command argv[0..argc) in RESP into `out` (reset first), byte for byte what
 * redisFormatCommandArgv writes; send it with redisAppendFormattedCommand.
 * Returns SL_OK or SL_ERR_NOMEM. */
int sl_redis_format_argv(sl_buf *out, int argc, const char **argv, const size_t *argvlen);

#endif
