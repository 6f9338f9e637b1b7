/* SPDX-License-Identifier: Apache-2.0 */
/* Evaluation of operator nodes: SQL three-valued logic, numeric promotion
 * with checked integer arithmetic, exact int/double comparison, `between`,
 * `in` (constant lists possibly sorted) and `like` matching. Every function
 * here runs per record: no allocation, no name hashing, no parsing. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/record_internal.h"
#include "expr/expr_internal.h"

#define EVAL(kid, c, out) ((kid)->eval((kid), (c), (out)))

int ex_fail(const ex_node *n, sl_error *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl_error_vset(err, code, fmt, ap);
  va_end(ap);
  if (err) {
    err->line = n->line;
    err->column = n->col;
  }
  return code;
}

static inline int is_num(const sl_value *v) {
  return v->type == SL_TYPE_INT || v->type == SL_TYPE_DOUBLE;
}
static inline double as_double(const sl_value *v) {
  return v->type == SL_TYPE_INT ? (double)v->as.i : v->as.d;
}

int ex_eval_lit(const ex_node *n, ex_ctx *c, sl_value *out) {
  (void)c;
  *out = n->lit;
  return SL_OK;
}

int ex_eval_field1(const ex_node *n, ex_ctx *c, sl_value *out) {
  if (c->r) { /* sl_record_get, inlined: this runs for every field of every filter */
    const sl_field *f = c->r->fields, *end = f + c->r->count;
    for (; f < end; f++)
      if (f->name == n->path[0]) {
        *out = f->value;
        return SL_OK;
      }
  }
  *out = sl_value_null();
  return SL_OK;
}

int ex_eval_field(const ex_node *n, ex_ctx *c, sl_value *out) {
  const sl_value *v = c->r ? sl_record_get_path(c->r, n->path, n->npath) : NULL;
  *out = v ? *v : sl_value_null();
  return SL_OK;
}

int ex_eval_neg(const ex_node *n, ex_ctx *c, sl_value *out) {
  int rc = EVAL(n->kids[0], c, out);
  if (rc != SL_OK || out->type == SL_TYPE_NULL)
    return rc;
  if (out->type == SL_TYPE_DOUBLE) {
    out->as.d = -out->as.d;
    return SL_OK;
  }
  if (out->type != SL_TYPE_INT)
    return ex_fail(n, c->err, SL_ERR_TYPE, "cannot negate %s", sl_type_name(out->type));
  if (out->as.i == INT64_MIN)
    return ex_fail(n, c->err, SL_ERR_INVALID, "integer overflow in unary '-'");
  out->as.i = -out->as.i;
  return SL_OK;
}

int ex_eval_plus(const ex_node *n, ex_ctx *c, sl_value *out) {
  int rc = EVAL(n->kids[0], c, out);
  if (rc != SL_OK || out->type == SL_TYPE_NULL || is_num(out))
    return rc;
  return ex_fail(n, c->err, SL_ERR_TYPE, "unary '+' needs a number, got %s",
                 sl_type_name(out->type));
}

int ex_eval_not(const ex_node *n, ex_ctx *c, sl_value *out) {
  int rc = EVAL(n->kids[0], c, out);
  if (rc != SL_OK || out->type == SL_TYPE_NULL)
    return rc;
  if (out->type != SL_TYPE_BOOL)
    return ex_fail(n, c->err, SL_ERR_TYPE, "'not' needs a bool, got %s", sl_type_name(out->type));
  out->as.b = !out->as.b;
  return SL_OK;
}

static const char *const arith_sym[] = {"+", "-", "*", "/", "%"};
static const char *const arith_verb[] = {"add", "subtract", "multiply", "divide",
                                         "take the remainder of"};

static int arith_int(const ex_node *n, int64_t a, int64_t b, sl_value *out, sl_error *err) {
  int64_t r = 0;
  int ovf = 0;
  switch ((ex_op)n->op) {
  case EXOP_ADD: ovf = __builtin_add_overflow(a, b, &r); break;
  case EXOP_SUB: ovf = __builtin_sub_overflow(a, b, &r); break;
  case EXOP_MUL: ovf = __builtin_mul_overflow(a, b, &r); break;
  case EXOP_MOD:
    if (b == 0)
      return ex_fail(n, err, SL_ERR_INVALID, "division by zero in '%%'");
    r = b == -1 ? 0 : a % b; /* INT64_MIN % -1 is undefined in C; the answer is 0 */
    break;
  default: break;
  }
  if (ovf)
    return ex_fail(n, err, SL_ERR_INVALID,
                   "integer overflow in '%s' (write a decimal such as 1.0 to compute in "
                   "floating point)",
                   arith_sym[n->op]);
  *out = sl_value_int(r);
  return SL_OK;
}

int ex_eval_arith(const ex_node *n, ex_ctx *c, sl_value *out) {
  sl_value a, b;
  int rc = EVAL(n->kids[0], c, &a);
  if (rc != SL_OK || (rc = EVAL(n->kids[1], c, &b)) != SL_OK)
    return rc;
  /* Types are checked before nulls: 'x' + null is a mistake, not a null. */
  if ((a.type != SL_TYPE_NULL && !is_num(&a)) || (b.type != SL_TYPE_NULL && !is_num(&b)))
    return ex_fail(n, c->err, SL_ERR_TYPE, "cannot %s %s and %s", arith_verb[n->op],
                   sl_type_name(a.type), sl_type_name(b.type));
  if (a.type == SL_TYPE_NULL || b.type == SL_TYPE_NULL) {
    *out = sl_value_null();
    return SL_OK;
  }
  /* '/' is true division even on two ints (Python 3, Flink SQL): a reading sent as 21
   * and one sent as 21.0 must give the same 't * 9 / 5', whatever the input format. */
  if (a.type == SL_TYPE_INT && b.type == SL_TYPE_INT && n->op != EXOP_DIV)
    return arith_int(n, a.as.i, b.as.i, out, c->err);
  double x = as_double(&a), y = as_double(&b), r = 0;
  switch ((ex_op)n->op) {
  case EXOP_ADD: r = x + y; break;
  case EXOP_SUB: r = x - y; break;
  case EXOP_MUL: r = x * y; break;
  case EXOP_DIV:
  case EXOP_MOD:
    if (y == 0)
      return ex_fail(n, c->err, SL_ERR_INVALID, n->op == EXOP_DIV ? "division by zero"
                                                                  : "division by zero in '%%'");
    r = n->op == EXOP_DIV ? x / y : fmod(x, y);
    break;
  default: break;
  }
  *out = sl_value_double(r);
  return SL_OK;
}

/* Exact comparison of an int with a double: no rounding of the int. */
static int cmp_int_double(int64_t i, double d) {
  if (d >= 9223372036854775808.0)
    return -1;
  if (d < -9223372036854775808.0)
    return 1;
  int64_t t = (int64_t)d; /* exact: |d| < 2^63, truncated toward zero */
  if (i != t)
    return i < t ? -1 : 1;
  double frac = d - (double)t;
  return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

int ex_cmp_bytes(const sl_value *a, const sl_value *b) {
  size_t n = a->as.str.len < b->as.str.len ? a->as.str.len : b->as.str.len;
  int r = n ? memcmp(a->as.str.ptr, b->as.str.ptr, n) : 0;
  if (r)
    return r < 0 ? -1 : 1;
  return a->as.str.len < b->as.str.len ? -1 : a->as.str.len > b->as.str.len;
}

int ex_compare(const ex_node *n, const sl_value *a, const sl_value *b, int *cmp, int *unordered,
               sl_error *err) {
  *unordered = 0;
  if (a->type == SL_TYPE_INT && b->type == SL_TYPE_INT) {
    *cmp = (a->as.i > b->as.i) - (a->as.i < b->as.i);
  } else if (is_num(a) && is_num(b)) {
    if ((a->type == SL_TYPE_DOUBLE && isnan(a->as.d)) ||
        (b->type == SL_TYPE_DOUBLE && isnan(b->as.d)))
      *unordered = 1;
    else if (a->type == SL_TYPE_INT)
      *cmp = cmp_int_double(a->as.i, b->as.d);
    else if (b->type == SL_TYPE_INT)
      *cmp = -cmp_int_double(b->as.i, a->as.d);
    else
      *cmp = (a->as.d > b->as.d) - (a->as.d < b->as.d);
  } else if (a->type == b->type && (a->type == SL_TYPE_STRING || a->type == SL_TYPE_BYTES)) {
    *cmp = ex_cmp_bytes(a, b);
  } else if (a->type == SL_TYPE_BOOL && b->type == SL_TYPE_BOOL) {
    *cmp = a->as.b - b->as.b;
  } else {
    return ex_fail(n, err, SL_ERR_TYPE, "cannot compare %s and %s", sl_type_name(a->type),
                   sl_type_name(b->type));
  }
  return SL_OK;
}

/* a op b as SQL: null when either side is null; NaN compares unequal. */
static int compare_op(const ex_node *n, ex_op op, const sl_value *a, const sl_value *b,
                      sl_value *out, sl_error *err) {
  if (a->type == SL_TYPE_NULL || b->type == SL_TYPE_NULL) {
    *out = sl_value_null();
    return SL_OK;
  }
  int cmp = 0, unordered;
  int rc = ex_compare(n, a, b, &cmp, &unordered, err);
  if (rc != SL_OK)
    return rc;
  *out = sl_value_bool(unordered ? op == EXOP_NE : ex_cmp_holds(op, cmp));
  return SL_OK;
}

int ex_eval_cmp(const ex_node *n, ex_ctx *c, sl_value *out) {
  sl_value a, b;
  int rc = EVAL(n->kids[0], c, &a);
  if (rc != SL_OK || (rc = EVAL(n->kids[1], c, &b)) != SL_OK)
    return rc;
  return compare_op(n, (ex_op)n->op, &a, &b, out, c->err);
}

/* n-ary and/or: stops at the first operand that decides the result, so
 * operands after it are not evaluated (and cannot raise errors). */
static int eval_logic(const ex_node *n, ex_ctx *c, sl_value *out, int decisive) {
  int saw_null = 0;
  for (uint32_t i = 0; i < n->nkids; i++) {
    int rc = EVAL(n->kids[i], c, out);
    if (rc != SL_OK)
      return rc;
    if (out->type == SL_TYPE_NULL) {
      saw_null = 1;
    } else if (out->type != SL_TYPE_BOOL) {
      return ex_fail(n, c->err, SL_ERR_TYPE, "'%s' needs bool operands, got %s",
                     decisive ? "or" : "and", sl_type_name(out->type));
    } else if (out->as.b == decisive) {
      return SL_OK;
    }
  }
  *out = saw_null ? sl_value_null() : sl_value_bool(!decisive);
  return SL_OK;
}

int ex_eval_and(const ex_node *n, ex_ctx *c, sl_value *out) { return eval_logic(n, c, out, 0); }
int ex_eval_or(const ex_node *n, ex_ctx *c, sl_value *out) { return eval_logic(n, c, out, 1); }

int ex_eval_isnull(const ex_node *n, ex_ctx *c, sl_value *out) {
  sl_value v;
  int rc = EVAL(n->kids[0], c, &v);
  if (rc != SL_OK)
    return rc;
  *out = sl_value_bool((v.type == SL_TYPE_NULL) != n->negated);
  return SL_OK;
}

/* Negate a three-valued result when the node says `not ...`. */
static void apply_not(const ex_node *n, sl_value *out) {
  if (n->negated && out->type == SL_TYPE_BOOL)
    out->as.b = !out->as.b;
}

/* x between lo and hi  ==  x >= lo and x <= hi, with SQL three-valued logic. */
static int between_values(const ex_node *n, const sl_value *x, const sl_value *lo,
                          const sl_value *hi, sl_value *out, sl_error *err) {
  sl_value ge, le;
  int rc;
  if ((rc = compare_op(n, EXOP_GE, x, lo, &ge, err)) != SL_OK ||
      (rc = compare_op(n, EXOP_LE, x, hi, &le, err)) != SL_OK)
    return rc;
  if ((ge.type == SL_TYPE_BOOL && !ge.as.b) || (le.type == SL_TYPE_BOOL && !le.as.b))
    *out = sl_value_bool(0);
  else if (ge.type == SL_TYPE_NULL || le.type == SL_TYPE_NULL)
    *out = sl_value_null();
  else
    *out = sl_value_bool(1);
  apply_not(n, out);
  return SL_OK;
}

int ex_eval_between(const ex_node *n, ex_ctx *c, sl_value *out) {
  sl_value x, lo, hi;
  int rc;
  if ((rc = EVAL(n->kids[0], c, &x)) != SL_OK || (rc = EVAL(n->kids[1], c, &lo)) != SL_OK ||
      (rc = EVAL(n->kids[2], c, &hi)) != SL_OK)
    return rc;
  return between_values(n, &x, &lo, &hi, out, c->err);
}

/* The bounds are literals (kids 1 and 2). A NaN x is in no range, as in the
 * general path, where it compares unordered with both bounds. */
int ex_eval_between_num(const ex_node *n, ex_ctx *c, sl_value *out) {
  sl_value x;
  int rc = EVAL(n->kids[0], c, &x);
  if (rc != SL_OK)
    return rc;
  if (x.type == SL_TYPE_DOUBLE && (n->between_num & EX_BETWEEN_DOUBLE)) {
    int in = x.as.d >= n->between_d[0] && x.as.d <= n->between_d[1];
    *out = sl_value_bool(in != n->negated);
    return SL_OK;
  }
  if (x.type == SL_TYPE_INT && (n->between_num & EX_BETWEEN_INT)) {
    int in = x.as.i >= n->kids[1]->lit.as.i && x.as.i <= n->kids[2]->lit.as.i;
    *out = sl_value_bool(in != n->negated);
    return SL_OK;
  }
  return between_values(n, &x, &n->kids[1]->lit, &n->kids[2]->lit, out, c->err);
}

static int set_search(const ex_node *n, const sl_value *x) {
  size_t lo = 0, hi = n->nset;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const sl_value *m = &n->set[mid];
    int cmp = n->set_sorted == 1 ? (x->as.i > m->as.i) - (x->as.i < m->as.i) : ex_cmp_bytes(x, m);
    if (cmp == 0)
      return 1;
    if (cmp < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return 0;
}

/* x in (a, b, ...)  ==  x = a or x = b or ...: null when nothing matched but
 * x or an item was null. */
int ex_eval_in(const ex_node *n, ex_ctx *c, sl_value *out) {
  sl_value x, item;
  int rc = EVAL(n->kids[0], c, &x);
  if (rc != SL_OK)
    return rc;
  if (x.type == SL_TYPE_NULL) {
    *out = x;
    return SL_OK;
  }
  int found = 0, saw_null = 0, cmp = 0, unordered = 0;
  if (n->set && ((n->set_sorted == 1 && x.type == SL_TYPE_INT) ||
                 (n->set_sorted == 2 && x.type == SL_TYPE_STRING))) {
    found = set_search(n, &x);
    saw_null = n->set_has_null;
  } else {
    /* A sorted set holds no nulls (set_has_null says if there were any), so
     * walk the set itself, not the original item list. */
    saw_null = n->set && n->set_has_null;
    uint32_t count = n->set ? n->nset : n->nkids - 1;
    for (uint32_t i = 0; i < count && !found; i++) {
      if (n->set)
        item = n->set[i];
      else if ((rc = EVAL(n->kids[i + 1], c, &item)) != SL_OK)
        return rc;
      if (item.type == SL_TYPE_NULL) {
        saw_null = 1;
        continue;
      }
      if ((rc = ex_compare(n, &x, &item, &cmp, &unordered, c->err)) != SL_OK)
        return rc;
      found = !unordered && cmp == 0;
    }
  }
  *out = found ? sl_value_bool(1) : saw_null ? sl_value_null() : sl_value_bool(0);
  apply_not(n, out);
  return SL_OK;
}

static size_t utf8_step(const char *s, size_t i, size_t len) {
  unsigned char b = (unsigned char)s[i];
  size_t w = b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF8 ? 4 : 1;
  return i + w > len ? len - i : w;
}

int ex_like_match(const char *s, size_t slen, const char *p, size_t plen) {
  size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
  while (si < slen) {
    if (pi < plen) {
      char pc = p[pi];
      if (pc == '%') {
        star_p = ++pi;
        star_s = si;
        continue;
      }
      if (pc == '_') {
        si += utf8_step(s, si, slen);
        pi++;
        continue;
      }
      size_t adv = 1;
      if (pc == '\\' && pi + 1 < plen) {
        pc = p[pi + 1];
        adv = 2;
      }
      if (s[si] == pc) {
        si++;
        pi += adv;
        continue;
      }
    }
    if (star_p == (size_t)-1)
      return 0;
    /* Let the last '%' swallow one more character and retry. */
    star_s += utf8_step(s, star_s, slen);
    si = star_s;
    pi = star_p;
  }
  while (pi < plen && p[pi] == '%')
    pi++;
  return pi == plen;
}

int ex_like_compile(sl_arena *a, const char *p, size_t plen, ex_like *out) {
  char *buf = sl_arena_alloc(a, plen + 1);
  if (!buf)
    return SL_ERR_NOMEM;
  size_t i = 0, n = 0;
  int lead = 0, trail = 0, general = 0;
  while (i < plen && p[i] == '%') {
    lead = 1;
    i++;
  }
  while (i < plen && !general) {
    char ch = p[i];
    if (ch == '\\') {
      buf[n++] = i + 1 < plen ? p[i + 1] : '\\';
      i += i + 1 < plen ? 2 : 1;
    } else if (ch == '_') {
      general = 1;
    } else if (ch == '%') {
      size_t j = i;
      while (j < plen && p[j] == '%')
        j++;
      if (j == plen) {
        trail = 1;
        i = j;
      } else {
        general = 1;
      }
    } else {
      buf[n++] = ch;
      i++;
    }
  }
  if (general) {
    memcpy(buf, p, plen);
    buf[plen] = '\0';
    out->kind = LIKE_GENERAL;
    out->lit = buf;
    out->len = plen;
    return SL_OK;
  }
  buf[n] = '\0';
  out->lit = buf;
  out->len = n;
  if (n == 0)
    out->kind = lead || trail ? LIKE_ANY : LIKE_EXACT;
  else
    out->kind = lead && trail ? LIKE_CONTAINS : lead ? LIKE_SUFFIX : trail ? LIKE_PREFIX : LIKE_EXACT;
  return SL_OK;
}

static int like_fast(const ex_like *l, const char *s, size_t len) {
  switch (l->kind) {
  case LIKE_ANY: return 1;
  case LIKE_EXACT: return len == l->len && (len == 0 || memcmp(s, l->lit, len) == 0);
  case LIKE_PREFIX: return len >= l->len && memcmp(s, l->lit, l->len) == 0;
  case LIKE_SUFFIX: return len >= l->len && memcmp(s + len - l->len, l->lit, l->len) == 0;
  case LIKE_CONTAINS: return memmem(s, len, l->lit, l->len) != NULL;
  default: return ex_like_match(s, len, l->lit, l->len);
  }
}

int ex_eval_like(const ex_node *n, ex_ctx *c, sl_value *out) {
  sl_value s, p = sl_value_null();
  int rc = EVAL(n->kids[0], c, &s);
  if (rc != SL_OK || (!n->like && (rc = EVAL(n->kids[1], c, &p)) != SL_OK))
    return rc;
  if ((s.type != SL_TYPE_NULL && s.type != SL_TYPE_STRING) ||
      (!n->like && p.type != SL_TYPE_NULL && p.type != SL_TYPE_STRING))
    return ex_fail(n, c->err, SL_ERR_TYPE, "'like' needs strings, got %s like %s",
                   sl_type_name(s.type), n->like ? "string" : sl_type_name(p.type));
  if (s.type == SL_TYPE_NULL || (!n->like && p.type == SL_TYPE_NULL)) {
    *out = sl_value_null();
    return SL_OK;
  }
  int m = n->like ? like_fast(n->like, s.as.str.ptr, s.as.str.len)
                  : ex_like_match(s.as.str.ptr, s.as.str.len, p.as.str.ptr, p.as.str.len);
  *out = sl_value_bool(m != n->negated);
  return SL_OK;
}
