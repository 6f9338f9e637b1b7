/* SPDX-License-Identifier: Apache-2.0 */
/* Tokenizer of the expression language: numbers, strings with escapes, bare
 * and `backquoted` names, case-insensitive keywords, operators. Every token
 * carries its byte range so the parser can report line and column. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"

static const struct {
  const char *word;
  ex_tok_kind kind;
} keywords[] = {
    {"and", TK_AND},   {"or", TK_OR},     {"not", TK_NOT},     {"between", TK_BETWEEN},
    {"in", TK_IN},     {"is", TK_IS},     {"null", TK_NULL},   {"like", TK_LIKE},
    {"true", TK_TRUE}, {"false", TK_FALSE},
};

static int is_name_start(int c) { return isalpha(c) || c == '_'; }
static int is_name_char(int c) { return isalnum(c) || c == '_'; }

static int lex_fail(size_t *err_pos, size_t pos, sl_error *err, const char *fmt, const char *arg) {
  *err_pos = pos;
  return sl_error_set(err, SL_ERR_PARSE, fmt, arg);
}

/* Digits, optional fraction, optional exponent. Integers that do not fit
 * int64 become doubles, except 2^63 which only a unary minus may use. */
static int lex_number(ex_lexer *lx, ex_token *t, size_t *err_pos, sl_error *err) {
  const char *s = lx->text;
  size_t p = lx->pos;
  int is_double = 0;
  while (p < lx->len && isdigit((unsigned char)s[p]))
    p++;
  if (p < lx->len && s[p] == '.' && p + 1 < lx->len && isdigit((unsigned char)s[p + 1])) {
    is_double = 1;
    p++;
    while (p < lx->len && isdigit((unsigned char)s[p]))
      p++;
  }
  if (p < lx->len && (s[p] == 'e' || s[p] == 'E')) {
    size_t q = p + 1;
    if (q < lx->len && (s[q] == '+' || s[q] == '-'))
      q++;
    if (q >= lx->len || !isdigit((unsigned char)s[q]))
      return lex_fail(err_pos, lx->pos, err, "malformed number: exponent has no digits%s", "");
    while (q < lx->len && isdigit((unsigned char)s[q]))
      q++;
    is_double = 1;
    p = q;
  }
  if (p < lx->len && (is_name_char((unsigned char)s[p]) || s[p] == '.'))
    return lex_fail(err_pos, lx->pos, err, "malformed number: unexpected '%.1s' after digits",
                    s + p);
  char buf[400];
  size_t n = p - lx->pos;
  if (n >= sizeof buf)
    return lex_fail(err_pos, lx->pos, err, "number literal is too long%s", "");
  memcpy(buf, s + lx->pos, n);
  buf[n] = '\0';
  t->end = p;
  if (!is_double) {
    uint64_t v = 0;
    int overflow = 0;
    for (size_t i = 0; i < n; i++)
      if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (uint64_t)(buf[i] - '0'), &v))
        overflow = 1;
    if (!overflow && v <= (uint64_t)INT64_MAX + 1u) {
      t->kind = TK_INT;
      t->u64 = v;
      lx->pos = p;
      return SL_OK;
    }
  }
  t->kind = TK_DOUBLE;
  t->d = strtod(buf, NULL);
  lx->pos = p;
  return SL_OK;
}

static int hexval(int c) {
  return isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* A quoted string or backquoted name. The quote character doubled stands
 * for itself; backslash escapes \\ \' \" \` \n \t \r \xHH are decoded, and any
 * other backslash pair is kept as written so `like` patterns can say '\%'. */
static int lex_quoted(ex_lexer *lx, ex_token *t, char quote, size_t *err_pos, sl_error *err) {
  const char *s = lx->text;
  size_t start = lx->pos, p = lx->pos + 1, q = p;
  /* Find the closing quote first so the copy is sized by this literal, not
   * by the rest of the text (long `in` lists hold thousands of strings). */
  while (q < lx->len) {
    if (s[q] == '\\' && q + 1 < lx->len)
      q += 2;
    else if (s[q] == quote && !(q + 1 < lx->len && s[q + 1] == quote))
      break;
    else
      q += s[q] == quote ? 2 : 1;
  }
  char *out = sl_arena_alloc(lx->arena, q - start + 1);
  if (!out)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  size_t n = 0;
  for (;;) {
    if (p >= lx->len)
      return lex_fail(err_pos, start, err, "unterminated %s",
                      quote == '`' ? "quoted name (missing '`')" : "string literal");
    char c = s[p];
    if (c == quote) {
      if (p + 1 < lx->len && s[p + 1] == quote) {
        out[n++] = quote;
        p += 2;
        continue;
      }
      p++;
      break;
    }
    if (c == '\\' && p + 1 < lx->len) {
      char e = s[p + 1];
      int h1, h2;
      switch (e) {
      case '\\': case '\'': case '"': case '`': out[n++] = e; p += 2; continue;
      case 'n': out[n++] = '\n'; p += 2; continue;
      case 't': out[n++] = '\t'; p += 2; continue;
      case 'r': out[n++] = '\r'; p += 2; continue;
      case 'x':
        if (p + 3 < lx->len && (h1 = hexval((unsigned char)s[p + 2])) >= 0 &&
            (h2 = hexval((unsigned char)s[p + 3])) >= 0) {
          out[n++] = (char)(h1 * 16 + h2);
          p += 4;
          continue;
        }
        break;
      default: break;
      }
      out[n++] = '\\';
      out[n++] = e;
      p += 2;
      continue;
    }
    out[n++] = c;
    p++;
  }
  out[n] = '\0';
  if (quote == '`' && n == 0)
    return lex_fail(err_pos, start, err, "empty quoted name%s", "");
  t->kind = quote == '`' ? TK_IDENT : TK_STRING;
  t->quoted = quote == '`';
  t->str = out;
  t->len = n;
  t->end = p;
  lx->pos = p;
  return SL_OK;
}

static int lex_word(ex_lexer *lx, ex_token *t) {
  size_t p = lx->pos;
  while (p < lx->len && is_name_char((unsigned char)lx->text[p]))
    p++;
  size_t n = p - lx->pos;
  t->end = p;
  t->str = lx->text + lx->pos;
  t->len = n;
  t->kind = TK_IDENT;
  lx->pos = p;
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if (strlen(keywords[i].word) == n && strncasecmp(keywords[i].word, t->str, n) == 0) {
      t->kind = keywords[i].kind;
      break;
    }
  return SL_OK;
}

int ex_lex_next(ex_lexer *lx, ex_token *t, size_t *err_pos, sl_error *err) {
  const char *s = lx->text;
  memset(t, 0, sizeof *t);
  while (lx->pos < lx->len && isspace((unsigned char)s[lx->pos]))
    lx->pos++;
  t->pos = lx->pos;
  if (lx->pos >= lx->len) {
    t->kind = TK_END;
    t->end = lx->pos;
    return SL_OK;
  }
  unsigned char c = (unsigned char)s[lx->pos];
  if (isdigit(c) || (c == '.' && lx->pos + 1 < lx->len && isdigit((unsigned char)s[lx->pos + 1])))
    return lex_number(lx, t, err_pos, err);
  if (c == '\'' || c == '"' || c == '`')
    return lex_quoted(lx, t, (char)c, err_pos, err);
  if (is_name_start(c))
    return lex_word(lx, t);
  char n1 = lx->pos + 1 < lx->len ? s[lx->pos + 1] : '\0';
  size_t width = 1;
  switch (c) {
  case '+': t->kind = TK_PLUS; break;
  case '-': t->kind = TK_MINUS; break;
  case '*': t->kind = TK_STAR; break;
  case '/': t->kind = TK_SLASH; break;
  case '%': t->kind = TK_PERCENT; break;
  case '(': t->kind = TK_LPAREN; break;
  case ')': t->kind = TK_RPAREN; break;
  case ',': t->kind = TK_COMMA; break;
  case '.': t->kind = TK_DOT; break;
  case '=':
    t->kind = TK_EQ;
    width = n1 == '=' ? 2 : 1;
    break;
  case '!':
    if (n1 != '=')
      return lex_fail(err_pos, lx->pos, err, "unexpected '!' (use 'not' or '!=')%s", "");
    t->kind = TK_NE;
    width = 2;
    break;
  case '<':
    t->kind = n1 == '=' ? TK_LE : n1 == '>' ? TK_NE : TK_LT;
    width = (n1 == '=' || n1 == '>') ? 2 : 1;
    break;
  case '>':
    t->kind = n1 == '=' ? TK_GE : TK_GT;
    width = n1 == '=' ? 2 : 1;
    break;
  default: {
    char shown[8];
    if (isprint(c))
      snprintf(shown, sizeof shown, "'%c'", c);
    else
      snprintf(shown, sizeof shown, "0x%02x", c);
    return lex_fail(err_pos, lx->pos, err, "unexpected character %s", shown);
  }
  }
  lx->pos += width;
  t->end = lx->pos;
  return SL_OK;
}

void ex_tok_describe(const ex_lexer *lx, const ex_token *t, char *buf, size_t size) {
  if (t->kind == TK_END) {
    snprintf(buf, size, "end of expression");
    return;
  }
  size_t n = t->end - t->pos;
  const char *what = t->kind == TK_STRING ? "string " : t->kind == TK_INT || t->kind == TK_DOUBLE ? "number " : "";
  if (n > 24)
    snprintf(buf, size, "%s'%.24s...'", what, lx->text + t->pos);
  else
    snprintf(buf, size, "%s'%.*s'", what, (int)n, lx->text + t->pos);
}
