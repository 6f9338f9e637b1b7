/* SPDX-License-Identifier: Apache-2.0 */
/* Operator test harness: runs one operator descriptor against synthetic
 * batches with a fake host (captured output, captured dead letters, a fake
 * clock, an in-memory snapshot store). No sleeps, no I/O. */
#ifndef SLUICE_TEST_HARNESS_H
#define SLUICE_TEST_HARNESS_H

#include <CUnit/CUnit.h>

#include "base/config.h"
#include "base/record_internal.h"
#include "sluice/operator.h"

typedef struct th_dead {
  sl_record *record; /* deep copy in the harness arena */
  char reason[32];
  char message[256];
} th_dead;

typedef struct th_snap_entry {
  int32_t partition;
  char *key;
  size_t key_len;
  char *val; /* NULL when deleted */
  size_t val_len;
} th_snap_entry;

typedef struct th_op {
  const sl_operator_desc *desc;
  void *state;
  sl_host host;    /* a copy of the fake host; tests may override members */
  sl_arena *arena; /* owns every record the test makes and every output copy */
  sl_record **out; /* emitted records in order (deep copies) */
  size_t out_count, out_cap;
  th_dead *dead;
  size_t dead_count, dead_cap;
  int64_t now_ms; /* the fake clock */
  th_snap_entry *snap; /* latest snapshot value per (partition, key) */
  size_t snap_count, snap_cap;
  double counters[8]; /* counter_add totals by th_counter_index(name) */
  const char *counter_names[8];
  double gauges[8];
  const char *gauge_names[8];
  sl_error err; /* last error from init/process */
} th_op;

/* Set by suites that link the expression engine, so the fake host's
 * expr_* members work; NULL otherwise. */
extern sl_expr *(*th_expr_compile)(const char *text, int line, sl_error *err);
extern int (*th_expr_eval)(const sl_expr *e, const sl_record *r, sl_arena *a, sl_value *out,
                           sl_error *err);
extern void (*th_expr_free)(sl_expr *e);

/* Initialise `t` and call desc->init with `cfg` (not taken; caller destroys).
 * Returns init's status; on failure t->err says why. */
int th_op_init(th_op *t, const sl_operator_desc *desc, const sl_config *cfg);
/* destroy() the operator and free everything the harness owns. */
void th_op_free(th_op *t);

/* Run process() over `n` records (from t->arena); returns its status. */
int th_process(th_op *t, sl_record **records, size_t n);
int th_watermark(th_op *t, int64_t wm);
int th_tick(th_op *t, int64_t now_ms);
int th_snapshot(th_op *t);
/* Feed every live snapshot entry back through restore(). */
int th_restore_into(th_op *from, th_op *to);

/* Build a record in t->arena: th_rec(t, "a", sl_value_int(1), "b", ..., NULL). */
sl_record *th_rec(th_op *t, ...);
sl_value th_str(th_op *t, const char *s);
/* Value of field `name` of output i, or NULL. */
const sl_value *th_out_field(th_op *t, size_t i, const char *name);
double th_counter(th_op *t, const char *name);
double th_gauge(th_op *t, const char *name);
/* Forget captured outputs and dead letters. */
void th_clear(th_op *t);

#endif
