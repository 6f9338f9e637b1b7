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
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "lua_fixture.h"

/* The value of the first series of NAME whose labels hold pipeline="latezero",
 * or -1 when there is none. */
static double series_value(const char *text, const char *name) {
  char want[128];
  snprintf(want, sizeof want, "\n%s{", name);
  for (const char *p = strstr(text, want); p; p = strstr(p + 1, want)) {
    const char *close = strchr(p + 1, '}'), *end = strchr(p + 1, '\n');
    const char *pl = strstr(p, "pipeline=\"latezero\"");
    if (close && end && pl && pl < close)
      return strtod(close + 1, NULL);
  }
  return -1;
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

int suite_core_runtime_metrics(void) {
  CU_pSuite s = CU_add_suite("core_runtime_metrics", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "late records are exported at 0 from the start",
              test_late_records_exported_at_zero);
  return 0;
}
