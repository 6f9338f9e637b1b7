/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime pauses, and says why, when a sink's destination is down while
 * its queue is full (the sink keeps answering SL_ERR_LIMIT to write() and
 * SL_ERR_UNAVAILABLE to flush()): /readyz then names the sink's error
 * (sl_runtime_pause_reason) instead of reporting a worker that processes
 * nothing as ready. Once the sink drains, the run resumes and ends with every
 * record written. (A postgres_sink with PostgreSQL down and a busy input once
 * stayed "ready" this way.) */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/record_internal.h"
#include "engine/runtime.h"
#include "engine/runtime_internal.h"
#include "lang/connector.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "lua_fixture.h"

/* A sink that is "down" (queue full) until the runtime reports a pause. */
typedef struct stuck {
  const sl_connector_env *env;
  size_t written;
  int recovered;
  int flushes;      /* while down: gives up after 250 (5 s), so a missing pause fails */
  char reason[512]; /* the pause reason the runtime gave while it was down */
} stuck;

static stuck *last_stuck;

static int stuck_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                      sl_error *err) {
  (void)cfg, (void)err;
  stuck *s = calloc(1, sizeof *s);
  if (!s)
    return SL_ERR_NOMEM;
  s->env = env;
  *state = last_stuck = s;
  return SL_OK;
}

static int stuck_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  stuck *s = state;
  if (!s->recovered) {
    *written = 0;
    return sl_error_set(err, SL_ERR_LIMIT, "stuck: queue full");
  }
  *written = sl_batch_count(in);
  s->written += *written;
  return SL_OK;
}

static int stuck_flush(void *state, int timeout_ms, sl_error *err) {
  stuck *s = state;
  (void)timeout_ms;
  if (s->recovered)
    return SL_OK;
  sl_runtime_pause_reason(sl_runtime_of_env(s->env->runtime), s->reason, sizeof s->reason);
  if (s->reason[0] || ++s->flushes > 250) { /* the runtime noticed: come back */
    s->recovered = 1;
    return SL_OK;
  }
  struct timespec ts = {0, 20 * 1000000L}; /* as a real flush waits for acks */
  nanosleep(&ts, NULL);
  sl_error_set(err, SL_ERR_UNAVAILABLE, "stuck: destination db.example:5432 unreachable");
  err->retriable = 1;
  return SL_ERR_UNAVAILABLE;
}

static void stuck_close(void *state) { free(state); }

static const sl_config_entry no_config[] = {{NULL, 0, 0, NULL, NULL}};
static const sl_sink_desc stuck_sink = {
    .name = "stuck_sink",
    .summary = "test sink whose destination is down until the runtime pauses",
    .config = no_config,
    .open = stuck_open,
    .write = stuck_write,
    .flush = stuck_flush,
    .close = stuck_close,
};

static void test_full_sink_pauses_with_reason(void) {
  char dir[64];
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-pause"), 0);
  char in[200] = "";
  for (int i = 0; i < 10; i++)
    snprintf(in + strlen(in), sizeof in - strlen(in), "{\"i\":%d}\n", i);
  lf_write(dir, "in.jsonl", in);
  sl_error err;
  sl_error_clear(&err);
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
  CU_ASSERT_EQUAL(sl_registry_add_sink(reg, &stuck_sink), SL_OK);
  lf_loaded l = lf_runtime(dir,
                           "local sl = require \"sluice\"\n"
                           "local p = sl.pipeline { name = \"pause\", state = \"memory\" }\n"
                           "p:file_source { path = \"in.jsonl\" }:stuck_sink {}\n",
                           reg, NULL);
  char before[64];
  sl_runtime_pause_reason(l.rt, before, sizeof before);
  CU_ASSERT_STRING_EQUAL(before, "");
  CU_ASSERT_EQUAL(sl_runtime_run(l.rt, &err), SL_OK);
  CU_ASSERT_EQUAL(last_stuck->written, 10);
  CU_ASSERT_PTR_NOT_NULL(strstr(last_stuck->reason, "outputs not acknowledged: stuck: "
                                                    "destination db.example:5432 unreachable"));
  char after[64];
  sl_runtime_pause_reason(l.rt, after, sizeof after);
  CU_ASSERT_STRING_EQUAL(after, ""); /* resumed */
  lf_unload(&l);
  lf_dir_remove(dir);
}

int suite_core_runtime_pause(void) {
  CU_pSuite s = CU_add_suite("core_runtime_pause", NULL, NULL);
  if (!s || !CU_add_test(s, "a full sink whose destination is down pauses with its reason",
                         test_full_sink_pauses_with_reason))
    return -1;
  return 0;
}
