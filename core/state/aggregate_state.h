/* SPDX-License-Identifier: Apache-2.0 */
/* Layouts of the aggregate partial states inside a state block, shared by
 * aggregate.c (update, merge, results) and aggregate_codec.c. Internal. */
#ifndef SLUICE_AGGREGATE_STATE_H
#define SLUICE_AGGREGATE_STATE_H

#include <stdint.h>
#include <string.h>

#include "sluice/record.h"
#include "state/aggregate.h"

/* The functions of one field when they are all among count, sum, avg,
 * min, max (once each) and up to four percentiles, the common shape: a
 * double updates them in a straight line, without a dispatch per
 * function. Offsets of their states in the block, -1 when absent. */
typedef struct agg_fused {
  int32_t count, sum, avg, min, max;
  uint32_t npct;
  uint32_t pct[4];
} agg_fused;

struct sl_agg_arg {
  const sl_name *path; /* borrowed from the first def with this field */
  size_t path_len;
  uint32_t *hints;     /* malloc'd, path_len long, for sl_record_get_path_hinted */
  const sl_value *val; /* this record's value; NULL when null, missing or NaN */
  size_t nops;         /* functions of this field in sl_agg_set.ops */
  int fused;           /* 1 when `f` covers all of them */
  agg_fused f;
};

static inline int sl_agg_is_num(const sl_value *v) {
  return v->type == SL_TYPE_INT || v->type == SL_TYPE_DOUBLE;
}

/* A scalar kept across batches: strings and bytes are malloc'd copies. */
typedef struct agg_val {
  union {
    int64_t i;
    double d;
    char *s;
  } u;
  uint32_t len;
  uint8_t type; /* sl_type; SL_TYPE_NULL = nothing yet */
} agg_val;

typedef struct st_sum {
  union {
    int64_t i;
    double d;
  } u;
  uint8_t kind; /* 0 empty, 1 int, 2 double */
} st_sum;

typedef struct st_avg {
  double sum;
  int64_t n;
} st_avg;

typedef struct st_ordered { /* first / last */
  agg_val v;
  int64_t t;
  uint64_t seq;
} st_ordered;

typedef struct st_var { /* Welford / Chan */
  int64_t n;
  double mean, m2;
} st_var;

/* min/max state in 8 bytes (a window holds one per key, so its size is the
 * memory per key): doubles are stored as themselves, everything else in
 * NaN patterns min/max never store (they ignore NaN): ints that fit 48 bits
 * inline, other ints and strings in a malloc'd cell. The bits are XORed
 * with the "empty" pattern so that a zeroed block means "nothing yet". */
typedef uint64_t agg_box;

void sl_agg_box_free(agg_box *b);
/* Copy a number or string into b. SL_OK or SL_ERR_NOMEM. */
int sl_agg_box_set(agg_box *b, const sl_value *v);
/* The value (a string borrows the cell); null when empty. */
sl_value sl_agg_box_get(const agg_box *b);

/* Top 16 bits of the three tagged patterns (aggregate_box.c), contiguous;
 * any other pattern is a double. */
#define SL_AGG_BOX_EMPTY UINT64_C(0xFFF9000000000000)
#define SL_AGG_BOX_TAG_INT UINT64_C(0xFFFA000000000000)
#define SL_AGG_BOX_TAG_CELL UINT64_C(0xFFFB000000000000)
#define SL_AGG_BOX_TAG_MASK UINT64_C(0xFFFF000000000000)

/* Whether sl_agg_box_keep_double takes a double into b itself: b is
 * empty or holds a double. */
static inline int sl_agg_box_takes_double(const agg_box *b) {
  uint64_t tag = (*b ^ SL_AGG_BOX_EMPTY) >> 48;
  return tag == SL_AGG_BOX_EMPTY >> 48 || tag - (SL_AGG_BOX_EMPTY >> 48) >= 3;
}

/* min (keep_max 0) or max of the box and x, a double that is not NaN,
 * when the box is empty or holds a double: SL_OK. 1 when it holds an int
 * or a cell (the caller compares across types); b is unchanged then.
 * Inline: max(temperature) runs it per record and window. */
static inline int sl_agg_box_keep_double(agg_box *b, double x, int keep_max) {
  uint64_t r = *b ^ SL_AGG_BOX_EMPTY, tag = r >> 48;
  if (tag - (SL_AGG_BOX_EMPTY >> 48) < 3) { /* one of the three tags */
    if (tag != SL_AGG_BOX_EMPTY >> 48)
      return 1;
  } else {
    double cur;
    memcpy(&cur, &r, 8);
    if (keep_max ? !(x > cur) : !(x < cur))
      return SL_OK;
  }
  memcpy(&r, &x, 8);
  *b = r ^ SL_AGG_BOX_EMPTY;
  return SL_OK;
}

void sl_agg_val_free(agg_val *a);
/* Copy v into a (strings into owned memory). SL_OK or SL_ERR_NOMEM. */
int sl_agg_val_set(agg_val *a, const sl_value *v);
/* A value borrowing a's string. */
sl_value sl_agg_val_get(const agg_val *a);

#endif
