/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the redis_*.c files: the connection's context, reply
 * classification and key building. Not used outside connectors/redis_*. */
#ifndef SLUICE_REDIS_INTERNAL_H
#define SLUICE_REDIS_INTERNAL_H

#include <hiredis/hiredis.h>

#include "base/buf.h"
#include "redis.h"

typedef struct sl_cluster sl_cluster;

/* The connection (redis_conn.c); shared here so that the cluster layer
 * (redis_cluster.c) can switch `ctx` between the nodes. */
struct sl_redis {
  sl_redis_url url;
  sl_redis_opts opts;
  redisContext *ctx;    /* NULL while disconnected */
  char describe[512];   /* URL without the password (+ the primary found) */
  size_t describe_base; /* length of the URL part of `describe` */
  int sentinel_first;   /* Sentinel: the sentinel to ask first next time */
  int stale;            /* a READONLY/MASTERDOWN reply: reconnect before use */
  int failures;         /* consecutive failed connection attempts */
  int64_t next_attempt_ms;
  uint32_t rng;
  sl_error last_err; /* why the last attempt failed */
  int state_ready;   /* script loaded and safety checked on this connection */
  char sha[41];
  char warning[512];
  sl_cluster *cluster; /* Redis Cluster: the slot map and one context per primary;
                         ctx is then the context of the node last used */
};

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

/* ---- Redis Cluster (redis_cluster.c) ------------------------------------ */

/* Shared by the blocking and the asynchronous cluster clients
 * (redis_cluster_map.c). */
#define SL_CLUSTER_SLOTS 16384
#define SL_CLUSTER_NO_NODE 0xffff
/* A slot map: slot[s] indexes nodes (the primary serving s), or is
 * SL_CLUSTER_NO_NODE. nodes is malloc'd, freed by sl_cluster_map_free. */
typedef struct sl_cluster_map {
  sl_redis_addr *nodes;
  int nnodes;
  uint16_t slot[SL_CLUSTER_SLOTS];
} sl_cluster_map;
/* Parse a CLUSTER SLOTS reply received from host:port (the address an empty
 * host in the reply stands for) into *m (initialised here). SL_OK;
 * SL_ERR_INTERNAL for a malformed reply, SL_ERR_UNAVAILABLE when no slot is
 * served yet, SL_ERR_NOMEM; *m is then empty. */
int sl_cluster_map_parse(const redisReply *rep, const char *host, int port, sl_cluster_map *m,
                         sl_error *err);
/* The index of host:port in m, added when new; -1 when out of memory or the
 * host is too long. */
int sl_cluster_map_node(sl_cluster_map *m, const char *host, size_t hlen, int port);
void sl_cluster_map_free(sl_cluster_map *m);
/* The key that routes argv (EVAL/EVALSHA: the first key) into k and kl: 1, or 0
 * for a keyless command (PUBLISH, SCAN, PING, ...). */
int sl_cluster_cmd_key(int argc, const char **argv, const size_t *lens, const char **k, size_t *kl);
/* "MOVED 3999 127.0.0.1:6381" or "ASK ..." -> 1 with *ask (0/1), *slot, the
 * node's host (NUL-terminated, in host[cap]) and *port; 0 for any other reply. */
int sl_cluster_parse_redirect(const redisReply *rep, int *ask, int *slot, char *host, size_t cap,
                              int *port);

/* Pipelining: append one command; with Redis Cluster it goes to the node
 * owning its key's slot (EVAL/EVALSHA: the first key; PUBLISH, SCAN and
 * other keyless commands: the node last used, see sl_redis_pin). Replies are
 * read with sl_redis_read in the order of the appends, MOVED and ASK
 * redirections followed there. SL_ERR_UNAVAILABLE (connection dropped) or
 * SL_ERR_NOMEM. */
int sl_redis_append(sl_redis *r, int argc, const char **argv, const size_t *lens, const char *what,
                    sl_error *err);

/* Connection setup of a cluster (redis_conn.c calls these): after connecting
 * to one node, find out whether it is a cluster node (CLUSTER SLOTS) and load
 * the slot map; SL_OK in both cases. */
int sl_cluster_detect(sl_redis *r, sl_error *err);
/* Connect to the cluster: the first reachable seed or known node gives the
 * slot map. */
int sl_cluster_connect(sl_redis *r, sl_error *err);
/* Drop every node connection and forget the pending replies. */
void sl_cluster_disconnect(sl_redis *r);
sl_cluster *sl_cluster_new(void); /* NULL: out of memory */
void sl_cluster_free(sl_cluster *c);
/* A reply to read next, already received during a redirection (or NULL). */
int sl_cluster_read(sl_redis *r, redisReply **rep, const char *what, sl_error *err);
/* Number of primaries of the map (1 without a cluster); connects first
 * when needed (a failure to connect answers 1: the caller's next command
 * reports it). */
int sl_redis_nprimaries(sl_redis *r);
/* Send keyless commands (SCAN, WAIT) to primary `i` from now on; connects
 * to it. SL_OK, or SL_ERR_UNAVAILABLE. */
int sl_redis_pin(sl_redis *r, int i, sl_error *err);
/* WAIT for wait_replicas on the connection in use (redis_sentinel.c). */
int sl_redis_wait_one(sl_redis *r, const char *what, sl_error *err);
/* Open a connection to host:port with the URL's credentials (AUTH, SELECT,
 * PING); SL_OK with *out, or an error (redis_conn.c). */
int sl_redis_open(sl_redis *r, const char *host, int port, redisContext **out, sl_error *err);
/* WAIT on every primary written since the last call (cluster only). */
int sl_cluster_wait(sl_redis *r, const char *what, sl_error *err);

/* The command argv[0..argc) in RESP into `out` (reset first), byte for byte what
 * redisFormatCommandArgv writes; send it with redisAppendFormattedCommand.
 * Returns SL_OK or SL_ERR_NOMEM. */
int sl_redis_format_argv(sl_buf *out, int argc, const char **argv, const size_t *argvlen);

#endif
