/* SPDX-License-Identifier: Apache-2.0 */
/* Aggregate functions: parsing and its errors, value rules (nulls, NaN,
 * types, overflow), merge == aggregate of the concatenation, and
 * serialisation round trips. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/record_internal.h"
#include "state/aggregate.h"

static sl_arena *A;

static sl_record *rec_num(const char *f, sl_value v) {
  sl_record *r = sl_record_new(A, 2);
  sl_record_set(r, sl_name_cstr(f), v);
  return r;
}

static void test_parse_errors(void) {
  sl_agg_set s = SL_AGG_SET_INIT;
  sl_error err;
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "mean(temperature)", &err), SL_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(err.message, "unknown aggregate 'mean' (did you mean 'avg'?)");
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "sume(v)", &err), SL_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(err.message, "unknown aggregate 'sume' (did you mean 'sum'?)");
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "avg()", &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "takes one field"));
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "sum(a, b)", &err), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "percentile(a)", &err), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "percentile(a, 95)", &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "did you mean 0.95?"));
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "percentile(a, -0.1)", &err), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "avg(temperature", &err), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "avg(a..b)", &err), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "x", "avg(a-b)", &err), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(s.count, 0);
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "n", " count ( ) ", &err), SL_OK);
  CU_ASSERT_EQUAL(sl_agg_set_add(&s, "p", "percentile( a.b , 0.999 )", &err), SL_OK);
  CU_ASSERT_EQUAL(s.defs[0].fn, SL_AGG_COUNT_ALL);
  CU_ASSERT_EQUAL(s.defs[1].fn, SL_AGG_PERCENTILE);
  CU_ASSERT_EQUAL(s.defs[1].path_len, 2);
  CU_ASSERT_DOUBLE_EQUAL(s.defs[1].q, 0.999, 0);
  CU_ASSERT_EQUAL(s.block_size % 8, 0);
  sl_agg_set_free(&s);
}

typedef struct fx {
  sl_agg_set s;
  void *block;
  sl_record *out;
} fx;

static void fx_init(fx *f, const char *const *pairs) {
  memset(f, 0, sizeof *f);
  sl_error err;
  for (; *pairs; pairs += 2)
    CU_ASSERT_EQUAL_FATAL(sl_agg_set_add(&f->s, pairs[0], pairs[1], &err), SL_OK);
  f->block = malloc(f->s.block_size);
  sl_agg_init(&f->s, f->block);
}

static const sl_value *fx_result(fx *f, const char *name) {
  f->out = sl_record_new(A, 8);
  CU_ASSERT_EQUAL_FATAL(sl_agg_result(&f->s, f->block, A, f->out), SL_OK);
  return sl_record_get_cstr(f->out, name);
}

static void fx_free(fx *f) {
  sl_agg_release(&f->s, f->block);
  free(f->block);
  sl_agg_set_free(&f->s);
}

static void add(fx *f, sl_record *r, int64_t t, uint64_t seq) {
  CU_ASSERT_EQUAL(sl_agg_check(&f->s, r, NULL), SL_OK);
  CU_ASSERT_EQUAL(sl_agg_update(&f->s, f->block, r, t, seq), SL_OK);
}

static const char *const ALL[] = {"n", "count()", "nv", "count(v)", "sum", "sum(v)", "min", "min(v)",
                                  "max", "max(v)", "avg", "avg(v)", "first", "first(v)", "last",
                                  "last(v)", "sd", "stddev(v)", "sdp", "stddev_pop(v)", "p50",
                                  "p50(v)", "d", "distinct(v)", NULL};

static void test_empty_and_nulls(void) {
  fx f;
  fx_init(&f, ALL);
  CU_ASSERT_EQUAL(fx_result(&f, "n")->as.i, 0);
  CU_ASSERT_EQUAL(fx_result(&f, "nv")->type, SL_TYPE_INT); /* count(f): 0, not null */
  CU_ASSERT_EQUAL(fx_result(&f, "nv")->as.i, 0);
  const char *nulls[] = {"sum", "min", "max", "avg", "first", "last", "sd", "sdp", "p50", "d"};
  for (size_t i = 0; i < 10; i++)
    CU_ASSERT_EQUAL(fx_result(&f, nulls[i])->type, SL_TYPE_NULL);
  add(&f, rec_num("v", sl_value_null()), 1, 1);
  add(&f, rec_num("other", sl_value_int(3)), 2, 2);
  add(&f, rec_num("v", sl_value_double(NAN)), 3, 3);
  CU_ASSERT_EQUAL(fx_result(&f, "n")->as.i, 3);
  CU_ASSERT_EQUAL(fx_result(&f, "nv")->type, SL_TYPE_INT); /* only nulls and NaN: 0 */
  CU_ASSERT_EQUAL(fx_result(&f, "nv")->as.i, 0);
  for (size_t i = 0; i < 10; i++)
    CU_ASSERT_EQUAL(fx_result(&f, nulls[i])->type, SL_TYPE_NULL);
  add(&f, rec_num("v", sl_value_int(5)), 4, 4);
  CU_ASSERT_EQUAL(fx_result(&f, "sd")->type, SL_TYPE_NULL); /* needs two values */
  CU_ASSERT_DOUBLE_EQUAL(fx_result(&f, "sdp")->as.d, 0, 0);
  CU_ASSERT_EQUAL(fx_result(&f, "d")->as.i, 1);
  fx_free(&f);
}

static void test_values(void) {
  fx f;
  fx_init(&f, ALL);
  int64_t vals[] = {4, 8, 15, 16, 23, 42};
  for (int i = 0; i < 6; i++)
    add(&f, rec_num("v", sl_value_int(vals[i])), 100 - i, (uint64_t)i + 1);
  CU_ASSERT_EQUAL(fx_result(&f, "sum")->type, SL_TYPE_INT);
  CU_ASSERT_EQUAL(fx_result(&f, "sum")->as.i, 108);
  CU_ASSERT_EQUAL(fx_result(&f, "min")->type, SL_TYPE_INT);
  CU_ASSERT_EQUAL(fx_result(&f, "min")->as.i, 4);
  CU_ASSERT_EQUAL(fx_result(&f, "max")->as.i, 42);
  CU_ASSERT_DOUBLE_EQUAL(fx_result(&f, "avg")->as.d, 18, 1e-12);
  CU_ASSERT_EQUAL(fx_result(&f, "first")->as.i, 42); /* smallest event time */
  CU_ASSERT_EQUAL(fx_result(&f, "last")->as.i, 4);
  CU_ASSERT_DOUBLE_EQUAL(fx_result(&f, "sd")->as.d, 13.490737563232042, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(fx_result(&f, "sdp")->as.d, 12.315302134607444, 1e-9);
  CU_ASSERT_EQUAL(fx_result(&f, "d")->as.i, 6);
  CU_ASSERT_DOUBLE_EQUAL(fx_result(&f, "p50")->as.d, 15, 15 * 0.01);
  /* a double turns the sum double; min keeps the winner's own type */
  add(&f, rec_num("v", sl_value_double(3.5)), 200, 7);
  CU_ASSERT_EQUAL(fx_result(&f, "sum")->type, SL_TYPE_DOUBLE);
  CU_ASSERT_DOUBLE_EQUAL(fx_result(&f, "sum")->as.d, 111.5, 0);
  CU_ASSERT_EQUAL(fx_result(&f, "min")->type, SL_TYPE_DOUBLE);
  CU_ASSERT_EQUAL(fx_result(&f, "max")->type, SL_TYPE_INT);
  /* 15.0 and 15 are one distinct value */
  add(&f, rec_num("v", sl_value_double(15.0)), 201, 8);
  CU_ASSERT_EQUAL(fx_result(&f, "d")->as.i, 7);
  /* infinities: min/max/sum follow IEEE, percentiles skip them */
  add(&f, rec_num("v", sl_value_double(-INFINITY)), 202, 9);
  CU_ASSERT(isinf(fx_result(&f, "min")->as.d) && fx_result(&f, "min")->as.d < 0);
  CU_ASSERT_EQUAL(fx_result(&f, "max")->as.i, 42);
  CU_ASSERT(isinf(fx_result(&f, "sum")->as.d));
  CU_ASSERT(isfinite(fx_result(&f, "p50")->as.d));
  fx_free(&f);
}

static void test_ties_and_overflow_and_strings(void) {
  static const char *const defs[] = {"first", "first(v)", "last", "last(v)", "sum", "sum(v)",
                                     "min", "min(v)", "max", "max(v)", NULL};
  fx f;
  fx_init(&f, defs);
  add(&f, rec_num("v", sl_value_int(INT64_MAX - 1)), 10, 1);
  add(&f, rec_num("v", sl_value_int(2)), 10, 2);
  add(&f, rec_num("v", sl_value_int(3)), 10, 3);
  CU_ASSERT_EQUAL(fx_result(&f, "first")->as.i, INT64_MAX - 1); /* tie: earlier arrival */
  CU_ASSERT_EQUAL(fx_result(&f, "last")->as.i, 3);              /* tie: later arrival */
  CU_ASSERT_EQUAL(fx_result(&f, "sum")->type, SL_TYPE_DOUBLE);  /* overflow */
  CU_ASSERT_DOUBLE_EQUAL(fx_result(&f, "sum")->as.d, 9223372036854775811.0, 4096);
  fx_free(&f);
  fx_init(&f, defs + 6);
  sl_value s1 = sl_value_string("pear", 4), s2 = sl_value_string("apple", 5);
  add(&f, rec_num("v", s1), 1, 1);
  add(&f, rec_num("v", s2), 2, 2);
  CU_ASSERT_EQUAL(fx_result(&f, "min")->as.str.len, 5);
  CU_ASSERT_STRING_EQUAL(fx_result(&f, "max")->as.str.ptr, "pear");
  add(&f, rec_num("v", sl_value_int(1000)), 3, 3); /* numbers order before strings */
  CU_ASSERT_EQUAL(fx_result(&f, "min")->as.i, 1000);
  CU_ASSERT_STRING_EQUAL(fx_result(&f, "max")->as.str.ptr, "pear");
  fx_free(&f);
}

static void test_type_errors(void) {
  fx f;
  fx_init(&f, ALL);
  sl_error err;
  CU_ASSERT_EQUAL(sl_agg_check(&f.s, rec_num("v", sl_value_string("x", 1)), &err), SL_ERR_TYPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "expected a number"));
  CU_ASSERT_EQUAL(sl_agg_check(&f.s, rec_num("v", sl_value_bool(1)), &err), SL_ERR_TYPE);
  CU_ASSERT_EQUAL(sl_agg_check(&f.s, rec_num("v", sl_value_null()), &err), SL_OK);
  CU_ASSERT_EQUAL(sl_agg_check(&f.s, rec_num("v", sl_value_double(2.5)), &err), SL_OK);
  fx_free(&f);
}

static uint64_t rs = 1;
static uint64_t rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return rs;
}

static sl_value random_value(void) {
  switch (rnd() % 6) {
  case 0:
    return sl_value_null();
  case 1:
  case 2:
    return sl_value_int((int64_t)(rnd() % 2001) - 1000);
  default:
    return sl_value_double(((double)(rnd() % 200001) - 100000) / 100.0);
  }
}

static void same_results(const sl_record *a, const sl_record *b) {
  CU_ASSERT_EQUAL_FATAL(sl_record_count(a), sl_record_count(b));
  for (size_t i = 0; i < sl_record_count(a); i++) {
    const sl_value *x = sl_record_value_at(a, i), *y = sl_record_get(b, sl_record_name_at(a, i));
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_EQUAL(x->type, y->type);
    if (x->type == SL_TYPE_INT) {
      CU_ASSERT_EQUAL(x->as.i, y->as.i);
    } else if (x->type == SL_TYPE_DOUBLE) {
      CU_ASSERT(fabs(x->as.d - y->as.d) <= 1e-9 * (1 + fabs(x->as.d)));
    }
  }
}

/* merge(agg(A), agg(B)) == agg(A ++ B), and serialise/deserialise keeps results. */
static void test_merge_and_roundtrip(void) {
  for (int iter = 0; iter < 300; iter++) {
    fx a, b, all;
    fx_init(&a, ALL);
    fx_init(&b, ALL);
    fx_init(&all, ALL);
    int n = (int)(rnd() % 40);
    for (int i = 0; i < n; i++) {
      sl_record *r = rec_num("v", random_value());
      int64_t t = (int64_t)(rnd() % 20);
      add(rnd() % 2 ? &a : &b, r, t, (uint64_t)i + 1);
      add(&all, r, t, (uint64_t)i + 1);
    }
    CU_ASSERT_EQUAL(sl_agg_merge(&a.s, a.block, b.block), SL_OK);
    fx_result(&a, "n");
    fx_result(&all, "n");
    same_results(a.out, all.out);
    sl_buf buf = SL_BUF_INIT, again = SL_BUF_INIT;
    CU_ASSERT_EQUAL(sl_agg_serialize(&a.s, a.block, &buf), SL_OK);
    fx c;
    fx_init(&c, ALL);
    CU_ASSERT_EQUAL_FATAL(sl_agg_deserialize(&c.s, c.block, buf.data, buf.len), SL_OK);
    fx_result(&c, "n");
    same_results(a.out, c.out);
    CU_ASSERT_EQUAL(sl_agg_serialize(&c.s, c.block, &again), SL_OK);
    CU_ASSERT(again.len == buf.len && memcmp(again.data, buf.data, buf.len) == 0);
    CU_ASSERT_EQUAL(sl_agg_deserialize(&c.s, c.block, buf.data, buf.len - 1), SL_ERR_PARSE);
    sl_buf_free(&buf);
    sl_buf_free(&again);
    fx_free(&a);
    fx_free(&b);
    fx_free(&all);
    fx_free(&c);
    sl_arena_reset(A);
  }
}

/* Issue 13: a pipeline that adds, removes or redefines an aggregate restores
 * the others from state written before the change; the new one starts empty. */
static void test_restore_across_aggregate_changes(void) {
  static const char *const before[] = {"n", "count()", "avg", "avg(v)", NULL};
  static const char *const added[] = {"avg", "avg(v)", "max", "max(v)", "n", "count()", NULL};
  static const char *const removed[] = {"n", "count()", NULL};
  static const char *const redefined[] = {"n", "count()", "avg", "max(v)", NULL};
  fx a;
  fx_init(&a, before);
  for (int i = 1; i <= 4; i++)
    add(&a, rec_num("v", sl_value_int(i)), i, (uint64_t)i);
  sl_buf buf = SL_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(sl_agg_serialize(&a.s, a.block, &buf), SL_OK);
  fx b;
  fx_init(&b, added);
  CU_ASSERT_EQUAL_FATAL(sl_agg_deserialize(&b.s, b.block, buf.data, buf.len), SL_OK);
  CU_ASSERT_EQUAL(fx_result(&b, "n")->as.i, 4);
  CU_ASSERT_DOUBLE_EQUAL(fx_result(&b, "avg")->as.d, 2.5, 1e-12);
  CU_ASSERT_EQUAL(fx_result(&b, "max")->type, SL_TYPE_NULL); /* saw nothing yet */
  add(&b, rec_num("v", sl_value_int(9)), 5, 5);
  CU_ASSERT_EQUAL(fx_result(&b, "max")->as.i, 9);
  CU_ASSERT_EQUAL(fx_result(&b, "n")->as.i, 5);
  fx c;
  fx_init(&c, removed);
  CU_ASSERT_EQUAL_FATAL(sl_agg_deserialize(&c.s, c.block, buf.data, buf.len), SL_OK);
  CU_ASSERT_EQUAL(fx_result(&c, "n")->as.i, 4);
  fx d; /* same name, another function: its old state is never read as the new one's */
  fx_init(&d, redefined);
  CU_ASSERT_EQUAL_FATAL(sl_agg_deserialize(&d.s, d.block, buf.data, buf.len), SL_OK);
  CU_ASSERT_EQUAL(fx_result(&d, "n")->as.i, 4);
  CU_ASSERT_EQUAL(fx_result(&d, "avg")->type, SL_TYPE_NULL);
  /* A payload longer than 127 bytes (its length takes two varint bytes). */
  static const char *const sketch[] = {"p", "p50(v)", NULL};
  static const char *const sketch_more[] = {"n", "count()", "p", "p50(v)", NULL};
  fx e, f;
  fx_init(&e, sketch);
  fx_init(&f, sketch_more);
  for (int i = 1; i <= 500; i++)
    add(&e, rec_num("v", sl_value_double(i * 1.37)), i, (uint64_t)i);
  sl_buf big = SL_BUF_INIT;
  CU_ASSERT_EQUAL_FATAL(sl_agg_serialize(&e.s, e.block, &big), SL_OK);
  CU_ASSERT(big.len > 140);
  CU_ASSERT_EQUAL_FATAL(sl_agg_deserialize(&f.s, f.block, big.data, big.len), SL_OK);
  CU_ASSERT_DOUBLE_EQUAL(fx_result(&f, "p")->as.d, fx_result(&e, "p")->as.d, 1e-9);
  CU_ASSERT_EQUAL(fx_result(&f, "n")->as.i, 0);
  sl_buf_free(&big);
  fx_free(&e);
  fx_free(&f);
  /* Format 1 (positional, written before issue 13) is still read. */
  static const unsigned char v1[] = {1, 7};
  CU_ASSERT_EQUAL(sl_agg_deserialize(&c.s, c.block, v1, sizeof v1), SL_OK);
  CU_ASSERT_EQUAL(fx_result(&c, "n")->as.i, 7);
  sl_buf_free(&buf);
  fx_free(&a);
  fx_free(&b);
  fx_free(&c);
  fx_free(&d);
  sl_arena_reset(A);
}

static int setup(void) { return (A = sl_arena_new(0)) ? 0 : -1; }
static int teardown(void) {
  sl_arena_destroy(A);
  return 0;
}

int suite_core_aggregate(void) {
  CU_pSuite s = CU_add_suite("core/aggregate", setup, teardown);
  if (!s || !CU_add_test(s, "parse errors and suggestions", test_parse_errors) ||
      !CU_add_test(s, "empty windows, nulls and NaN", test_empty_and_nulls) ||
      !CU_add_test(s, "values and types", test_values) ||
      !CU_add_test(s, "ties, overflow, strings", test_ties_and_overflow_and_strings) ||
      !CU_add_test(s, "type errors", test_type_errors) ||
      !CU_add_test(s, "merge == concatenation; serialise round trip", test_merge_and_roundtrip) ||
      !CU_add_test(s, "restore across aggregate changes", test_restore_across_aggregate_changes))
    return -1;
  return 0;
}
