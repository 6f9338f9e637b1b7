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

#include "base/record_internal.h"
#include "codec/json_codec.h"

#define ENCODE_MAX_DEPTH 256 /* records are trees; this only stops runaway recursion */

static int enc_value(const sl_value *v, sl_buf *out, sl_error *err, int depth);

static int nomem(sl_error *err) {
  return sl_error_set(err, SL_ERR_NOMEM, "out of memory encoding JSON");
}

/* Bytes that need escaping in a JSON string (control characters, quote, backslash). */
static inline int needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

/* Append without a call per piece: a record's punctuation and most of its strings are
 * a few bytes each, and a call to sl_buf_append per piece costs more than the copy. The
 * buffer stays NUL-terminated after each piece (sl_buf's promise). */
static inline int put_raw(sl_buf *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap && sl_buf_reserve(b, n) != SL_OK)
    return SL_ERR_NOMEM;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return SL_OK;
}

static inline int put_ch(sl_buf *b, char c) {
  if (b->len + 2 > b->cap && sl_buf_reserve(b, 1) != SL_OK)
    return SL_ERR_NOMEM;
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
  return SL_OK;
}

/* A string with bytes to escape or non-ASCII ones: escapes, U+FFFD for bad UTF-8. */
static int put_string_escaped(sl_buf *b, const unsigned char *s, const unsigned char *end) {
  static const char hex[] = "0123456789abcdef";
  while (s < end) {
    const unsigned char *run = s;
    while (s < end && *s < 0x80 && !needs_escape(*s))
      s++;
    if (s > run && put_raw(b, run, (size_t)(s - run)) != SL_OK)
      return SL_ERR_NOMEM;
    if (s >= end)
      break;
    char esc[8];
    size_t n = 0;
    unsigned char c = *s;
    if (c >= 0x80) {
      size_t k = sl_utf8_seq(s, end);
      if (k) {
        if (put_raw(b, s, k) != SL_OK)
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
    if (put_raw(b, esc, n) != SL_OK)
      return SL_ERR_NOMEM;
    s++;
  }
  return put_ch(b, '"');
}

/* 1 for the bytes a JSON string holds as they are (printable ASCII but '"' and '\\');
 * 0 for NUL too, which ends a field name's scan in put_name. */
static const unsigned char plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80-0xff: UTF-8, checked on the slow path */
};

static int put_string(sl_buf *b, const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str, *end = s + len, *p = s;
  while (p < end && plain_byte[*p])
    p++;
  /* Worst case 6 output bytes per input byte; reserve the common case and grow as needed. */
  if (b->len + len + 3 > b->cap && sl_buf_reserve(b, len + 2) != SL_OK)
    return SL_ERR_NOMEM;
  b->data[b->len++] = '"';
  if (p == end) { /* names, ids: nothing to escape, one copy */
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
    return SL_OK;
  }
  return put_string_escaped(b, s, end);
}

/* A field name (NUL-terminated): its length and whether it needs escaping in one pass. */
static int put_name(sl_buf *b, const char *name) {
  const unsigned char *p = (const unsigned char *)name;
  while (plain_byte[*p])
    p++;
  size_t len = (size_t)((const char *)p - name);
  return put_string(b, name, *p ? len + strlen((const char *)p) : len);
}

/* Two digits per division: timestamps have 13 digits and there are two or three per
 * window result. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

static int put_int(sl_buf *b, int64_t i) {
  char tmp[24], *p = tmp + sizeof tmp;
  uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
  while (u >= 100) {
    const char *d = digit_pairs + 2 * (u % 100);
    u /= 100;
    *--p = d[1];
    *--p = d[0];
  }
  if (u >= 10) {
    *--p = digit_pairs[2 * u + 1];
    *--p = digit_pairs[2 * u];
  } else {
    *--p = (char)('0' + u);
  }
  if (i < 0)
    *--p = '-';
  return put_raw(b, p, (size_t)(tmp + sizeof tmp - p));
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
    /* Below 2^53 the int64 conversion is exact truncation: no libm call per digit. */
    if (fabs(m) >= 9007199254740992.0 || m != (double)(int64_t)m)
      continue;
    char digits[24], out[40];
    uint64_t u = (uint64_t)fabs(m);
    /* The text below is u * 10^-k; u and 10^k are exact doubles, so this one
     * rounding is what strtod of that text gives. */
    if ((double)u / pow10[k] != fabs(d))
      return 0;
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
    while (out[n - 1] == '0' && out[n - 2] != '.') /* 4.73 * 1000 is integral too: 4.730 */
      n--;
    out[n] = '\0';
    return put_raw(b, out, (size_t)n) == SL_OK ? 1 : -1;
  }
  return 0;
}

/* Exact powers of ten as doubles (10^22 is the last one a double holds exactly). */
static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Whether `text`, the decimal m * 10^e (m < 10^17) with d's sign, reads back as d.
 * With m <= 2^53 and |e| <= 22 both operands are exact, so one multiply or divide
 * rounds correctly (Clinger's fast path), as strtod does; otherwise ask strtod. */
static int reads_back(uint64_t m, int e, double d, const char *text) {
  if (m <= (UINT64_C(1) << 53) && e >= -22 && e <= 22)
    return (e >= 0 ? (double)m * exact_pow10[e] : (double)m / exact_pow10[-e]) == fabs(d);
  return strtod(text, NULL) == d;
}

/* Write ds[0..p) (digits, first nonzero) with decimal exponent x as printf's %.{p}g
 * would: fixed when -4 <= x < p, else d.ddde+XX; trailing zeros dropped. */
static int format_g(char *out, int neg, const char *ds, int p, int x) {
  int n = 0, last = p; /* digits after the last nonzero one are dropped */
  while (last > 1 && ds[last - 1] == '0')
    last--;
  if (neg)
    out[n++] = '-';
  if (x < -4 || x >= p) {
    out[n++] = ds[0];
    if (last > 1) {
      out[n++] = '.';
      memcpy(out + n, ds + 1, (size_t)(last - 1));
      n += last - 1;
    }
    n += sprintf(out + n, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    return n;
  }
  if (x < 0) {
    memcpy(out + n, "0.", 2);
    n += 2;
    for (int i = -1; i > x; i--)
      out[n++] = '0';
    memcpy(out + n, ds, (size_t)last);
    return n + last;
  }
  for (int i = 0; i <= x; i++) /* integer digits (x < p, so all from ds) */
    out[n++] = ds[i];
  if (last > x + 1) {
    out[n++] = '.';
    memcpy(out + n, ds + x + 1, (size_t)(last - x - 1));
    n += last - x - 1;
  }
  return n;
}

/* The shortest of %.15g, %.16g and %.17g that reads back as d, from ONE conversion to
 * 17 significant digits: rounding those to 15 or 16 gives what printf would, unless the
 * dropped digits are exactly half a unit (50 or 5), where the 17-digit rounding may have
 * hidden which side the exact value is on: then printf decides. Returns the length. */
static int shortest_g(char *out, size_t cap, double d) {
  char e17[40];
  snprintf(e17, sizeof e17, "%.16e", fabs(d)); /* d.dddddddddddddddde[+-]XX */
  char dig[17];
  dig[0] = e17[0];
  memcpy(dig + 1, e17 + 2, 16);
  int x17 = atoi(e17 + 19), neg = signbit(d) != 0;
  for (int p = 15; p <= 16; p++) {
    int tail = p == 15 ? (dig[15] - '0') * 10 + (dig[16] - '0') : dig[16] - '0';
    int half = p == 15 ? 50 : 5;
    if (tail == half) { /* a tie in the 17 digits: let printf round the exact value */
      int n = snprintf(out, cap, "%.*g", p, d);
      if (strtod(out, NULL) == d)
        return n;
      continue;
    }
    char ds[17];
    int x = x17;
    memcpy(ds, dig, (size_t)p);
    if (tail > half) { /* round up, carrying */
      int i = p - 1;
      while (i >= 0 && ds[i] == '9')
        ds[i--] = '0';
      if (i >= 0) {
        ds[i]++;
      } else {
        ds[0] = '1';
        x++;
      }
    }
    uint64_t m = 0;
    for (int i = 0; i < p; i++)
      m = m * 10 + (uint64_t)(ds[i] - '0');
    int n = format_g(out, neg, ds, p, x);
    out[n] = '\0';
    if (reads_back(m, x - (p - 1), d, out))
      return n;
  }
  int n = format_g(out, neg, dig, 17, x17);
  out[n] = '\0';
  return n;
}

static int put_double(sl_buf *b, double d) {
  if (!isfinite(d))
    return put_raw(b, "null", 4);
  int fast = put_double_short(b, d);
  if (fast)
    return fast > 0 ? SL_OK : SL_ERR_NOMEM;
  char tmp[40];
  int n = shortest_g(tmp, sizeof tmp, d);
  if (strpbrk(tmp, ".eEn") == NULL) { /* integral: keep it a double on the way back */
    tmp[n++] = '.';
    tmp[n++] = '0';
    tmp[n] = '\0';
  }
  return put_raw(b, tmp, (size_t)n);
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
  if (put_ch(out, '{') != SL_OK)
    return nomem(err);
  for (uint32_t i = 0; i < r->count; i++) {
    const char *name = r->fields[i].name;
    if ((i && put_ch(out, ',') != SL_OK) || put_name(out, name) != SL_OK ||
        put_ch(out, ':') != SL_OK)
      return nomem(err);
    int rc = enc_value(&r->fields[i].value, out, err, depth + 1);
    if (rc != SL_OK)
      return rc;
  }
  return put_ch(out, '}') == SL_OK ? SL_OK : nomem(err);
}

static int enc_value(const sl_value *v, sl_buf *out, sl_error *err, int depth) {
  if (depth > ENCODE_MAX_DEPTH)
    return sl_error_set(err, SL_ERR_LIMIT, "record nested deeper than %d levels", ENCODE_MAX_DEPTH);
  int rc;
  switch (v->type) {
  case SL_TYPE_NULL: rc = put_raw(out, "null", 4); break;
  case SL_TYPE_BOOL: rc = v->as.b ? put_raw(out, "true", 4) : put_raw(out, "false", 5); break;
  case SL_TYPE_INT: rc = put_int(out, v->as.i); break;
  case SL_TYPE_DOUBLE: rc = put_double(out, v->as.d); break;
  case SL_TYPE_STRING: rc = put_string(out, v->as.str.ptr, v->as.str.len); break;
  case SL_TYPE_BYTES:
    rc = put_base64(out, (const unsigned char *)v->as.str.ptr, v->as.str.len);
    break;
  case SL_TYPE_RECORD: return enc_record(v->as.rec, out, err, depth);
  case SL_TYPE_ARRAY: {
    const sl_array *arr = v->as.arr;
    if (put_ch(out, '[') != SL_OK)
      return nomem(err);
    for (size_t i = 0; i < arr->len; i++) {
      if (i && put_ch(out, ',') != SL_OK)
        return nomem(err);
      if ((rc = enc_value(&arr->items[i], out, err, depth + 1)) != SL_OK)
        return rc;
    }
    rc = put_ch(out, ']');
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
