/* SPDX-License-Identifier: Apache-2.0 */
/* LEB128 varints and zigzag for the compact binary state formats of
 * windows, aggregates and sketches. */
#ifndef SLUICE_VARINT_H
#define SLUICE_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"

static inline uint64_t sl_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t sl_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static inline int sl_varint_put(sl_buf *b, uint64_t v) {
  unsigned char tmp[10];
  size_t n = 0;
  do {
    tmp[n] = (unsigned char)(v & 0x7f);
    v >>= 7;
    if (v)
      tmp[n] |= 0x80;
    n++;
  } while (v);
  return sl_buf_append(b, tmp, n);
}

/* A cursor over serialised bytes; `bad` is set on truncation or overflow. */
typedef struct sl_rd {
  const unsigned char *p, *end;
  int bad;
} sl_rd;

static inline uint64_t sl_varint_get(sl_rd *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) {
      r->bad = 1;
      return 0;
    }
    unsigned char c = *r->p++;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80))
      return v;
  }
  r->bad = 1;
  return 0;
}

static inline int sl_f64_put(sl_buf *b, double d) {
  unsigned char tmp[8];
  memcpy(tmp, &d, 8); /* little-endian hosts only (x86-64, arm64) */
  return sl_buf_append(b, tmp, 8);
}

static inline double sl_f64_get(sl_rd *r) {
  double d = 0;
  if (r->end - r->p < 8) {
    r->bad = 1;
    return 0;
  }
  memcpy(&d, r->p, 8);
  r->p += 8;
  return d;
}

static inline const unsigned char *sl_bytes_get(sl_rd *r, size_t n) {
  if ((size_t)(r->end - r->p) < n) {
    r->bad = 1;
    return NULL;
  }
  const unsigned char *p = r->p;
  r->p += n;
  return p;
}

#endif
