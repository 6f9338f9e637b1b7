/* SPDX-License-Identifier: Apache-2.0 */
/* Redis behind Sentinel (redis+sentinel:// URLs) and replicated writes:
 * asking the sentinels for the primary's address, checking with ROLE that a
 * node is the primary before writing to it, and WAIT for replicas after a
 * checkpoint when the URL asks for it. A failover is seen as a lost
 * connection, a READONLY/MASTERDOWN reply or ROLE naming a replica; the
 * connection is then dropped and the next attempt asks the sentinels again
 * (redis_conn.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

/* Append "; host:port: why" to a bounded summary. */
static void note(char *sum, size_t cap, const sl_redis_addr *s, const char *why) {
  size_t n = strlen(sum);
  if (n + 1 < cap)
    snprintf(sum + n, cap - n, "%s%s:%d: %.120s", n ? "; " : "", s->host, s->port, why);
}

/* One sentinel: SL_OK with host/port; SL_ERR_NOT_FOUND when it does not
 * monitor the primary; SL_ERR_INVALID when it refuses our password;
 * SL_ERR_UNAVAILABLE otherwise. `why` gets the reason. */
static int ask_one(const sl_redis_url *u, const sl_redis_addr *s, int timeout_ms, char *host,
                   size_t cap, int *port, char *why, size_t wcap) {
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  redisContext *c = redisConnectWithTimeout(s->host, s->port, tv);
  if (!c || c->err) {
    snprintf(why, wcap, "%s", c ? c->errstr : "out of memory");
    redisFree(c);
    return SL_ERR_UNAVAILABLE;
  }
  redisSetTimeout(c, tv);
  int rc = SL_ERR_UNAVAILABLE;
  redisReply *rep = NULL;
  if (u->sentinel_password[0]) {
    const char *argv[2] = {"AUTH", u->sentinel_password};
    rep = redisCommandArgv(c, 2, argv, NULL);
    if (!rep) {
      snprintf(why, wcap, "%s", c->errstr[0] ? c->errstr : "connection lost");
      goto done;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
      snprintf(why, wcap, "refused sentinel_password: %.100s", rep->str);
      rc = SL_ERR_INVALID;
      goto done;
    }
    freeReplyObject(rep);
  }
  const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", u->primary};
  rep = redisCommandArgv(c, 3, argv, NULL);
  if (!rep) {
    snprintf(why, wcap, "%s", c->errstr[0] ? c->errstr : "connection lost");
  } else if (rep->type == REDIS_REPLY_NIL) {
    snprintf(why, wcap, "monitors no primary named '%s'", u->primary);
    rc = SL_ERR_NOT_FOUND;
  } else if (rep->type == REDIS_REPLY_ERROR) {
    snprintf(why, wcap, "%.120s", rep->str);
    if (strncmp(rep->str, "NOAUTH", 6) == 0 || strncmp(rep->str, "WRONGPASS", 9) == 0)
      rc = SL_ERR_INVALID;
  } else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
             rep->element[0]->type != REDIS_REPLY_STRING ||
             rep->element[1]->type != REDIS_REPLY_STRING || rep->element[0]->len >= cap ||
             atoi(rep->element[1]->str) <= 0 || atoi(rep->element[1]->str) > 65535) {
    snprintf(why, wcap, "unexpected reply to SENTINEL get-master-addr-by-name");
  } else {
    memcpy(host, rep->element[0]->str, rep->element[0]->len + 1);
    *port = atoi(rep->element[1]->str);
    rc = SL_OK;
  }
done:
  if (rep)
    freeReplyObject(rep);
  redisFree(c);
  return rc;
}

int sl_redis_sentinel_resolve(const sl_redis_url *u, int first, int timeout_ms, char *host,
                              size_t cap, int *port, int *used, sl_error *err) {
  char sum[768] = "";
  int ninvalid = 0, nmissing = 0;
  for (int k = 0; k < u->nsentinels; k++) {
    int i = (first + k) % u->nsentinels;
    char why[256];
    int rc = ask_one(u, &u->sentinels[i], timeout_ms, host, cap, port, why, sizeof why);
    if (rc == SL_OK) {
      if (used)
        *used = i;
      return SL_OK;
    }
    ninvalid += rc == SL_ERR_INVALID;
    nmissing += rc == SL_ERR_NOT_FOUND;
    note(sum, sizeof sum, &u->sentinels[i], why);
  }
  /* Every sentinel answered and none can help: a configuration error, not a
   * failover in progress. Otherwise retry (some were unreachable). */
  if (ninvalid + nmissing == u->nsentinels)
    return sl_error_set(err, SL_ERR_INVALID,
                        "no sentinel gives the address of primary '%s' (%s): check the primary's "
                        "name after the sentinels in SLUICE_REDIS_URL and sentinel_password",
                        u->primary, sum);
  return sl_error_set(err, SL_ERR_UNAVAILABLE, "no sentinel gave the address of primary '%s' (%s)",
                      u->primary, sum);
}

int sl_redis_check_primary(sl_redis *r, sl_error *err) {
  const char *argv[1] = {"ROLE"};
  size_t lens[1] = {4};
  redisReply *rep;
  int rc = sl_redis_run(r, 1, argv, lens, &rep, "ROLE (is this node the primary?)", err);
  if (rc == SL_ERR_INVALID) /* NOPERM: ROLE is in @dangerous */
    return sl_error_set(err, SL_ERR_INVALID,
                        "Redis at %s refused ROLE, which sluice runs behind Sentinel to make sure "
                        "it writes to the primary: allow it to the ACL user (+role; see "
                        "docs/state.md, \"Redis Sentinel\")",
                        sl_redis_describe(r));
  if (rc != SL_OK)
    return rc;
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
      rep->element[0]->type != REDIS_REPLY_STRING) {
    freeReplyObject(rep);
    return sl_error_set(err, SL_ERR_INTERNAL, "Redis at %s: unexpected reply to ROLE",
                        sl_redis_describe(r));
  }
  if (strcmp(rep->element[0]->str, "master") != 0) {
    sl_error_set(err, SL_ERR_UNAVAILABLE,
                 "Redis at %s reports itself a %s, not the primary (a failover is under way): "
                 "nothing written there; asking the sentinels again",
                 sl_redis_describe(r), rep->element[0]->str);
    freeReplyObject(rep);
    sl_redis_disconnect(r);
    return SL_ERR_UNAVAILABLE;
  }
  freeReplyObject(rep);
  return SL_OK;
}

int sl_redis_wait_replicas(sl_redis *r, const char *what, sl_error *err) {
  if (sl_redis_url_of(r)->wait_replicas <= 0)
    return SL_OK;
  /* Cluster: WAIT counts the writes of one connection, so each primary
   * written is asked. */
  return r->cluster ? sl_cluster_wait(r, what, err) : sl_redis_wait_one(r, what, err);
}

int sl_redis_wait_one(sl_redis *r, const char *what, sl_error *err) {
  const sl_redis_url *u = sl_redis_url_of(r);
  char n[16], ms[16];
  snprintf(n, sizeof n, "%d", u->wait_replicas);
  snprintf(ms, sizeof ms, "%d", u->wait_timeout_ms);
  const char *argv[3] = {"WAIT", n, ms};
  size_t lens[3] = {4, strlen(n), strlen(ms)};
  redisReply *rep;
  int rc = sl_redis_run(r, 3, argv, lens, &rep, "WAIT for replicas", err);
  if (rc == SL_ERR_INVALID) /* NOPERM: WAIT is in @dangerous */
    return sl_error_set(err, SL_ERR_INVALID,
                        "Redis at %s refused WAIT, which wait_replicas in SLUICE_REDIS_URL needs: "
                        "allow it to the ACL user (+wait; see docs/state.md, \"Redis Sentinel\")",
                        sl_redis_describe(r));
  if (rc != SL_OK)
    return rc;
  long long acked = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
  freeReplyObject(rep);
  if (acked < 0)
    return sl_error_set(err, SL_ERR_INTERNAL, "Redis at %s: unexpected reply to WAIT",
                        sl_redis_describe(r));
  if (acked < u->wait_replicas)
    return sl_error_set(err, SL_ERR_UNAVAILABLE,
                        "%s reached the primary %s but only %lld of the %d replicas asked for "
                        "(wait_replicas) acknowledged it within %d ms: not confirmed, retrying",
                        what, sl_redis_describe(r), acked, u->wait_replicas, u->wait_timeout_ms);
  return SL_OK;
}
