/* SPDX-License-Identifier: Apache-2.0 */
/* The per-record path of the aggregates (sl_agg_check, then
 * sl_agg_update_checked per window joined) against the general path
 * (sl_agg_update, one lookup and one generic update per function), a
 * checker written here from the documented rules, and sums, counts and
 * extremes computed here: random records of ints, doubles, NaN, infinities,
 * nulls, missing fields, strings, bools and records, fields in any order.
 * The two paths must leave byte-identical state (the checkpoint format). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/aggregate.h"

static sl_arena *A;
static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return rs;
}

/* Trials of ties: only values that compare equal across signs and types. */
static int ties;

/* The value of one argument field; *missing when the field is left out. */
static sl_value random_value(int *missing) {
  static const char *const words[] = {"", "a", "pear", "apple", "zz"};
  *missing = 0;
  if (ties) {
    static const double d[] = {0.0, -0.0, 1.0, -1.0};
    unsigned k = (unsigned)(rnd() % 6);
    return k < 4 ? sl_value_double(d[k]) : sl_value_int(k == 4 ? 0 : 1);
  }
  unsigned k = (unsigned)(rnd() % 100);
  if (k < 5) {
    *missing = 1;
    return sl_value_null();
  }
  if (k < 10)
    return sl_value_null();
  if (k < 13)
    return sl_value_double(NAN);
  if (k < 15)
    return sl_value_double(k % 2 ? INFINITY : -INFINITY);
  if (k < 30)
    return sl_value_int((int64_t)(rnd() % 2001) - 1000);
  if (k < 33) /* beyond the 48-bit inline ints of the min/max box */
    return sl_value_int((int64_t)(rnd() >> 1) * (k % 2 ? 1 : -1));
  if (k < 36)
    return sl_value_double(k % 2 ? -0.0 : 0.0);
  if (k < 40)
    return sl_value_double(ldexp((double)(rnd() % 1000) + 1, (int)(rnd() % 400) - 200));
  if (k < 45) {
    const char *w = words[rnd() % 5];
    return sl_value_string(w, strlen(w));
  }
  if (k < 48)
    return sl_value_bool((int)(rnd() % 2));
  if (k < 49)
    return sl_value_record(sl_record_new(A, 1));
  return sl_value_double(((double)(rnd() % 2000001) - 1000000) / 1000.0);
}

/* A record with v, w, a.b and an unrelated field, in a random order. */
static sl_record *random_record(int strings) {
  sl_record *r = sl_record_new(A, 4);
  sl_record *nested = sl_record_new(A, 1);
  const char *names[] = {"v", "w", "a", "other"};
  int order[4] = {0, 1, 2, 3};
  for (int i = 3; i > 0; i--) {
    int j = (int)(rnd() % (uint64_t)(i + 1)), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (int i = 0; i < 4; i++) {
    int missing;
    sl_value v = random_value(&missing);
    if (!strings && (v.type == SL_TYPE_STRING || v.type == SL_TYPE_BOOL) && rnd() % 4)
      v = sl_value_double((double)(rnd() % 100)); /* mostly valid records */
    if (missing)
      continue;
    if (order[i] == 2) {
      sl_record_set(nested, sl_name_cstr("b"), v);
      v = sl_value_record(nested);
    }
    sl_record_set(r, sl_name_cstr(names[order[i]]), v);
  }
  return r;
}

/* ---- the documented rules, written out again ------------------------------ */

static int ignored(const sl_value *v) {
  return !v || v->type == SL_TYPE_NULL || (v->type == SL_TYPE_DOUBLE && isnan(v->as.d));
}

static int number(const sl_value *v) { return v->type == SL_TYPE_INT || v->type == SL_TYPE_DOUBLE; }

static int ref_check(const sl_agg_set *s, const sl_record *r, char *msg, size_t n) {
  for (size_t i = 0; i < s->count; i++) {
    const sl_agg_def *d = &s->defs[i];
    if (d->fn == SL_AGG_COUNT_ALL || d->fn == SL_AGG_COUNT)
      continue;
    const sl_value *v = sl_record_get_path(r, d->path, d->path_len);
    if (ignored(v))
      continue;
    const char *want = NULL;
    switch (d->fn) {
    case SL_AGG_MIN:
    case SL_AGG_MAX:
      want = number(v) || v->type == SL_TYPE_STRING ? NULL : "a number or a string";
      break;
    case SL_AGG_FIRST:
    case SL_AGG_LAST:
    case SL_AGG_DISTINCT:
      want = v->type == SL_TYPE_RECORD || v->type == SL_TYPE_ARRAY ? "a scalar" : NULL;
      break;
    default: want = number(v) ? NULL : "a number";
    }
    if (want) {
      snprintf(msg, n, "%s: expected %s in field '%s', got %s", d->out, want,
               d->path[d->path_len - 1], sl_type_name(v->type));
      return SL_ERR_TYPE;
    }
  }
  return SL_OK;
}

/* count(), count(v), avg(v), min(v), max(v) of one window, kept here. */
typedef struct simple {
  int64_t n, nv;
  double sum;
  sl_value min, max; /* numbers only (the numeric set) */
} simple;

static long double ld(const sl_value *v) {
  return v->type == SL_TYPE_INT ? (long double)v->as.i : (long double)v->as.d;
}

static void simple_add(simple *m, const sl_record *r) {
  m->n++;
  const sl_value *v = sl_record_get_cstr(r, "v");
  if (ignored(v))
    return;
  m->nv++;
  m->sum += v->type == SL_TYPE_INT ? (double)v->as.i : v->as.d;
  if (m->min.type == SL_TYPE_NULL || ld(v) < ld(&m->min))
    m->min = *v;
  if (m->max.type == SL_TYPE_NULL || ld(v) > ld(&m->max))
    m->max = *v;
}

static int same_value(const sl_value *a, const sl_value *b) {
  if (a->type != b->type)
    return 0;
  if (a->type == SL_TYPE_DOUBLE)
    return memcmp(&a->as.d, &b->as.d, 8) == 0 || (isnan(a->as.d) && isnan(b->as.d));
  if (a->type == SL_TYPE_INT)
    return a->as.i == b->as.i;
  return 1;
}

static void check_simple(const sl_agg_set *s, const void *block, const simple *m) {
  sl_record *out = sl_record_new(A, 24);
  CU_ASSERT_EQUAL_FATAL(sl_agg_result(s, block, A, out), SL_OK);
  CU_ASSERT_EQUAL(sl_record_get_cstr(out, "n")->as.i, m->n);
  CU_ASSERT_EQUAL(sl_record_get_cstr(out, "nv")->as.i, m->nv);
  sl_value avg = m->nv ? sl_value_double(m->sum / (double)m->nv) : sl_value_null();
  CU_ASSERT(same_value(sl_record_get_cstr(out, "avg"), &avg));
  CU_ASSERT(same_value(sl_record_get_cstr(out, "min"), &m->min));
  CU_ASSERT(same_value(sl_record_get_cstr(out, "max"), &m->max));
}

/* ---- the differential run ------------------------------------------------- */

static void set_of(sl_agg_set *s, const char *const *pairs) {
  sl_error err;
  for (; *pairs; pairs += 2)
    CU_ASSERT_EQUAL_FATAL(sl_agg_set_add(s, pairs[0], pairs[1], &err), SL_OK);
}

static void same_bytes(const sl_agg_set *s, const void *a, const void *b) {
  sl_buf x = SL_BUF_INIT, y = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_agg_serialize(s, a, &x), SL_OK);
  CU_ASSERT_EQUAL(sl_agg_serialize(s, b, &y), SL_OK);
  CU_ASSERT(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
  sl_buf_free(&x);
  sl_buf_free(&y);
}

/* Records join window 0, window 1 or both, as a sliding window gives. */
static void run(const char *const *pairs, int strings, int numeric) {
  sl_agg_set s = SL_AGG_SET_INIT;
  set_of(&s, pairs);
  for (int trial = 0; trial < 200; trial++) {
    void *fast[2], *gen[2];
    simple m[2];
    memset(m, 0, sizeof m);
    for (int w = 0; w < 2; w++) {
      fast[w] = malloc(s.block_size);
      gen[w] = malloc(s.block_size);
      sl_agg_init(&s, fast[w]);
      sl_agg_init(&s, gen[w]);
    }
    ties = trial % 4 == 0;
    int n = (int)(ties ? rnd() % 6 : rnd() % 300), rejected = 0;
    for (int i = 0; i < n; i++) {
      sl_record *r = random_record(strings);
      sl_error err;
      char want[256];
      int rc = sl_agg_check(&s, r, &err), ref = ref_check(&s, r, want, sizeof want);
      CU_ASSERT_EQUAL(rc, ref);
      if (rc != SL_OK || ref != SL_OK) {
        if (rc == ref)
          CU_ASSERT_STRING_EQUAL(err.message, want);
        rejected++;
        continue;
      }
      int64_t t = (int64_t)(rnd() % 50);
      unsigned join = 1 + (unsigned)(rnd() % 3); /* bit w: joins window w */
      for (int w = 0; w < 2; w++) {
        if (!(join & (1u << w)))
          continue;
        CU_ASSERT_EQUAL(sl_agg_update_checked(&s, fast[w], t, (uint64_t)i + 1), SL_OK);
        CU_ASSERT_EQUAL(sl_agg_update(&s, gen[w], r, t, (uint64_t)i + 1), SL_OK);
        if (numeric)
          simple_add(&m[w], r);
      }
    }
    if (strings && !ties)
      CU_ASSERT(n < 50 || rejected > 0);
    for (int w = 0; w < 2; w++) {
      same_bytes(&s, fast[w], gen[w]);
      if (numeric)
        check_simple(&s, fast[w], &m[w]);
      sl_agg_release(&s, fast[w]);
      sl_agg_release(&s, gen[w]);
      free(fast[w]);
      free(gen[w]);
    }
    sl_arena_reset(A);
  }
  sl_agg_set_free(&s);
}

/* Every function on v (numbers only; avg, max and percentiles twice, as
 * the update runs each kind in a loop of its own), others on w and a.b. */
static void test_numeric_functions(void) {
  static const char *const defs[] = {
      "n",   "count()",     "nv",  "count(v)",      "sum", "sum(v)",   "min", "min(v)",
      "max", "max(v)",      "avg", "avg(v)",        "fst", "first(v)", "lst", "last(v)",
      "sd",  "stddev(v)",   "sdp", "stddev_pop(v)", "p95", "p95(v)",   "pq",  "percentile(v, 0.3)",
      "d",   "distinct(v)", "ws",  "sum(w)",        "wmx", "max(w)",   "ab",  "avg(a.b)",
      "abp", "p50(a.b)",    "av2", "avg(v)",        "mx2", "max(v)",   NULL};
  run(defs, 0, 1);
}

/* The shape the update runs in a straight line for doubles: count, sum,
 * avg, min and max once each and four percentiles of one field. */
static void test_straight_line_functions(void) {
  static const char *const defs[] = {"p50", "p50(v)",   "n",   "count()",
                                     "nv",  "count(v)", "max", "max(v)",
                                     "sum", "sum(v)",   "p95", "p95(v)",
                                     "avg", "avg(v)",   "min", "min(v)",
                                     "p99", "p99(v)",   "pq",  "percentile(v, 0.7)",
                                     NULL};
  run(defs, 0, 1);
}

/* The reference pipeline's shape (sluice bench): count, avg, max and one
 * percentile of one field, the path with no call when the box holds a
 * double and the sketch has the bucket. */
static void test_reference_shape(void) {
  static const char *const defs[] = {"n",      "count()", "avg",    "avg(v)", "max",
                                     "max(v)", "p95",     "p95(v)", "nv",     "count(v)",
                                     "min",    "min(v)",  NULL};
  run(defs, 0, 1);
}

/* One field whose functions have no straight line (first, distinct), and
 * count() twice. */
static void test_one_field_one_by_one(void) {
  static const char *const defs[] = {"n",   "count()", "nv",  "count(v)",    "min", "min(v)",
                                     "max", "max(v)",  "avg", "avg(v)",      "fst", "first(v)",
                                     "n2",  "count()", "d",   "distinct(v)", NULL};
  run(defs, 0, 1);
}

/* min/max/first/last/distinct take strings and bools: the boxes then hold
 * other types than doubles and the comparison crosses types. */
static void test_loose_functions(void) {
  static const char *const defs[] = {"n",   "count()",     "nv",  "count(v)", "min", "min(v)",
                                     "max", "max(v)",      "fst", "first(v)", "lst", "last(v)",
                                     "d",   "distinct(v)", "wmn", "min(w)",   NULL};
  run(defs, 1, 0);
}

/* Sets of more than 64 functions take another path: all of them again,
 * four times over under other names (68 functions). */
static void test_many_functions(void) {
  static const char *const fns[] = {
      "count()",     "count(v)",      "sum(v)",    "min(v)", "max(v)", "avg(v)",
      "first(v)",    "last(v)",       "stddev(v)", "p95(v)", "p50(w)", "max(w)",
      "distinct(v)", "stddev_pop(v)", "avg(a.b)",  "min(w)", "sum(w)"};
  enum { NF = sizeof fns / sizeof fns[0], N = 4 * NF };
  static char names[N][8];
  static const char *pairs[2 * N + 1];
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "f%d", i);
    pairs[2 * i] = names[i];
    pairs[2 * i + 1] = fns[i % NF];
  }
  pairs[2 * N] = NULL;
  strcpy(names[0], "n"); /* run() checks these five against its own sums */
  strcpy(names[1], "nv");
  strcpy(names[3], "min");
  strcpy(names[4], "max");
  strcpy(names[5], "avg");
  run(pairs, 0, 1);
}

/* The dead-letter reason names the first function, in the order written,
 * that cannot take the value: the same text as before. */
static void test_type_error_messages(void) {
  static const char *const defs[] = {"n",  "count()",  "lo", "min(v)", "tot", "sum(v)",
                                     "fs", "first(a)", "m",  "max(w)", NULL};
  sl_agg_set s = SL_AGG_SET_INIT;
  set_of(&s, defs);
  sl_error err;
  sl_record *r = sl_record_new(A, 3);
  sl_record_set(r, sl_name_cstr("v"), sl_value_string("x", 1));
  CU_ASSERT_EQUAL(sl_agg_check(&s, r, &err), SL_ERR_TYPE);
  CU_ASSERT_STRING_EQUAL(err.message, "tot: expected a number in field 'v', got string");
  r = sl_record_new(A, 3);
  sl_record_set(r, sl_name_cstr("w"), sl_value_bool(1));
  sl_record_set(r, sl_name_cstr("v"), sl_value_double(2));
  CU_ASSERT_EQUAL(sl_agg_check(&s, r, &err), SL_ERR_TYPE);
  CU_ASSERT_STRING_EQUAL(err.message, "m: expected a number or a string in field 'w', got bool");
  sl_record_set(r, sl_name_cstr("a"), sl_value_record(sl_record_new(A, 1)));
  CU_ASSERT_EQUAL(sl_agg_check(&s, r, &err), SL_ERR_TYPE);
  CU_ASSERT_STRING_EQUAL(err.message, "fs: expected a scalar in field 'a', got record");
  r = sl_record_new(A, 3);
  sl_record_set(r, sl_name_cstr("v"), sl_value_double(NAN));
  sl_record_set(r, sl_name_cstr("w"), sl_value_null());
  CU_ASSERT_EQUAL(sl_agg_check(&s, r, &err), SL_OK);
  sl_agg_set_free(&s);
  sl_arena_reset(A);
}

static int setup(void) { return (A = sl_arena_new(0)) ? 0 : -1; }
static int teardown(void) {
  sl_arena_destroy(A);
  return 0;
}

int suite_core_aggregate_update(void) {
  CU_pSuite s = CU_add_suite("core/aggregate_update", setup, teardown);
  if (!s || !CU_add_test(s, "numeric functions: fast == general path", test_numeric_functions) ||
      !CU_add_test(s, "strings and bools: fast == general path", test_loose_functions) ||
      !CU_add_test(s, "count/sum/avg/min/max/percentiles: fast == general path",
                   test_straight_line_functions) ||
      !CU_add_test(s, "count/avg/max/p95 of one field", test_reference_shape) ||
      !CU_add_test(s, "one field, function by function", test_one_field_one_by_one) ||
      !CU_add_test(s, "more than 64 functions", test_many_functions) ||
      !CU_add_test(s, "type error messages", test_type_error_messages))
    return -1;
  return 0;
}
