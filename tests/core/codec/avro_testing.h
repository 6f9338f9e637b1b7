/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the Avro codec test suites (test_avro_codec.c, test_avro_decode_flat.c). */
#ifndef SLUICE_TEST_AVRO_TESTING_H
#define SLUICE_TEST_AVRO_TESTING_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/record_internal.h"
#include "codec/avro_codec.h"

static inline void set(sl_record *r, const char *name, sl_value v) {
  sl_record_set(r, sl_name_cstr(name), v);
}

/* Deep equality; field order matters for records (schema order). */
static inline int value_equal(const sl_value *x, const sl_value *y) {
  if (x->type != y->type)
    return 0;
  switch (x->type) {
  case SL_TYPE_NULL: return 1;
  case SL_TYPE_BOOL: return x->as.b == y->as.b;
  case SL_TYPE_INT: return x->as.i == y->as.i;
  case SL_TYPE_DOUBLE: return x->as.d == y->as.d || (isnan(x->as.d) && isnan(y->as.d));
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES:
    return x->as.str.len == y->as.str.len &&
           memcmp(x->as.str.ptr, y->as.str.ptr, x->as.str.len) == 0;
  case SL_TYPE_RECORD:
    if (sl_record_count(x->as.rec) != sl_record_count(y->as.rec))
      return 0;
    for (size_t i = 0; i < sl_record_count(x->as.rec); i++)
      if (sl_record_name_at(x->as.rec, i) != sl_record_name_at(y->as.rec, i) ||
          !value_equal(sl_record_value_at(x->as.rec, i), sl_record_value_at(y->as.rec, i)))
        return 0;
    return 1;
  case SL_TYPE_ARRAY:
    if (sl_array_len(x->as.arr) != sl_array_len(y->as.arr))
      return 0;
    for (size_t i = 0; i < sl_array_len(x->as.arr); i++)
      if (!value_equal(sl_array_at(x->as.arr, i), sl_array_at(y->as.arr, i)))
        return 0;
    return 1;
  }
  return 0;
}

static inline sl_avro_schema *parse(const char *json) {
  sl_error err = {0};
  sl_avro_schema *s = sl_avro_schema_parse(json, strlen(json), &err);
  if (!s)
    fprintf(stderr, "\n  schema failed: %s\n", err.message);
  return s;
}

#endif
