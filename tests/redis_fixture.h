/* SPDX-License-Identifier: Apache-2.0 */
/* A throwaway redis-server for integration tests: started on a free loopback
 * port in a fresh temp dir, stopped (and the dir removed) afterwards. Can be
 * killed with SIGKILL and restarted on the same dir and port to test
 * durability. */
#ifndef SLUICE_TEST_REDIS_FIXTURE_H
#define SLUICE_TEST_REDIS_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>

typedef struct rf_opts {
  int appendonly;          /* appendonly yes */
  const char *appendfsync; /* "always", "everysec" (default) or "no" */
  const char *user;        /* an ACL user to create with all permissions, or NULL */
  const char *password;    /* its password (also `requirepass` when no user) */
  const char *user_rules;  /* ACL rules of `user` (default "~* &* +@all") */
  const char *default_acl; /* rules of the `default` user, e.g. "off nopass -@all" */
  int replicaof;           /* a replica of the server on this loopback port */
  /* A sentinel (redis-server --sentinel) monitoring the primary on this port
   * as "mymaster" with quorum `quorum` (default 1), down after 500 ms. */
  int sentinel_of;
  int quorum;
  /* A Redis Cluster node (cluster-enabled yes, its nodes.conf in the dir)
   * with this cluster-node-timeout in ms (how soon a dead primary is failed
   * over). Joined to others by the test (redis-cli --cluster create). */
  int cluster_node_timeout_ms;
} rf_opts;

typedef struct rf_server {
  char dir[128];
  char conf[160];
  int port;
  pid_t pid;    /* 0 when not running */
  int sentinel; /* started with --sentinel */
} rf_server;

/* Start a server; 0 on success (it answers PING or NOAUTH), -1 otherwise
 * (message on stderr). `o` may be NULL. */
int rf_start(rf_server *s, const rf_opts *o);
/* SIGKILL: no shutdown, no final fsync. */
void rf_kill9(rf_server *s);
/* Start again on the same dir, config and port. */
int rf_restart(rf_server *s);
/* Stop (SIGTERM, wait) and remove the dir. Safe to call twice. */
void rf_stop(rf_server *s);
/* "redis://[user:pass@]127.0.0.1:port[/db]" into buf. user/pass may be NULL. */
const char *rf_url(const rf_server *s, const char *user, const char *pass, int db, char *buf,
                   size_t cap);
/* One HTTP GET of `path` on a loopback port: the status code, or -1. */
int rf_http_status(int port, const char *path);
/* The same, with the whole response (head and body, up to cap - 1 bytes)
 * into out, read until the server closes. */
int rf_http_get(int port, const char *path, char *out, size_t cap);
/* A loopback port nothing listens on (for "Redis down" tests). */
int rf_free_port(void);

#endif
