/* SPDX-License-Identifier: Apache-2.0 */
/* The alert operator through the harness: hysteresis, `for` across window
 * results, cooldown timing, absence with several keys, checkpoints (restart
 * in the middle of a firing alert == uninterrupted run), state cleanup, key
 * rules, bad configs, eval errors; and a file pipeline window -> aggregate ->
 * alert -> file_sink checked against alerts computed here. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "codec/json_codec.h"
#include "engine/graph_validate.h"
#include "engine/runtime.h"
#include "expr/expr.h"
#include "harness.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "lang/source_time.h"

extern const sl_operator_desc sl_op_alert;

/* cfg("name", "overheat", "when", "...", NULL): every value a string. */
static sl_config *cfg(const char *k, ...) {
  sl_config *c = sl_config_new("alerts.lua", 7);
  va_list ap;
  va_start(ap, k);
  for (; k; k = va_arg(ap, const char *))
    sl_config_put_string(c, k, va_arg(ap, const char *));
  va_end(ap);
  return c;
}

static void init(th_op *t, sl_config *c) {
  th_expr_compile = sl_expr_compile;
  th_expr_eval = sl_expr_eval;
  th_expr_free = sl_expr_free;
  int rc = th_op_init(t, &sl_op_alert, c);
  if (rc != SL_OK)
    fprintf(stderr, "init: %s\n", t->err.message);
  CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
  sl_config_destroy(c);
}

/* A 10 s window result for machine `m` starting at `ws` (event time ws + 9999). */
static sl_record *win(th_op *t, const char *m, int64_t ws, double avg) {
  sl_record *r = th_rec(t, "machine_id", th_str(t, m), "window_start", sl_value_int(ws),
                        "window_end", sl_value_int(ws + 10000), "avg_temp", sl_value_double(avg),
                        NULL);
  sl_record_set_timestamp(r, ws + 9999);
  sl_record_set_position(r, -1, NULL, 0, -1);
  return r;
}

static int feed(th_op *t, sl_record *r) { return th_process(t, &r, 1); }

static const char *out_str(th_op *t, size_t i, const char *f) {
  const sl_value *v = th_out_field(t, i, f);
  return v && v->type == SL_TYPE_STRING ? v->as.str.ptr : "";
}

static int64_t out_ts(th_op *t, size_t i) {
  const sl_value *v = th_out_field(t, i, "ts");
  return v && v->type == SL_TYPE_INT ? v->as.i : -1;
}

static const char *out_key_machine(th_op *t, size_t i) {
  const sl_value *k = th_out_field(t, i, "key");
  if (!k || k->type != SL_TYPE_RECORD)
    return "";
  const sl_value *m = sl_record_get_cstr(k->as.rec, "machine_id");
  if (!m)
    m = sl_record_get_cstr(k->as.rec, "id");
  return m && m->type == SL_TYPE_STRING ? m->as.str.ptr : "";
}

static double out_avg(th_op *t, size_t i) {
  const sl_value *r = th_out_field(t, i, "record");
  const sl_value *v =
      r && r->type == SL_TYPE_RECORD ? sl_record_get_cstr(r->as.rec, "avg_temp") : NULL;
  return v && v->type == SL_TYPE_DOUBLE ? v->as.d : NAN;
}

static void test_hysteresis(void) {
  th_op t;
  init(&t, cfg("name", "overheat", "when", "avg_temp > 90", "clear", "avg_temp < 85",
               "severity", "critical", NULL));
  CU_ASSERT_EQUAL(th_gauge(&t, "sluice_alerts_firing"), 0);
  double seq[] = {80, 95, 88, 91, 86, 84, 88, 92};
  for (size_t i = 0; i < 8; i++)
    CU_ASSERT_EQUAL(feed(&t, win(&t, "m0042", (int64_t)i * 10000, seq[i])), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 3);
  CU_ASSERT_STRING_EQUAL(out_str(&t, 0, "alert"), "overheat");
  CU_ASSERT_STRING_EQUAL(out_str(&t, 0, "state"), "firing");
  CU_ASSERT_STRING_EQUAL(out_str(&t, 0, "severity"), "critical");
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 0), "m0042");
  CU_ASSERT_EQUAL(out_ts(&t, 0), 19999);
  CU_ASSERT_DOUBLE_EQUAL(out_avg(&t, 0), 95, 0);
  CU_ASSERT_EQUAL(sl_record_timestamp(t.out[0]), 19999);
  size_t klen;
  const char *k = sl_record_key(t.out[0], &klen);
  CU_ASSERT_EQUAL(klen, strlen("{\"machine_id\":\"m0042\"}"));
  CU_ASSERT_NSTRING_EQUAL(k, "{\"machine_id\":\"m0042\"}", klen);
  CU_ASSERT_STRING_EQUAL(out_str(&t, 1, "state"), "resolved");
  CU_ASSERT_EQUAL(out_ts(&t, 1), 59999); /* 88, 91, 86 stay firing: between the thresholds */
  CU_ASSERT_DOUBLE_EQUAL(out_avg(&t, 1), 84, 0);
  CU_ASSERT_STRING_EQUAL(out_str(&t, 2, "state"), "firing");
  CU_ASSERT_EQUAL(out_ts(&t, 2), 79999);
  CU_ASSERT_EQUAL(th_gauge(&t, "sluice_alerts_firing"), 1);
  /* the whole alert record, field order included */
  sl_buf b = SL_BUF_INIT;
  sl_error err;
  CU_ASSERT_EQUAL(sl_json_encode(t.out[1], &b, &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(b.data, "{\"alert\":\"overheat\",\"state\":\"resolved\",\"severity\":"
                                 "\"critical\",\"key\":{\"machine_id\":\"m0042\"},\"ts\":59999,"
                                 "\"record\":{\"machine_id\":\"m0042\",\"window_start\":50000,"
                                 "\"window_end\":60000,\"avg_temp\":84.0}}");
  sl_buf_free(&b);
  th_op_free(&t);
}

/* Without `clear`, the alert resolves once `when` no longer holds; a null
 * value (missing field) does not hold. With `clear`, null keeps it firing. */
static void test_default_clear_and_nulls(void) {
  th_op t;
  init(&t, cfg("name", "hot", "when", "avg_temp > 90", NULL));
  feed(&t, win(&t, "m1", 0, 95));
  sl_record *r = th_rec(&t, "machine_id", th_str(&t, "m1"), "window_start", sl_value_int(10000),
                        NULL);
  sl_record_set_timestamp(r, 19999);
  feed(&t, r);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_STRING_EQUAL(out_str(&t, 0, "severity"), "warning");
  CU_ASSERT_STRING_EQUAL(out_str(&t, 1, "state"), "resolved");
  CU_ASSERT_EQUAL(t.dead_count, 0);
  th_op_free(&t);

  init(&t, cfg("name", "hot", "when", "avg_temp > 90", "clear", "avg_temp < 85", NULL));
  feed(&t, win(&t, "m1", 0, 95));
  r = th_rec(&t, "machine_id", th_str(&t, "m1"), "window_start", sl_value_int(10000), NULL);
  sl_record_set_timestamp(r, 19999);
  feed(&t, r);
  CU_ASSERT_EQUAL(t.out_count, 1);
  th_op_free(&t);
}

static void test_for_across_windows(void) {
  th_op t;
  init(&t, cfg("name", "hot", "when", "avg_temp > 90", "for", "20s", NULL));
  /* holds at 9999, breaks at 19999, holds from 29999: fires at 49999 */
  double seq[] = {95, 80, 95, 96, 97, 98};
  for (size_t i = 0; i < 6; i++) {
    feed(&t, win(&t, "m1", (int64_t)i * 10000, seq[i]));
    feed(&t, win(&t, "m2", (int64_t)i * 10000, 95)); /* holds from 9999: fires at 29999 */
  }
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 0), "m2");
  CU_ASSERT_EQUAL(out_ts(&t, 0), 29999);
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 1), "m1");
  CU_ASSERT_EQUAL(out_ts(&t, 1), 49999);
  CU_ASSERT_EQUAL(th_gauge(&t, "sluice_alerts_firing"), 2);
  th_op_free(&t);
}

static void test_cooldown(void) {
  th_op t;
  init(&t, cfg("name", "hot", "when", "avg_temp > 90", "cooldown", "30s", NULL));
  for (int64_t i = 0; i < 10; i++) /* results at 9999, 19999, ..., 99999 */
    feed(&t, win(&t, "m1", i * 10000, 95));
  CU_ASSERT_EQUAL_FATAL(t.out_count, 4); /* 9999, then every 30 s: 39999, 69999, 99999 */
  int64_t want[] = {9999, 39999, 69999, 99999};
  for (size_t i = 0; i < 4; i++) {
    CU_ASSERT_STRING_EQUAL(out_str(&t, i, "state"), "firing");
    CU_ASSERT_EQUAL(out_ts(&t, i), want[i]);
  }
  CU_ASSERT_EQUAL(th_gauge(&t, "sluice_alerts_firing"), 1);
  th_op_free(&t);

  init(&t, cfg("name", "hot", "when", "avg_temp > 90", NULL)); /* no cooldown: sent once */
  for (int64_t i = 0; i < 10; i++)
    feed(&t, win(&t, "m1", i * 10000, 95));
  CU_ASSERT_EQUAL(t.out_count, 1);
  th_op_free(&t);
}

static sl_record *beat(th_op *t, const char *id, int64_t ts) {
  sl_record *r = th_rec(t, "id", th_str(t, id), "v", sl_value_int(1), NULL);
  sl_record_set_timestamp(r, ts);
  return r;
}

static int is_absent(th_op *t, size_t i) {
  const sl_value *v = th_out_field(t, i, "reason");
  return v && v->type == SL_TYPE_STRING && strcmp(v->as.str.ptr, "absent") == 0;
}

static void test_absence_several_keys(void) {
  th_op t;
  init(&t, cfg("name", "silent", "absent", "10s", "key", "id", NULL));
  sl_record *rs[] = {beat(&t, "c", 0), beat(&t, "b", 0), beat(&t, "a", 0), beat(&t, "a", 5000)};
  CU_ASSERT_EQUAL(th_process(&t, rs, 4), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 0);
  feed(&t, beat(&t, "a", 12000)); /* b and c silent since 0: due at 10000, in key order */
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 0), "b");
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 1), "c");
  for (size_t i = 0; i < 2; i++) {
    CU_ASSERT_STRING_EQUAL(out_str(&t, i, "state"), "firing");
    CU_ASSERT_EQUAL(out_ts(&t, i), 10000);
    CU_ASSERT_TRUE(is_absent(&t, i));
    CU_ASSERT_EQUAL(th_out_field(&t, i, "record")->type, SL_TYPE_NULL);
  }
  CU_ASSERT_EQUAL(th_gauge(&t, "sluice_alerts_firing"), 2);
  th_clear(&t);
  feed(&t, beat(&t, "a", 16000));
  feed(&t, beat(&t, "b", 17000)); /* b is back */
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  CU_ASSERT_STRING_EQUAL(out_str(&t, 0, "state"), "resolved");
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 0), "b");
  CU_ASSERT_EQUAL(out_ts(&t, 0), 17000);
  CU_ASSERT_TRUE(is_absent(&t, 0));
  CU_ASSERT_EQUAL(th_gauge(&t, "sluice_alerts_firing"), 1);
  th_clear(&t);
  /* a jumps to 30000: a (due 26000) and b (due 27000) went silent meanwhile;
   * a's own record then resolves it. c stays firing, not re-sent. */
  feed(&t, beat(&t, "a", 30000));
  CU_ASSERT_EQUAL_FATAL(t.out_count, 3);
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 0), "a");
  CU_ASSERT_EQUAL(out_ts(&t, 0), 26000);
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 1), "b");
  CU_ASSERT_EQUAL(out_ts(&t, 1), 27000);
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 2), "a");
  CU_ASSERT_STRING_EQUAL(out_str(&t, 2, "state"), "resolved");
  CU_ASSERT_EQUAL(th_gauge(&t, "sluice_alerts_firing"), 2);
  th_clear(&t);
  /* the end of a finite input fires nothing */
  CU_ASSERT_EQUAL(th_watermark(&t, SL_WATERMARK_END), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 0);
  /* a real watermark advances the clock */
  CU_ASSERT_EQUAL(th_watermark(&t, 40000), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 0), "a");
  CU_ASSERT_EQUAL(out_ts(&t, 0), 40000);
  th_op_free(&t);
}

/* ---- raw readings with event time from the source ------------------- */

/* A raw reading as a source delivers it: arrival time `arrived` as its
 * timestamp, then (when `st` is given) the source's `time = "ts"` applied,
 * as the runtime does right after decoding. */
static sl_record *reading(th_op *t, const sl_source_time *st, const char *m, int64_t ts,
                          double temp, int64_t arrived) {
  sl_record *r = th_rec(t, "machine_id", th_str(t, m), "ts", sl_value_int(ts), "temperature",
                        sl_value_double(temp), NULL);
  sl_record_set_timestamp(r, arrived);
  sl_record_set_position(r, 0, "telemetry", 0, ts / 1000);
  char why[160];
  if (st)
    CU_ASSERT_EQUAL(sl_source_time_assign(st, r, why, sizeof why), SL_OK);
  return r;
}

static sl_source_time *source_time_ts(void) {
  sl_config *c = sl_config_new("alerts.lua", 2);
  sl_config_put_string(c, "time", "ts");
  sl_source_time *st = NULL;
  sl_error err;
  CU_ASSERT_EQUAL(sl_source_time_new(c, &st, &err), SL_OK);
  sl_config_destroy(c);
  CU_ASSERT_PTR_NOT_NULL(st);
  return st;
}

/* Regression (issue 12): 400 s of hot readings with `for = "30s"` fired
 * nothing, because a file read in one go stamps every record with about
 * the same arrival time. With the source's event time, it fires once, 30 s
 * of event time after the first hot reading, and never again. */
static void test_for_on_raw_readings_with_source_time(void) {
  const int64_t base = 1700000000000, arrived = 1800000000000;
  for (int with_time = 0; with_time < 2; with_time++) {
    sl_source_time *st = with_time ? source_time_ts() : NULL;
    th_op t;
    init(&t, cfg("name", "hot", "when", "temperature > 90", "for", "30s", "key", "machine_id",
                 NULL));
    for (int s = 0; s < 400; s++) {
      sl_record *rs[2] = {reading(&t, st, "m1", base + s * 1000, 95, arrived + s / 100),
                          reading(&t, st, "m2", base + s * 1000, 60, arrived + s / 100)};
      CU_ASSERT_EQUAL(th_process(&t, rs, 2), SL_OK);
    }
    if (!with_time) {
      CU_ASSERT_EQUAL(t.out_count, 0); /* arrival time: 4 ms apart, never 30 s */
    } else {
      CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
      CU_ASSERT_STRING_EQUAL(out_str(&t, 0, "state"), "firing");
      CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 0), "m1");
      CU_ASSERT_EQUAL(out_ts(&t, 0), base + 30000);
    }
    th_op_free(&t);
    sl_source_time_free(st);
  }
}

/* Regression (issue 12): a dead-man alert on raw readings never fired. m2
 * sends for 60 s of event time, then nothing while m1 goes on: with the
 * source's event time m2 is reported absent at its last reading + 60 s, and
 * resolved when it is back. */
static void test_absent_on_raw_readings_with_source_time(void) {
  const int64_t base = 1700000000000, arrived = 1800000000000;
  for (int with_time = 0; with_time < 2; with_time++) {
    sl_source_time *st = with_time ? source_time_ts() : NULL;
    th_op t;
    init(&t, cfg("name", "dead", "absent", "60s", "key", "machine_id", NULL));
    for (int s = 0; s <= 300; s += 5) {
      CU_ASSERT_EQUAL(feed(&t, reading(&t, st, "m1", base + s * 1000, 20, arrived + s)), SL_OK);
      if (s <= 60)
        CU_ASSERT_EQUAL(feed(&t, reading(&t, st, "m2", base + s * 1000, 20, arrived + s)), SL_OK);
    }
    if (!with_time) {
      CU_ASSERT_EQUAL(t.out_count, 0); /* 300 ms of arrival time: never 60 s */
      th_op_free(&t);
      continue;
    }
    CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
    CU_ASSERT_STRING_EQUAL(out_str(&t, 0, "state"), "firing");
    CU_ASSERT_STRING_EQUAL(out_key_machine(&t, 0), "m2");
    CU_ASSERT_EQUAL(out_ts(&t, 0), base + 120000);
    CU_ASSERT_TRUE(is_absent(&t, 0));
    th_clear(&t);
    CU_ASSERT_EQUAL(feed(&t, reading(&t, st, "m2", base + 305000, 20, arrived + 305)), SL_OK);
    CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
    CU_ASSERT_STRING_EQUAL(out_str(&t, 0, "state"), "resolved");
    CU_ASSERT_EQUAL(out_ts(&t, 0), base + 305000);
    th_op_free(&t);
    sl_source_time_free(st);
  }
}

/* Inputs for the restart test: two machines alternating, every feature on;
 * m1 is silent for windows 8..11 (40 s > absent). */
static sl_record *restart_input(th_op *t, int i) {
  static const double temps[] = {95, 96, 97, 97, 98, 88, 84, 95, 96, 97, 99, 99, 80, 82};
  int w = i / 2;
  return win(t, i % 2 ? "m2" : "m1", (int64_t)w * 10000, temps[w % 14] - (i % 2 ? 3 : 0));
}

static void run_restart(int cut, sl_buf *log) {
  const char *opts[] = {"name", "overheat", "when", "avg_temp > 90", "clear", "avg_temp < 85",
                        "for", "20s", "cooldown", "30s", "absent", "25s", NULL};
  th_op a, b;
  init(&a, cfg(opts[0], opts[1], opts[2], opts[3], opts[4], opts[5], opts[6], opts[7], opts[8],
               opts[9], opts[10], opts[11], NULL));
  th_op *cur = &a;
  sl_error err;
  for (int i = 0; i < 42; i++) {
    if (i == cut) {
      CU_ASSERT_EQUAL(th_snapshot(&a), SL_OK);
      init(&b, cfg(opts[0], opts[1], opts[2], opts[3], opts[4], opts[5], opts[6], opts[7],
                   opts[8], opts[9], opts[10], opts[11], NULL));
      CU_ASSERT_EQUAL(th_restore_into(&a, &b), SL_OK);
      CU_ASSERT_EQUAL(th_gauge(&b, "sluice_alerts_firing"), th_gauge(&a, "sluice_alerts_firing"));
      cur = &b;
    }
    if (i % 2 == 0 && i / 2 >= 8 && i / 2 <= 11)
      continue;
    CU_ASSERT_EQUAL(feed(cur, restart_input(cur, i)), SL_OK);
    if (i % 5 == 0 && cur == &a) {
      CU_ASSERT_EQUAL(th_snapshot(&a), SL_OK); /* incremental snapshots along the way */
    }
    for (size_t k = 0; k < cur->out_count; k++) {
      CU_ASSERT_EQUAL(sl_json_encode(cur->out[k], log, &err), SL_OK);
      sl_buf_putc(log, '\n');
    }
    th_clear(cur);
  }
  sl_buf_printf(log, "gauge %g\n", th_gauge(cur, "sluice_alerts_firing"));
  if (cur == &b)
    th_op_free(&b);
  th_op_free(&a);
}

static void test_restart_equals_uninterrupted(void) {
  sl_buf full = SL_BUF_INIT;
  run_restart(-1, &full);
  CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(full.data, "\"state\":\"firing\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(full.data, "\"state\":\"resolved\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(full.data, "\"reason\":\"absent\""));
  for (int cut = 1; cut < 42; cut++) {
    sl_buf part = SL_BUF_INIT;
    run_restart(cut, &part);
    CU_ASSERT_STRING_EQUAL(part.data, full.data);
    if (strcmp(part.data, full.data) != 0)
      fprintf(stderr, "cut %d:\n%s\nvs\n%s\n", cut, part.data, full.data);
    sl_buf_free(&part);
  }
  sl_buf_free(&full);
}

static size_t live_entries(th_op *t) {
  size_t n = 0;
  for (size_t i = 0; i < t->snap_count; i++)
    n += t->snap[i].val != NULL;
  return n;
}

/* Resolved keys leave the state store (no absence tracking); a key's entry
 * follows its partition; drop_partition forgets without deleting. */
static void test_state_cleanup_and_partitions(void) {
  th_op t;
  init(&t, cfg("name", "hot", "when", "avg_temp > 90", NULL));
  feed(&t, win(&t, "m1", 0, 95));
  sl_record *r = win(&t, "m2", 0, 99);
  sl_record_set_position(r, -1, NULL, 3, -1);
  feed(&t, r);
  CU_ASSERT_EQUAL(th_snapshot(&t), SL_OK);
  CU_ASSERT_EQUAL(live_entries(&t), 2);
  feed(&t, win(&t, "m1", 10000, 50)); /* resolved */
  CU_ASSERT_EQUAL(th_snapshot(&t), SL_OK);
  CU_ASSERT_EQUAL(live_entries(&t), 1);
  for (size_t i = 0; i < t.snap_count; i++)
    if (t.snap[i].val) {
      CU_ASSERT_EQUAL(t.snap[i].partition, 3); /* m2's, under its partition */
    }
  CU_ASSERT_EQUAL(th_gauge(&t, "sluice_alerts_firing"), 1);
  CU_ASSERT_EQUAL(t.desc->drop_partition(t.state, 3, &t.err), SL_OK);
  CU_ASSERT_EQUAL(th_gauge(&t, "sluice_alerts_firing"), 0);
  CU_ASSERT_EQUAL(th_snapshot(&t), SL_OK);
  CU_ASSERT_EQUAL(live_entries(&t), 1); /* still there for the partition's next owner */
  th_clear(&t);
  feed(&t, win(&t, "m2", 10000, 99)); /* forgotten here: fires anew */
  CU_ASSERT_EQUAL(t.out_count, 1);
  /* a delete queued for a partition that then moves away is not applied:
   * the state belongs to the partition's next owner now */
  r = win(&t, "m3", 0, 99);
  sl_record_set_position(r, -1, NULL, 5, -1);
  feed(&t, r);
  CU_ASSERT_EQUAL(th_snapshot(&t), SL_OK);
  size_t before = live_entries(&t);
  r = win(&t, "m3", 10000, 50);
  sl_record_set_position(r, -1, NULL, 5, -1);
  feed(&t, r); /* resolved: its delete is queued */
  CU_ASSERT_EQUAL(t.desc->drop_partition(t.state, 5, &t.err), SL_OK);
  CU_ASSERT_EQUAL(th_snapshot(&t), SL_OK);
  CU_ASSERT_EQUAL(live_entries(&t), before);
  /* corrupt state is an error, not a crash */
  CU_ASSERT_EQUAL(t.desc->restore(t.state, 0, "{}", 2, "\x07\x01", 2, &t.err), SL_ERR_PARSE);
  th_op_free(&t);
}

/* Key rules: `key` fields, window key fields, record key bytes, none. */
static void test_key_rules(void) {
  th_op t;
  init(&t, cfg("name", "k", "when", "v > 0", NULL));
  sl_record *r = th_rec(&t, "v", sl_value_int(1), NULL);
  sl_record_set_key(r, "dev-7", 5);
  feed(&t, r);
  feed(&t, th_rec(&t, "v", sl_value_int(2), NULL));
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  size_t len;
  const char *k = sl_record_key(t.out[0], &len);
  CU_ASSERT_NSTRING_EQUAL(k, "{\"key\":\"dev-7\"}", len);
  k = sl_record_key(t.out[1], &len);
  CU_ASSERT_NSTRING_EQUAL(k, "{}", len);
  th_op_free(&t);

  init(&t, cfg("name", "k", "when", "v > 0", "key", "dev.id", NULL));
  sl_record *dev = th_rec(&t, "id", sl_value_int(42), NULL);
  feed(&t, th_rec(&t, "dev", sl_value_record(dev), "v", sl_value_int(1), NULL));
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  k = sl_record_key(t.out[0], &len);
  CU_ASSERT_NSTRING_EQUAL(k, "{\"dev.id\":42}", len);
  th_op_free(&t);
}

static void test_eval_errors_empty_batch_and_missing_fields(void) {
  th_op t;
  init(&t, cfg("name", "x", "when", "name + 1 > 2", NULL));
  CU_ASSERT_EQUAL(th_process(&t, NULL, 0), SL_OK);
  feed(&t, th_rec(&t, "name", th_str(&t, "abc"), NULL));
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 1);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "eval");
  feed(&t, th_rec(&t, "other", sl_value_int(1), NULL)); /* missing: null, no alert */
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL(t.dead_count, 1);
  th_op_free(&t);
}

static void bad(sl_config *c, const char *needle) {
  th_op t;
  th_expr_compile = sl_expr_compile;
  th_expr_eval = sl_expr_eval;
  th_expr_free = sl_expr_free;
  CU_ASSERT_NOT_EQUAL(th_op_init(&t, &sl_op_alert, c), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, needle));
  if (!strstr(t.err.message, needle))
    fprintf(stderr, "got '%s', want '%s'\n", t.err.message, needle);
  t.state = NULL;
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_bad_config(void) {
  bad(cfg("name", "x", "when", "a > 1", "severity", "fatal", NULL), "severity 'fatal'");
  bad(cfg("name", "x", NULL), "needs `when`");
  bad(cfg("name", "x", "clear", "a < 1", "absent", "1m", NULL), "`clear` needs `when`");
  bad(cfg("name", "x", "when", "a >", NULL), "");
  bad(cfg("name", "x", "when", "a > 1", "absent", "0", NULL), "absent must be positive");
  bad(cfg("name", "", "when", "a > 1", NULL), "name must not be empty");
  bad(cfg("name", "x", "when", "a > 1", "key", "a..b", NULL), "not a field path");
  sl_op_alert.destroy(NULL);
}

/* ---- end to end --------------------------------------------------------- */

static void write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs(text, fp);
  fclose(fp);
}

#define E2E_MACHINES 3
#define E2E_WINDOWS 12

/* Temperature of machine m in second s: a per-machine wave. */
static int e2e_temp(int m, int s) { return 70 + ((s / 10 + m * 3) % 7) * 5 + (s % 3); }

static void test_pipeline_end_to_end(void) {
  char dir[] = "/tmp/sluice-alert-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  char in[256], out[256], pl[256];
  snprintf(in, sizeof in, "%s/in.jsonl", dir);
  snprintf(out, sizeof out, "%s/out.jsonl", dir);
  snprintf(pl, sizeof pl, "%s/p.lua", dir);
  sl_buf text = SL_BUF_INIT;
  for (int s = 0; s < E2E_WINDOWS * 10; s += 2)
    for (int m = 0; m < E2E_MACHINES; m++)
      sl_buf_printf(&text, "{\"machine_id\":\"m%d\",\"ts\":%d,\"temperature\":%d}\n", m,
                    s * 1000, e2e_temp(m, s));
  write_file(in, text.data);
  write_file(pl, "local sl = require \"sluice\"\n"
                 "local p = sl.pipeline { name = \"e2e\", state = \"memory\" }\n"
                 "p:file_source { path = \"in.jsonl\" }\n"
                 "  :window { tumbling = \"10s\", key = \"machine_id\", time = \"ts\" }\n"
                 "  :aggregate { avg_temp = \"avg(temperature)\", n = \"count()\" }\n"
                 "  :alert { name = \"overheat\", when = \"avg_temp > 90\",\n"
                 "           clear = \"avg_temp < 85\", [\"for\"] = \"10s\", severity = \"critical\" }\n"
                 "  :file_sink { path = \"out.jsonl\" }\n");
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  sl_lua *lua = NULL;
  sl_graph_desc *g = sl_lua_load_pipeline(pl, NULL, 0, reg, &lua, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  sl_graph_validate(g, reg, NULL);
  CU_ASSERT_EQUAL(g->nerrors, 0);
  for (size_t i = 0; i < g->nerrors; i++)
    fprintf(stderr, "%s\n", g->errors[i]);
  sl_runtime *rt = sl_runtime_new(g, reg, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  CU_ASSERT_EQUAL(sl_runtime_run(rt, &err), SL_OK);
  sl_runtime_free(rt);
  sl_graph_desc_free(g);
  sl_lua_close(lua);
  sl_registry_free(reg);

  /* Expected: results in (window_end, machine) order through the alert rules. */
  sl_buf want = SL_BUF_INIT;
  int phase[E2E_MACHINES] = {0}; /* 0 ok, 1 pending, 2 firing */
  size_t n_want = 0;
  for (int w = 0; w < E2E_WINDOWS; w++)
    for (int m = 0; m < E2E_MACHINES; m++) {
      double sum = 0;
      int n = 0;
      for (int s = w * 10; s < w * 10 + 10; s += 2, n++)
        sum += e2e_temp(m, s);
      double avg = sum / n;
      const char *state = NULL;
      if (phase[m] == 2 && avg < 85) {
        phase[m] = 0;
        state = "resolved";
      } else if (phase[m] < 2 && avg > 90) {
        state = phase[m] == 1 ? "firing" : NULL; /* `for` = 10s: the second window fires */
        phase[m] = phase[m] == 1 ? 2 : 1;
      } else if (phase[m] == 1) {
        phase[m] = 0;
      }
      if (state) {
        sl_buf_printf(&want, "%s m%d %d %.3f\n", state, m, w * 10000 + 9999, avg);
        n_want++;
      }
    }
  CU_ASSERT_TRUE(n_want >= 4);

  sl_buf got = SL_BUF_INIT;
  FILE *fp = fopen(out, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  char line[2048];
  sl_arena *a = sl_arena_new(0);
  while (fgets(line, sizeof line, fp)) {
    sl_record *r;
    CU_ASSERT_EQUAL_FATAL(sl_json_decode(line, strlen(line), a, &r, &err), SL_OK);
    const sl_value *st = sl_record_get_cstr(r, "state"), *k = sl_record_get_cstr(r, "key"),
                   *ts = sl_record_get_cstr(r, "ts"), *rec = sl_record_get_cstr(r, "record");
    CU_ASSERT_FATAL(st && k && ts && rec && k->type == SL_TYPE_RECORD &&
                    rec->type == SL_TYPE_RECORD);
    const sl_value *m = sl_record_get_cstr(k->as.rec, "machine_id");
    const sl_value *avg = sl_record_get_cstr(rec->as.rec, "avg_temp");
    CU_ASSERT_FATAL(m && avg && avg->type == SL_TYPE_DOUBLE);
    CU_ASSERT_STRING_EQUAL(sl_record_get_cstr(r, "severity")->as.str.ptr, "critical");
    sl_buf_printf(&got, "%s %s %lld %.3f\n", st->as.str.ptr, m->as.str.ptr, (long long)ts->as.i,
                  avg->as.d);
  }
  fclose(fp);
  CU_ASSERT_STRING_EQUAL(got.data ? got.data : "", want.data);
  if (!got.data || strcmp(got.data, want.data) != 0)
    fprintf(stderr, "got:\n%s\nwant:\n%s\n", got.data ? got.data : "", want.data);
  sl_arena_destroy(a);
  sl_buf_free(&got);
  sl_buf_free(&want);
  sl_buf_free(&text);
  unlink(in);
  unlink(out);
  unlink(pl);
  rmdir(dir);
}

int suite_operators_alert(void) {
  CU_pSuite s = CU_add_suite("operators_alert", NULL, NULL);
  if (!s || !CU_add_test(s, "hysteresis", test_hysteresis) ||
      !CU_add_test(s, "default clear and nulls", test_default_clear_and_nulls) ||
      !CU_add_test(s, "for across window results", test_for_across_windows) ||
      !CU_add_test(s, "cooldown timing", test_cooldown) ||
      !CU_add_test(s, "absence with several keys", test_absence_several_keys) ||
      !CU_add_test(s, "restart == uninterrupted run", test_restart_equals_uninterrupted) ||
      !CU_add_test(s, "state cleanup and partitions", test_state_cleanup_and_partitions) ||
      !CU_add_test(s, "key rules", test_key_rules) ||
      !CU_add_test(s, "eval errors, empty batch, missing fields",
                   test_eval_errors_empty_batch_and_missing_fields) ||
      !CU_add_test(s, "bad config and destroy(NULL)", test_bad_config) ||
      !CU_add_test(s, "pipeline end to end", test_pipeline_end_to_end) ||
      !CU_add_test(s, "`for` on raw readings with source event time",
                   test_for_on_raw_readings_with_source_time) ||
      !CU_add_test(s, "`absent` on raw readings with source event time",
                   test_absent_on_raw_readings_with_source_time))
    return -1;
  return 0;
}
