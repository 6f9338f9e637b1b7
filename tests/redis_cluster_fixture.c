/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis Cluster fixture (see redis_cluster_fixture.h). */
#include "redis_cluster_fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void rcf_pause_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

redisReply *rcf_raw(int port, const char *fmt, ...) {
  redisContext *c = redisConnect("127.0.0.1", port);
  if (!c || c->err) {
    redisFree(c);
    return NULL;
  }
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(c, fmt, ap);
  va_end(ap);
  redisFree(c);
  return r;
}

int rcf_raw_contains(int port, const char *cmd, const char *want) {
  redisReply *r = rcf_raw(port, cmd);
  int ok = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
           strstr(r->str, want) != NULL;
  if (r)
    freeReplyObject(r);
  return ok;
}

int rcf_wait_for(int port, const char *cmd, const char *want) {
  for (int i = 0; i < 300; i++) {
    if (rcf_raw_contains(port, cmd, want))
      return 0;
    rcf_pause_ms(100);
  }
  fprintf(stderr, "cluster test: '%s' on %d never answered '%s'\n", cmd, port, want);
  return -1;
}

int rcf_owner(const rf_server nodes[RCF_NODES], int slot) {
  for (int i = 0; i < RCF_NODES; i++) {
    if (!nodes[i].pid)
      continue;
    redisReply *r = rcf_raw(nodes[i].port, "CLUSTER SLOTS");
    int port = -1;
    for (size_t j = 0; r && r->type == REDIS_REPLY_ARRAY && j < r->elements; j++) {
      redisReply *e = r->element[j];
      if (slot >= e->element[0]->integer && slot <= e->element[1]->integer)
        port = (int)e->element[2]->element[1]->integer;
    }
    if (r)
      freeReplyObject(r);
    if (port > 0)
      return port;
  }
  return -1;
}

void rcf_node_id(int port, char *id, size_t cap) {
  redisReply *r = rcf_raw(port, "CLUSTER MYID");
  snprintf(id, cap, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "?");
  if (r)
    freeReplyObject(r);
}

int rcf_replica_of(const rf_server nodes[RCF_NODES], int primary) {
  char want[64];
  snprintf(want, sizeof want, "master_port:%d", primary);
  for (int i = 0; i < RCF_NODES; i++)
    if (nodes[i].pid && rcf_raw_contains(nodes[i].port, "INFO replication", want))
      return nodes[i].port;
  return -1;
}

int rcf_other_primary(const rf_server nodes[RCF_NODES], int port) {
  for (int i = 0; i < RCF_NODES; i++)
    if (nodes[i].pid && nodes[i].port != port &&
        rcf_raw_contains(nodes[i].port, "INFO replication", "role:master"))
      return nodes[i].port;
  return -1;
}

int rcf_migrate_begin(int from, int to, int slot, const char *key) {
  char fid[64], tid[64];
  rcf_node_id(from, fid, sizeof fid);
  rcf_node_id(to, tid, sizeof tid);
  freeReplyObject(rcf_raw(to, "CLUSTER SETSLOT %d IMPORTING %s", slot, fid));
  freeReplyObject(rcf_raw(from, "CLUSTER SETSLOT %d MIGRATING %s", slot, tid));
  redisReply *m = rcf_raw(from, "MIGRATE 127.0.0.1 %d %s 0 5000", to, key);
  int ok = m && m->type == REDIS_REPLY_STATUS;
  if (m)
    freeReplyObject(m);
  return ok ? 0 : -1;
}

void rcf_migrate_end(const rf_server nodes[RCF_NODES], int slot, int to) {
  char tid[64];
  rcf_node_id(to, tid, sizeof tid);
  for (int i = 0; i < RCF_NODES; i++)
    if (nodes[i].pid)
      freeReplyObject(rcf_raw(nodes[i].port, "CLUSTER SETSLOT %d NODE %s", slot, tid));
}

static int primaries_with_replicas(const rf_server nodes[RCF_NODES]) {
  int n = 0;
  for (int i = 0; i < RCF_NODES; i++)
    n += rcf_raw_contains(nodes[i].port, "INFO replication", "connected_slaves:1");
  return n;
}

void rcf_stop(rf_server nodes[RCF_NODES]) {
  for (int i = 0; i < RCF_NODES; i++)
    rf_stop(&nodes[i]);
}

int rcf_start(rf_server nodes[RCF_NODES], int node_timeout_ms) {
  rf_opts o = {.cluster_node_timeout_ms = node_timeout_ms};
  memset(nodes, 0, RCF_NODES * sizeof *nodes);
  for (int i = 0; i < RCF_NODES; i++)
    if (rf_start(&nodes[i], &o) != 0)
      goto fail;
  char cmd[1024];
  int n = snprintf(cmd, sizeof cmd, "redis-cli --cluster create");
  for (int i = 0; i < RCF_NODES; i++)
    n += snprintf(cmd + n, sizeof cmd - (size_t)n, " 127.0.0.1:%d", nodes[i].port);
  snprintf(cmd + n, sizeof cmd - (size_t)n,
           " --cluster-replicas 1 --cluster-yes >/dev/null 2>&1 </dev/null");
  if (system(cmd) != 0) {
    fprintf(stderr, "cluster test: redis-cli --cluster create failed\n");
    goto fail;
  }
  for (int i = 0; i < RCF_NODES; i++)
    if (rcf_wait_for(nodes[i].port, "CLUSTER INFO", "cluster_state:ok") != 0)
      goto fail;
  for (int i = 0; i < 300 && primaries_with_replicas(nodes) < 3; i++)
    rcf_pause_ms(100);
  if (primaries_with_replicas(nodes) == 3)
    return 0;
fail:
  rcf_stop(nodes);
  return -1;
}
