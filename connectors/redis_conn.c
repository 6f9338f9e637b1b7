/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis connection: connecting with bounded
 * timeouts, AUTH/SELECT, reconnection with exponential backoff and jitter
 * (reported, never slept), classification of failures into retriable
 * (SL_ERR_UNAVAILABLE) and configuration errors (SL_ERR_INVALID), and the
 * once-per-connection preparation for checkpoints (script load and the
 * redis/redis#14541 ACL check). With a redis+sentinel:// URL every
 * connection asks the sentinels for the primary and checks its ROLE first
 * (redis_sentinel.c). Passwords never appear in messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

extern const char sl_redis_checkpoint_lua[]; /* redis_checkpoint.c */

/* ---- backoff ----------------------------------------------------------- */

static uint32_t xorshift(uint32_t *s) {
  uint32_t x = *s ? *s : 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

int64_t sl_redis_backoff_ms(int attempt, int min_ms, int max_ms, uint32_t *rng) {
  if (min_ms <= 0)
    min_ms = 1;
  if (max_ms < min_ms)
    max_ms = min_ms;
  int64_t base = min_ms;
  for (int i = 0; i < attempt && base < max_ms; i++)
    base *= 2;
  if (base > max_ms)
    base = max_ms;
  /* Equal jitter: workers that lost Redis together do not return together,
   * yet each waits at least half the nominal delay. */
  int64_t half = base / 2;
  return base - half + (half > 0 ? (int64_t)(xorshift(rng) % (uint32_t)(half + 1)) : 0);
}

/* ---- connection -------------------------------------------------------- */

static void describe(sl_redis *r) {
  const sl_redis_url *u = &r->url;
  const char *cred = u->user[0] ? "@" : (u->password[0] ? ":***@" : "");
  if (u->nseeds) { /* Redis Cluster seeds */
    size_t n = (size_t)snprintf(r->describe, sizeof r->describe, "redis://%s%s", u->user, cred);
    for (int i = 0; i < u->nseeds && n < sizeof r->describe; i++) {
      int v6 = strchr(u->seeds[i].host, ':') != NULL;
      n += (size_t)snprintf(r->describe + n, sizeof r->describe - n, "%s%s%s%s:%d", i ? "," : "",
                            v6 ? "[" : "", u->seeds[i].host, v6 ? "]" : "", u->seeds[i].port);
    }
  } else if (!u->nsentinels) {
    int v6 = strchr(u->host, ':') != NULL;
    snprintf(r->describe, sizeof r->describe, "redis://%s%s%s%s%s:%d/%d", u->user, cred,
             v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, u->db);
  } else {
    size_t n =
        (size_t)snprintf(r->describe, sizeof r->describe, "redis+sentinel://%s%s", u->user, cred);
    for (int i = 0; i < u->nsentinels && n < sizeof r->describe; i++) {
      int v6 = strchr(u->sentinels[i].host, ':') != NULL;
      n += (size_t)snprintf(r->describe + n, sizeof r->describe - n, "%s%s%s%s:%d", i ? "," : "",
                            v6 ? "[" : "", u->sentinels[i].host, v6 ? "]" : "",
                            u->sentinels[i].port);
    }
    if (n < sizeof r->describe)
      snprintf(r->describe + n, sizeof r->describe - n, "/%s/%d", u->primary, u->db);
  }
  r->describe_base = strlen(r->describe);
}

/* Sentinel: "... (primary host:port)" after the URL, once known. */
static void describe_primary(sl_redis *r, const char *host, int port) {
  size_t n = r->describe_base;
  snprintf(r->describe + n, sizeof r->describe - n, " (primary %s:%d)", host, port);
}

const sl_redis_url *sl_redis_url_of(const sl_redis *r) { return &r->url; }

sl_redis *sl_redis_new(const char *url, const sl_redis_opts *opts, sl_error *err) {
  sl_redis *r = calloc(1, sizeof *r);
  if (!r) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (sl_redis_url_parse(url, &r->url, err) != SL_OK) {
    free(r);
    return NULL;
  }
  if (opts)
    r->opts = *opts;
  /* Several nodes in the URL: seeds of a Redis Cluster. */
  if (r->url.nseeds && !(r->cluster = sl_cluster_new())) {
    free(r);
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (r->opts.connect_timeout_ms <= 0)
    r->opts.connect_timeout_ms = 1000;
  if (r->opts.command_timeout_ms <= 0)
    r->opts.command_timeout_ms = 5000;
  if (r->opts.backoff_min_ms <= 0)
    r->opts.backoff_min_ms = 100;
  if (r->opts.backoff_max_ms <= 0)
    r->opts.backoff_max_ms = 10000;
  describe(r);
  r->rng = r->opts.seed;
  if (!r->rng) /* spread workers that start together */
    for (const char *s = r->describe; *s; s++)
      r->rng = r->rng * 31u + (unsigned char)*s + (uint32_t)(uintptr_t)r;
  return r;
}

void sl_redis_disconnect(sl_redis *r) {
  if (r && r->cluster) {
    sl_cluster_disconnect(r);
    r->state_ready = 0;
  } else if (r && r->ctx) {
    redisFree(r->ctx);
    r->ctx = NULL;
    r->state_ready = 0;
  }
}

void sl_redis_free(sl_redis *r) {
  if (!r)
    return;
  sl_redis_disconnect(r);
  sl_cluster_free(r->cluster);
  /* The password must not linger in freed memory. */
  volatile char *pw = r->url.password;
  for (size_t i = 0; i < sizeof r->url.password; i++)
    pw[i] = 0;
  free(r);
}

int sl_redis_is_connected(const sl_redis *r) { return r && r->ctx != NULL; }
const char *sl_redis_describe(const sl_redis *r) { return r->describe; }
const char *sl_redis_warning(const sl_redis *r) { return r->warning[0] ? r->warning : NULL; }

static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int sl_redis_reply_error(sl_redis *r, const redisReply *rep, const char *what, sl_error *err) {
  const char *m = rep && rep->str ? rep->str : "unexpected reply";
  if (starts(m, "WRONGPASS") || starts(m, "NOAUTH") || starts(m, "NOPERM") ||
      starts(m, "ERR invalid password") || starts(m, "ERR AUTH"))
    return sl_error_set(err, SL_ERR_INVALID,
                        "Redis at %s refused %s: %.200s (check the user, password and ACL "
                        "permissions in SLUICE_REDIS_URL)",
                        r->describe, what, m);
  if (starts(m, "ERR WAIT cannot be used with replica")) { /* demoted after our write */
    r->stale = 1;
    return sl_error_set(err, SL_ERR_UNAVAILABLE,
                        "Redis at %s: the node written is a replica now (failover): %s not "
                        "confirmed, retrying",
                        r->describe, what);
  }
  if (starts(m, "READONLY") || starts(m, "MASTERDOWN"))
    r->stale = 1; /* a replica now (failover): reconnect, via the sentinels if any */
  if (starts(m, "LOADING") || starts(m, "BUSY") || starts(m, "TRYAGAIN") ||
      starts(m, "MASTERDOWN") || starts(m, "CLUSTERDOWN") || starts(m, "READONLY") ||
      starts(m, "MISCONF"))
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "Redis at %s cannot serve %s now: %.200s",
                        r->describe, what, m);
  if (starts(m, "MOVED") || starts(m, "ASK"))
    return sl_error_set(err, r->cluster ? SL_ERR_UNAVAILABLE : SL_ERR_INVALID,
                        r->cluster ? "Redis Cluster at %s keeps redirecting %s (%.100s): slots "
                                     "are moving; retrying"
                                   : "Redis at %s redirected %s (%.100s) but did not answer "
                                     "CLUSTER SLOTS when sluice connected: allow CLUSTER SLOTS "
                                     "to the ACL user so sluice can route by slot",
                        r->describe, what, m);
  return sl_error_set(err, SL_ERR_INTERNAL, "Redis at %s failed %s: %.200s", r->describe, what, m);
}

int sl_redis_io_error(sl_redis *r, const char *what, sl_error *err) {
  const char *why = r->ctx && r->ctx->errstr[0] ? r->ctx->errstr : "connection lost";
  if (r->ctx && r->ctx->err == REDIS_ERR_OOM)
    why = "out of memory";
  sl_error_set(err, SL_ERR_UNAVAILABLE, "Redis at %s unreachable during %s: %s", r->describe, what,
               why);
  sl_redis_disconnect(r);
  return SL_ERR_UNAVAILABLE;
}

int sl_redis_read(sl_redis *r, redisReply **rep, const char *what, sl_error *err) {
  if (r->cluster)
    return sl_cluster_read(r, rep, what, err);
  void *p = NULL;
  *rep = NULL;
  if (!r->ctx || redisGetReply(r->ctx, &p) != REDIS_OK || !p) {
    if (p)
      freeReplyObject(p);
    return sl_redis_io_error(r, what, err);
  }
  *rep = p;
  return SL_OK;
}

int sl_redis_run(sl_redis *r, int argc, const char **argv, const size_t *argvlen, redisReply **rep,
                 const char *what, sl_error *err) {
  *rep = NULL;
  int arc = sl_redis_append(r, argc, argv, argvlen, what, err);
  if (arc != SL_OK)
    return arc;
  redisReply *x;
  int rc = sl_redis_read(r, &x, what, err);
  if (rc != SL_OK)
    return rc;
  if (x->type == REDIS_REPLY_ERROR) {
    rc = sl_redis_reply_error(r, x, what, err);
    freeReplyObject(x);
    return rc;
  }
  *rep = x;
  return SL_OK;
}

static int simple(sl_redis *r, int argc, const char **argv, const char *what, sl_error *err) {
  size_t lens[4];
  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  redisReply *rep;
  int rc = sl_redis_run(r, argc, argv, lens, &rep, what, err);
  if (rep)
    freeReplyObject(rep);
  return rc;
}

int sl_redis_open(sl_redis *r, const char *host, int port, redisContext **out, sl_error *err) {
  *out = NULL;
  int ms = r->opts.connect_timeout_ms;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  redisContext *c = redisConnectWithTimeout(host, port, tv);
  if (!c)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory connecting to Redis");
  if (c->err) {
    sl_error_set(err, SL_ERR_UNAVAILABLE, "cannot connect to Redis at %s (%s:%d): %s", r->describe,
                 host, port, c->errstr);
    redisFree(c);
    return SL_ERR_UNAVAILABLE;
  }
  ms = r->opts.command_timeout_ms;
  struct timeval ctv = {ms / 1000, (ms % 1000) * 1000};
  redisSetTimeout(c, ctv);
  redisEnableKeepAlive(c);
  /* simple() works on r->ctx: lend it this context for the handshake. */
  redisContext *saved = r->ctx;
  sl_cluster *cl = r->cluster;
  r->cluster = NULL;
  r->ctx = c;
  int rc = SL_OK;
  if (r->url.password[0] || r->url.user[0]) {
    const char *argv[3] = {"AUTH", r->url.user, r->url.password};
    rc = r->url.user[0] ? simple(r, 3, argv, "AUTH (user and password)", err)
                        : (argv[1] = r->url.password, simple(r, 2, argv, "AUTH (password)", err));
  }
  if (rc == SL_OK && r->url.db) {
    char db[16];
    snprintf(db, sizeof db, "%d", r->url.db);
    const char *argv[2] = {"SELECT", db};
    rc = simple(r, 2, argv, "SELECT of the database in the URL", err);
    if (rc == SL_ERR_INTERNAL && err && strstr(err->message, "cluster mode"))
      rc = sl_error_set(err, SL_ERR_INVALID,
                        "Redis at %s is a Redis Cluster, which has database 0 only: drop '/%d' "
                        "from SLUICE_REDIS_URL",
                        r->describe, r->url.db);
    else if (rc == SL_ERR_INTERNAL) /* "ERR DB index is out of range" */
      rc = err ? (err->code = SL_ERR_INVALID, err->retriable = 0, SL_ERR_INVALID) : SL_ERR_INVALID;
  }
  if (rc == SL_OK) {
    const char *argv[1] = {"PING"};
    rc = simple(r, 1, argv, "PING", err);
  }
  /* simple() dropped the context on an I/O error (r->ctx is NULL then). */
  if (rc != SL_OK && r->ctx)
    redisFree(r->ctx);
  else if (rc == SL_OK)
    *out = c;
  r->ctx = saved;
  r->cluster = cl;
  return rc;
}

int sl_redis_connect(sl_redis *r, sl_error *err) {
  if (r->ctx && r->stale)
    sl_redis_disconnect(r);
  if (r->ctx)
    return SL_OK;
  r->state_ready = 0;
  r->stale = 0;
  if (r->cluster)
    return sl_cluster_connect(r, err);
  const char *host = r->url.host;
  int port = r->url.port, used = 0;
  char primary[256];
  if (r->url.nsentinels) {
    int rc = sl_redis_sentinel_resolve(&r->url, r->sentinel_first, r->opts.connect_timeout_ms,
                                       primary, sizeof primary, &port, &used, err);
    if (rc != SL_OK)
      return rc;
    host = primary;
    describe_primary(r, host, port);
  }
  redisContext *c;
  int rc = sl_redis_open(r, host, port, &c, err);
  if (rc != SL_OK)
    return rc;
  r->ctx = c;
  /* A sentinel that has not seen the failover yet names the old primary,
   * now a replica: ask another one first next time. */
  if (r->url.nsentinels && (rc = sl_redis_check_primary(r, err)) != SL_OK)
    r->sentinel_first = used + 1;
  /* One node's URL may be any node of a Redis Cluster (SPEC 7). */
  if (rc == SL_OK && !r->url.nsentinels)
    rc = sl_cluster_detect(r, err);
  if (rc != SL_OK)
    sl_redis_disconnect(r);
  return rc;
}

int sl_redis_ping(sl_redis *r, sl_error *err) {
  const char *argv[1] = {"PING"};
  return simple(r, 1, argv, "PING", err);
}

int sl_redis_ensure(sl_redis *r, int64_t now_ms, int64_t *retry_in_ms, sl_error *err) {
  if (retry_in_ms)
    *retry_in_ms = 0;
  if (r->ctx && r->stale)
    sl_redis_disconnect(r);
  if (r->ctx)
    return SL_OK;
  if (r->failures > 0 && now_ms < r->next_attempt_ms) {
    if (retry_in_ms)
      *retry_in_ms = r->next_attempt_ms - now_ms;
    if (err)
      *err = r->last_err;
    return r->last_err.code;
  }
  sl_error e;
  sl_error_clear(&e);
  int rc = sl_redis_connect(r, &e);
  if (rc == SL_OK) {
    r->failures = 0;
    return SL_OK;
  }
  int64_t delay =
      sl_redis_backoff_ms(r->failures, r->opts.backoff_min_ms, r->opts.backoff_max_ms, &r->rng);
  r->failures++;
  r->next_attempt_ms = now_ms + delay;
  r->last_err = e;
  if (retry_in_ms)
    *retry_in_ms = delay;
  if (err)
    *err = e;
  return rc;
}

redisContext *sl_redis_ctx(sl_redis *r, sl_error *err) {
  if ((!r->ctx || r->stale) && sl_redis_connect(r, err) != SL_OK)
    return NULL;
  return r->ctx;
}

/* ---- preparation for checkpoints ---------------------------------------- */

const char *sl_redis_script_sha(const sl_redis *r) { return r->sha; }
void sl_redis_script_lost(sl_redis *r) { r->state_ready = 0; }

/* redis/redis#14541: when Redis replays its AOF it runs the MULTI/EXEC
 * blocks (which is how script effects and transactions are logged) as a
 * client authenticated as `default`, and EXEC re-checks ACLs: if `default`
 * may not run the commands, every checkpoint write is silently dropped on
 * restart. Single commands are not affected. The fix is configuration (the
 * `default` user may stay `off` but needs the permissions), so we check it
 * with ACL DRYRUN and refuse to checkpoint when it is verifiably unsafe. */
static int check_aof_acl(sl_redis *r, sl_error *err) {
  static const char *const probes[][5] = {
      {"ACL", "DRYRUN", "default", "HSET", "sl:{check}:state:op"},
      {"ACL", "DRYRUN", "default", "HDEL", "sl:{check}:state:op"},
      {"ACL", "DRYRUN", "default", "SET", "sl:{check}:offset"},
  };
  const char *denied = NULL;
  for (size_t i = 0; i < sizeof probes / sizeof probes[0] && !denied; i++) {
    const char *argv[7];
    size_t lens[7];
    int n = 0;
    for (; n < 5; n++)
      argv[n] = probes[i][n];
    argv[n++] = "x"; /* field / value */
    if (strcmp(probes[i][3], "HSET") == 0)
      argv[n++] = "x";
    for (int j = 0; j < n; j++)
      lens[j] = strlen(argv[j]);
    int rc = sl_redis_append(r, n, argv, lens, "ACL DRYRUN", err);
    if (rc != SL_OK)
      return rc;
    redisReply *rep;
    rc = sl_redis_read(r, &rep, "ACL DRYRUN", err);
    if (rc != SL_OK)
      return rc;
    if (rep->type == REDIS_REPLY_ERROR) {
      /* No permission for ACL DRYRUN, or Redis < 7: we cannot tell. */
      snprintf(r->warning, sizeof r->warning,
               "could not verify that the Redis user 'default' may run checkpoint writes "
               "(%.120s); if AOF is on and 'default' has no permissions, Redis 7.0 drops "
               "checkpoints when it restarts (redis/redis#14541): see docs/state.md",
               rep->str);
      freeReplyObject(rep);
      return SL_OK;
    }
    if (rep->type != REDIS_REPLY_STATUS || strcmp(rep->str, "OK") != 0)
      denied = probes[i][3];
    freeReplyObject(rep);
  }
  if (!denied)
    return SL_OK;
  /* Only the AOF is affected: RDB snapshots store data, not commands. */
  const char *argv[3] = {"CONFIG", "GET", "appendonly"};
  size_t lens[3] = {6, 3, 10};
  redisReply *rep = NULL;
  sl_error e;
  int aof = 1; /* unknown counts as on */
  if (sl_redis_run(r, 3, argv, lens, &rep, "CONFIG GET appendonly", &e) == SL_OK &&
      rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
      rep->element[1]->type == REDIS_REPLY_STRING && strcmp(rep->element[1]->str, "no") == 0)
    aof = 0;
  if (rep)
    freeReplyObject(rep);
  if (!r->ctx)
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "Redis at %s: connection lost", r->describe);
  if (!aof) {
    snprintf(r->warning, sizeof r->warning,
             "the Redis user 'default' may not run %s; harmless while appendonly is off, but "
             "with AOF on Redis 7.0 drops checkpoints on restart (redis/redis#14541)",
             denied);
    return SL_OK;
  }
  if (r->opts.allow_unsafe_acl) {
    snprintf(r->warning, sizeof r->warning,
             "UNSAFE: the Redis user 'default' may not run %s with AOF on: checkpoints may be "
             "lost when Redis restarts (redis/redis#14541)",
             denied);
    return SL_OK;
  }
  return sl_error_set(
      err, SL_ERR_INVALID,
      "Redis at %s would lose checkpoints on restart: AOF is on (or could not be checked) and "
      "the ACL user 'default' may not run %s on sl:* keys, so Redis 7.0 skips the checkpoint "
      "transactions when it replays the AOF (redis/redis#14541). Give 'default' the permissions "
      "and keep it disabled: ACL SETUSER default off ~* &* +@all (see docs/state.md)",
      r->describe, denied);
}

static int load_script(sl_redis *r, sl_error *err) {
  const char *argv[3] = {"SCRIPT", "LOAD", sl_redis_checkpoint_lua};
  size_t lens[3] = {6, 4, strlen(sl_redis_checkpoint_lua)};
  redisReply *rep;
  int rc = sl_redis_run(r, 3, argv, lens, &rep, "SCRIPT LOAD of the checkpoint script", err);
  if (rc != SL_OK)
    return rc;
  if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
    freeReplyObject(rep);
    return sl_error_set(err, SL_ERR_INTERNAL, "Redis at %s: unexpected SCRIPT LOAD reply",
                        r->describe);
  }
  memcpy(r->sha, rep->str, 40);
  r->sha[40] = '\0';
  freeReplyObject(rep);
  return SL_OK;
}

int sl_redis_state_ready(sl_redis *r, sl_error *err) {
  if (r->ctx && r->state_ready && !r->stale)
    return SL_OK;
  if (!sl_redis_ctx(r, err))
    return err ? err->code : SL_ERR_UNAVAILABLE;
  int rc = check_aof_acl(r, err);
  if (rc != SL_OK)
    return rc;
  /* Cluster: every primary runs the script (EVALSHA goes to the slot's node). */
  int nodes = sl_redis_nprimaries(r);
  for (int i = 0; i < nodes && rc == SL_OK; i++)
    if ((rc = sl_redis_pin(r, i, err)) == SL_OK)
      rc = load_script(r, err);
  if (rc != SL_OK)
    return rc;
  r->state_ready = 1;
  return SL_OK;
}

int sl_redis_partition_prefix(sl_buf *b, const char *pipeline, const char *topic,
                              int32_t partition) {
  sl_buf_reset(b);
  return sl_buf_printf(b, "sl:{%s:%s:%d}:", pipeline, topic, (int)partition);
}
