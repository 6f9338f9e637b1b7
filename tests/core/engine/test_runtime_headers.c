/* SPDX-License-Identifier: Apache-2.0 */
/* Which sources are told that nothing reads their records' headers
 * (sl_connector_env.headers_unread), so that kafka_source may skip
 * librdkafka's per-message header parsing (issue 16): only when no record of
 * the source can reach a sink that may write headers, an operator that is
 * not built in, or a dead-letter sink on Kafka; a window's results are new
 * records, so a window ends the search. A wrong 1 would silently drop the
 * headers a pass-through pipeline or a dead letter must keep. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>

#include "lang/connector.h"
#include "lua_fixture.h"
#include "lang/registry.h"
#include "engine/runtime.h"

static int seen_unread = -1; /* headers_unread of the last probe_source opened */

static int probe_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                      sl_error *err) {
  (void)cfg, (void)err;
  seen_unread = env->headers_unread;
  *state = calloc(1, 1);
  return *state ? SL_OK : SL_ERR_NOMEM;
}

static int probe_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                      sl_error *err) {
  (void)state, (void)out, (void)max, (void)timeout_ms, (void)err;
  *eof = 1;
  return SL_OK;
}

static void probe_close(void *state) { free(state); }

static const sl_config_entry no_config[] = {{NULL, 0, 0, NULL, NULL}};
static const sl_source_desc probe_source = {
    .name = "probe_source",
    .summary = "test source that notes its connector env",
    .config = no_config,
    .open = probe_open,
    .poll = probe_poll,
    .close = probe_close,
};

/* A sink sluice knows nothing about: it may read headers. */
static int any_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                    sl_error *err) {
  (void)env, (void)cfg, (void)err;
  *state = calloc(1, 1);
  return *state ? SL_OK : SL_ERR_NOMEM;
}

static int any_write(void *state, const sl_batch *in, size_t *written, sl_error *err) {
  (void)state, (void)err;
  *written = sl_batch_count(in);
  return SL_OK;
}

static int any_flush(void *state, int timeout_ms, sl_error *err) {
  (void)state, (void)timeout_ms, (void)err;
  return SL_OK;
}

static const sl_sink_desc any_sink = {
    .name = "any_sink",
    .summary = "test sink that might read headers",
    .config = no_config,
    .open = any_open,
    .write = any_write,
    .flush = any_flush,
    .close = probe_close,
};

/* headers_unread the probe source of pipeline `body` (after the
 * `local p = sl.pipeline{...}` line) was opened with. */
static int unread_for(const char *body) {
  char dir[64], text[2048];
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-headers"), 0);
  sl_error err;
  sl_error_clear(&err);
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
  CU_ASSERT_EQUAL(sl_registry_add_source(reg, &probe_source), SL_OK);
  CU_ASSERT_EQUAL(sl_registry_add_sink(reg, &any_sink), SL_OK);
  snprintf(text, sizeof text,
           "local sl = require \"sluice\"\n"
           "local p = sl.pipeline { name = \"headers\", state = \"memory\" }\n"
           "%s\n",
           body);
  seen_unread = -1;
  lf_loaded l = lf_runtime(dir, text, reg, NULL);
  lf_unload(&l);
  lf_dir_remove(dir);
  return seen_unread;
}

#define WINDOW                                                                                     \
  ":window { tumbling = \"10s\", key = \"id\", time = \"ts\" }"                                    \
  ":aggregate { n = \"count()\" }"

static void test_window_ends_the_search(void) {
  CU_ASSERT_EQUAL(
      unread_for("p:probe_source {}:decode { format = \"json\" }" WINDOW ":any_sink {}"), 1);
}

static void test_pass_through_to_a_sink_that_may_read(void) {
  CU_ASSERT_EQUAL(unread_for("p:probe_source {}:decode { format = \"json\" }"
                             ":filter \"id != 0\":any_sink {}"),
                  0);
}

static void test_sinks_that_ignore_headers(void) {
  CU_ASSERT_EQUAL(unread_for("p:probe_source {}:decode { format = \"json\" }"
                             ":file_sink { path = \"out.jsonl\" }"),
                  1);
}

static void test_one_reading_branch_is_enough(void) {
  CU_ASSERT_EQUAL(unread_for("local d = p:probe_source {}:decode { format = \"json\" }\n"
                             "d" WINDOW ":file_sink { path = \"w.jsonl\" }\n"
                             "d:any_sink {}"),
                  0);
}

static void test_dead_letters(void) {
  /* A dead-letter file has no headers; one on Kafka keeps the original ones. */
  CU_ASSERT_EQUAL(unread_for("p:probe_source {}:decode { format = \"json\" }" WINDOW
                             ":any_sink {}\n"
                             "p:dead_letter { path = \"dlq.jsonl\" }"),
                  1);
  CU_ASSERT_EQUAL(unread_for("p:probe_source {}:decode { format = \"json\" }" WINDOW
                             ":any_sink {}\n"
                             "p:dead_letter { topic = \"headers-dlq\" }"),
                  0);
}

int suite_core_runtime_headers(void) {
  CU_pSuite s = CU_add_suite("core_runtime_headers", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "a window ends the search", test_window_ends_the_search);
  CU_add_test(s, "pass-through to a sink that may read them",
              test_pass_through_to_a_sink_that_may_read);
  CU_add_test(s, "sinks that ignore headers", test_sinks_that_ignore_headers);
  CU_add_test(s, "one reading branch is enough", test_one_reading_branch_is_enough);
  CU_add_test(s, "dead letters on Kafka keep them", test_dead_letters);
  return 0;
}
