/* SPDX-License-Identifier: Apache-2.0 */
/* Built-in scalar functions of the expression language (abs round floor ceil
 * sqrt min max coalesce lower upper len). Each one evaluates its own
 * arguments, so coalesce can stop at the first non-null one. Only lower()
 * and upper() allocate, and only when the result differs from the input. */
#include <math.h>
#include <string.h>

#include "base/buf.h"
#include "expr/expr_internal.h"

#define EVAL(kid, c, out) ((kid)->eval((kid), (c), (out)))

static int need_number(const ex_node *n, ex_ctx *c, const sl_value *v) {
  return ex_fail(n, c->err, SL_ERR_TYPE, "%s() needs a number, got %s", n->name,
                 sl_type_name(v->type));
}

/* Evaluate argument i; *done is set when the result is already null. */
static int num_arg(const ex_node *n, ex_ctx *c, uint32_t i, sl_value *v, int *done) {
  int rc = EVAL(n->kids[i], c, v);
  *done = 0;
  if (rc != SL_OK)
    return rc;
  if (v->type == SL_TYPE_NULL) {
    *done = 1;
    return SL_OK;
  }
  if (v->type != SL_TYPE_INT && v->type != SL_TYPE_DOUBLE)
    return need_number(n, c, v);
  return SL_OK;
}

static int fn_abs(const ex_node *n, ex_ctx *c, sl_value *out) {
  int done, rc = num_arg(n, c, 0, out, &done);
  if (rc != SL_OK || done)
    return rc;
  if (out->type == SL_TYPE_DOUBLE) {
    out->as.d = fabs(out->as.d);
  } else if (out->as.i == INT64_MIN) {
    return ex_fail(n, c->err, SL_ERR_INVALID, "integer overflow in abs()");
  } else if (out->as.i < 0) {
    out->as.i = -out->as.i;
  }
  return SL_OK;
}

/* Round an int to a multiple of 10^-digits, halves away from zero. */
static int round_int(const ex_node *n, ex_ctx *c, int64_t x, int64_t digits, sl_value *out) {
  if (digits >= 0) {
    *out = sl_value_int(x);
    return SL_OK;
  }
  if (digits < -38) {
    *out = sl_value_int(0);
    return SL_OK;
  }
  __int128 p = 1;
  for (int64_t k = 0; k < -digits; k++)
    p *= 10;
  __int128 q = x / p, r = x % p;
  if (2 * (r < 0 ? -r : r) >= p)
    q += x < 0 ? -1 : 1;
  __int128 v = q * p;
  if (v > INT64_MAX || v < INT64_MIN)
    return ex_fail(n, c->err, SL_ERR_INVALID, "integer overflow in round()");
  *out = sl_value_int((int64_t)v);
  return SL_OK;
}

static int fn_round(const ex_node *n, ex_ctx *c, sl_value *out) {
  sl_value d = sl_value_int(0);
  int done, rc = num_arg(n, c, 0, out, &done);
  if (rc != SL_OK)
    return rc;
  if (n->nkids == 2) {
    int dnull;
    if ((rc = num_arg(n, c, 1, &d, &dnull)) != SL_OK)
      return rc;
    if (dnull) {
      *out = sl_value_null();
      return SL_OK;
    }
    if (d.type != SL_TYPE_INT)
      return ex_fail(n, c->err, SL_ERR_TYPE, "round() needs an int number of digits, got %s",
                     sl_type_name(d.type));
  }
  if (done)
    return SL_OK;
  if (out->type == SL_TYPE_INT)
    return round_int(n, c, out->as.i, d.as.i, out);
  double x = out->as.d, r;
  int64_t digits = d.as.i;
  if (digits == 0 || !isfinite(x)) {
    r = round(x);
  } else if (digits > 0) {
    double f = pow(10.0, (double)(digits > 330 ? 330 : digits));
    double y = x * f;
    r = isfinite(y) && fabs(y) < 4503599627370496.0 ? round(y) / f : x; /* 2^52: already exact */
  } else {
    double f = pow(10.0, (double)(digits < -330 ? 330 : -digits));
    r = isfinite(f) ? round(x / f) * f : 0.0 * x;
  }
  *out = sl_value_double(r);
  return SL_OK;
}

static int fn_floor(const ex_node *n, ex_ctx *c, sl_value *out) {
  int done, rc = num_arg(n, c, 0, out, &done);
  if (rc == SL_OK && !done && out->type == SL_TYPE_DOUBLE)
    out->as.d = floor(out->as.d);
  return rc;
}

static int fn_ceil(const ex_node *n, ex_ctx *c, sl_value *out) {
  int done, rc = num_arg(n, c, 0, out, &done);
  if (rc == SL_OK && !done && out->type == SL_TYPE_DOUBLE)
    out->as.d = ceil(out->as.d);
  return rc;
}

static int fn_sqrt(const ex_node *n, ex_ctx *c, sl_value *out) {
  int done, rc = num_arg(n, c, 0, out, &done);
  if (rc != SL_OK || done)
    return rc;
  double x = out->type == SL_TYPE_INT ? (double)out->as.i : out->as.d;
  if (x < 0) {
    char t[SL_NUM_TEXT_MAX];
    return ex_fail(n, c->err, SL_ERR_INVALID, "sqrt() of a negative number (%s)",
                   sl_num_text(x, t, sizeof t));
  }
  *out = sl_value_double(sqrt(x));
  return SL_OK;
}

/* min/max skip nulls (null only when every argument is null) and return
 * the winning argument unchanged, so min(1, 2.5) is the int 1. */
static int min_max(const ex_node *n, ex_ctx *c, sl_value *out, int want_max) {
  *out = sl_value_null();
  for (uint32_t i = 0; i < n->nkids; i++) {
    sl_value v;
    int rc = EVAL(n->kids[i], c, &v), cmp = 0, unordered;
    if (rc != SL_OK)
      return rc;
    if (v.type == SL_TYPE_NULL)
      continue;
    if (v.type == SL_TYPE_RECORD || v.type == SL_TYPE_ARRAY)
      return ex_fail(n, c->err, SL_ERR_TYPE, "%s() cannot compare %s values", n->name,
                     sl_type_name(v.type));
    if (out->type == SL_TYPE_NULL) {
      *out = v;
      continue;
    }
    if ((rc = ex_compare(n, &v, out, &cmp, &unordered, c->err)) != SL_OK)
      return rc;
    if (!unordered && (want_max ? cmp > 0 : cmp < 0))
      *out = v;
  }
  return SL_OK;
}

static int fn_min(const ex_node *n, ex_ctx *c, sl_value *out) { return min_max(n, c, out, 0); }
static int fn_max(const ex_node *n, ex_ctx *c, sl_value *out) { return min_max(n, c, out, 1); }

static int fn_coalesce(const ex_node *n, ex_ctx *c, sl_value *out) {
  for (uint32_t i = 0; i < n->nkids; i++) {
    int rc = EVAL(n->kids[i], c, out);
    if (rc != SL_OK || out->type != SL_TYPE_NULL)
      return rc;
  }
  return SL_OK;
}

static int change_case(const ex_node *n, ex_ctx *c, sl_value *out, int upper) {
  int rc = EVAL(n->kids[0], c, out);
  if (rc != SL_OK || out->type == SL_TYPE_NULL)
    return rc;
  if (out->type != SL_TYPE_STRING)
    return ex_fail(n, c->err, SL_ERR_TYPE, "%s() needs a string, got %s", n->name,
                   sl_type_name(out->type));
  const char *s = out->as.str.ptr;
  size_t len = out->as.str.len, i = 0;
  char lo = upper ? 'a' : 'A', hi = upper ? 'z' : 'Z';
  while (i < len && !(s[i] >= lo && s[i] <= hi))
    i++;
  if (i == len)
    return SL_OK; /* nothing to change: borrow the input */
  char *d = sl_arena_alloc(c->a, len + 1);
  if (!d)
    return ex_fail(n, c->err, SL_ERR_NOMEM, "out of memory");
  memcpy(d, s, len);
  d[len] = '\0';
  for (; i < len; i++)
    if (d[i] >= lo && d[i] <= hi)
      d[i] = (char)(d[i] + (upper ? 'A' - 'a' : 'a' - 'A'));
  *out = sl_value_string(d, len);
  return SL_OK;
}

static int fn_lower(const ex_node *n, ex_ctx *c, sl_value *out) { return change_case(n, c, out, 0); }
static int fn_upper(const ex_node *n, ex_ctx *c, sl_value *out) { return change_case(n, c, out, 1); }

static int fn_len(const ex_node *n, ex_ctx *c, sl_value *out) {
  int rc = EVAL(n->kids[0], c, out);
  if (rc != SL_OK)
    return rc;
  int64_t len;
  switch (out->type) {
  case SL_TYPE_NULL: return SL_OK;
  case SL_TYPE_STRING:
    len = 0; /* code points: count every byte that does not continue a sequence */
    for (size_t i = 0; i < out->as.str.len; i++)
      len += ((unsigned char)out->as.str.ptr[i] & 0xC0) != 0x80;
    break;
  case SL_TYPE_BYTES: len = (int64_t)out->as.str.len; break;
  case SL_TYPE_ARRAY: len = (int64_t)sl_array_len(out->as.arr); break;
  case SL_TYPE_RECORD: len = (int64_t)sl_record_count(out->as.rec); break;
  default:
    return ex_fail(n, c->err, SL_ERR_TYPE, "len() needs a string or an array, got %s",
                   sl_type_name(out->type));
  }
  *out = sl_value_int(len);
  return SL_OK;
}

/* Sorted by name; keep ex_func_names in the same order. */
static const ex_func funcs[] = {
    {"abs", 1, 1, fn_abs},           {"ceil", 1, 1, fn_ceil},   {"coalesce", 1, -1, fn_coalesce},
    {"floor", 1, 1, fn_floor},       {"len", 1, 1, fn_len},     {"lower", 1, 1, fn_lower},
    {"max", 1, -1, fn_max},          {"min", 1, -1, fn_min},    {"round", 1, 2, fn_round},
    {"sqrt", 1, 1, fn_sqrt},         {"upper", 1, 1, fn_upper},
};

const char *const ex_func_names[] = {"abs", "ceil", "coalesce", "floor", "len", "lower",
                                     "max", "min",  "round",    "sqrt",  "upper"};
const size_t ex_func_count = sizeof funcs / sizeof funcs[0];

const ex_func *ex_func_lookup(const char *name) {
  for (size_t i = 0; i < ex_func_count; i++)
    if (strcmp(funcs[i].name, name) == 0)
      return &funcs[i];
  return NULL;
}

const char *const *sl_expr_function_names(size_t *n) {
  if (n)
    *n = ex_func_count;
  return ex_func_names;
}
