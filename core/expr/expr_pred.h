/* SPDX-License-Identifier: Apache-2.0 */
/* A filter's condition decided for a whole batch at once. Filters mostly test
 * one or a few fields against literals ("temperature between -40 and 150",
 * "status = 'ok' and rpm > 100"); for those, a pass over the records that
 * looks each field up by remembered position (sl_record_get_path_hinted) and
 * compares it with the literal costs a fraction of sl_expr_eval's walk of the
 * node tree per record. What the pass cannot decide exactly it leaves to
 * sl_expr_eval, so the answers and the error messages stay those of the
 * expression engine. */
#ifndef SLUICE_EXPR_PRED_H
#define SLUICE_EXPR_PRED_H

#include <stdint.h>

#include "expr/expr.h"

typedef struct sl_expr_pred sl_expr_pred;

/* What sl_expr_pred_test says of one record. */
#define SL_PRED_DROP 0 /* the expression is false or null: the filter drops it */
#define SL_PRED_KEEP 1 /* the expression is true */
#define SL_PRED_EVAL                                                                               \
  2 /* not decided here: evaluate with sl_expr_eval (an error, an int                              \
     * past 2^53 against a fractional bound, a type the pass skips) */

/* The batch form of `e`, or NULL when `e` has none (or out of memory): then
 * evaluate every record with sl_expr_eval. The forms: a comparison (= != < <=
 * > >=) of a field path with a number, string or bool literal on either side,
 * `field [not] between NUM and NUM`, `field is [not] null`, and one `and` or
 * `or` of those. `e` must outlive the predicate. Malloc'd; the predicate
 * keeps field positions between calls, so one thread uses it at a time. */
sl_expr_pred *sl_expr_pred_new(const sl_expr *e);
/* verdict[i] = SL_PRED_* for rs[i], i < n (rs and verdict are the caller's). */
void sl_expr_pred_test(sl_expr_pred *p, sl_record *const *rs, size_t n, uint8_t *verdict);
void sl_expr_pred_free(sl_expr_pred *p); /* NULL is a no-op */

#endif
