/* SPDX-License-Identifier: Apache-2.0 */
/* From parsed tree to evaluable expression: resolve functions (with "did you
 * mean" suggestions) and check arity, intern field paths once, precompile
 * constant `like` patterns and `in` lists, fold constant subtrees, and pick
 * the evaluation function of every node. Also the public sl_expr_* entry
 * points that do not evaluate. */
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "expr/expr_internal.h"

static int nomem(sl_error *err) { return sl_error_set(err, SL_ERR_NOMEM, "out of memory"); }

/* Record the dotted path of a field once, in order of first appearance. */
static int note_field(sl_expr *e, const ex_node *n, sl_error *err) {
  size_t len = 0;
  for (uint32_t i = 0; i < n->npath; i++)
    len += n->seglen[i] + 1;
  char *s = sl_arena_alloc(e->arena, len);
  if (!s)
    return nomem(err);
  char *w = s;
  for (uint32_t i = 0; i < n->npath; i++) {
    if (i)
      *w++ = '.';
    memcpy(w, n->seg[i], n->seglen[i]);
    w += n->seglen[i];
  }
  *w = '\0';
  for (size_t i = 0; i < e->nfields; i++)
    if (strcmp(e->fields[i], s) == 0)
      return SL_OK;
  if (e->nfields == e->capfields) {
    size_t ncap = e->capfields ? e->capfields * 2 : 8;
    const char **nf = sl_arena_alloc(e->arena, ncap * sizeof *nf);
    if (!nf)
      return nomem(err);
    if (e->nfields)
      memcpy(nf, e->fields, e->nfields * sizeof *nf);
    e->fields = nf;
    e->capfields = ncap;
  }
  e->fields[e->nfields++] = s;
  return SL_OK;
}

static int compile_field(sl_expr *e, ex_node *n, sl_error *err) {
  sl_name *path = sl_arena_alloc(e->arena, n->npath * sizeof *path);
  if (!path)
    return nomem(err);
  for (uint32_t i = 0; i < n->npath; i++)
    if (!(path[i] = sl_name_intern(n->seg[i], n->seglen[i])))
      return nomem(err);
  n->path = path;
  n->eval = n->npath == 1 ? ex_eval_field1 : ex_eval_field;
  return note_field(e, n, err);
}

static int compile_call(ex_node *n, sl_error *err) {
  const ex_func *f = ex_func_lookup(n->name);
  if (!f) {
    const char *s = sl_suggest(n->name, (const char *const *)ex_func_names, ex_func_count);
    if (s)
      return ex_fail(n, err, SL_ERR_INVALID, "unknown function '%s' (did you mean '%s'?)", n->name,
                     s);
    return ex_fail(n, err, SL_ERR_INVALID, "unknown function '%s'", n->name);
  }
  int got = (int)n->nkids;
  if (got < f->min_args || (f->max_args >= 0 && got > f->max_args)) {
    if (f->max_args < 0)
      return ex_fail(n, err, SL_ERR_INVALID, "function '%s' takes at least %d argument%s, got %d",
                     f->name, f->min_args, f->min_args == 1 ? "" : "s", got);
    if (f->min_args == f->max_args)
      return ex_fail(n, err, SL_ERR_INVALID, "function '%s' takes %d argument%s, got %d", f->name,
                     f->min_args, f->min_args == 1 ? "" : "s", got);
    return ex_fail(n, err, SL_ERR_INVALID, "function '%s' takes %d or %d arguments, got %d",
                   f->name, f->min_args, f->max_args, got);
  }
  n->fn = f;
  n->eval = f->eval;
  return SL_OK;
}

static int cmp_set_item(const void *pa, const void *pb) {
  const sl_value *a = pa, *b = pb;
  if (a->type == SL_TYPE_INT)
    return (a->as.i > b->as.i) - (a->as.i < b->as.i);
  size_t n = a->as.str.len < b->as.str.len ? a->as.str.len : b->as.str.len;
  int r = n ? memcmp(a->as.str.ptr, b->as.str.ptr, n) : 0;
  return r ? r : (a->as.str.len > b->as.str.len) - (a->as.str.len < b->as.str.len);
}

/* A list of literals becomes a flat value array; all-int or all-string lists
 * (nulls aside) are sorted so membership is a binary search. */
static int compile_in_set(sl_expr *e, ex_node *n, sl_error *err) {
  uint32_t items = n->nkids - 1, nonnull = 0;
  int all_int = 1, all_str = 1;
  for (uint32_t i = 1; i < n->nkids; i++) {
    if (n->kids[i]->kind != EX_LIT)
      return SL_OK;
    sl_type t = n->kids[i]->lit.type;
    if (t == SL_TYPE_NULL)
      continue;
    nonnull++;
    all_int &= t == SL_TYPE_INT;
    all_str &= t == SL_TYPE_STRING;
  }
  sl_value *set = sl_arena_alloc(e->arena, items * sizeof *set);
  if (!set)
    return nomem(err);
  int sortable = nonnull > 0 && (all_int || all_str);
  uint32_t k = 0;
  for (uint32_t i = 1; i < n->nkids; i++) {
    const sl_value *v = &n->kids[i]->lit;
    if (v->type == SL_TYPE_NULL && sortable)
      n->set_has_null = 1;
    else
      set[k++] = *v;
  }
  if (sortable) {
    qsort(set, k, sizeof *set, cmp_set_item);
    n->set_sorted = all_int ? 1 : 2;
  }
  n->set = set;
  n->nset = k;
  return SL_OK;
}

/* A bound converts to double exactly: a double (not NaN), or an int of at
 * most 53 bits. */
static int exact_double(const sl_value *v, double *out) {
  if (v->type == SL_TYPE_DOUBLE && v->as.d == v->as.d) {
    *out = v->as.d;
    return 1;
  }
  if (v->type == SL_TYPE_INT && v->as.i >= -(INT64_C(1) << 53) && v->as.i <= INT64_C(1) << 53) {
    *out = (double)v->as.i;
    return 1;
  }
  return 0;
}

/* `x between LIT and LIT` with numeric literals (after folding, so `-40`
 * and `1 + 1` count): compare a double or int x without the general path. */
static void compile_between(ex_node *n) {
  n->eval = ex_eval_between;
  const ex_node *lo = n->kids[1], *hi = n->kids[2];
  if (lo->kind != EX_LIT || hi->kind != EX_LIT)
    return;
  if (exact_double(&lo->lit, &n->between_d[0]) && exact_double(&hi->lit, &n->between_d[1]))
    n->between_num |= EX_BETWEEN_DOUBLE;
  if (lo->lit.type == SL_TYPE_INT && hi->lit.type == SL_TYPE_INT)
    n->between_num |= EX_BETWEEN_INT;
  if (n->between_num)
    n->eval = ex_eval_between_num;
}

static int is_const(const ex_node *n) {
  for (uint32_t i = 0; i < n->nkids; i++)
    if (n->kids[i]->kind != EX_LIT)
      return 0;
  return n->kind != EX_FIELD && n->kind != EX_LIT;
}

/* Evaluate a subtree of literals now. A subtree that fails (1/0) is left
 * alone: it may sit behind `false and ...` and never run. */
static void fold(sl_expr *e, ex_node *n) {
  sl_error ferr;
  sl_value v;
  ex_ctx c = {NULL, e->arena, &ferr};
  if (n->eval(n, &c, &v) != SL_OK)
    return;
  n->kind = EX_LIT;
  n->lit = v;
  n->eval = ex_eval_lit;
  n->nkids = 0;
  n->set = NULL;
  n->like = NULL;
}

static int compile_node(sl_expr *e, ex_node *n, sl_error *err) {
  for (uint32_t i = 0; i < n->nkids; i++) {
    int rc = compile_node(e, n->kids[i], err);
    if (rc != SL_OK)
      return rc;
  }
  int rc = SL_OK;
  switch ((ex_kind)n->kind) {
  case EX_LIT: n->eval = ex_eval_lit; break;
  case EX_FIELD: rc = compile_field(e, n, err); break;
  case EX_NEG: n->eval = ex_eval_neg; break;
  case EX_PLUS: n->eval = ex_eval_plus; break;
  case EX_NOT: n->eval = ex_eval_not; break;
  case EX_ARITH: n->eval = ex_eval_arith; break;
  case EX_CMP: n->eval = ex_eval_cmp; break;
  case EX_AND: n->eval = ex_eval_and; break;
  case EX_OR: n->eval = ex_eval_or; break;
  case EX_ISNULL: n->eval = ex_eval_isnull; break;
  case EX_BETWEEN: compile_between(n); break;
  case EX_IN:
    n->eval = ex_eval_in;
    rc = compile_in_set(e, n, err);
    break;
  case EX_LIKE:
    n->eval = ex_eval_like;
    if (n->kids[1]->kind == EX_LIT && n->kids[1]->lit.type == SL_TYPE_STRING) {
      ex_like *l = sl_arena_alloc(e->arena, sizeof *l);
      if (!l)
        return nomem(err);
      const sl_value *p = &n->kids[1]->lit;
      if ((rc = ex_like_compile(e->arena, p->as.str.ptr, p->as.str.len, l)) != SL_OK)
        return nomem(err);
      n->like = l;
    }
    break;
  case EX_CALL: rc = compile_call(n, err); break;
  }
  if (rc == SL_OK && is_const(n))
    fold(e, n);
  return rc;
}

sl_expr *sl_expr_compile(const char *text, int line, sl_error *err) {
  if (!text) {
    sl_error_set(err, SL_ERR_INVALID, "no expression given");
    return NULL;
  }
  sl_expr *e = calloc(1, sizeof *e);
  if (!e || !(e->arena = sl_arena_new(strlen(text) * 2 + 1024))) {
    nomem(err);
    goto out_free;
  }
  if (!(e->root = ex_parse(text, line, e->arena, err)) ||
      compile_node(e, e->root, err) != SL_OK)
    goto out_free;
  return e;
out_free:
  sl_expr_free(e);
  return NULL;
}

int sl_expr_eval(const sl_expr *e, const sl_record *r, sl_arena *a, sl_value *out, sl_error *err) {
  ex_ctx c = {r, a, err};
  int rc = e->root->eval(e->root, &c, out);
  if (rc != SL_OK)
    *out = sl_value_null();
  return rc;
}

void sl_expr_free(sl_expr *e) {
  if (!e)
    return;
  sl_arena_destroy(e->arena);
  free(e);
}

int sl_expr_truthy(const sl_value *v) { return v->type == SL_TYPE_BOOL && v->as.b; }

size_t sl_expr_field_count(const sl_expr *e) { return e->nfields; }

const char *sl_expr_field_at(const sl_expr *e, size_t i) {
  return i < e->nfields ? e->fields[i] : NULL;
}
