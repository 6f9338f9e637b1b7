/* SPDX-License-Identifier: Apache-2.0 */
/* The 8-byte min/max state (agg_box, see aggregate_state.h). Raw bit
 * patterns, before the XOR with BOX_EMPTY:
 *   any double but NaN      the double (NaN is stored as the canonical NaN)
 *   0xFFF9 0000 0000 0000   empty (stored as 0, so a zeroed block is empty)
 *   0xFFFA + 48-bit payload an int in [-2^47, 2^47)
 *   0xFFFB + 48-bit payload pointer to a malloc'd box_cell, shifted right
 *                           by 4 (cells are 16-byte aligned), so addresses
 *                           up to 2^52 fit (other ints, strings, bytes, bools)
 * All three tags are negative quiet NaNs, which min/max never store. The
 * fast path for doubles, sl_agg_box_keep_double, is inline in
 * aggregate_state.h. */
#include <stdlib.h>
#include <string.h>

#include "state/aggregate_state.h"

#define BOX_EMPTY SL_AGG_BOX_EMPTY
#define TAG_MASK SL_AGG_BOX_TAG_MASK
#define TAG_INT SL_AGG_BOX_TAG_INT
#define TAG_CELL SL_AGG_BOX_TAG_CELL
_Static_assert(TAG_INT - BOX_EMPTY == UINT64_C(1) << 48 && TAG_CELL - TAG_INT == UINT64_C(1) << 48,
               "sl_agg_box_keep_double takes the tags as three contiguous values");
#define PAYLOAD UINT64_C(0x0000FFFFFFFFFFFF)
#define INT48_MIN (-(INT64_C(1) << 47))
#define INT48_MAX ((INT64_C(1) << 47) - 1)

typedef struct box_cell {
  int64_t i;
  uint32_t len;
  uint8_t type;
  char s[]; /* len bytes and a NUL for strings and bytes */
} box_cell;

static uint64_t raw(const agg_box *b) { return *b ^ BOX_EMPTY; }

static box_cell *cell_of(uint64_t r) {
  return (r & TAG_MASK) == TAG_CELL ? (box_cell *)(uintptr_t)((r & PAYLOAD) << 4) : NULL;
}

void sl_agg_box_free(agg_box *b) {
  free(cell_of(raw(b)));
  *b = 0;
}

int sl_agg_box_set(agg_box *b, const sl_value *v) {
  uint64_t r;
  if (v->type == SL_TYPE_DOUBLE) {
    double d = v->as.d;
    if (d != d)
      d = __builtin_nan("");
    memcpy(&r, &d, 8);
  } else if (v->type == SL_TYPE_NULL) {
    r = BOX_EMPTY;
  } else if (v->type == SL_TYPE_INT && v->as.i >= INT48_MIN && v->as.i <= INT48_MAX) {
    r = TAG_INT | ((uint64_t)v->as.i & PAYLOAD);
  } else {
    int text = v->type == SL_TYPE_STRING || v->type == SL_TYPE_BYTES;
    size_t len = text ? v->as.str.len : 0;
    if (len > UINT32_MAX)
      return SL_ERR_LIMIT;
    box_cell *c = malloc(sizeof *c + len + 1);
    if (!c)
      return SL_ERR_NOMEM;
    c->type = (uint8_t)v->type;
    c->len = (uint32_t)len;
    c->i = v->type == SL_TYPE_BOOL ? v->as.b : text ? 0 : v->as.i;
    if (text)
      memcpy(c->s, v->as.str.ptr, len);
    c->s[len] = 0;
    uint64_t a = (uint64_t)(uintptr_t)c;
    if ((a & 15) || (a >> 4) > PAYLOAD) { /* malloc gives 16-byte aligned user addresses */
      free(c);
      return SL_ERR_INTERNAL;
    }
    r = TAG_CELL | a >> 4;
  }
  sl_agg_box_free(b);
  *b = r ^ BOX_EMPTY;
  return SL_OK;
}

sl_value sl_agg_box_get(const agg_box *b) {
  uint64_t r = raw(b);
  switch (r & TAG_MASK) {
  case BOX_EMPTY:
    return sl_value_null();
  case TAG_INT: /* sign-extend the 48-bit payload */
    return sl_value_int((int64_t)((r & PAYLOAD) << 16) >> 16);
  case TAG_CELL: {
    const box_cell *c = cell_of(r);
    switch (c->type) {
    case SL_TYPE_STRING:
      return sl_value_string(c->s, c->len);
    case SL_TYPE_BYTES:
      return sl_value_bytes(c->s, c->len);
    case SL_TYPE_BOOL:
      return sl_value_bool((int)c->i);
    default:
      return sl_value_int(c->i);
    }
  }
  default: {
    double d;
    memcpy(&d, &r, 8);
    return sl_value_double(d);
  }
  }
}
