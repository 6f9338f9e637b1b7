/* SPDX-License-Identifier: Apache-2.0 */
/* Asynchronous Redis Cluster reads on a libevent loop (the HTTP API's
 * client, core/http_redis.c): each command goes to the primary serving its
 * key's slot, MOVED and ASK are followed, and the few commands of the API
 * that span slots are split (MGET: one GET per key; PING: every primary;
 * SCAN: every primary in turn behind one cursor). Reads go to the primaries,
 * not replicas: the API then shows exactly what the workers wrote and had
 * acknowledged, and a replica's lag never makes a record appear to go back in
 * time. Everything here runs on the loop's thread. */
#ifndef SLUICE_REDIS_CLUSTER_ASYNC_H
#define SLUICE_REDIS_CLUSTER_ASYNC_H

#include <event2/event.h>
#include <hiredis/async.h>

#include "redis.h"

typedef struct sl_acluster sl_acluster;

/* An asynchronous connection to host:port attached to `base`, with data =
 * `data` and the two callbacks set, AUTH (u's user/password) and, when db is
 * not 0, SELECT queued first. NULL when hiredis cannot even start it. */
redisAsyncContext *sl_redis_async_open(struct event_base *base, const sl_redis_url *u,
                                       const char *host, int port, int db, void *data,
                                       redisConnectCallback *on_connect,
                                       redisDisconnectCallback *on_disconnect);

/* A cluster client starting from host:port and u's seeds (u is borrowed and
 * must outlive the client). Loads the slot map at once, then again every
 * second while it is stale (a MOVED, a lost node). A node connection that
 * leaves a read unanswered for timeout_ms is dropped: its reads answer NULL
 * (why: "... did not answer within N ms"). NULL when out of memory. */
sl_acluster *sl_acluster_new(struct event_base *base, const sl_redis_url *u, const char *host,
                             int port, int timeout_ms);

/* Queue a read. SL_OK: fn runs exactly once later, with the reply, or with
 * NULL when a node was lost or did not answer within timeout_ms, the
 * cluster reported itself down (CLUSTERDOWN,
 * TRYAGAIN, MASTERDOWN, LOADING) or the client is freed; sl_acluster_why then
 * says why. SCAN answers [cursor, keys] with a cursor of its own ("0" at the
 * end of the last primary). SL_ERR_UNAVAILABLE when nothing could be queued
 * (no map yet, the slot's node down): fn does not run. SL_ERR_INVALID: a
 * SCAN cursor this client did not make. */
int sl_acluster_command(sl_acluster *c, redisCallbackFn *fn, void *priv, int argc,
                        const char **argv, const size_t *lens);

/* The k-th known node (primaries of the map, then the seeds, k taken modulo
 * their number) into host/port, for a connection that any node serves
 * (SUBSCRIBE: classic pub/sub messages reach every node of a cluster). */
void sl_acluster_node(const sl_acluster *c, int k, char *host, size_t cap, int *port);

/* Why the last read failed (static storage of c; "" when none did). */
const char *sl_acluster_why(const sl_acluster *c);

/* Close every connection; pending callbacks run with NULL first. */
void sl_acluster_free(sl_acluster *c);

#endif
