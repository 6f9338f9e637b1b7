/* SPDX-License-Identifier: Apache-2.0 */
/* What HTTP and CoAP requests share (core/gateway/gateway_send.c), without a Kafka
 * broker: the admission gate (shutting down, max_inflight, max_pending_bytes
 * with one request always let through), a request's memory accounting, the
 * invalid-records body, and a request whose record Kafka never acknowledges
 * (the producer points at a closed port with a 100 ms delivery timeout):
 * `finished` runs once, with the cause, and nothing is counted as stored. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/gateway.h"

static char dir[256];

static int setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sluice_gwsend_XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A gateway file with one json topic `t` keyed by machine_id; Kafka at a
 * closed port, so nothing is ever acknowledged. */
static sl_gw_conf *conf(void) {
  char path[320];
  snprintf(path, sizeof path, "%s/gw.lua", dir);
  FILE *fp = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs("local sl = require 'sluice'\n"
        "local g = sl.gateway { listen = 'off', max_inflight = 3, max_body = 1000,\n"
        "  max_pending_bytes = 200000, timeout = '100ms',\n"
        "  kafka = { ['bootstrap.servers'] = '127.0.0.1:1' } }\n"
        "g:topic { name = 't', key = 'machine_id' }\n",
        fp);
  fclose(fp);
  sl_error err;
  sl_error_clear(&err);
  sl_gw_conf *c = sl_gw_conf_load(path, NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 0);
  CU_ASSERT_EQUAL_FATAL(sl_gw_conf_open(c, &err), SL_OK);
  return c;
}

static void test_gate(void) {
  sl_error err;
  sl_error_clear(&err);
  sl_gw_conf *c = conf();
  sl_gw_producer *p = sl_gw_producer_new(c, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  sl_gw_gate g;
  sl_gw_gate_init(&g, c, p);
  CU_ASSERT_PTR_NULL(sl_gw_gate_unavailable(&g));
  CU_ASSERT_FALSE(sl_gw_gate_overloaded(&g, 3)); /* max_inflight = 3 */
  CU_ASSERT_TRUE(sl_gw_gate_overloaded(&g, 4));
  CU_ASSERT_FALSE(sl_gw_gate_over_memory(&g, 10 << 20)); /* nothing pending: let it through */
  g.pending_bytes = 100000;
  CU_ASSERT_FALSE(sl_gw_gate_over_memory(&g, 100000));
  CU_ASSERT_TRUE(sl_gw_gate_over_memory(&g, 100001));
  g.pending_bytes = 0;
  g.draining = 1;
  const char *why = sl_gw_gate_unavailable(&g);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "shutting down"));
  sl_gw_producer_free(p);
  sl_gw_conf_free(c);
}

typedef struct test_req {
  sl_gw_send s; /* first, as in the protocol files */
  int finished;
} test_req;

static void on_finished(sl_gw_send *s) { ((test_req *)s)->finished++; }

/* A gate on a fresh producer and one request of `body` by device m1, parsed. */
typedef struct env {
  sl_gw_conf *c;
  sl_gw_producer *p;
  sl_gw_gate g;
  test_req r;
} env;

static void env_start(env *e, const char *body) {
  sl_error err;
  sl_error_clear(&err);
  memset(e, 0, sizeof *e);
  e->c = conf();
  e->p = sl_gw_producer_new(e->c, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e->p);
  sl_gw_gate_init(&e->g, e->c, e->p);
  CU_ASSERT_EQUAL_FATAL(sl_gw_send_init(&e->r.s, &e->g, &e->c->topics[0], on_finished), SL_OK);
  e->r.s.family = "sluice_test_records_total";
  CU_ASSERT_EQUAL(e->g.pending, 1);
  CU_ASSERT_EQUAL_FATAL(sl_gw_send_parse(&e->r.s, "m1", body, strlen(body), &err), SL_OK);
}

static void env_stop(env *e) {
  sl_gw_send_release(&e->r.s);
  CU_ASSERT_EQUAL(e->g.pending, 0);
  CU_ASSERT_EQUAL(e->g.pending_bytes, 0);
  sl_gw_producer_free(e->p);
  sl_gw_conf_free(e->c);
}

static void test_invalid_records_body(void) {
  env e;
  const char *body = "[{\"v\":1},{\"machine_id\":\"other\"},{\"v\":3}]";
  env_start(&e, body);
  CU_ASSERT_EQUAL(e.r.s.batch.n, 3);
  CU_ASSERT_EQUAL(e.r.s.batch.invalid, 1);
  sl_buf out = SL_BUF_INIT;
  sl_gw_invalid_json(&e.r.s.batch, 400, &out);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "\"error\":\"1 of 3 records are invalid; nothing was "
                                          "stored\",\"status\":400,\"records\":[{\"index\":1,"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "but the authenticated device is 'm1'"));
  sl_buf_free(&out);
  /* Held memory is counted in the gate until the request is released. */
  sl_gw_send_hold(&e.r.s, strlen(body));
  CU_ASSERT(e.g.pending_bytes >= SL_GW_BATCH_ARENA + strlen(body));
  CU_ASSERT_EQUAL(e.r.finished, 0); /* never produced: never finished */
  env_stop(&e);
}

/* Kafka never acknowledges: `finished` once, with the cause for the 503. */
static void test_unacknowledged_record(void) {
  env e;
  const char *body = "{\"v\":1}";
  env_start(&e, body);
  sl_gw_send_hold(&e.r.s, strlen(body));
  sl_gw_send_produce(&e.r.s, "m1");
  CU_ASSERT_EQUAL(e.r.s.outstanding, 1);
  for (int i = 0; i < 200 && !e.r.finished; i++) /* bounded: the 100 ms timeout reports */
    sl_gw_producer_poll_wait(e.p, 50);
  CU_ASSERT_EQUAL_FATAL(e.r.finished, 1);
  CU_ASSERT_EQUAL(e.r.s.failed, 1);
  CU_ASSERT_EQUAL(e.r.s.delivered, 0);
  char msg[512];
  sl_gw_send_outcome(&e.r.s, msg, sizeof msg);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Kafka did not acknowledge 1 of 1 records ("));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "0 were stored"));
  env_stop(&e);
}

int suite_core_gateway_send(void) {
  CU_pSuite s = CU_add_suite("core_gateway_send", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "the admission gate", test_gate);
  CU_add_test(s, "invalid records and held memory", test_invalid_records_body);
  CU_add_test(s, "a record Kafka never acknowledges", test_unacknowledged_record);
  return 0;
}
