/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice test`: comparing what a sink produced with what a case expects.
 * Records match when every field is equal (numbers to 1e-9 relative, an
 * integer equals the same real), with the output's `_id` ignored unless
 * the expected record has one. Order matters only across watermark
 * advances: records that came out of one advance may be listed in any
 * order, but a record expected after another must not have come out of an
 * earlier advance. */
#ifndef SLUICE_TEST_COMPARE_H
#define SLUICE_TEST_COMPARE_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"

typedef struct sl_test_rec {
  json_t *json; /* a JSON object; owned by whoever filled the array */
  long group;   /* output: the watermark advance (traversal) it came out in;
                 * expected records: unused */
  long line;    /* expected: line in the expect file; output: position, from 1 */
} sl_test_rec;

/* Are `expect` and `got` equal under the rules above? `top` applies the
 * `_id` rule (fields of the record itself, not of nested objects). */
int sl_test_json_equal(const json_t *expect, const json_t *got, int top);

/* Compare one sink's output with its expectation. Appends a readable diff
 * to `diff` (one line per problem, indented by two spaces: "missing",
 * "unexpected", "changed" with the fields that differ, "out of order").
 * Returns the number of problems, 0 when the output is as expected. */
size_t sl_test_compare(const sl_test_rec *expect, size_t nexpect, const sl_test_rec *got,
                       size_t ngot, sl_buf *diff);

/* `j` as compact JSON in file order, reals in 15 significant digits,
 * appended to `out`. */
void sl_test_json_put(sl_buf *out, const json_t *j);

#endif
