/* SPDX-License-Identifier: Apache-2.0 */
/* The canonical key (sl_key_encode, keyed_state.h) of the values most keys
 * are made of, inline for the window operator's per-record path: a string
 * or bytes of up to SL_KEY_SHORT_MAX bytes without NUL, an integer, a null.
 * The bytes are exactly those sl_key_encode writes (keys in state and in
 * checkpoints are the same whichever path made them); everything else goes
 * to sl_key_encode. Machine ids were encoded through memchr, a buffer
 * reserve and memcpy calls: most of a window's per-record cost outside the
 * aggregates. Words are read with memcpy, so no byte outside the value is
 * touched. */
#ifndef SLUICE_KEY_SHORT_H
#define SLUICE_KEY_SHORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/hash64.h"
#include "sluice/record.h"

/* Type tags of the canonical key; keyed_state.c decodes with these. */
enum { SL_KT_NULL = 1, SL_KT_BOOL, SL_KT_INT, SL_KT_DOUBLE, SL_KT_STRING, SL_KT_BYTES };

#define SL_KEY_SHORT_MAX 64                      /* longest string sl_key_put_short encodes */
#define SL_KEY_SHORT_ROOM (SL_KEY_SHORT_MAX + 3) /* room its output needs */

/* Non-zero when one of the 8 bytes of x is 0 (exact: no false positives). */
static inline uint64_t sl_key_has_nul64(uint64_t x) {
  return (x - UINT64_C(0x0101010101010101)) & ~x & UINT64_C(0x8080808080808080);
}

static inline uint32_t sl_key_has_nul32(uint32_t x) { return (x - 0x01010101u) & ~x & 0x80808080u; }

/* Copy n bytes from p to d; 0 when one of them is NUL (d then holds junk). */
static inline int sl_key_copy_plain(unsigned char *d, const unsigned char *p, size_t n) {
  if (n >= 8) {
    uint64_t nul = 0, x;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      x = sl_load64(p + i);
      nul |= sl_key_has_nul64(x);
      memcpy(d + i, &x, 8);
    }
    x = sl_load64(p + n - 8); /* the tail, overlapping what was copied */
    nul |= sl_key_has_nul64(x);
    memcpy(d + n - 8, &x, 8);
    return nul == 0;
  }
  if (n >= 4) {
    uint32_t a = (uint32_t)sl_load32(p), b = (uint32_t)sl_load32(p + n - 4);
    memcpy(d, &a, 4);
    memcpy(d + n - 4, &b, 4);
    return (sl_key_has_nul32(a) | sl_key_has_nul32(b)) == 0;
  }
  unsigned char all = 0xff;
  for (size_t i = 0; i < n; i++) {
    d[i] = p[i];
    all &= (unsigned char)(p[i] != 0) * 0xff;
  }
  return all != 0;
}

/* Write the canonical key of v (NULL: a missing field, keyed as null) to d,
 * which has SL_KEY_SHORT_ROOM bytes; its length, or 0 when v is not one of
 * the values above (call sl_key_encode). */
static inline size_t sl_key_put_short(const sl_value *v, unsigned char *d) {
  int type = v ? (int)v->type : (int)SL_TYPE_NULL;
  if (type == SL_TYPE_STRING || type == SL_TYPE_BYTES) {
    size_t n = v->as.str.len;
    if (n > SL_KEY_SHORT_MAX || !sl_key_copy_plain(d + 1, (const unsigned char *)v->as.str.ptr, n))
      return 0;
    d[0] = (unsigned char)(type == SL_TYPE_STRING ? SL_KT_STRING : SL_KT_BYTES);
    d[n + 1] = 0;
    d[n + 2] = 1;
    return n + 3;
  }
  if (type == SL_TYPE_INT) {
    uint64_t u = (uint64_t)v->as.i ^ (UINT64_C(1) << 63);
    d[0] = SL_KT_INT;
    for (int i = 0; i < 8; i++)
      d[1 + i] = (unsigned char)(u >> (56 - 8 * i));
    return 9;
  }
  if (type == SL_TYPE_NULL) {
    d[0] = SL_KT_NULL;
    return 1;
  }
  return 0;
}

/* Whether the n bytes at a and b are the same: memcmp without the call,
 * for keys, which are mostly short. */
static inline int sl_key_same(const unsigned char *a, const unsigned char *b, size_t n) {
  if (n >= 8 && n <= 16) /* most keys: two overlapping words */
    return sl_load64(a) == sl_load64(b) && sl_load64(a + n - 8) == sl_load64(b + n - 8);
  if (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8)
      if (sl_load64(a + i) != sl_load64(b + i))
        return 0;
    return sl_load64(a + n - 8) == sl_load64(b + n - 8);
  }
  if (n >= 4)
    return sl_load32(a) == sl_load32(b) && sl_load32(a + n - 4) == sl_load32(b + n - 4);
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

#endif
