/* SPDX-License-Identifier: Apache-2.0 */
/* Expressions (core/expr/expr_*.c): the text of a filter/map/alert expression,
 * optionally followed by a NUL byte and a JSON record to evaluate it
 * against (a fixed reading when absent or not a JSON object). What compiles
 * is evaluated and its field list read, and where the filter's batch form
 * (core/expr/expr_pred.c) decides the record it must agree with the
 * evaluation: keep when true, drop when false or null, never decide an error. */
#include <stdlib.h>
#include <string.h>

#include "codec/json_codec.h"
#include "expr/expr.h"
#include "expr/expr_pred.h"
#include "fuzz_support.h"

static const char reading[] =
    "{\"machine_id\":\"m-01\",\"ts\":1700000000000,\"temperature\":81.5,\"vibration\":0.25,"
    "\"site\":null,\"ok\":true,\"tags\":[\"a\",\"b\",3],\"pos\":{\"x\":1.5,\"y\":-2,\"z\":{\"w\":"
    "\"deep\"}},"
    "\"count\":9223372036854775807,\"neg\":-9223372036854775808,\"empty\":\"\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *rest;
  size_t rest_len;
  size_t tlen = fuzz_split(data, size, &rest, &rest_len);
  char *text = fuzz_strndup(data, tlen);
  sl_error err;
  sl_error_clear(&err);
  sl_expr *e = sl_expr_compile(text, 1, &err);
  if (e) {
    sl_arena *a = sl_arena_new(0);
    sl_record *r = NULL;
    if (!a)
      fuzz_fail("out of memory");
    if (!rest || sl_json_decode((const char *)rest, rest_len, a, &r, &err) != SL_OK)
      if (sl_json_decode(reading, strlen(reading), a, &r, &err) != SL_OK)
        fuzz_fail("the fixed reading does not decode: %s", err.message);
    sl_value v;
    int evaluated = sl_expr_eval(e, r, a, &v, &err) == SL_OK;
    sl_expr_pred *pred = sl_expr_pred_new(e);
    if (pred) {
      uint8_t verdict[2];
      sl_record *const rs[2] = {r, r}; /* twice: the second probe uses the remembered position */
      sl_expr_pred_test(pred, rs, 2, verdict);
      for (int i = 0; i < 2; i++) {
        if (verdict[i] == SL_PRED_EVAL)
          continue;
        if (!evaluated)
          fuzz_fail("the batch filter decided a record whose evaluation fails: %s", err.message);
        int keep = v.type == SL_TYPE_BOOL && v.as.b;
        if (keep != (verdict[i] == SL_PRED_KEEP))
          fuzz_fail("the batch filter says %s, the evaluation says %s",
                    verdict[i] == SL_PRED_KEEP ? "keep" : "drop", keep ? "keep" : "drop");
      }
      sl_expr_pred_free(pred);
    }
    if (evaluated)
      (void)sl_expr_truthy(&v);
    for (size_t i = 0; i < sl_expr_field_count(e); i++)
      if (!sl_expr_field_at(e, i))
        fuzz_fail("field %zu of %zu is NULL", i, sl_expr_field_count(e));
    sl_arena_destroy(a);
    sl_expr_free(e);
  }
  free(text);
  return 0;
}
