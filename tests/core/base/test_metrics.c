/* SPDX-License-Identifier: Apache-2.0 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/metrics.h"

static void test_render_exact(void) {
  sl_metrics *m = sl_metrics_new();
  sl_metric *a = sl_metrics_get(m, SL_METRIC_COUNTER, "sluice_records_in_total", "Records read.",
                                "pipeline=assembly,operator=filter#2", NULL, 0);
  sl_metric *b = sl_metrics_get(m, SL_METRIC_COUNTER, "sluice_records_in_total", "ignored",
                                "operator=decode,pipeline=assembly", NULL, 0);
  sl_metric *g = sl_metrics_get(m, SL_METRIC_GAUGE, "sluice_consumer_lag", "Lag.\nin records",
                                NULL, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  /* the same label set in another order is the same series */
  CU_ASSERT_PTR_EQUAL(a, sl_metrics_get(m, SL_METRIC_COUNTER, "sluice_records_in_total", NULL,
                                        "operator=filter#2,pipeline=assembly", NULL, 0));
  sl_metric_add(a, 3);
  sl_metric_add(a, 0.5);
  sl_metric_add(a, -1); /* ignored: counters only go up */
  sl_metric_add(b, 1e21);
  sl_metric_set(g, -7);
  sl_buf out = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_metrics_render_registry(m, &out, 0), 0);
  CU_ASSERT_STRING_EQUAL(out.data,
                         "# HELP sluice_records_in_total Records read.\n"
                         "# TYPE sluice_records_in_total counter\n"
                         "sluice_records_in_total{operator=\"filter#2\",pipeline=\"assembly\"} 3.5\n"
                         "sluice_records_in_total{operator=\"decode\",pipeline=\"assembly\"} 1e+21\n"
                         "# HELP sluice_consumer_lag Lag.\\nin records\n"
                         "# TYPE sluice_consumer_lag gauge\n"
                         "sluice_consumer_lag -7\n");
  sl_buf_free(&out);
  sl_metrics_destroy(m);
}

static void test_label_escaping_and_errors(void) {
  sl_metrics *m = sl_metrics_new();
  sl_metric *e = sl_metrics_get(m, SL_METRIC_GAUGE, "g", "h", "k=a\\,b\"c\\\\d\ne", NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  sl_metric_set(e, 0.1);
  sl_buf out = SL_BUF_INIT;
  sl_metrics_render_registry(m, &out, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "g{k=\"a,b\\\"c\\\\d\\ne\"} 0.1\n"));
  /* invalid names, duplicate labels, reserved names, type clash */
  CU_ASSERT_PTR_NULL(sl_metrics_get(m, SL_METRIC_GAUGE, "1bad", "", NULL, NULL, 0));
  CU_ASSERT_PTR_NULL(sl_metrics_get(m, SL_METRIC_GAUGE, "x", "", "a=1,a=2", NULL, 0));
  CU_ASSERT_PTR_NULL(sl_metrics_get(m, SL_METRIC_GAUGE, "x", "", "le=1", NULL, 0));
  CU_ASSERT_PTR_NULL(sl_metrics_get(m, SL_METRIC_GAUGE, "x", "", "noequals", NULL, 0));
  CU_ASSERT_PTR_NULL(sl_metrics_get(m, SL_METRIC_COUNTER, "g", "", NULL, NULL, 0));
  /* NULL series are accepted by updates */
  sl_metric_add(NULL, 1);
  sl_metric_observe(NULL, 1);
  sl_buf_free(&out);
  sl_metrics_destroy(m);
  sl_metrics_destroy(NULL);
}

static void test_histogram(void) {
  sl_metrics *m = sl_metrics_new();
  const double bounds[] = {0.1, 1, 5};
  sl_metric *h = sl_metrics_get(m, SL_METRIC_HISTOGRAM, "sluice_checkpoint_seconds",
                                "Checkpoint duration.", "pipeline=p", bounds, 3);
  CU_ASSERT_PTR_NOT_NULL_FATAL(h);
  const double other[] = {1, 2};
  CU_ASSERT_PTR_NULL(sl_metrics_get(m, SL_METRIC_HISTOGRAM, "sluice_checkpoint_seconds", "",
                                    "pipeline=q", other, 2));
  const double unsorted[] = {2, 1};
  CU_ASSERT_PTR_NULL(sl_metrics_get(m, SL_METRIC_HISTOGRAM, "h2", "", NULL, unsorted, 2));
  sl_metric_observe(h, 0.05);
  sl_metric_observe(h, 0.1); /* le is inclusive */
  sl_metric_observe(h, 3);
  sl_metric_observe(h, 100);
  CU_ASSERT_DOUBLE_EQUAL(sl_metric_value(h), 4, 0);
  sl_metric_observe_n(h, 0.5, 3); /* three records of one batch: le 1 */
  sl_metric_observe_n(h, 7, 0);   /* none: nothing */
  CU_ASSERT_DOUBLE_EQUAL(sl_metric_value(h), 7, 0);
  sl_buf out = SL_BUF_INIT;
  sl_metrics_render_registry(m, &out, 0);
  CU_ASSERT_STRING_EQUAL(out.data,
                         "# HELP sluice_checkpoint_seconds Checkpoint duration.\n"
                         "# TYPE sluice_checkpoint_seconds histogram\n"
                         "sluice_checkpoint_seconds_bucket{pipeline=\"p\",le=\"0.1\"} 2\n"
                         "sluice_checkpoint_seconds_bucket{pipeline=\"p\",le=\"1\"} 5\n"
                         "sluice_checkpoint_seconds_bucket{pipeline=\"p\",le=\"5\"} 6\n"
                         "sluice_checkpoint_seconds_bucket{pipeline=\"p\",le=\"+Inf\"} 7\n"
                         "sluice_checkpoint_seconds_sum{pipeline=\"p\"} 104.65\n"
                         "sluice_checkpoint_seconds_count{pipeline=\"p\"} 7\n");
  sl_buf_free(&out);
  sl_metrics_destroy(m);
}

static void test_process_metrics(void) {
  sl_buf out = SL_BUF_INIT;
  sl_metric *c = sl_metrics_counter("sluice_test_total", "A test counter.", "x=1");
  CU_ASSERT_PTR_NOT_NULL(c);
  sl_metric_add(c, 2);
  CU_ASSERT_EQUAL(sl_metrics_render(&out), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "sluice_test_total{x=\"1\"} "));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "# TYPE sluice_process_resident_memory_bytes gauge\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "# TYPE sluice_process_cpu_seconds_total counter\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "sluice_process_start_time_seconds 1"));
  const char *rss = strstr(out.data, "\nsluice_process_resident_memory_bytes ");
  CU_ASSERT_PTR_NOT_NULL_FATAL(rss);
  CU_ASSERT(strtod(rss + 38, NULL) > 1e5);
  sl_buf_free(&out);
}

typedef struct {
  sl_metrics *m;
  int id;
} worker_arg;

static void *worker(void *p) {
  worker_arg *w = p;
  for (int i = 0; i < 20000; i++) {
    /* look up every time on purpose, to race creation against updates */
    char labels[32];
    snprintf(labels, sizeof labels, "k=%d", i % 7);
    sl_metric_add(sl_metrics_get(w->m, SL_METRIC_COUNTER, "c", "", labels, NULL, 0), 1);
    sl_metric_observe(sl_metrics_get(w->m, SL_METRIC_HISTOGRAM, "h", "", NULL, NULL, 0), 0.2);
  }
  return NULL;
}

static void test_two_threads(void) {
  sl_metrics *m = sl_metrics_new();
  pthread_t t[2];
  worker_arg w[2] = {{m, 0}, {m, 1}};
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, worker, &w[i]);
  sl_buf out = SL_BUF_INIT;
  for (int i = 0; i < 20; i++) { /* render while the workers write */
    sl_buf_reset(&out);
    CU_ASSERT_EQUAL(sl_metrics_render_registry(m, &out, 0), 0);
  }
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  double total = 0;
  for (int k = 0; k < 7; k++) {
    char labels[32];
    snprintf(labels, sizeof labels, "k=%d", k);
    total += sl_metric_value(sl_metrics_get(m, SL_METRIC_COUNTER, "c", "", labels, NULL, 0));
  }
  CU_ASSERT_DOUBLE_EQUAL(total, 40000, 0);
  CU_ASSERT_DOUBLE_EQUAL(sl_metric_value(sl_metrics_get(m, SL_METRIC_HISTOGRAM, "h", "", NULL,
                                                        NULL, 0)),
                         40000, 0);
  sl_buf_free(&out);
  sl_metrics_destroy(m);
}

int suite_core_metrics(void) {
  CU_pSuite s = CU_add_suite("core_metrics", NULL, NULL);
  if (!s || !CU_add_test(s, "render format is exact", test_render_exact) ||
      !CU_add_test(s, "label escaping and invalid input", test_label_escaping_and_errors) ||
      !CU_add_test(s, "histogram buckets", test_histogram) ||
      !CU_add_test(s, "process metrics", test_process_metrics) ||
      !CU_add_test(s, "two threads", test_two_threads))
    return -1;
  return 0;
}
