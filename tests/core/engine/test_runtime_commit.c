/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's offset commits (state = "memory") when the source cannot
 * commit: a group coordinator away during a broker restart (retriable
 * SL_ERR_UNAVAILABLE) pauses and retries instead of failing the pipeline, and
 * a commit refused after the group moved on (SL_ERR_FENCED: the session timed
 * out while the broker was down) is skipped, not fatal. Both once stopped a
 * worker on a real broker restart (scripts/e2e/kafka_broker_restart.sh). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/metrics.h"
#include "base/record_internal.h"
#include "engine/runtime.h"
#include "harness.h"
#include "lang/connector.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "lua_fixture.h"

#define RECORDS 5

/* A finite source of RECORDS records in partition 3 whose commit() answers
 * from a script of statuses, then SL_OK. */
static int script[4];
static size_t script_len, commits;
static int64_t last_committed;

static int flaky_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                      sl_error *err) {
  (void)env, (void)cfg, (void)err;
  int *sent = calloc(1, sizeof *sent);
  *state = sent;
  return sent ? SL_OK : SL_ERR_NOMEM;
}

static int flaky_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                      sl_error *err) {
  (void)max, (void)timeout_ms;
  int *sent = state;
  while (*sent < RECORDS) {
    sl_record *r = sl_record_new(sl_batch_arena(out), 1);
    if (!r)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_record_set_raw(r, "{}", 2);
    sl_record_set_position(r, 0, "flaky", 3, 100 + *sent);
    if (sl_batch_push(out, r) != SL_OK)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    (*sent)++;
  }
  *eof = 1;
  return SL_OK;
}

static int flaky_commit(void *state, const sl_offset *offsets, size_t n, sl_error *err) {
  (void)state;
  size_t call = commits++;
  if (call < script_len && script[call] != SL_OK) {
    sl_error_set(err, script[call], "flaky commit %zu refused", call);
    err->retriable = script[call] == SL_ERR_UNAVAILABLE;
    return script[call];
  }
  for (size_t i = 0; i < n; i++)
    if (offsets[i].partition == 3)
      last_committed = offsets[i].next_offset;
  return SL_OK;
}

static void flaky_close(void *state) { free(state); }

static const sl_config_entry flaky_config[] = {{NULL, 0, 0, NULL, NULL}};
static const sl_source_desc flaky_source = {
    .name = "flaky_source",
    .summary = "test source whose commits fail on a script",
    .config = flaky_config,
    .open = flaky_open,
    .poll = flaky_poll,
    .commit = flaky_commit,
    .close = flaky_close,
};

/* Runs p:flaky_source{}:file_sink{} to its end; returns sl_runtime_run's status. */
static int run_pipeline(void) {
  char dir[64];
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-commit"), 0);
  sl_error err;
  sl_error_clear(&err);
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
  CU_ASSERT_EQUAL(sl_registry_add_source(reg, &flaky_source), SL_OK);
  lf_loaded l = lf_runtime(dir,
                           "local sl = require \"sluice\"\n"
                           "local p = sl.pipeline { name = \"commits\", state = \"memory\" }\n"
                           "p:flaky_source {}:decode { format = \"json\" }"
                           ":file_sink { path = \"out.jsonl\" }\n",
                           reg, NULL);
  int rc = sl_runtime_run(l.rt, &err);
  if (rc != SL_OK)
    fprintf(stderr, "run: %s\n", err.message);
  CU_ASSERT_EQUAL(sl_runtime_records_in(l.rt), RECORDS);
  lf_unload(&l);
  lf_dir_remove(dir);
  return rc;
}

/* The count of sluice_sink_latency_seconds of pipeline "commits"'s file sink. */
static double sink_latency_count(void) {
  sl_buf out = SL_BUF_INIT;
  double n = -1;
  const char *want = "sluice_sink_latency_seconds_count{";
  if (sl_metrics_render(&out) == SL_OK)
    for (const char *p = strstr(out.data, want); p; p = strstr(p + 1, want)) {
      const char *end = strchr(p, '\n'), *close = strchr(p, '}');
      const char *pl = strstr(p, "pipeline=\"commits\"");
      if (end && close && pl && pl < close)
        n = strtod(close + 1, NULL);
    }
  sl_buf_free(&out);
  return n;
}

static void reset(const int *s, size_t n) {
  memcpy(script, s, n * sizeof *s);
  script_len = n;
  commits = 0;
  last_committed = -1;
}

static void test_commit_unavailable_is_retried(void) {
  const int s[] = {SL_ERR_UNAVAILABLE};
  reset(s, 1);
  CU_ASSERT_EQUAL(run_pipeline(), SL_OK);
  CU_ASSERT_EQUAL(commits, 2); /* refused, then retried with the same offsets */
  CU_ASSERT_EQUAL(last_committed, 100 + RECORDS);
}

static void test_commit_fenced_is_skipped(void) {
  const int s[] = {SL_ERR_FENCED};
  reset(s, 1);
  CU_ASSERT_EQUAL(run_pipeline(), SL_OK);
  CU_ASSERT_EQUAL(commits, 1); /* not ours to commit any more: dropped */
  CU_ASSERT_EQUAL(last_committed, -1);
}

static void test_commit_other_error_fails(void) {
  const int s[] = {SL_ERR_INVALID};
  reset(s, 1);
  CU_ASSERT_EQUAL(run_pipeline(), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(commits, 1);
}

/* Every record a sink takes is timed from its input's arrival: the file
 * sink's latency histogram counts all of them, and all within the run. */
static void test_sink_latency_counts_every_record(void) {
  static const int ok[] = {SL_OK};
  reset(ok, 1);
  double before = sink_latency_count();
  CU_ASSERT_EQUAL(run_pipeline(), SL_OK);
  double after = sink_latency_count();
  CU_ASSERT_DOUBLE_EQUAL(after - (before < 0 ? 0 : before), RECORDS, 0);
}

int suite_core_runtime_commit(void) {
  CU_pSuite s = CU_add_suite("core_runtime_commit", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "a retriable commit failure pauses and retries", test_commit_unavailable_is_retried);
  CU_add_test(s, "a fenced commit is skipped", test_commit_fenced_is_skipped);
  CU_add_test(s, "other commit failures stop the pipeline", test_commit_other_error_fails);
  CU_add_test(s, "sink latency counts every record", test_sink_latency_counts_every_record);
  return 0;
}
