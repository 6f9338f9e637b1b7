/* SPDX-License-Identifier: Apache-2.0 */
/* Shared layout of the expression engine: tokens (expr_lex.c), the node tree
 * built by expr_parse.c and specialised by expr_compile.c, and the evaluation
 * entry points of expr_eval.c and expr_func.c. Never installed. */
#ifndef SLUICE_EXPR_INTERNAL_H
#define SLUICE_EXPR_INTERNAL_H

#include <stdint.h>

#include "expr/expr.h"

/* Nesting limit of both the parser's recursion and the node tree, so neither
 * parsing nor evaluation can exhaust the stack. */
#define EX_MAX_DEPTH 256

/* ---- tokens ------------------------------------------------------------- */

typedef enum ex_tok_kind {
  TK_END = 0,
  TK_INT,    /* u64 holds the magnitude (may be 2^63: only valid after unary minus) */
  TK_DOUBLE, /* d */
  TK_STRING, /* str/len: unescaped, NUL-terminated, in the expression arena */
  TK_IDENT,  /* str/len: a bare or `quoted` name (unescaped) */
  TK_AND, TK_OR, TK_NOT, TK_BETWEEN, TK_IN, TK_IS, TK_NULL, TK_LIKE, TK_TRUE, TK_FALSE,
  TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PERCENT,
  TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
  TK_LPAREN, TK_RPAREN, TK_COMMA, TK_DOT,
} ex_tok_kind;

typedef struct ex_token {
  ex_tok_kind kind;
  size_t pos;  /* byte offset of the first character in the text */
  size_t end;  /* byte offset just past the token */
  int quoted;  /* TK_IDENT written in backquotes (never a function or keyword) */
  uint64_t u64;
  double d;
  const char *str;
  size_t len;
} ex_token;

typedef struct ex_lexer {
  const char *text;
  size_t len;
  size_t pos;
  sl_arena *arena; /* unescaped strings */
} ex_lexer;

/* Scan the next token. SL_OK, or SL_ERR_PARSE with *err_pos and a message. */
int ex_lex_next(ex_lexer *lx, ex_token *t, size_t *err_pos, sl_error *err);
/* Short human description of a token for messages: "'foo'", "end of expression". */
void ex_tok_describe(const ex_lexer *lx, const ex_token *t, char *buf, size_t size);

/* ---- nodes -------------------------------------------------------------- */

typedef enum ex_kind {
  EX_LIT,     /* lit */
  EX_FIELD,   /* path/npath (segments in seg/seglen until compiled) */
  EX_NEG,     /* -kids[0] */
  EX_PLUS,    /* +kids[0]: a numeric check */
  EX_NOT,     /* not kids[0] */
  EX_ARITH,   /* kids[0] op kids[1], op in EXOP_ADD..EXOP_MOD */
  EX_CMP,     /* kids[0] op kids[1], op in EXOP_EQ..EXOP_GE */
  EX_AND,     /* n-ary */
  EX_OR,      /* n-ary */
  EX_ISNULL,  /* kids[0] is [not] null */
  EX_BETWEEN, /* kids[0] [not] between kids[1] and kids[2] */
  EX_IN,      /* kids[0] [not] in (kids[1..]) */
  EX_LIKE,    /* kids[0] [not] like kids[1] */
  EX_CALL,    /* fn(kids...) */
} ex_kind;

typedef enum ex_op {
  EXOP_ADD, EXOP_SUB, EXOP_MUL, EXOP_DIV, EXOP_MOD,
  EXOP_EQ, EXOP_NE, EXOP_LT, EXOP_LE, EXOP_GT, EXOP_GE,
} ex_op;

typedef struct ex_node ex_node;
typedef struct ex_ctx {
  const sl_record *r; /* NULL while constant folding */
  sl_arena *a;        /* strings produced by evaluation */
  sl_error *err;
} ex_ctx;
typedef int (*ex_eval_fn)(const ex_node *n, ex_ctx *c, sl_value *out);

typedef struct ex_func {
  const char *name;
  int min_args, max_args; /* max_args -1: variadic */
  ex_eval_fn eval;        /* evaluates its own arguments (coalesce is lazy) */
} ex_func;

/* A `like` pattern whose text is known at compile time. */
typedef enum ex_like_kind {
  LIKE_ANY,      /* only '%': any string */
  LIKE_EXACT,    /* no wildcards */
  LIKE_PREFIX,   /* 'lit%' */
  LIKE_SUFFIX,   /* '%lit' */
  LIKE_CONTAINS, /* '%lit%' */
  LIKE_GENERAL,  /* anything else: the backtracking matcher on the raw pattern */
} ex_like_kind;

typedef struct ex_like {
  ex_like_kind kind;
  const char *lit; /* unescaped literal part (or raw pattern for LIKE_GENERAL) */
  size_t len;
} ex_like;

struct ex_node {
  ex_eval_fn eval;  /* set by the compile pass */
  uint8_t kind;     /* ex_kind */
  uint8_t op;       /* ex_op */
  uint8_t negated;  /* not between / not in / not like / is not null */
  uint16_t depth;   /* height of the subtree, bounded by EX_MAX_DEPTH */
  int line, col;    /* absolute pipeline line and column, for errors */
  uint32_t nkids;
  ex_node **kids;
  sl_value lit;               /* EX_LIT */
  const sl_name *path;        /* EX_FIELD after compile */
  const char **seg;           /* EX_FIELD segments as written */
  size_t *seglen;
  uint32_t npath;
  const char *name;           /* EX_CALL name as written (lowercased) */
  const ex_func *fn;          /* EX_CALL */
  const ex_like *like;        /* EX_LIKE with a constant pattern */
  const sl_value *set;        /* EX_IN with constant items, sorted when set_sorted */
  uint32_t nset;
  uint8_t set_sorted;         /* 1: ints ascending, 2: strings ascending */
  uint8_t set_has_null;
  uint8_t between_num;        /* EX_BETWEEN with constant numeric bounds: EX_BETWEEN_* bits */
  double between_d[2];        /* the bounds as doubles, exact when EX_BETWEEN_DOUBLE */
};

/* Which values ex_eval_between_num compares directly; others take the
 * general path. */
#define EX_BETWEEN_DOUBLE 1u /* bounds exact as doubles: a double x compares in double */
#define EX_BETWEEN_INT 2u    /* both bounds ints: an int x compares in int64 */

struct sl_expr {
  sl_arena *arena; /* every node, string and table of this expression */
  ex_node *root;
  const char **fields; /* dotted paths, first appearance order */
  size_t nfields, capfields;
};

/* Parse `text` into an uncompiled tree in `arena`. NULL with err filled
 * (code, line, column, message) on a syntax error. */
ex_node *ex_parse(const char *text, int line, sl_arena *arena, sl_error *err);

/* Fill `err` with a positioned error of node `n`; returns `code`. */
int ex_fail(const ex_node *n, sl_error *err, int code, const char *fmt, ...) SL_PRINTF(4, 5);

/* expr_eval.c: evaluation functions the compile pass assigns. */
int ex_eval_lit(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_field1(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_field(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_neg(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_plus(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_not(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_arith(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_cmp(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_and(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_or(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_isnull(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_between(const ex_node *n, ex_ctx *c, sl_value *out);
/* `between` whose bounds are numeric literals (chosen by the compile pass):
 * the same result as ex_eval_between, without evaluating the bounds or
 * going through the general comparison for a double or int x. */
int ex_eval_between_num(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_in(const ex_node *n, ex_ctx *c, sl_value *out);
int ex_eval_like(const ex_node *n, ex_ctx *c, sl_value *out);

/* Three-way comparison of two non-null values: *cmp < 0, 0, > 0, or
 * *unordered = 1 (a NaN). SL_ERR_TYPE when the types cannot be compared. */
int ex_compare(const ex_node *n, const sl_value *a, const sl_value *b, int *cmp,
               int *unordered, sl_error *err);
/* Does `op` (EXOP_EQ..EXOP_GE) hold for a three-way comparison result? */
static inline int ex_cmp_holds(ex_op op, int cmp) {
  switch (op) {
  case EXOP_EQ: return cmp == 0;
  case EXOP_NE: return cmp != 0;
  case EXOP_LT: return cmp < 0;
  case EXOP_LE: return cmp <= 0;
  case EXOP_GT: return cmp > 0;
  case EXOP_GE: return cmp >= 0;
  default: return 0;
  }
}
/* Three-way byte order of two strings (or two bytes values), shorter first on a tie. */
int ex_cmp_bytes(const sl_value *a, const sl_value *b);
/* `like` matching: `%` any run, `_` one UTF-8 character, `\` escapes the next byte. */
int ex_like_match(const char *s, size_t slen, const char *p, size_t plen);
/* Precompile a constant pattern into `out` (literal parts copied into `a`). */
int ex_like_compile(sl_arena *a, const char *p, size_t plen, ex_like *out);

/* expr_func.c */
const ex_func *ex_func_lookup(const char *name);
extern const char *const ex_func_names[];
extern const size_t ex_func_count;

#endif
