/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP API's asynchronous Redis Cluster client
 * (connectors/redis_cluster_async.c) against real servers: three primaries
 * and three replicas on loopback. Reads routed by slot, MGET split per key
 * and answered in order, PING on every primary, SCAN visiting every primary
 * behind one cursor, ASK and MOVED followed, no node reachable, and a
 * primary killed with SIGKILL: the reads of its slots fail with a reason
 * until its replica is promoted, then succeed again. Waits are bounded. */
#include <CUnit/CUnit.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../connectors/redis_cluster_async.h"
#include "redis_cluster_fixture.h"

#define NKEYS 200

static rf_server nodes[RCF_NODES];
static int read_timeout_ms = 2000; /* of the clients opened next */

static int setup(void) { return rcf_start(nodes, 1000); }

static int teardown(void) {
  rcf_stop(nodes);
  return 0;
}

/* One read's outcome, rendered as text: "nil", "S:text" (string), "+text"
 * (status), "-text" (error), "[a,b,...]" (array of those), or "NULL". */
typedef struct outcome {
  int done;
  char text[16384];
} outcome;

static void render(sl_buf *b, const redisReply *r) {
  if (!r) {
    sl_buf_puts(b, "NULL");
  } else if (r->type == REDIS_REPLY_NIL) {
    sl_buf_puts(b, "nil");
  } else if (r->type == REDIS_REPLY_ARRAY) {
    sl_buf_putc(b, '[');
    for (size_t i = 0; i < r->elements; i++) {
      if (i)
        sl_buf_putc(b, ',');
      render(b, r->element[i]);
    }
    sl_buf_putc(b, ']');
  } else if (r->type == REDIS_REPLY_INTEGER) {
    sl_buf_printf(b, "%lld", r->integer);
  } else {
    sl_buf_puts(b, r->type == REDIS_REPLY_STATUS ? "+" : r->type == REDIS_REPLY_ERROR ? "-" : "S:");
    sl_buf_append(b, r->str, r->len);
  }
}

static void on_done(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  outcome *o = priv;
  sl_buf b = SL_BUF_INIT;
  render(&b, reply);
  snprintf(o->text, sizeof o->text, "%s", b.data ? b.data : "");
  sl_buf_free(&b);
  o->done = 1;
}

typedef struct client {
  struct event_base *base;
  sl_redis_url url;
  sl_acluster *c;
  outcome *o;
} client;

static void client_open_url(client *cl, const char *url) {
  sl_error err;
  cl->o = calloc(1, sizeof *cl->o);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cl->o);
  cl->base = event_base_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(cl->base);
  CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse(url, &cl->url, &err), SL_OK);
  cl->c = sl_acluster_new(cl->base, &cl->url, cl->url.host, cl->url.port, read_timeout_ms);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cl->c);
}

/* A client on node i's URL (any node: the map comes from it). */
static outcome *client_open(client *cl, int i) {
  char u[64];
  snprintf(u, sizeof u, "redis://127.0.0.1:%d", nodes[i].port);
  client_open_url(cl, u);
  return cl->o;
}

static void client_close(client *cl) {
  free(cl->o);
  sl_acluster_free(cl->c);
  event_base_free(cl->base);
}

/* Run argv: queued as soon as the client can (the map loads first; at most
 * `tries` turns of its one-second timer), then the loop until it answers.
 * Returns the outcome's text; "UNAVAILABLE" when it could never be queued. */
static const char *run(client *cl, outcome *o, int tries, int argc, const char **argv) {
  size_t lens[16];
  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  o->done = 0;
  int rc = SL_ERR_UNAVAILABLE;
  for (int t = 0; t < tries * 10 && rc != SL_OK; t++) {
    if ((rc = sl_acluster_command(cl->c, on_done, o, argc, argv, lens)) != SL_OK) {
      event_base_loop(cl->base, EVLOOP_NONBLOCK);
      rcf_pause_ms(100);
    }
  }
  if (rc != SL_OK)
    return strcpy(o->text, "UNAVAILABLE");
  while (!o->done)
    event_base_loop(cl->base, EVLOOP_ONCE);
  return o->text;
}

static const char *run2(client *cl, outcome *o, const char *cmd, const char *arg) {
  const char *argv[2] = {cmd, arg};
  return run(cl, o, 50, arg ? 2 : 1, argv);
}

/* Keys as:0..as:199 = v0..v199, written on their owners directly. */
static void write_keys(void) {
  for (int i = 0; i < NKEYS; i++) {
    char k[16];
    snprintf(k, sizeof k, "as:%d", i);
    redisReply *r = rcf_raw(rcf_owner(nodes, sl_redis_key_slot(k, strlen(k))), "SET %s v%d", k, i);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
  }
}

static void test_reads_by_slot(void) {
  write_keys();
  client cl;
  outcome *o = client_open(&cl, 4); /* a replica's URL: the map comes from it */
  int owners[RCF_NODES] = {0}, nowners = 0;
  for (int i = 0; i < NKEYS; i++) {
    char k[16], want[24];
    snprintf(k, sizeof k, "as:%d", i);
    snprintf(want, sizeof want, "S:v%d", i);
    CU_ASSERT_STRING_EQUAL(run2(&cl, o, "GET", k), want);
    int p = rcf_owner(nodes, sl_redis_key_slot(k, strlen(k)));
    for (int j = 0; j < RCF_NODES; j++)
      if (nodes[j].port == p && !owners[j])
        owners[j] = 1, nowners++;
  }
  CU_ASSERT_EQUAL(nowners, 3);
  /* MGET across every slot: one answer, in the order asked, nil for none. */
  const char *argv[NKEYS + 2];
  char keys[NKEYS][16];
  argv[0] = "MGET";
  sl_buf want = SL_BUF_INIT;
  sl_buf_putc(&want, '[');
  for (int i = 0; i < NKEYS; i++) {
    snprintf(keys[i], sizeof keys[i], "as:%d", NKEYS - 1 - i);
    argv[i + 1] = keys[i];
    sl_buf_printf(&want, "S:v%d,", NKEYS - 1 - i);
  }
  argv[NKEYS + 1] = "as:none";
  sl_buf_puts(&want, "nil]");
  size_t lens[NKEYS + 2];
  for (int i = 0; i < NKEYS + 2; i++)
    lens[i] = strlen(argv[i]);
  o->done = 0;
  CU_ASSERT_EQUAL_FATAL(sl_acluster_command(cl.c, on_done, o, NKEYS + 2, argv, lens), SL_OK);
  while (!o->done)
    event_base_loop(cl.base, EVLOOP_ONCE);
  CU_ASSERT_STRING_EQUAL(o->text, want.data);
  sl_buf_free(&want);
  /* A list key: MGET says nil, as Redis does. */
  freeReplyObject(rcf_raw(rcf_owner(nodes, sl_redis_key_slot("as:list", 7)), "RPUSH as:list x"));
  const char *m2[3] = {"MGET", "as:list", "as:1"};
  CU_ASSERT_STRING_EQUAL(run(&cl, o, 1, 3, m2), "[nil,S:v1]");
  CU_ASSERT_STRING_EQUAL(run2(&cl, o, "PING", NULL), "+PONG");
  CU_ASSERT_EQUAL(strncmp(run2(&cl, o, "GET", "as:list"), "-WRONGTYPE", 10), 0);
  client_close(&cl);
}

/* SCAN with our cursor visits the three primaries in turn. */
static void test_scan_every_primary(void) {
  client cl;
  outcome *o = client_open(&cl, 0);
  char cursor[64] = "0", seen_slots[8][16];
  int nslots = 0, calls = 0;
  char *found = calloc(NKEYS, 1);
  do {
    const char *argv[6] = {"SCAN", cursor, "MATCH", "as:*", "COUNT", "50"};
    const char *t = run(&cl, o, 50, 6, argv);
    CU_ASSERT_FATAL(strncmp(t, "[S:", 3) == 0);
    const char *comma = strchr(t, ',');
    snprintf(cursor, sizeof cursor, "%.*s", (int)(comma - t - 3), t + 3);
    for (const char *p = comma; (p = strstr(p, "S:as:")); p++) {
      int k = atoi(p + 5);
      if (k >= 0 && k < NKEYS && p[5] >= '0' && p[5] <= '9')
        found[k] = 1;
    }
    char slot[16];
    snprintf(slot, sizeof slot, "%.*s", (int)strcspn(cursor, ":"), cursor);
    int known = 0;
    for (int i = 0; i < nslots; i++)
      known |= strcmp(seen_slots[i], slot) == 0;
    if (!known && strchr(cursor, ':') && nslots < 8)
      snprintf(seen_slots[nslots++], sizeof seen_slots[0], "%s", slot);
    calls++;
  } while (strcmp(cursor, "0") != 0 && calls < 1000);
  CU_ASSERT_STRING_EQUAL(cursor, "0");
  int n = 0;
  for (int i = 0; i < NKEYS; i++)
    n += found[i];
  CU_ASSERT_EQUAL(n, NKEYS);
  CU_ASSERT_EQUAL(nslots, 3); /* "SLOT:CURSOR": each primary by its first slot */
  /* A cursor that is not ours is refused, not sent. */
  const char *bad[2] = {"SCAN", "17"};
  size_t bl[2] = {4, 2};
  CU_ASSERT_EQUAL(sl_acluster_command(cl.c, on_done, o, 2, bad, bl), SL_ERR_INVALID);
  free(found);
  client_close(&cl);
}

/* A slot half migrated answers ASK; once moved, the client's map is stale
 * and the old owner answers MOVED. Both are followed. */
static void test_ask_and_moved(void) {
  client cl;
  outcome *o = client_open(&cl, 1);
  const char *k = "{aask}:one", *k2 = "{aask}:two";
  int slot = sl_redis_key_slot(k, strlen(k));
  int from = rcf_owner(nodes, slot), to = rcf_other_primary(nodes, from);
  CU_ASSERT_FATAL(from > 0 && to > 0);
  freeReplyObject(rcf_raw(from, "SET %s before", k));
  CU_ASSERT_STRING_EQUAL(run2(&cl, o, "GET", k), "S:before"); /* the map is loaded */
  CU_ASSERT_EQUAL_FATAL(rcf_migrate_begin(from, to, slot, k), 0);
  redisReply *plain = rcf_raw(from, "GET %s", k);
  CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
  CU_ASSERT_EQUAL(strncmp(plain->str ? plain->str : "", "ASK ", 4), 0);
  freeReplyObject(plain);
  CU_ASSERT_STRING_EQUAL(run2(&cl, o, "GET", k), "S:before"); /* ASK followed */
  rcf_migrate_end(nodes, slot, to);
  freeReplyObject(rcf_raw(to, "SET %s after", k2));
  /* The client still maps the slot to `from`: MOVED, followed, in an MGET too. */
  CU_ASSERT_STRING_EQUAL(run2(&cl, o, "GET", k2), "S:after");
  const char *mg[3] = {"MGET", k, k2};
  CU_ASSERT_STRING_EQUAL(run(&cl, o, 1, 3, mg), "[S:before,S:after]");
  CU_ASSERT_EQUAL(rcf_owner(nodes, slot), to);
  client_close(&cl);
}

static void kill_clients(void) {
  for (int i = 0; i < RCF_NODES; i++)
    if (nodes[i].pid)
      freeReplyObject(rcf_raw(nodes[i].port, "CLIENT KILL TYPE normal")); /* SKIPME yes */
}

/* Queue argv at once (no waiting for the client) and run until it answers. */
static const char *now(client *cl, int argc, const char **argv) {
  size_t lens[8];
  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  cl->o->done = 0;
  if (sl_acluster_command(cl->c, on_done, cl->o, argc, argv, lens) != SL_OK)
    return strcpy(cl->o->text, "UNAVAILABLE");
  while (!cl->o->done)
    event_base_loop(cl->base, EVLOOP_ONCE);
  return cl->o->text;
}

/* The server closes the client's connections (CLIENT KILL, as an idle
 * `timeout` does): reads sent on a dead socket are sent once more on a new
 * one, and once the loop has seen the close, a read opens a new connection
 * at once instead of treating the node as down. */
static void test_closed_connections_reopen(void) {
  client cl;
  outcome *o = client_open(&cl, 0);
  const char *mg[4] = {"MGET", "as:0", "as:1", "as:2"};
  CU_ASSERT_STRING_EQUAL(run(&cl, o, 50, 4, mg), "[S:v0,S:v1,S:v2]");
  kill_clients(); /* the client has not seen it yet */
  CU_ASSERT_STRING_EQUAL(now(&cl, 4, mg), "[S:v0,S:v1,S:v2]");
  kill_clients();
  for (int i = 0; i < 5; i++) { /* now it has */
    event_base_loop(cl.base, EVLOOP_NONBLOCK);
    rcf_pause_ms(50);
  }
  CU_ASSERT_STRING_EQUAL(now(&cl, 4, mg), "[S:v0,S:v1,S:v2]");
  CU_ASSERT_STRING_EQUAL(now(&cl, 2, (const char *[]){"GET", "as:3"}), "S:v3");
  client_close(&cl);
}

static void test_no_node_answers(void) {
  char u[128];
  snprintf(u, sizeof u, "redis://127.0.0.1:%d,127.0.0.1:%d", rf_free_port(), rf_free_port());
  client cl;
  client_open_url(&cl, u);
  CU_ASSERT_STRING_EQUAL(run(&cl, cl.o, 3, 2, (const char *[]){"GET", "as:1"}), "UNAVAILABLE");
  CU_ASSERT_PTR_NOT_NULL(strstr(sl_acluster_why(cl.c), "Redis Cluster"));
  client_close(&cl);
}

static void on_open(const redisAsyncContext *ac, int status) {
  (void)ac;
  (void)status;
}

/* sl_redis_async_open, which every API connection uses (cluster or not),
 * authenticates before the first command: the right password reads, a
 * wrong one gets the server's refusal (NOAUTH) as the reply, not a hang. */
static void test_open_authenticates(void) {
  rf_server solo;
  rf_opts ro = {.password = "s3cret"};
  CU_ASSERT_EQUAL_FATAL(rf_start(&solo, &ro), 0);
  const char *urls[2] = {"redis://:s3cret@127.0.0.1:%d", "redis://:wrong@127.0.0.1:%d"};
  const char *want[2] = {"nil", "-NOAUTH"};
  for (int i = 0; i < 2; i++) {
    char u[128];
    snprintf(u, sizeof u, urls[i], solo.port);
    sl_redis_url url;
    sl_error err;
    CU_ASSERT_EQUAL_FATAL(sl_redis_url_parse(u, &url, &err), SL_OK);
    struct event_base *base = event_base_new();
    outcome *o = calloc(1, sizeof *o);
    redisAsyncContext *ac =
        sl_redis_async_open(base, &url, "127.0.0.1", solo.port, 0, NULL, on_open, on_open);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ac);
    redisAsyncCommand(ac, on_done, o, "GET nothing");
    while (!o->done)
      event_base_loop(base, EVLOOP_ONCE);
    CU_ASSERT_EQUAL(strncmp(o->text, want[i], strlen(want[i])), 0);
    redisAsyncFree(ac);
    event_base_free(base);
    free(o);
  }
  rf_stop(&solo);
}

/* The primary of {t} alive but silent (CLIENT PAUSE ... ALL): a read on it
 * answers NULL within its deadline, with the reason; once the node answers
 * again, the next read gets its own value, never the late reply of the one
 * that timed out. */
static void test_silent_node(void) {
  client cl;
  read_timeout_ms = 500;
  outcome *o = client_open(&cl, 0);
  read_timeout_ms = 2000;
  int owner = rcf_owner(nodes, sl_redis_key_slot("{t}a", 4));
  freeReplyObject(rcf_raw(owner, "SET {t}a va"));
  freeReplyObject(rcf_raw(owner, "SET {t}b vb"));
  CU_ASSERT_STRING_EQUAL(run2(&cl, o, "GET", "{t}a"), "S:va");
  redisReply *r = rcf_raw(owner, "CLIENT PAUSE 1500 ALL");
  CU_ASSERT_FATAL(r && r->type == REDIS_REPLY_STATUS);
  freeReplyObject(r);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CU_ASSERT_STRING_EQUAL(now(&cl, 2, (const char *[]){"GET", "{t}a"}), "NULL");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CU_ASSERT((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 < 1.5);
  char want[128];
  snprintf(want, sizeof want, "Redis Cluster node 127.0.0.1:%d did not answer within 500 ms",
           owner);
  CU_ASSERT_PTR_NOT_NULL(strstr(sl_acluster_why(cl.c), want));
  const char *t = "NULL";
  for (int i = 0; i < 100 && strcmp(t, "S:vb") != 0; i++) { /* the pause ends */
    t = run(&cl, o, 1, 2, (const char *[]){"GET", "{t}b"});
    CU_ASSERT(strcmp(t, "S:vb") == 0 || strcmp(t, "NULL") == 0 || strcmp(t, "UNAVAILABLE") == 0);
    if (strcmp(t, "S:vb") != 0)
      rcf_pause_ms(100);
  }
  CU_ASSERT_STRING_EQUAL(t, "S:vb");
  CU_ASSERT_STRING_EQUAL(run2(&cl, o, "GET", "{t}a"), "S:va");
  client_close(&cl);
}

/* SIGKILL of the primary of as:0: reads of its slots fail with a reason
 * (never a wrong answer) until its replica is promoted, then succeed. */
static void test_primary_killed(void) {
  client cl;
  outcome *o = client_open(&cl, 2);
  CU_ASSERT_STRING_EQUAL(run2(&cl, o, "GET", "as:0"), "S:v0");
  int victim = rcf_owner(nodes, sl_redis_key_slot("as:0", 4));
  int replica = rcf_replica_of(nodes, victim);
  CU_ASSERT_FATAL(victim > 0 && replica > 0);
  for (int i = 0; i < RCF_NODES; i++)
    if (nodes[i].port == victim)
      rf_kill9(&nodes[i]);
  const char *t = run(&cl, o, 1, 2, (const char *[]){"GET", "as:0"});
  CU_ASSERT(strcmp(t, "NULL") == 0 || strcmp(t, "UNAVAILABLE") == 0);
  char port[16];
  snprintf(port, sizeof port, ":%d", victim);
  const char *why = sl_acluster_why(cl.c);
  CU_ASSERT(strstr(why, port) != NULL || strstr(why, "CLUSTERDOWN") != NULL);
  CU_ASSERT_EQUAL_FATAL(rcf_wait_for(replica, "INFO replication", "role:master"), 0);
  int ok = 0;
  for (int i = 0; i < 300 && !ok; i++) { /* CLUSTERDOWN until the votes are in */
    t = run(&cl, o, 1, 2, (const char *[]){"GET", "as:0"});
    ok = strcmp(t, "S:v0") == 0;
    CU_ASSERT(ok || strcmp(t, "NULL") == 0 || strcmp(t, "UNAVAILABLE") == 0);
    if (!ok)
      rcf_pause_ms(100);
  }
  CU_ASSERT(ok);
  const char *mg[4] = {"MGET", "as:0", "as:1", "as:2"};
  CU_ASSERT_STRING_EQUAL(run(&cl, o, 1, 4, mg), "[S:v0,S:v1,S:v2]");
  CU_ASSERT_STRING_EQUAL(run2(&cl, o, "PING", NULL), "+PONG");
  client_close(&cl);
}

int suite_connectors_redis_cluster_async(void) {
  CU_pSuite s = CU_add_suite("connectors_redis_cluster_async", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "reads routed by slot, MGET split, PING everywhere", test_reads_by_slot);
  CU_add_test(s, "SCAN visits every primary", test_scan_every_primary);
  CU_add_test(s, "ASK and MOVED are followed", test_ask_and_moved);
  CU_add_test(s, "connections closed by the server", test_closed_connections_reopen);
  CU_add_test(s, "no node answers: unavailable with a reason", test_no_node_answers);
  CU_add_test(s, "connections authenticate first", test_open_authenticates);
  CU_add_test(s, "a silent node: a deadline, no late reply", test_silent_node);
  CU_add_test(s, "a primary killed: a reason, then its replica", test_primary_killed);
  return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
