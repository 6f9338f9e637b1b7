/* SPDX-License-Identifier: Apache-2.0 */
/* A Redis Cluster of real servers for the cluster suites: three primaries
 * and three replicas on loopback (redis_fixture.h servers joined by
 * redis-cli --cluster create), plus raw commands on one node. Waits are
 * bounded polls (30 s at most). */
#ifndef SLUICE_TEST_REDIS_CLUSTER_FIXTURE_H
#define SLUICE_TEST_REDIS_CLUSTER_FIXTURE_H

#include <hiredis/hiredis.h>

#include "redis_fixture.h"

#define RCF_NODES 6

/* Start RCF_NODES nodes (cluster-node-timeout node_timeout_ms), create the
 * cluster, wait until every node says cluster_state:ok and every primary's
 * replica is attached. 0, or -1 with everything stopped. */
int rcf_start(rf_server nodes[RCF_NODES], int node_timeout_ms);
void rcf_stop(rf_server nodes[RCF_NODES]);
void rcf_pause_ms(int ms);
/* A command on a new connection to `port`: the reply (or NULL). */
redisReply *rcf_raw(int port, const char *fmt, ...);
/* 1 when `cmd` on `port` answers text containing `want`. */
int rcf_raw_contains(int port, const char *cmd, const char *want);
/* Until `cmd` on `port` answers text containing `want`: 0, or -1 after 30 s. */
int rcf_wait_for(int port, const char *cmd, const char *want);
/* The port of the primary serving `slot` (CLUSTER SLOTS of a running node), or -1. */
int rcf_owner(const rf_server nodes[RCF_NODES], int slot);
/* CLUSTER MYID of the node on `port` into id ("?" when it does not answer). */
void rcf_node_id(int port, char *id, size_t cap);
/* The port of the replica of the primary on `primary`, or -1. */
int rcf_replica_of(const rf_server nodes[RCF_NODES], int primary);

/* A primary other than the one on `port`, or -1. */
int rcf_other_primary(const rf_server nodes[RCF_NODES], int port);
/* Start moving `slot` from the primary `from` to the primary `to` and move
 * `key` (of that slot) there: `from` then answers ASK for it. 0, or -1. */
int rcf_migrate_begin(int from, int to, int slot, const char *key);
/* Finish: every node learns that `slot` is `to`'s (its old owner answers MOVED). */
void rcf_migrate_end(const rf_server nodes[RCF_NODES], int slot, int to);

#endif
