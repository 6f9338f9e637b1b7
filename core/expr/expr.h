/* SPDX-License-Identifier: Apache-2.0 */
/* The expression engine of SPEC.md section 4 (filter, map, alert when/clear).
 * Expressions are compiled once into a tree of nodes with evaluation function
 * pointers; evaluating one never parses, hashes names or mallocs. The
 * language reference and every semantic decision are in docs/expressions.md. */
#ifndef SLUICE_EXPR_H
#define SLUICE_EXPR_H

#include <stddef.h>

#include "sluice/operator.h" /* sl_expr is declared there as an opaque type */

/* Compile `text`, which appears at `line` of the pipeline file. On error returns NULL and
 * fills err: code SL_ERR_PARSE (syntax) or SL_ERR_INVALID (unknown function/bad arity),
 * err->line = line + number of newlines before the error position, err->column = 1-based
 * column inside the expression text on that line, message without the position prefix,
 * e.g. "unknown function 'sqr' (did you mean 'sqrt'?)". */
sl_expr *sl_expr_compile(const char *text, int line, sl_error *err);
/* Evaluate against record r; strings made during evaluation are allocated from arena a.
 * Returns SL_OK and *out, or an error (SL_ERR_TYPE e.g. "cannot add string and int",
 * SL_ERR_INVALID e.g. "division by zero") which callers dead-letter with reason "eval".
 * err->line/column point at the operator or function that failed. `*out` may borrow
 * strings from `r` or from the expression itself (which outlives the call). */
int sl_expr_eval(const sl_expr *e, const sl_record *r, sl_arena *a, sl_value *out, sl_error *err);
void sl_expr_free(sl_expr *e);         /* NULL is a no-op */
int sl_expr_truthy(const sl_value *v); /* 1 only for bool true (SQL: null/false -> 0) */
/* Field paths the expression reads (for graph docs/validation): count and i-th dotted
 * path, in order of first appearance, each once. Borrowed from `e`. */
size_t sl_expr_field_count(const sl_expr *e);
const char *sl_expr_field_at(const sl_expr *e, size_t i);
/* The names of all functions, for suggestions and docs. Static storage. */
const char *const *sl_expr_function_names(size_t *n);

#endif
