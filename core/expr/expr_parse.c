/* SPDX-License-Identifier: Apache-2.0 */
/* Recursive-descent parser of the expression language into an uncompiled
 * node tree (SQL precedence: or < and < not < comparison/between/in/like/is
 * < + - < * / % < unary). Nodes carry the pipeline line and column of the
 * token that names them so compile and evaluation errors can point at it. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "expr/expr_internal.h"

typedef struct parser {
  ex_lexer lx;
  ex_token tok;   /* the current (lookahead) token */
  sl_arena *a;
  int base_line;
  size_t *nl;     /* byte offsets of the newlines in the text */
  size_t nnl;
  sl_error *err;
  int depth;      /* recursion depth of nested constructs */
} parser;

static void pos_to_linecol(const parser *p, size_t pos, int *line, int *col) {
  size_t lo = 0, hi = p->nnl; /* number of newlines before pos */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (p->nl[mid] < pos)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t line_start = lo ? p->nl[lo - 1] + 1 : 0;
  *line = p->base_line + (int)lo;
  *col = (int)(pos - line_start) + 1;
}

static int perr(parser *p, size_t pos, int code, const char *fmt, ...) SL_PRINTF(4, 5);
static int perr(parser *p, size_t pos, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl_error_vset(p->err, code, fmt, ap);
  va_end(ap);
  if (p->err)
    pos_to_linecol(p, pos, &p->err->line, &p->err->column);
  return code;
}

static int advance(parser *p) {
  size_t err_pos = 0;
  int rc = ex_lex_next(&p->lx, &p->tok, &err_pos, p->err);
  if (rc != SL_OK && p->err)
    pos_to_linecol(p, err_pos, &p->err->line, &p->err->column);
  return rc;
}

static int expect(parser *p, ex_tok_kind kind, const char *what) {
  if (p->tok.kind == kind)
    return advance(p);
  char d[64];
  ex_tok_describe(&p->lx, &p->tok, d, sizeof d);
  return perr(p, p->tok.pos, SL_ERR_PARSE, "expected %s, found %s", what, d);
}

static ex_node *new_node(parser *p, ex_kind kind, size_t pos) {
  ex_node *n = sl_arena_calloc(p->a, 1, sizeof *n);
  if (!n) {
    sl_error_set(p->err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  n->kind = (uint8_t)kind;
  n->depth = 1;
  pos_to_linecol(p, pos, &n->line, &n->col);
  return n;
}

/* Append `kid` to n->kids (arena array grown by doubling) and keep the
 * subtree height bounded so evaluation recursion is bounded too. */
static int add_kid(parser *p, ex_node *n, ex_node *kid, uint32_t *cap) {
  if (n->nkids == *cap) {
    uint32_t ncap = *cap ? *cap * 2 : 2;
    ex_node **nk = sl_arena_alloc(p->a, ncap * sizeof *nk);
    if (!nk)
      return sl_error_set(p->err, SL_ERR_NOMEM, "out of memory");
    if (n->nkids)
      memcpy(nk, n->kids, n->nkids * sizeof *nk);
    n->kids = nk;
    *cap = ncap;
  }
  n->kids[n->nkids++] = kid;
  if (kid->depth + 1 > n->depth)
    n->depth = (uint16_t)(kid->depth + 1);
  if (n->depth > EX_MAX_DEPTH) {
    sl_error_set(p->err, SL_ERR_PARSE, "expression is nested too deeply (more than %d levels)",
                 EX_MAX_DEPTH);
    if (p->err) {
      p->err->line = n->line;
      p->err->column = n->col;
    }
    return SL_ERR_PARSE;
  }
  return SL_OK;
}

static int enter(parser *p, size_t pos) {
  if (++p->depth > EX_MAX_DEPTH)
    return perr(p, pos, SL_ERR_PARSE, "expression is nested too deeply (more than %d levels)",
                EX_MAX_DEPTH);
  return SL_OK;
}

static ex_node *parse_or(parser *p);

static ex_node *binary(parser *p, ex_kind kind, ex_op op, size_t pos, ex_node *l, ex_node *r) {
  uint32_t cap = 0;
  ex_node *n = new_node(p, kind, pos);
  if (!n || add_kid(p, n, l, &cap) != SL_OK || add_kid(p, n, r, &cap) != SL_OK)
    return NULL;
  n->op = (uint8_t)op;
  return n;
}

static ex_node *parse_call(parser *p, const ex_token *name) {
  ex_node *n = new_node(p, EX_CALL, name->pos);
  if (!n)
    return NULL;
  char *lname = sl_arena_strndup(p->a, name->str, name->len);
  if (!lname) {
    sl_error_set(p->err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  for (char *c = lname; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  n->name = lname;
  if (enter(p, name->pos) != SL_OK || advance(p) != SL_OK) /* the '(' */
    return NULL;
  uint32_t cap = 0;
  if (p->tok.kind != TK_RPAREN) {
    for (;;) {
      ex_node *arg = parse_or(p);
      if (!arg || add_kid(p, n, arg, &cap) != SL_OK)
        return NULL;
      if (p->tok.kind != TK_COMMA)
        break;
      if (advance(p) != SL_OK)
        return NULL;
    }
  }
  if (expect(p, TK_RPAREN, "')' after arguments") != SL_OK)
    return NULL;
  p->depth--;
  return n;
}

/* name ('.' name)*: segments stay as written until the compile pass interns them. */
static ex_node *parse_path(parser *p, const ex_token *first) {
  ex_node *n = new_node(p, EX_FIELD, first->pos);
  if (!n)
    return NULL;
  size_t cap = 4;
  n->seg = sl_arena_alloc(p->a, cap * sizeof *n->seg);
  n->seglen = sl_arena_alloc(p->a, cap * sizeof *n->seglen);
  if (!n->seg || !n->seglen)
    goto nomem;
  n->seg[0] = first->str;
  n->seglen[0] = first->len;
  n->npath = 1;
  while (p->tok.kind == TK_DOT) {
    if (advance(p) != SL_OK)
      return NULL;
    /* After a dot any word is a name, keywords included (`a.in`). */
    int wordlike = p->tok.kind == TK_IDENT || (p->tok.kind >= TK_AND && p->tok.kind <= TK_FALSE);
    if (!wordlike) {
      expect(p, TK_IDENT, "a field name after '.'");
      return NULL;
    }
    if (n->npath == cap) {
      const char **ns = sl_arena_alloc(p->a, 2 * cap * sizeof *ns);
      size_t *nl = sl_arena_alloc(p->a, 2 * cap * sizeof *nl);
      if (!ns || !nl)
        goto nomem;
      memcpy(ns, n->seg, cap * sizeof *ns);
      memcpy(nl, n->seglen, cap * sizeof *nl);
      n->seg = ns;
      n->seglen = nl;
      cap *= 2;
    }
    n->seg[n->npath] = p->tok.kind == TK_IDENT ? p->tok.str : p->lx.text + p->tok.pos;
    n->seglen[n->npath] = p->tok.kind == TK_IDENT ? p->tok.len : p->tok.end - p->tok.pos;
    n->npath++;
    if (advance(p) != SL_OK)
      return NULL;
  }
  return n;
nomem:
  sl_error_set(p->err, SL_ERR_NOMEM, "out of memory");
  return NULL;
}

static ex_node *parse_primary(parser *p) {
  ex_token t = p->tok;
  ex_node *n;
  switch (t.kind) {
  case TK_INT:
  case TK_DOUBLE:
  case TK_STRING:
  case TK_TRUE:
  case TK_FALSE:
  case TK_NULL:
    if (!(n = new_node(p, EX_LIT, t.pos)))
      return NULL;
    if (t.kind == TK_INT && t.u64 > (uint64_t)INT64_MAX) {
      n->lit = sl_value_double(9223372036854775808.0);
      n->op = 1; /* 2^63: becomes INT64_MIN under a unary minus */
    } else if (t.kind == TK_INT) {
      n->lit = sl_value_int((int64_t)t.u64);
    } else if (t.kind == TK_DOUBLE) {
      n->lit = sl_value_double(t.d);
    } else if (t.kind == TK_STRING) {
      n->lit = sl_value_string(t.str, t.len);
    } else {
      n->lit = t.kind == TK_NULL ? sl_value_null() : sl_value_bool(t.kind == TK_TRUE);
    }
    return advance(p) == SL_OK ? n : NULL;
  case TK_IDENT:
    if (advance(p) != SL_OK)
      return NULL;
    if (p->tok.kind == TK_LPAREN && !t.quoted)
      return parse_call(p, &t);
    return parse_path(p, &t);
  case TK_LPAREN: {
    char what[64];
    int line, col;
    pos_to_linecol(p, t.pos, &line, &col);
    snprintf(what, sizeof what, "')' to close '(' of line %d column %d", line, col);
    if (enter(p, t.pos) != SL_OK || advance(p) != SL_OK || !(n = parse_or(p)) ||
        expect(p, TK_RPAREN, what) != SL_OK)
      return NULL;
    p->depth--;
    return n;
  }
  default: {
    char d[64];
    ex_tok_describe(&p->lx, &t, d, sizeof d);
    perr(p, t.pos, SL_ERR_PARSE, "expected an expression, found %s", d);
    return NULL;
  }
  }
}

static ex_node *parse_unary(parser *p) {
  ex_token t = p->tok;
  if (t.kind != TK_MINUS && t.kind != TK_PLUS)
    return parse_primary(p);
  if (enter(p, t.pos) != SL_OK || advance(p) != SL_OK)
    return NULL;
  ex_node *kid = parse_unary(p), *n;
  if (!kid)
    return NULL;
  p->depth--;
  if (t.kind == TK_MINUS && kid->kind == EX_LIT && kid->op == 1) {
    kid->lit = sl_value_int(INT64_MIN);
    kid->op = 0;
    return kid;
  }
  uint32_t cap = 0;
  if (!(n = new_node(p, t.kind == TK_MINUS ? EX_NEG : EX_PLUS, t.pos)) ||
      add_kid(p, n, kid, &cap) != SL_OK)
    return NULL;
  return n;
}

static ex_node *parse_mul(parser *p) {
  ex_node *l = parse_unary(p);
  while (l && (p->tok.kind == TK_STAR || p->tok.kind == TK_SLASH || p->tok.kind == TK_PERCENT)) {
    ex_token t = p->tok;
    ex_node *r;
    if (advance(p) != SL_OK || !(r = parse_unary(p)))
      return NULL;
    ex_op op = t.kind == TK_STAR ? EXOP_MUL : t.kind == TK_SLASH ? EXOP_DIV : EXOP_MOD;
    l = binary(p, EX_ARITH, op, t.pos, l, r);
  }
  return l;
}

static ex_node *parse_add(parser *p) {
  ex_node *l = parse_mul(p);
  while (l && (p->tok.kind == TK_PLUS || p->tok.kind == TK_MINUS)) {
    ex_token t = p->tok;
    ex_node *r;
    if (advance(p) != SL_OK || !(r = parse_mul(p)))
      return NULL;
    l = binary(p, EX_ARITH, t.kind == TK_PLUS ? EXOP_ADD : EXOP_SUB, t.pos, l, r);
  }
  return l;
}

static int is_cmp_tok(ex_tok_kind k) { return k >= TK_EQ && k <= TK_GE; }
static int is_predicate_tok(ex_tok_kind k) {
  return is_cmp_tok(k) || k == TK_IS || k == TK_BETWEEN || k == TK_IN || k == TK_LIKE;
}

static ex_node *parse_in_list(parser *p, ex_node *n) {
  uint32_t cap = 2;
  if (expect(p, TK_LPAREN, "'(' after 'in'") != SL_OK)
    return NULL;
  for (;;) {
    ex_node *item = parse_or(p);
    if (!item || add_kid(p, n, item, &cap) != SL_OK)
      return NULL;
    if (p->tok.kind != TK_COMMA)
      break;
    if (advance(p) != SL_OK)
      return NULL;
  }
  return expect(p, TK_RPAREN, "',' or ')' in the 'in' list") == SL_OK ? n : NULL;
}

/* One predicate after an additive expression; predicates do not chain. */
static ex_node *parse_cmp(parser *p) {
  ex_node *l = parse_add(p), *n = NULL, *r, *r2;
  if (!l)
    return NULL;
  ex_token t = p->tok;
  uint32_t cap = 0;
  int negated = 0;
  if (is_cmp_tok(t.kind)) {
    static const ex_op ops[] = {EXOP_EQ, EXOP_NE, EXOP_LT, EXOP_LE, EXOP_GT, EXOP_GE};
    if (advance(p) != SL_OK || !(r = parse_add(p)) ||
        !(n = binary(p, EX_CMP, ops[t.kind - TK_EQ], t.pos, l, r)))
      return NULL;
  } else if (t.kind == TK_IS) {
    if (advance(p) != SL_OK)
      return NULL;
    if (p->tok.kind == TK_NOT) {
      negated = 1;
      if (advance(p) != SL_OK)
        return NULL;
    }
    if (expect(p, TK_NULL, negated ? "'null' after 'is not'" : "'null' or 'not null' after 'is'") !=
            SL_OK ||
        !(n = new_node(p, EX_ISNULL, t.pos)) || add_kid(p, n, l, &cap) != SL_OK)
      return NULL;
  } else if (t.kind == TK_NOT || t.kind == TK_BETWEEN || t.kind == TK_IN || t.kind == TK_LIKE) {
    if (t.kind == TK_NOT) {
      negated = 1;
      if (advance(p) != SL_OK)
        return NULL;
      if (p->tok.kind != TK_BETWEEN && p->tok.kind != TK_IN && p->tok.kind != TK_LIKE) {
        expect(p, TK_BETWEEN, "'between', 'in' or 'like' after 'not'");
        return NULL;
      }
    }
    ex_token k = p->tok;
    if (advance(p) != SL_OK)
      return NULL;
    ex_kind kind = k.kind == TK_BETWEEN ? EX_BETWEEN : k.kind == TK_IN ? EX_IN : EX_LIKE;
    if (!(n = new_node(p, kind, k.pos)) || add_kid(p, n, l, &cap) != SL_OK)
      return NULL;
    if (kind == EX_IN) {
      if (!parse_in_list(p, n))
        return NULL;
    } else if (kind == EX_LIKE) {
      if (!(r = parse_add(p)) || add_kid(p, n, r, &cap) != SL_OK)
        return NULL;
    } else if (!(r = parse_add(p)) || expect(p, TK_AND, "'and' in 'between'") != SL_OK ||
               !(r2 = parse_add(p)) || add_kid(p, n, r, &cap) != SL_OK ||
               add_kid(p, n, r2, &cap) != SL_OK) {
      return NULL;
    }
  } else {
    return l;
  }
  n->negated = (uint8_t)negated;
  if (is_predicate_tok(p->tok.kind) || p->tok.kind == TK_NOT) {
    perr(p, p->tok.pos, SL_ERR_PARSE,
         "comparisons cannot be chained; combine them with 'and' or use parentheses");
    return NULL;
  }
  return n;
}

static ex_node *parse_not(parser *p) {
  ex_token t = p->tok;
  if (t.kind != TK_NOT)
    return parse_cmp(p);
  if (enter(p, t.pos) != SL_OK || advance(p) != SL_OK)
    return NULL;
  ex_node *kid = parse_not(p), *n;
  uint32_t cap = 0;
  if (!kid || !(n = new_node(p, EX_NOT, t.pos)) || add_kid(p, n, kid, &cap) != SL_OK)
    return NULL;
  p->depth--;
  return n;
}

/* `and` and `or` chains become one n-ary node, so long filters stay shallow. */
static ex_node *parse_chain(parser *p, ex_tok_kind tk, ex_kind kind, ex_node *(*sub)(parser *)) {
  ex_node *l = sub(p), *n = NULL;
  uint32_t cap = 0;
  while (l && p->tok.kind == tk) {
    if (!n && (!(n = new_node(p, kind, p->tok.pos)) || add_kid(p, n, l, &cap) != SL_OK))
      return NULL;
    ex_node *r;
    if (advance(p) != SL_OK || !(r = sub(p)) || add_kid(p, n, r, &cap) != SL_OK)
      return NULL;
  }
  return n ? n : l;
}

static ex_node *parse_and(parser *p) { return parse_chain(p, TK_AND, EX_AND, parse_not); }
static ex_node *parse_or(parser *p) { return parse_chain(p, TK_OR, EX_OR, parse_and); }

ex_node *ex_parse(const char *text, int line, sl_arena *arena, sl_error *err) {
  parser p;
  memset(&p, 0, sizeof p);
  p.lx.text = text;
  p.lx.len = strlen(text);
  p.lx.arena = arena;
  p.a = arena;
  p.base_line = line;
  p.err = err;
  for (size_t i = 0; i < p.lx.len; i++)
    p.nnl += text[i] == '\n';
  if (p.nnl && !(p.nl = sl_arena_alloc(arena, p.nnl * sizeof *p.nl))) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0, k = 0; i < p.lx.len; i++)
    if (text[i] == '\n')
      p.nl[k++] = i;
  if (advance(&p) != SL_OK)
    return NULL;
  ex_node *root = parse_or(&p);
  if (!root)
    return NULL;
  if (p.tok.kind != TK_END) {
    char d[64];
    ex_tok_describe(&p.lx, &p.tok, d, sizeof d);
    perr(&p, p.tok.pos, SL_ERR_PARSE, "unexpected %s after the expression", d);
    return NULL;
  }
  return root;
}
