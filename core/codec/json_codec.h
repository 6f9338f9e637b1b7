/* SPDX-License-Identifier: Apache-2.0 */
/* JSON record codec: one JSON object <-> one sl_record (internal, never installed). */
#ifndef SLUICE_JSON_CODEC_H
#define SLUICE_JSON_CODEC_H

#include <stddef.h>

#include "base/buf.h"
#include "codec/decode_limits.h"
#include "sluice/record.h"

/* Parse one JSON object (RFC 8259, strict: no trailing commas, no comments; UTF-8 validated;
 * \uXXXX incl. surrogate pairs) into a record allocated from `a`. Integers that fit int64 ->
 * SL_TYPE_INT, other numbers -> SL_TYPE_DOUBLE, objects -> nested records, arrays -> sl_array.
 * Nesting deeper than 64 -> error. Field names are interned (sl_name_intern_data). On error returns
 * SL_ERR_PARSE with a message like "expected ':' after object key at byte 17". A top-level
 * value that is not an object is an error ("expected a JSON object"). Trailing whitespace ok.
 * Thread-safe: each thread remembers the key order of the last top-level object it decoded,
 * and checks the next object's keys against it first (a hint only: the result is the same
 * whatever was decoded before, `{}` leaves nothing to remember). */
int sl_json_decode(const char *buf, size_t len, sl_arena *a, sl_record **out, sl_error *err);
/* sl_json_decode with limits (decode_limits.h; `opts` may be NULL for the defaults): an object
 * of more than opts->max_fields distinct keys fails with SL_ERR_LIMIT (too_many_fields), as
 * does a key never seen before once SL_NAME_DATA_MAX names came from data (too_many_names);
 * repeated keys cost constant time each. opts->reason names the dead-letter reason of any
 * failure. */
int sl_json_decode_opts(const char *buf, size_t len, sl_decode_opts *opts, sl_arena *a,
                        sl_record **out, sl_error *err);
/* Append the record's fields as one JSON object (no newline) to `out`. Doubles printed
 * shortest round-trip ("%.17g" fallback, integral doubles keep a ".0" so they stay doubles);
 * NaN/Inf -> null; bytes -> base64 string; strings escaped. */
int sl_json_encode(const sl_record *r, sl_buf *out, sl_error *err);
int sl_json_encode_value(const sl_value *v, sl_buf *out, sl_error *err);

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 when invalid
 * (overlongs, UTF-16 surrogates and code points above U+10FFFF are invalid). */
static inline size_t sl_utf8_seq(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t n;
  unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong */
    else if (c == 0xED)
      hi = 0x9F; /* UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else
    return 0;
  if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

/* Maximum nesting of objects and arrays accepted by sl_json_decode. */
#define SL_JSON_MAX_DEPTH 64

#endif
