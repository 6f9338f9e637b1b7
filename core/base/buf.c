/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffers, used by encoders, logs and HTTP answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "sluice/error.h"

const char *sl_num_text(double d, char *buf, size_t n) {
  if (d != d)
    return snprintf(buf, n, "NaN"), buf; /* Lua's 0/0 has the sign bit: %g says "-nan" */
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(buf, n, "%.*g", prec, d);
    if (strtod(buf, NULL) == d)
      break;
  }
  /* %g turns 90 into "9e+01" at one digit: below 1e17, give the integer
   * part its digits instead of an exponent. */
  const char *e = strchr(buf, 'e');
  int exp10 = e ? atoi(e + 1) : 0;
  if (e && exp10 >= 0 && exp10 < 17 && exp10 + 1 > prec)
    prec = exp10 + 1;
  snprintf(buf, n, "%.*g", prec, d);
  return buf;
}

int sl_buf_reserve(sl_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap)
    return SL_OK;
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < b->len + extra + 1)
    ncap *= 2;
  char *nd = realloc(b->data, ncap);
  if (!nd)
    return SL_ERR_NOMEM;
  b->data = nd;
  b->cap = ncap;
  return SL_OK;
}

int sl_buf_append(sl_buf *b, const void *p, size_t len) {
  if (sl_buf_reserve(b, len) != SL_OK)
    return SL_ERR_NOMEM;
  if (len)
    memcpy(b->data + b->len, p, len);
  b->len += len;
  b->data[b->len] = '\0';
  return SL_OK;
}

int sl_buf_putc(sl_buf *b, char c) { return sl_buf_append(b, &c, 1); }
int sl_buf_puts(sl_buf *b, const char *s) { return sl_buf_append(b, s, strlen(s)); }

int sl_buf_printf(sl_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0)
    return SL_ERR_INVALID;
  if ((size_t)n < sizeof small)
    return sl_buf_append(b, small, (size_t)n);
  if (sl_buf_reserve(b, (size_t)n) != SL_OK)
    return SL_ERR_NOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return SL_OK;
}

int sl_buf_json_string(sl_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  if (sl_buf_reserve(b, len + 2) != SL_OK)
    return SL_ERR_NOMEM;
  b->data[b->len++] = '"';
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[7];
    size_t n = 0;
    switch (c) {
    case '"': esc[0] = '\\'; esc[1] = '"'; n = 2; break;
    case '\\': esc[0] = '\\'; esc[1] = '\\'; n = 2; break;
    case '\n': esc[0] = '\\'; esc[1] = 'n'; n = 2; break;
    case '\r': esc[0] = '\\'; esc[1] = 'r'; n = 2; break;
    case '\t': esc[0] = '\\'; esc[1] = 't'; n = 2; break;
    default:
      if (c < 0x20) {
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        n = 6;
      }
    }
    if (n) {
      if (sl_buf_append(b, esc, n) != SL_OK)
        return SL_ERR_NOMEM;
    } else if (sl_buf_append(b, &s[i], 1) != SL_OK) {
      return SL_ERR_NOMEM;
    }
  }
  return sl_buf_putc(b, '"');
}

void sl_buf_reset(sl_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void sl_buf_free(sl_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
