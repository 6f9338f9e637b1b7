/* SPDX-License-Identifier: Apache-2.0 */
/* Redis for sluice (internal, never installed): the connection, exactly-once
 * checkpoints and restore of partition state, the hot cache sink, the alert
 * store and the read helpers of the HTTP API.
 *
 * Key layout (fixed: the HTTP API and operators' docs rely on it):
 *   sl:{P:T:N}:epoch           integer, INCR on every assignment of partition N
 *   sl:{P:T:N}:offset          next offset to consume
 *   sl:{P:T:N}:state:<op_id>   hash: operator state key -> binary partial state
 *   sl:cache:<name>:v:<key>    latest record (JSON), EX ttl
 *   sl:cache:<name>:h:<key>    list of records, newest first, LTRIM to history
 *   sl:cache:<name>:keys       sorted set (score 0) of keys, for prefix listing
 *   sl:alerts:<P>              hash "<alert>\x1f<key json>" -> alert JSON
 *   PUBLISH sl:events <json>   window results and alerts for SSE
 * The {P:T:N} hash tag keeps one partition in one Redis Cluster slot: the
 * atomic unit of a checkpoint is the partition (state + offset together).
 *
 * Threads: an sl_redis is one blocking hiredis connection; use it from one
 * thread at a time (the runtime's checkpoint thread, the HTTP server and each
 * cache sink own separate handles).
 *
 * Ownership: every function copies what it keeps; strings it returns are
 * malloc'd and freed by the caller with free() unless stated otherwise. */
#ifndef SLUICE_REDIS_H
#define SLUICE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "engine/state_backend.h"
#include "lang/connector.h"
#include "sluice/error.h"

/* ---- connection (redis_conn.c) ------------------------------------------ */

typedef struct sl_redis sl_redis;

#define SL_REDIS_MAX_SENTINELS 8

typedef struct sl_redis_addr {
  char host[256];
  int port;
} sl_redis_addr;

/* A parsed SLUICE_REDIS_URL (connectors/redis_url.c):
 *   redis://[user[:password]@]host[:port][/db][?params]
 *   redis://[user[:password]@]host[:port],host[:port]...[?params]  (Cluster seeds)
 *   redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/primary[/db][?params]
 * params: wait_replicas=N, wait_timeout_ms=M, sentinel_password=P. */
typedef struct sl_redis_url {
  char host[256];     /* redis://: the server; empty with Sentinel */
  int port;           /* default 6379; 0 with Sentinel */
  int db;             /* default 0 */
  char user[128];     /* empty: no ACL user (AUTH password, or no AUTH) */
  char password[256]; /* empty: no AUTH (of the data nodes, not the sentinels) */
  /* redis+sentinel://: the sentinels (default port 26379), asked in turn for
   * the address of the primary named `primary`. nsentinels == 0: redis://. */
  sl_redis_addr sentinels[SL_REDIS_MAX_SENTINELS];
  int nsentinels;
  char primary[128];
  char sentinel_password[256]; /* empty: no AUTH to the sentinels */
  /* redis://h1:p1,h2:p2: seed nodes of a Redis Cluster (host/port is the
   * first); nseeds == 0 with one host (cluster or not, found on connect). */
  sl_redis_addr seeds[SL_REDIS_MAX_SENTINELS];
  int nseeds;
  /* After each checkpoint (and epoch) write, WAIT for this many replicas to
   * acknowledge it, at most wait_timeout_ms (default 1000); 0: no WAIT. */
  int wait_replicas;
  int wait_timeout_ms;
} sl_redis_url;

/* Parse `url`; the error message never contains the password. */
int sl_redis_url_parse(const char *url, sl_redis_url *out, sl_error *err);

/* Ask the sentinels of `u` (a redis+sentinel:// URL), in turn from index
 * `first` (modulo their number), for the address of the primary; each gets
 * `timeout_ms` to connect and to answer. SL_OK with host (cap bytes) and
 * *port, and *used (may be NULL) the index of the sentinel that answered;
 * SL_ERR_UNAVAILABLE when none answered (retry: a failover may be under
 * way); SL_ERR_INVALID when every one answered that it does not know the
 * primary or refused sentinel_password. Blocks up to about
 * 2 * timeout_ms per sentinel (connectors/redis_sentinel.c). */
int sl_redis_sentinel_resolve(const sl_redis_url *u, int first, int timeout_ms, char *host,
                              size_t cap, int *port, int *used, sl_error *err);

typedef struct sl_redis_opts {
  int connect_timeout_ms; /* <= 0: 1000 */
  int command_timeout_ms; /* <= 0: 5000 */
  int backoff_min_ms;     /* <= 0: 100 */
  int backoff_max_ms;     /* <= 0: 10000 */
  uint32_t seed;          /* jitter seed; 0: derived from the address */
  /* Allow checkpoints although the #14541 check found the `default` user
   * without permissions while AOF is on (see docs/state.md). */
  int allow_unsafe_acl;
} sl_redis_opts;

/* A handle that connects lazily. NULL with `err` set on a bad URL or OOM.
 * `opts` may be NULL (defaults). */
sl_redis *sl_redis_new(const char *url, const sl_redis_opts *opts, sl_error *err);
void sl_redis_free(sl_redis *r); /* NULL is a no-op */

/* One connection attempt now (connect timeout bounded), with AUTH and SELECT.
 * SL_OK when connected (or already connected); SL_ERR_UNAVAILABLE when the
 * server cannot be reached (retriable); SL_ERR_INVALID for WRONGPASS,
 * NOPERM, a bad db (not retriable: fix the configuration). */
int sl_redis_connect(sl_redis *r, sl_error *err);

/* For the runtime's loop: SL_OK when connected; otherwise, if the backoff
 * delay has passed at `now_ms`, one connection attempt. When still not
 * connected returns SL_ERR_UNAVAILABLE (or SL_ERR_INVALID) and sets
 * *retry_in_ms to the time until the next attempt is due (exponential
 * backoff with jitter). Never sleeps, so the caller keeps serving. */
int sl_redis_ensure(sl_redis *r, int64_t now_ms, int64_t *retry_in_ms, sl_error *err);
int sl_redis_is_connected(const sl_redis *r);
/* PING (connecting first when needed): for /readyz. SL_OK when Redis answers. */
int sl_redis_ping(sl_redis *r, sl_error *err);
/* Drop the connection (the next call reconnects). */
void sl_redis_disconnect(sl_redis *r);
/* "redis://user@host:port/db" without the password; owned by `r`. */
const char *sl_redis_describe(const sl_redis *r);
/* A warning found by the state safety check (e.g. "could not verify the
 * ACL of the default user"), or NULL; owned by `r`. */
const char *sl_redis_warning(const sl_redis *r);

/* Backoff delay before attempt number `attempt` (0-based failures so far):
 * min(max, min * 2^attempt), then "equal jitter": half fixed, half random
 * from `*rng` (xorshift state, updated). Pure: exposed for tests. */
int64_t sl_redis_backoff_ms(int attempt, int min_ms, int max_ms, uint32_t *rng);

/* Redis Cluster hash slot of a key (CRC16-XMODEM of the key, or of the
 * first non-empty {hash tag} in it, modulo 16384; connectors/redis_cluster.c). */
int sl_redis_key_slot(const char *key, size_t len);
/* 1 when the connected Redis is a Redis Cluster (known after connecting). */
int sl_redis_is_cluster(const sl_redis *r);

/* ---- checkpoints and restore (redis_checkpoint.c, redis_restore.c) ------ */

typedef struct sl_checkpoint sl_checkpoint;

/* sl_fenced (a partition whose epoch check failed: a newer worker owns it)
 * and sl_state_entry_fn are core/engine/state_backend.h's: this is the Redis
 * side of that interface (the backend itself: sl_redis_state_backend_new). */

sl_checkpoint *sl_checkpoint_new(const char *pipeline);
/* Stage a put/delete of operator `op_id`'s state key for one partition
 * (bytes copied). Changes to the same key apply in call order. */
int sl_checkpoint_put(sl_checkpoint *cp, const char *topic, int32_t partition, const char *op_id,
                      const void *key, size_t klen, const void *val, size_t vlen);
int sl_checkpoint_delete(sl_checkpoint *cp, const char *topic, int32_t partition, const char *op_id,
                         const void *key, size_t klen);
/* The epoch this worker holds for the partition (from
 * sl_state_acquire_epoch) and the next offset to store; next_offset < 0
 * leaves the stored offset as it is. Every partition staged with put or
 * delete needs this call before commit. */
int sl_checkpoint_offset(sl_checkpoint *cp, const char *topic, int32_t partition, int64_t epoch,
                         int64_t next_offset);
/* Number of partitions staged. */
size_t sl_checkpoint_partitions(const sl_checkpoint *cp);

/* Write every staged partition, each in ONE atomic step (a Lua script run
 * by EVALSHA) that first checks sl:{..}:epoch == the staged epoch. All
 * partitions are pipelined: one round trip for the whole checkpoint.
 * Returns SL_OK when all committed; SL_ERR_FENCED when some partitions were
 * refused (nothing of theirs was written; the others committed), listed in
 * *fenced / *nfenced (owned by `cp`, valid until reset/free);
 * SL_ERR_UNAVAILABLE when Redis is unreachable (the outcome of each
 * partition is unknown: call commit again with the same checkpoint, which is
 * idempotent); SL_ERR_INVALID for an ACL problem. The staged changes stay
 * in `cp` until sl_checkpoint_reset. `fenced`/`nfenced` may be NULL. */
int sl_checkpoint_commit(sl_redis *r, sl_checkpoint *cp, const sl_fenced **fenced, size_t *nfenced,
                         sl_error *err);
void sl_checkpoint_reset(sl_checkpoint *cp);
void sl_checkpoint_free(sl_checkpoint *cp); /* NULL is a no-op */

/* Take a new epoch for a partition on assignment (INCR); every older epoch
 * is fenced from then on. */
int sl_state_acquire_epoch(sl_redis *r, const char *pipeline, const char *topic, int32_t partition,
                           int64_t *epoch, sl_error *err);

/* Stream every (op_id, key, value) of the partition's operators `op_ids` to
 * `cb` (HSCAN, pipelined across operators) and return the stored next offset
 * in *next_offset (-1 if none). A non-zero return of `cb` stops the load and
 * is returned. Buffers passed to `cb` are valid for the call only. */
int sl_state_load(sl_redis *r, const char *pipeline, const char *topic, int32_t partition,
                  const char *const *op_ids, size_t nops, sl_state_entry_fn cb, void *ud,
                  int64_t *next_offset, sl_error *err);

/* The state backend of checkpoints on the Redis of `url` (single, Sentinel
 * or Cluster) for pipeline `pipeline` (redis_backend.c): connects lazily,
 * like sl_redis_new. NULL with err set on a bad URL or OOM; freed by
 * b->ops->free (the checkpoint coordinator owns it). */
sl_state_backend *sl_redis_state_backend_new(const char *url, const char *pipeline,
                                             sl_error *err);

/* ---- cache sink (redis_cache.c) ------------------------------------------ */

extern const sl_sink_desc sl_cache_sink;

/* ---- alerts (redis_alerts.c) --------------------------------------------- */

/* Record a firing alert (`alert_json` is the whole alert output record) and
 * publish it on sl:events. */
int sl_alerts_put_firing(sl_redis *r, const char *pipeline, const char *alert, const char *key_json,
                         const char *alert_json, sl_error *err);
/* Remove a firing alert and publish the resolution `alert_json` (may be NULL:
 * nothing published). */
int sl_alerts_resolve(sl_redis *r, const char *pipeline, const char *alert, const char *key_json,
                      const char *alert_json, sl_error *err);
/* Several changes of one pipeline in one round trip (the commands are
 * pipelined): a burst of alerts (every machine of a line going silent) must
 * not cost a round trip each. The first failure is returned; the changes are
 * idempotent, so after one, send them all again (events may repeat). */
typedef struct sl_alert_change {
  const char *alert, *key_json, *json; /* json may be NULL when resolving */
  int firing;
} sl_alert_change;
int sl_alerts_apply(sl_redis *r, const char *pipeline, const sl_alert_change *ch, size_t n,
                    sl_error *err);
/* JSON array of the alerts of `pipeline` (NULL: every pipeline) whose
 * "state" equals `state` (NULL: any). *out is malloc'd. */
int sl_alerts_list(sl_redis *r, const char *pipeline, const char *state, char **out, sl_error *err);
/* PUBLISH sl:events `json`. */
int sl_redis_events_publish(sl_redis *r, const char *json, size_t len, sl_error *err);

/* ---- read helpers for the HTTP API (redis_read.c) ------------------------ */

/* Latest record of `key` as JSON in *out (malloc'd); SL_ERR_NOT_FOUND if none. */
int sl_cache_get_latest(sl_redis *r, const char *name, const char *key, char **out, sl_error *err);
/* JSON array of the `limit` most recent records of `key`, newest first
 * (limit <= 0: all kept). SL_ERR_NOT_FOUND when the key has no history. */
int sl_cache_history(sl_redis *r, const char *name, const char *key, long limit, char **out,
                     sl_error *err);
/* Keys of cache `name` starting with `prefix` (may be "" or NULL), in byte
 * order, after `cursor` (NULL or "": from the start), at most `limit`
 * (<= 0: 100). *out is a JSON array [{"key":K,"record":{...}|null}, ...];
 * *next_cursor (malloc'd) is the cursor of the next page, or NULL when this
 * page is the last. Expired keys are dropped from the index as met. */
int sl_cache_list(sl_redis *r, const char *name, const char *prefix, long limit, const char *cursor,
                  char **out, char **next_cursor, sl_error *err);

/* ---- pipelines registry (redis_pipelines.c) -------------------------------- */

/* HSET sl:pipelines <name> <doc>: the pipelines document of a worker. */
int sl_pipelines_announce(sl_redis *r, const char *name, const char *doc, sl_error *err);
/* {"pipelines":[doc, ...]} of every announced pipeline, appended to `out`. */
int sl_pipelines_list(sl_redis *r, sl_buf *out, sl_error *err);

#endif
