/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's metrics: series a dashboard or an alert rule needs exist from
 * the start, with their help text, before the first event they count. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/metrics.h"
#include "engine/runtime.h"
#include "lang/connector.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "lua_fixture.h"

/* The value of the first series of NAME whose labels hold pipeline=PIPELINE,
 * or -1 when there is none. */
static double series_of(const char *text, const char *name, const char *pipeline) {
  char want[128], pl_label[128];
  snprintf(pl_label, sizeof pl_label, "pipeline=\"%s\"", pipeline);
  snprintf(want, sizeof want, "\n%s{", name);
  for (const char *p = strstr(text, want); p; p = strstr(p + 1, want)) {
    const char *close = strchr(p + 1, '}'), *end = strchr(p + 1, '\n');
    const char *pl = strstr(p, pl_label);
    if (close && end && pl && pl < close)
      return strtod(close + 1, NULL);
  }
  return -1;
}

static double series_value(const char *text, const char *name) {
  return series_of(text, name, "latezero");
}

/* Regression: sluice_late_records_total appeared only after the first late
 * record, so rate() and "no late records" alerts had no series to read. */
static void test_late_records_exported_at_zero(void) {
  char dir[64];
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-metrics"), 0);
  lf_write(dir, "in.jsonl", "{\"k\":\"a\",\"ts\":1000}\n");
  lf_loaded l = lf_runtime(dir,
                           "local sl = require \"sluice\"\n"
                           "local p = sl.pipeline { name = \"latezero\", state = \"memory\" }\n"
                           "p:file_source { path = \"in.jsonl\" }\n"
                           "  :window { tumbling = \"10s\", key = \"k\", time = \"ts\" }\n"
                           "  :aggregate { n = \"count()\" }:file_sink { path = \"out.jsonl\" }\n",
                           NULL, NULL);
  sl_buf out = SL_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(sl_metrics_render(&out), SL_OK);
  CU_ASSERT_DOUBLE_EQUAL(series_value(out.data, "sluice_late_records_total"), 0, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "# HELP sluice_late_records_total Records that arrived "
                                          "after every window they belong to had closed"));
  sl_buf_free(&out);
  lf_unload(&l);
  lf_dir_remove(dir);
}

/* A source that reports what a Kafka source reports when it opens: records
 * counted, partitions taken and one given back. */
static int reporting_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                          sl_error *err) {
  (void)cfg, (void)err;
  env->counter_add(env->runtime, "sluice_probe_records_total", 5);
  env->counter_add(env->runtime, "sluice_probe_records_total", 2);
  env->counter_add(env->runtime, "sluice_probe_partitions", 4);
  env->counter_add(env->runtime, "sluice_probe_partitions", -1);
  *state = calloc(1, 1);
  return *state ? SL_OK : SL_ERR_NOMEM;
}

static int reporting_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                          sl_error *err) {
  (void)state, (void)out, (void)max, (void)timeout_ms, (void)err;
  *eof = 1;
  return SL_OK;
}

static void reporting_close(void *state) { free(state); }

static const sl_config_entry reporting_config[] = {{NULL, 0, 0, NULL, NULL}};
static const sl_source_desc reporting_source = {
    .name = "reporting_source",
    .summary = "test source that reports a counter and a gauge",
    .config = reporting_config,
    .open = reporting_open,
    .poll = reporting_poll,
    .close = reporting_close,
};

/* Regression: the connectors' counter_add was a no-op, so what Kafka sources
 * and sinks, the PostgreSQL sink and webhooks counted never reached /metrics.
 * A _total name is a counter; any other name a gauge moved by deltas. */
static void test_connector_reports_reach_metrics(void) {
  char dir[64];
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-metrics"), 0);
  sl_error err;
  sl_error_clear(&err);
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
  CU_ASSERT_EQUAL(sl_registry_add_source(reg, &reporting_source), SL_OK);
  lf_loaded l = lf_runtime(dir,
                           "local sl = require \"sluice\"\n"
                           "local p = sl.pipeline { name = \"connmetrics\", state = \"memory\" }\n"
                           "p:reporting_source {}:file_sink { path = \"out.jsonl\" }\n",
                           reg, NULL);
  sl_buf out = SL_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(sl_metrics_render(&out), SL_OK);
  CU_ASSERT_DOUBLE_EQUAL(series_of(out.data, "sluice_probe_records_total", "connmetrics"), 7, 0);
  CU_ASSERT_DOUBLE_EQUAL(series_of(out.data, "sluice_probe_partitions", "connmetrics"), 3, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "# TYPE sluice_probe_records_total counter"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "# TYPE sluice_probe_partitions gauge"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "sluice_probe_records_total{operator=\"reporting_source\","
                                          "pipeline=\"connmetrics\"}"));
  sl_buf_free(&out);
  lf_unload(&l);
  lf_dir_remove(dir);
}

int suite_core_runtime_metrics(void) {
  CU_pSuite s = CU_add_suite("core_runtime_metrics", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "late records are exported at 0 from the start",
              test_late_records_exported_at_zero);
  CU_add_test(s, "what connectors count reaches /metrics", test_connector_reports_reach_metrics);
  return 0;
}
