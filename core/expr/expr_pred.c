/* SPDX-License-Identifier: Apache-2.0 */
/* The batch form of a filter's expression (expr_pred.h): the compiled tree
 * is read once into a flat list of tests of a field against literals, then
 * each record costs a field lookup by remembered position and a compare.
 * Every test answers true, false, null, or "undecided" for the values whose
 * exact answer needs the general comparison (ex_compare) or raises an error;
 * an undecided record goes back to sl_expr_eval. */
#include <math.h>
#include <stdlib.h>

#include "base/record_internal.h"
#include "expr/expr_internal.h"
#include "expr/expr_pred.h"

#define PRED_MAX_TESTS 8

/* A test's answer; false, true and undecided are the verdicts of a lone test. */
enum { T_FALSE = SL_PRED_DROP, T_TRUE = SL_PRED_KEEP, T_UNDECIDED = SL_PRED_EVAL, T_NULL = 3 };
enum { TEST_CMP, TEST_BETWEEN, TEST_ISNULL };
enum { ROOT_ONE, ROOT_AND, ROOT_OR };

#define NUM_INT 1u    /* the literal (both bounds) are ints: an int x compares in int64 */
#define NUM_DOUBLE 2u /* ... exact as doubles: a double x (or an int x of <= 53 bits) in double */

typedef struct pred_test {
  const sl_name *path; /* borrowed from the expression */
  uint32_t npath;
  uint32_t hints[4]; /* sl_record_get_path_hinted's positions (paths of <= 4 names) */
  uint8_t kind;      /* TEST_* */
  uint8_t op;        /* TEST_CMP: ex_op, as `field op literal` */
  uint8_t negated;   /* not between / is not null */
  uint8_t num;       /* NUM_* for numeric literals */
  sl_value lit;      /* TEST_CMP: the literal */
  int64_t i[2];      /* bounds (one for TEST_CMP) as ints, when NUM_INT */
  double d[2];       /* ... as doubles, when NUM_DOUBLE */
} pred_test;

struct sl_expr_pred {
  int root; /* ROOT_* */
  size_t ntests;
  pred_test tests[PRED_MAX_TESTS];
};

static const uint8_t flipped[] = {[EXOP_EQ] = EXOP_EQ, [EXOP_NE] = EXOP_NE, [EXOP_LT] = EXOP_GT,
                                  [EXOP_LE] = EXOP_GE, [EXOP_GT] = EXOP_LT, [EXOP_GE] = EXOP_LE};

static int is_field(const ex_node *n) { return n->kind == EX_FIELD && n->npath <= 4; }

/* How a numeric literal compares without ex_compare: as an int, and as a
 * double when it converts exactly (not NaN; an int of at most 53 bits). */
static unsigned num_flags(const sl_value *v, int64_t *i, double *d) {
  unsigned f = 0;
  if (v->type == SL_TYPE_INT) {
    *i = v->as.i;
    f |= NUM_INT;
    if (v->as.i >= -(INT64_C(1) << 53) && v->as.i <= INT64_C(1) << 53) {
      *d = (double)v->as.i;
      f |= NUM_DOUBLE;
    }
  } else if (v->type == SL_TYPE_DOUBLE && !isnan(v->as.d)) {
    *d = v->as.d;
    f |= NUM_DOUBLE;
  }
  return f;
}

/* One test from node `n`, or 0 when `n` is not of a form the pass knows. */
static int read_test(const ex_node *n, pred_test *t) {
  const ex_node *f = NULL;
  *t = (pred_test){.kind = TEST_CMP};
  if (n->kind == EX_CMP) {
    const ex_node *a = n->kids[0], *b = n->kids[1], *lit;
    if (is_field(a) && b->kind == EX_LIT) {
      f = a, lit = b, t->op = n->op;
    } else if (is_field(b) && a->kind == EX_LIT) {
      f = b, lit = a, t->op = flipped[n->op];
    } else {
      return 0;
    }
    t->lit = lit->lit;
    if (t->lit.type == SL_TYPE_INT || t->lit.type == SL_TYPE_DOUBLE)
      t->num = (uint8_t)num_flags(&t->lit, &t->i[0], &t->d[0]);
    else if (t->lit.type != SL_TYPE_STRING && t->lit.type != SL_TYPE_BOOL &&
             t->lit.type != SL_TYPE_NULL)
      return 0;
  } else if (n->kind == EX_BETWEEN) {
    if (!is_field(n->kids[0]) || n->kids[1]->kind != EX_LIT || n->kids[2]->kind != EX_LIT)
      return 0;
    f = n->kids[0];
    t->kind = TEST_BETWEEN;
    t->negated = n->negated;
    t->num = (uint8_t)(num_flags(&n->kids[1]->lit, &t->i[0], &t->d[0]) &
                       num_flags(&n->kids[2]->lit, &t->i[1], &t->d[1]));
    if (!t->num)
      return 0;
  } else if (n->kind == EX_ISNULL) {
    if (!is_field(n->kids[0]))
      return 0;
    f = n->kids[0];
    t->kind = TEST_ISNULL;
    t->negated = n->negated;
  } else {
    return 0;
  }
  t->path = f->path;
  t->npath = f->npath;
  return 1;
}

sl_expr_pred *sl_expr_pred_new(const sl_expr *e) {
  const ex_node *root = e->root;
  sl_expr_pred *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  if (root->kind == EX_AND || root->kind == EX_OR) {
    p->root = root->kind == EX_AND ? ROOT_AND : ROOT_OR;
    if (root->nkids > PRED_MAX_TESTS)
      goto out_none;
    for (uint32_t i = 0; i < root->nkids; i++)
      if (!read_test(root->kids[i], &p->tests[i]))
        goto out_none;
    p->ntests = root->nkids;
  } else {
    p->root = ROOT_ONE;
    if (!read_test(root, &p->tests[0]))
      goto out_none;
    p->ntests = 1;
  }
  return p;
out_none:
  free(p);
  return NULL;
}

void sl_expr_pred_free(sl_expr_pred *p) { free(p); }

static inline int fits_double(int64_t i) {
  return i >= -(INT64_C(1) << 53) && i <= INT64_C(1) << 53;
}

/* `x op literal`, as compare_op in expr_eval.c. */
static inline int test_cmp(const pred_test *t, const sl_value *x) {
  int cmp;
  if (t->lit.type == SL_TYPE_NULL)
    return T_NULL;
  switch (x->type) {
  case SL_TYPE_INT:
    if (t->num & NUM_INT) {
      cmp = (x->as.i > t->i[0]) - (x->as.i < t->i[0]);
    } else if ((t->num & NUM_DOUBLE) && fits_double(x->as.i)) {
      double xd = (double)x->as.i;
      cmp = (xd > t->d[0]) - (xd < t->d[0]);
    } else {
      return T_UNDECIDED;
    }
    break;
  case SL_TYPE_DOUBLE:
    if (!(t->num & NUM_DOUBLE))
      return T_UNDECIDED;
    if (isnan(x->as.d)) /* unordered: only != holds */
      return t->op == EXOP_NE;
    cmp = (x->as.d > t->d[0]) - (x->as.d < t->d[0]);
    break;
  case SL_TYPE_STRING:
    if (t->lit.type != SL_TYPE_STRING)
      return T_UNDECIDED;
    cmp = ex_cmp_bytes(x, &t->lit);
    break;
  case SL_TYPE_BOOL:
    if (t->lit.type != SL_TYPE_BOOL)
      return T_UNDECIDED;
    cmp = x->as.b - t->lit.as.b;
    break;
  default: return T_UNDECIDED;
  }
  return ex_cmp_holds((ex_op)t->op, cmp);
}

/* `x [not] between lo and hi` with numeric bounds, as ex_eval_between_num:
 * a NaN x is in no range. Members as arguments for test_range's locals. */
static inline int between(const sl_value *x, unsigned num, const double *d, const int64_t *i,
                          int negated) {
  int in;
  if (x->type == SL_TYPE_DOUBLE && (num & NUM_DOUBLE))
    in = x->as.d >= d[0] && x->as.d <= d[1];
  else if (x->type == SL_TYPE_INT && (num & NUM_INT))
    in = x->as.i >= i[0] && x->as.i <= i[1];
  else if (x->type == SL_TYPE_INT && (num & NUM_DOUBLE) && fits_double(x->as.i))
    in = (double)x->as.i >= d[0] && (double)x->as.i <= d[1];
  else
    return T_UNDECIDED;
  return in != negated;
}

static inline int test_between(const pred_test *t, const sl_value *x) {
  return between(x, t->num, t->d, t->i, t->negated);
}

/* The field of test `t` in `r`, or NULL. A one-name path first tries the
 * position sl_record_get_path_hinted remembered, here, without the call
 * (records of one batch mostly share their order); any other case is that
 * function's. */
static inline const sl_value *lookup(pred_test *t, const sl_record *r) {
  uint32_t h = t->hints[0];
  if (t->npath == 1 && h < r->count && r->fields[h].name == t->path[0])
    return &r->fields[h].value;
  return sl_record_get_path_hinted(r, t->path, t->npath, t->hints);
}

static inline int run_test(pred_test *t, const sl_record *r) {
  const sl_value *x = lookup(t, r);
  int null = !x || x->type == SL_TYPE_NULL;
  if (t->kind == TEST_ISNULL)
    return null != t->negated;
  if (null)
    return T_NULL;
  return t->kind == TEST_BETWEEN ? test_between(t, x) : test_cmp(t, x);
}

/* A filter keeps a record on true only: null and false both drop. `and`
 * stops at the first false, `or` at the first true (eval_logic), so an
 * operand after that cannot raise an error and needs no evaluation; an
 * undecided operand before it sends the record to the general path. */
static uint8_t decide(sl_expr_pred *p, const sl_record *r) {
  if (p->root == ROOT_ONE) {
    int v = run_test(&p->tests[0], r);
    return v == T_NULL ? SL_PRED_DROP : (uint8_t)v;
  }
  int stop = p->root == ROOT_AND ? T_FALSE : T_TRUE, saw_other = 0;
  for (size_t k = 0; k < p->ntests; k++) {
    int v = run_test(&p->tests[k], r);
    if (v == T_UNDECIDED)
      return SL_PRED_EVAL;
    if (v == stop)
      return stop == T_TRUE ? SL_PRED_KEEP : SL_PRED_DROP;
    saw_other |= v == T_NULL;
  }
  /* and: every operand true (keep) unless one was null; or: none true. */
  return p->root == ROOT_AND && !saw_other ? SL_PRED_KEEP : SL_PRED_DROP;
}

/* The common filter, a range check on one field: its own loop. What it
 * reads of the test sits in locals, since a store into `verdict` (bytes)
 * may alias anything for the compiler, which would otherwise load every
 * member again per record. */
static void test_range(pred_test *t, sl_record *const *rs, size_t n, uint8_t *verdict) {
  const sl_name *path = t->path, name = path[0];
  const uint32_t npath = t->npath;
  const unsigned num = t->num;
  const int negated = t->negated;
  const double d[2] = {t->d[0], t->d[1]};
  const int64_t bound[2] = {t->i[0], t->i[1]};
  uint32_t h = t->hints[0];
  for (size_t k = 0; k < n; k++) {
    const sl_record *r = rs[k];
    const sl_value *x;
    if (npath == 1 && h < r->count && r->fields[h].name == name) {
      x = &r->fields[h].value;
    } else {
      x = sl_record_get_path_hinted(r, path, npath, t->hints);
      h = t->hints[0];
    }
    verdict[k] =
        !x || x->type == SL_TYPE_NULL ? SL_PRED_DROP : (uint8_t)between(x, num, d, bound, negated);
  }
}

void sl_expr_pred_test(sl_expr_pred *p, sl_record *const *rs, size_t n, uint8_t *verdict) {
  if (p->root == ROOT_ONE && p->tests[0].kind == TEST_BETWEEN) {
    test_range(&p->tests[0], rs, n, verdict);
    return;
  }
  for (size_t i = 0; i < n; i++)
    verdict[i] = decide(p, rs[i]);
}
