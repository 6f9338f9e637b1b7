/* SPDX-License-Identifier: Apache-2.0 */
/* Aggregate functions (see aggregate.h): parsing "fn(args)", the state
 * block layout, the per-record argument lookup and type check, and results.
 * Update and merge are in aggregate_update.c, serialisation in
 * aggregate_codec.c; sketch-based functions delegate to ddsketch.c and
 * hll.c. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/record_internal.h"
#include "state/aggregate.h"
#include "state/aggregate_state.h"
#include "state/ddsketch.h"
#include "state/hll.h"

static const struct {
  const char *name;
  sl_agg_fn fn;
  double q;
} fn_table[] = {
    {"count", SL_AGG_COUNT, 0},     {"sum", SL_AGG_SUM, 0},
    {"min", SL_AGG_MIN, 0},         {"max", SL_AGG_MAX, 0},
    {"avg", SL_AGG_AVG, 0},         {"first", SL_AGG_FIRST, 0},
    {"last", SL_AGG_LAST, 0},       {"stddev", SL_AGG_STDDEV, 0},
    {"stddev_pop", SL_AGG_STDDEV_POP, 0}, {"p50", SL_AGG_PERCENTILE, 0.5},
    {"p90", SL_AGG_PERCENTILE, 0.9}, {"p95", SL_AGG_PERCENTILE, 0.95},
    {"p99", SL_AGG_PERCENTILE, 0.99}, {"percentile", SL_AGG_PERCENTILE, -1},
    {"distinct", SL_AGG_DISTINCT, 0},
};
#define FN_COUNT (sizeof fn_table / sizeof fn_table[0])

static size_t state_size(sl_agg_fn fn) {
  switch (fn) {
  case SL_AGG_COUNT_ALL:
  case SL_AGG_COUNT:
    return sizeof(int64_t);
  case SL_AGG_SUM:
    return sizeof(st_sum);
  case SL_AGG_MIN:
  case SL_AGG_MAX:
    return sizeof(agg_box);
  case SL_AGG_AVG:
    return sizeof(st_avg);
  case SL_AGG_FIRST:
  case SL_AGG_LAST:
    return sizeof(st_ordered);
  case SL_AGG_STDDEV:
  case SL_AGG_STDDEV_POP:
    return sizeof(st_var);
  case SL_AGG_PERCENTILE:
  case SL_AGG_DISTINCT:
    return sizeof(void *);
  }
  return 0;
}

/* ---- parsing ------------------------------------------------------------ */

static const char *skip_ws(const char *p) {
  while (isspace((unsigned char)*p))
    p++;
  return p;
}

/* Split "a.b.c" into interned names. */
static int parse_path(const char *text, size_t len, sl_agg_def *d, const char *spec,
                      sl_error *err) {
  size_t n = 1;
  for (size_t i = 0; i < len; i++)
    n += text[i] == '.';
  d->path = calloc(n, sizeof *d->path);
  if (!d->path)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && text[i] != '.')
      continue;
    if (i == start)
      return sl_error_set(err, SL_ERR_INVALID, "aggregate '%s': empty field name", spec);
    for (size_t k = start; k < i; k++)
      if (!isalnum((unsigned char)text[k]) && text[k] != '_')
        return sl_error_set(err, SL_ERR_INVALID, "aggregate '%s': '%.*s' is not a field name",
                            spec, (int)len, text);
    d->path[d->path_len++] = sl_name_intern(text + start, i - start);
    start = i + 1;
  }
  return SL_OK;
}

static int parse_spec(sl_agg_def *d, const char *spec, sl_error *err) {
  const char *p = skip_ws(spec), *name = p;
  while (isalnum((unsigned char)*p) || *p == '_')
    p++;
  size_t nlen = (size_t)(p - name);
  char fname[32];
  if (nlen == 0 || nlen >= sizeof fname)
    return sl_error_set(err, SL_ERR_INVALID, "aggregate '%s': expected fn(args), e.g. avg(temperature)",
                        spec);
  memcpy(fname, name, nlen);
  fname[nlen] = 0;
  size_t fi = 0;
  while (fi < FN_COUNT && strcmp(fn_table[fi].name, fname) != 0)
    fi++;
  if (fi == FN_COUNT) {
    /* names users bring from SQL and other tools, which edit distance misses */
    static const char *const alias[][2] = {{"mean", "avg"},         {"average", "avg"},
                                           {"median", "p50"},       {"std", "stddev"},
                                           {"stdev", "stddev"},     {"uniq", "distinct"},
                                           {"count_distinct", "distinct"}, {"quantile", "percentile"}};
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
      if (strcmp(fname, alias[i][0]) == 0)
        return sl_error_set(err, SL_ERR_INVALID, "unknown aggregate '%s' (did you mean '%s'?)",
                            fname, alias[i][1]);
    const char *names[FN_COUNT];
    for (size_t i = 0; i < FN_COUNT; i++)
      names[i] = fn_table[i].name;
    const char *sug = sl_suggest(fname, names, FN_COUNT);
    if (sug)
      return sl_error_set(err, SL_ERR_INVALID, "unknown aggregate '%s' (did you mean '%s'?)", fname,
                          sug);
    return sl_error_set(err, SL_ERR_INVALID,
                        "unknown aggregate '%s' (known: count sum min max avg first last stddev "
                        "stddev_pop p50 p90 p95 p99 percentile distinct)",
                        fname);
  }
  d->fn = fn_table[fi].fn;
  d->q = fn_table[fi].q;
  p = skip_ws(p);
  if (*p != '(')
    return sl_error_set(err, SL_ERR_INVALID, "aggregate '%s': expected '(' after %s", spec, fname);
  const char *args = p + 1, *close = strchr(args, ')');
  if (!close || *skip_ws(close + 1))
    return sl_error_set(err, SL_ERR_INVALID, "aggregate '%s': expected ')' at the end", spec);
  /* up to two comma-separated arguments */
  const char *comma = memchr(args, ',', (size_t)(close - args));
  const char *a1 = skip_ws(args), *a1_end = comma ? comma : close;
  while (a1_end > a1 && isspace((unsigned char)a1_end[-1]))
    a1_end--;
  int nargs = a1_end > a1 ? 1 : 0;
  if (comma)
    nargs = 2;
  int want = d->fn == SL_AGG_PERCENTILE && d->q < 0 ? 2 : 1;
  if (d->fn == SL_AGG_COUNT && nargs == 0) {
    d->fn = SL_AGG_COUNT_ALL;
    return SL_OK;
  }
  if (nargs != want)
    return sl_error_set(err, SL_ERR_INVALID, "aggregate '%s': %s takes %s", spec, fname,
                        want == 2 ? "a field and a rank, e.g. percentile(latency, 0.999)"
                                  : "one field, e.g. avg(temperature)");
  if (want == 2) {
    char *end;
    double q = strtod(comma + 1, &end);
    if (end == comma + 1 || skip_ws(end) != close)
      return sl_error_set(err, SL_ERR_INVALID, "aggregate '%s': the rank must be a number", spec);
    if (!(q >= 0 && q <= 1)) {
      char qt[SL_NUM_TEXT_MAX];
      if (q > 1 && q <= 100)
        return sl_error_set(err, SL_ERR_INVALID,
                            "aggregate '%s': the rank must be in [0, 1] (did you mean %s?)", spec,
                            sl_num_text(q / 100, qt, sizeof qt));
      return sl_error_set(err, SL_ERR_INVALID, "aggregate '%s': the rank must be in [0, 1]", spec);
    }
    d->q = q;
  }
  return parse_path(a1, (size_t)(a1_end - a1), d, spec, err);
}

/* Point d at the argument slot of its field, adding one for a new field. */
static int add_arg(sl_agg_set *s, sl_agg_def *d) {
  for (size_t k = 0; k < s->nargs; k++) {
    const sl_agg_arg *a = &s->args[k];
    if (a->path_len == d->path_len &&
        memcmp(a->path, d->path, d->path_len * sizeof *d->path) == 0) {
      d->arg = (int32_t)k; /* interned names: equal paths are equal pointers */
      return SL_OK;
    }
  }
  sl_agg_arg *n = realloc(s->args, (s->nargs + 1) * sizeof *n);
  if (!n)
    return SL_ERR_NOMEM;
  s->args = n;
  uint32_t *hints = calloc(d->path_len, sizeof *hints);
  if (!hints)
    return SL_ERR_NOMEM;
  n[s->nargs] = (sl_agg_arg){.path = d->path, .path_len = d->path_len, .hints = hints};
  d->arg = (int32_t)s->nargs++;
  return SL_OK;
}

/* Add d to a's straight-line plan; 0 when it does not fit there. */
static int fuse(agg_fused *f, const sl_agg_def *d) {
  int32_t *slot = NULL;
  switch (d->fn) {
  case SL_AGG_COUNT:
    slot = &f->count;
    break;
  case SL_AGG_SUM:
    slot = &f->sum;
    break;
  case SL_AGG_AVG:
    slot = &f->avg;
    break;
  case SL_AGG_MIN:
    slot = &f->min;
    break;
  case SL_AGG_MAX:
    slot = &f->max;
    break;
  case SL_AGG_PERCENTILE:
    if (f->npct == sizeof f->pct / sizeof f->pct[0])
      return 0;
    f->pct[f->npct++] = d->offset;
    return 1;
  default:
    return 0;
  }
  if (*slot >= 0)
    return 0; /* twice the same function of one field */
  *slot = (int32_t)d->offset;
  return 1;
}

/* Order s->ops: count() first, then grouped by argument field; and the
 * straight-line plan of each field whose functions allow one. */
static void plan(sl_agg_set *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->count; i++)
    if (s->defs[i].arg < 0)
      s->ops[n++] = (sl_agg_op){s->defs[i].offset, s->defs[i].fn};
  s->ncount_all = n;
  for (size_t k = 0; k < s->nargs; k++) {
    sl_agg_arg *a = &s->args[k];
    a->nops = 0;
    a->fused = 1;
    a->f = (agg_fused){-1, -1, -1, -1, -1, 0, {0, 0, 0, 0}};
    for (size_t i = 0; i < s->count; i++)
      if (s->defs[i].arg == (int32_t)k) {
        s->ops[n++] = (sl_agg_op){s->defs[i].offset, s->defs[i].fn};
        a->nops++;
        a->fused = a->fused && fuse(&a->f, &s->defs[i]);
      }
  }
}

int sl_agg_set_add(sl_agg_set *s, const char *out, const char *spec, sl_error *err) {
  sl_agg_def *n = realloc(s->defs, (s->count + 1) * sizeof *n);
  if (!n)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->defs = n;
  sl_agg_op *ops = realloc(s->ops, (s->count + 1) * sizeof *ops);
  if (!ops)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  s->ops = ops;
  sl_agg_def *d = &s->defs[s->count];
  memset(d, 0, sizeof *d);
  int rc = parse_spec(d, spec, err);
  if (rc != SL_OK) {
    free(d->path);
    return rc;
  }
  d->out = sl_name_cstr(out);
  d->offset = (uint32_t)s->block_size;
  d->arg = -1;
  if (d->path_len && (rc = add_arg(s, d)) != SL_OK) {
    free(d->path);
    return sl_error_set(err, rc, "out of memory");
  }
  s->block_size += (state_size(d->fn) + 7) & ~(size_t)7;
  s->count++;
  plan(s);
  return SL_OK;
}

void sl_agg_set_free(sl_agg_set *s) {
  for (size_t i = 0; i < s->count; i++)
    free(s->defs[i].path);
  for (size_t k = 0; k < s->nargs; k++)
    free(s->args[k].hints);
  free(s->defs);
  free(s->args);
  free(s->ops);
  s->defs = NULL;
  s->args = NULL;
  s->ops = NULL;
  s->count = s->block_size = s->nargs = s->ncount_all = 0;
}

/* ---- values ------------------------------------------------------------- */

void sl_agg_val_free(agg_val *a) {
  if (a->type == SL_TYPE_STRING || a->type == SL_TYPE_BYTES)
    free(a->u.s);
  a->type = SL_TYPE_NULL;
}

int sl_agg_val_set(agg_val *a, const sl_value *v) {
  if (v->type == SL_TYPE_STRING || v->type == SL_TYPE_BYTES) {
    char *s;
    if ((a->type == SL_TYPE_STRING || a->type == SL_TYPE_BYTES) && a->len >= v->as.str.len) {
      s = a->u.s; /* reuse: last() replaces its string on every record */
    } else {
      s = malloc(v->as.str.len + 1);
      if (!s)
        return SL_ERR_NOMEM;
      sl_agg_val_free(a);
    }
    memcpy(s, v->as.str.ptr, v->as.str.len);
    s[v->as.str.len] = 0;
    a->u.s = s;
    a->len = (uint32_t)v->as.str.len;
  } else {
    sl_agg_val_free(a);
    if (v->type == SL_TYPE_DOUBLE)
      a->u.d = v->as.d;
    else if (v->type == SL_TYPE_BOOL)
      a->u.i = v->as.b;
    else
      a->u.i = v->as.i;
    a->len = 0;
  }
  a->type = (uint8_t)v->type;
  return SL_OK;
}

sl_value sl_agg_val_get(const agg_val *a) {
  switch (a->type) {
  case SL_TYPE_INT:
    return sl_value_int(a->u.i);
  case SL_TYPE_DOUBLE:
    return sl_value_double(a->u.d);
  case SL_TYPE_BOOL:
    return sl_value_bool((int)a->u.i);
  case SL_TYPE_STRING:
    return sl_value_string(a->u.s, a->len);
  case SL_TYPE_BYTES:
    return sl_value_bytes(a->u.s, a->len);
  default:
    return sl_value_null();
  }
}

static const char *expected_for(sl_agg_fn fn, const sl_value *v) {
  switch (fn) {
  case SL_AGG_SUM:
  case SL_AGG_AVG:
  case SL_AGG_STDDEV:
  case SL_AGG_STDDEV_POP:
  case SL_AGG_PERCENTILE:
    return sl_agg_is_num(v) ? NULL : "a number";
  case SL_AGG_MIN:
  case SL_AGG_MAX:
    return sl_agg_is_num(v) || v->type == SL_TYPE_STRING ? NULL : "a number or a string";
  case SL_AGG_FIRST:
  case SL_AGG_LAST:
  case SL_AGG_DISTINCT:
    return v->type == SL_TYPE_RECORD || v->type == SL_TYPE_ARRAY ? "a scalar" : NULL;
  default:
    return NULL;
  }
}

/* sl_agg_check the general way: any path, any record order, any type. */
static __attribute__((noinline)) int check_general(const sl_agg_set *s, const sl_record *r, sl_error *err) {
  int other = 0; /* a value that is neither a number nor ignored */
  for (sl_agg_arg *a = s->args, *end = a + s->nargs; a < end; a++) {
    const sl_value *v = sl_record_get_path_hinted(r, a->path, a->path_len, a->hints);
    if (v && v->type != SL_TYPE_DOUBLE && v->type != SL_TYPE_INT) {
      if (v->type == SL_TYPE_NULL)
        v = NULL;
      else
        other = 1;
    } else if (v && v->type == SL_TYPE_DOUBLE && isnan(v->as.d)) {
      v = NULL;
    }
    a->val = v;
  }
  if (!other) /* every function takes numbers */
    return SL_OK;
  /* The first function, in the order written, that cannot take its value
   * names the reason (the caller dead-letters the record). */
  for (size_t i = 0; i < s->count; i++) {
    const sl_agg_def *d = &s->defs[i];
    if (d->arg < 0 || d->fn == SL_AGG_COUNT)
      continue;
    const sl_value *v = s->args[d->arg].val;
    const char *want = v ? expected_for(d->fn, v) : NULL;
    if (want)
      return sl_error_set(err, SL_ERR_TYPE, "%s: expected %s in field '%s', got %s", d->out, want,
                          d->path[d->path_len - 1], sl_type_name(v->type));
  }
  return SL_OK;
}

/* The common case without a call (so without saving registers): top-level
 * fields at their remembered positions, holding numbers (not NaN). Anything
 * else starts over in check_general. */
int sl_agg_check(const sl_agg_set *s, const sl_record *r, sl_error *err) {
  for (sl_agg_arg *a = s->args, *end = a + s->nargs; a < end; a++) {
    uint32_t h = a->hints[0];
    if (a->path_len != 1 || h >= r->count || r->fields[h].name != a->path[0])
      return check_general(s, r, err);
    const sl_value *v = &r->fields[h].value;
    if (v->type == SL_TYPE_DOUBLE ? isnan(v->as.d) : v->type != SL_TYPE_INT)
      return check_general(s, r, err);
    a->val = v;
  }
  return SL_OK;
}

/* ---- block lifecycle ---------------------------------------------------- */

void sl_agg_init(const sl_agg_set *s, void *block) { memset(block, 0, s->block_size); }

void sl_agg_release(const sl_agg_set *s, void *block) {
  char *b = block;
  for (size_t i = 0; i < s->count; i++) {
    void *st = b + s->defs[i].offset;
    switch (s->defs[i].fn) {
    case SL_AGG_MIN:
    case SL_AGG_MAX:
      sl_agg_box_free(st);
      break;
    case SL_AGG_FIRST:
    case SL_AGG_LAST:
      sl_agg_val_free(&((st_ordered *)st)->v);
      break;
    case SL_AGG_PERCENTILE:
      sl_dds_destroy(*(sl_ddsketch **)st);
      *(sl_ddsketch **)st = NULL;
      break;
    case SL_AGG_DISTINCT:
      sl_hll_destroy(*(sl_hll **)st);
      *(sl_hll **)st = NULL;
      break;
    default:
      break;
    }
  }
}

/* ---- results ------------------------------------------------------------ */

static int result_one(const sl_agg_def *d, const void *st, sl_arena *a, sl_value *out) {
  *out = sl_value_null();
  switch (d->fn) {
  case SL_AGG_COUNT_ALL:
    *out = sl_value_int(*(const int64_t *)st);
    break;
  case SL_AGG_COUNT:
    /* SPEC.md section 5: 0 when every value was null, as SQL's COUNT(col)
     * and Flink give; every other function gives null then. */
    *out = sl_value_int(*(const int64_t *)st);
    break;
  case SL_AGG_SUM: {
    const st_sum *s = st;
    if (s->kind == 1)
      *out = sl_value_int(s->u.i);
    else if (s->kind == 2)
      *out = sl_value_double(s->u.d);
    break;
  }
  case SL_AGG_MIN:
  case SL_AGG_MAX: {
    sl_value v = sl_agg_box_get(st);
    return sl_value_copy(a, &v, out);
  }
  case SL_AGG_AVG: {
    const st_avg *s = st;
    if (s->n)
      *out = sl_value_double(s->sum / (double)s->n);
    break;
  }
  case SL_AGG_FIRST:
  case SL_AGG_LAST: {
    sl_value v = sl_agg_val_get(&((const st_ordered *)st)->v);
    return sl_value_copy(a, &v, out);
  }
  case SL_AGG_STDDEV:
  case SL_AGG_STDDEV_POP: {
    const st_var *s = st;
    if (d->fn == SL_AGG_STDDEV && s->n >= 2)
      *out = sl_value_double(sqrt(s->m2 / (double)(s->n - 1)));
    else if (d->fn == SL_AGG_STDDEV_POP && s->n >= 1)
      *out = sl_value_double(sqrt(s->m2 / (double)s->n));
    break;
  }
  case SL_AGG_PERCENTILE: {
    const sl_ddsketch *sk = *(sl_ddsketch *const *)st;
    if (sk && sk->count)
      *out = sl_value_double(sl_dds_quantile(sk, d->q));
    break;
  }
  case SL_AGG_DISTINCT: {
    const sl_hll *h = *(sl_hll *const *)st;
    if (h)
      *out = sl_value_int((int64_t)llround(sl_hll_estimate(h)));
    break;
  }
  }
  return SL_OK;
}

int sl_agg_result(const sl_agg_set *s, const void *block, sl_arena *a, sl_record *out) {
  for (size_t i = 0; i < s->count; i++) {
    sl_value v;
    int rc = result_one(&s->defs[i], (const char *)block + s->defs[i].offset, a, &v);
    if (rc == SL_OK)
      rc = sl_record_set(out, s->defs[i].out, v);
    if (rc != SL_OK)
      return rc;
  }
  return SL_OK;
}

