/* SPDX-License-Identifier: Apache-2.0 */
/* sl_record -> JSON text: one object per record, appended to a caller-owned sl_buf.
 *
 * Numbers keep their sluice type through a round trip: integers print as integers and
 * doubles always carry a '.', an exponent, or print as null when they are NaN or
 * infinite (JSON has no spelling for them). Strings that are not valid UTF-8 (possible
 * after an Avro bytes->string promotion) get U+FFFD for each bad byte, so the output is
 * always valid JSON. Bytes are base64 (RFC 4648, padded). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_codec.h"
#include "record_internal.h"

#define ENCODE_MAX_DEPTH 256 /* records are trees; this only stops runaway recursion */

static int enc_value(const sl_value *v, sl_buf *out, sl_error *err, int depth);

static int nomem(sl_error *err) {
  return sl_error_set(err, SL_ERR_NOMEM, "out of memory encoding JSON");
}

/* Bytes that need escaping in a JSON string (control characters, quote, backslash). */
static inline int needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

static int put_string(sl_buf *b, const char *str, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str, *end = s + len;
  /* Worst case 6 output bytes per input byte; reserve the common case and grow as needed. */
  if (sl_buf_reserve(b, len + 2) != SL_OK)
    return SL_ERR_NOMEM;
  b->data[b->len++] = '"';
  while (s < end) {
    const unsigned char *run = s;
    while (s < end && *s < 0x80 && !needs_escape(*s))
      s++;
    if (s > run && sl_buf_append(b, run, (size_t)(s - run)) != SL_OK)
      return SL_ERR_NOMEM;
    if (s >= end)
      break;
    char esc[8];
    size_t n = 0;
    unsigned char c = *s;
    if (c >= 0x80) {
      size_t k = sl_utf8_seq(s, end);
      if (k) {
        if (sl_buf_append(b, s, k) != SL_OK)
          return SL_ERR_NOMEM;
        s += k;
        continue;
      }
      memcpy(esc, "\\ufffd", 6);
      n = 6;
    } else if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      n = 2;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      esc[0] = '\\';
      esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      n = 2;
    } else {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      n = 6;
    }
    if (sl_buf_append(b, esc, n) != SL_OK)
      return SL_ERR_NOMEM;
    s++;
  }
  return sl_buf_putc(b, '"');
}

static int put_int(sl_buf *b, int64_t i) {
  char tmp[24], *p = tmp + sizeof tmp;
  uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (i < 0)
    *--p = '-';
  return sl_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* Fast path for the common telemetry double with few decimals (71.25, 0.003): find the
 * smallest k with d * 10^k integral, print that integer with a decimal point, and keep it
 * only if it reads back as exactly d. snprintf("%.*g") costs several times more. */
static int put_double_short(sl_buf *b, double d) {
  static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  if (d == 0 || fabs(d) >= 1e15 || fabs(d) < 1e-4)
    return 0;
  for (int k = 0; k < 7; k++) {
    double m = d * pow10[k];
    if (m != nearbyint(m) || fabs(m) >= 9007199254740992.0)
      continue;
    char digits[24], out[40];
    uint64_t u = (uint64_t)fabs(m);
    int nd = 0, n = 0;
    do {
      digits[nd++] = (char)('0' + u % 10);
      u /= 10;
    } while (u);
    while (nd <= k) /* leading zeros of 0.00x */
      digits[nd++] = '0';
    if (d < 0)
      out[n++] = '-';
    for (int i = nd - 1; i >= k; i--)
      out[n++] = digits[i];
    out[n++] = '.';
    if (k == 0)
      out[n++] = '0';
    for (int i = k - 1; i >= 0; i--)
      out[n++] = digits[i];
    out[n] = '\0';
    if (strtod(out, NULL) != d)
      return 0;
    return sl_buf_append(b, out, (size_t)n) == SL_OK ? 1 : -1;
  }
  return 0;
}

static int put_double(sl_buf *b, double d) {
  if (!isfinite(d))
    return sl_buf_append(b, "null", 4);
  int fast = put_double_short(b, d);
  if (fast)
    return fast > 0 ? SL_OK : SL_ERR_NOMEM;
  char tmp[40];
  int n = 0;
  /* Shortest of 15, 16, 17 significant digits that reads back as the same double. */
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (prec == 17 || strtod(tmp, NULL) == d)
      break;
  }
  if (strpbrk(tmp, ".eEn") == NULL) { /* integral: keep it a double on the way back */
    tmp[n++] = '.';
    tmp[n++] = '0';
    tmp[n] = '\0';
  }
  return sl_buf_append(b, tmp, (size_t)n);
}

static int put_base64(sl_buf *b, const unsigned char *s, size_t len) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t olen = (len + 2) / 3 * 4;
  if (sl_buf_reserve(b, olen + 2) != SL_OK)
    return SL_ERR_NOMEM;
  char *o = b->data + b->len;
  *o++ = '"';
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    *o++ = tbl[v >> 18];
    *o++ = tbl[(v >> 12) & 63];
    *o++ = tbl[(v >> 6) & 63];
    *o++ = tbl[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
    *o++ = tbl[v >> 18];
    *o++ = tbl[(v >> 12) & 63];
    *o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
  b->data[b->len] = '\0';
  return SL_OK;
}

static int enc_record(const sl_record *r, sl_buf *out, sl_error *err, int depth) {
  if (sl_buf_putc(out, '{') != SL_OK)
    return nomem(err);
  for (uint32_t i = 0; i < r->count; i++) {
    const char *name = r->fields[i].name;
    if ((i && sl_buf_putc(out, ',') != SL_OK) || put_string(out, name, strlen(name)) != SL_OK ||
        sl_buf_putc(out, ':') != SL_OK)
      return nomem(err);
    int rc = enc_value(&r->fields[i].value, out, err, depth + 1);
    if (rc != SL_OK)
      return rc;
  }
  return sl_buf_putc(out, '}') == SL_OK ? SL_OK : nomem(err);
}

static int enc_value(const sl_value *v, sl_buf *out, sl_error *err, int depth) {
  if (depth > ENCODE_MAX_DEPTH)
    return sl_error_set(err, SL_ERR_LIMIT, "record nested deeper than %d levels", ENCODE_MAX_DEPTH);
  int rc;
  switch (v->type) {
  case SL_TYPE_NULL: rc = sl_buf_append(out, "null", 4); break;
  case SL_TYPE_BOOL:
    rc = v->as.b ? sl_buf_append(out, "true", 4) : sl_buf_append(out, "false", 5);
    break;
  case SL_TYPE_INT: rc = put_int(out, v->as.i); break;
  case SL_TYPE_DOUBLE: rc = put_double(out, v->as.d); break;
  case SL_TYPE_STRING: rc = put_string(out, v->as.str.ptr, v->as.str.len); break;
  case SL_TYPE_BYTES:
    rc = put_base64(out, (const unsigned char *)v->as.str.ptr, v->as.str.len);
    break;
  case SL_TYPE_RECORD: return enc_record(v->as.rec, out, err, depth);
  case SL_TYPE_ARRAY: {
    const sl_array *arr = v->as.arr;
    if (sl_buf_putc(out, '[') != SL_OK)
      return nomem(err);
    for (size_t i = 0; i < arr->len; i++) {
      if (i && sl_buf_putc(out, ',') != SL_OK)
        return nomem(err);
      if ((rc = enc_value(&arr->items[i], out, err, depth + 1)) != SL_OK)
        return rc;
    }
    rc = sl_buf_putc(out, ']');
    break;
  }
  default:
    return sl_error_set(err, SL_ERR_INTERNAL, "cannot encode a value of unknown type %d as JSON",
                        (int)v->type);
  }
  return rc == SL_OK ? SL_OK : nomem(err);
}

int sl_json_encode(const sl_record *r, sl_buf *out, sl_error *err) {
  return enc_record(r, out, err, 0);
}

int sl_json_encode_value(const sl_value *v, sl_buf *out, sl_error *err) {
  return enc_value(v, out, err, 0);
}
