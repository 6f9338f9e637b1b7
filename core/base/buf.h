/* SPDX-License-Identifier: Apache-2.0 */
/* A growable byte buffer owned by whoever declared it (malloc'd data). */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_buf {
  char *data; /* malloc'd, owned by the buffer; NUL-terminated when len < cap */
  size_t len;
  size_t cap;
} sl_buf;

#define SL_BUF_INIT {NULL, 0, 0}

int sl_buf_reserve(sl_buf *b, size_t extra);
int sl_buf_append(sl_buf *b, const void *p, size_t len);
int sl_buf_putc(sl_buf *b, char c);
int sl_buf_puts(sl_buf *b, const char *s);
int sl_buf_printf(sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append `s` as a JSON string literal, quotes included. */
int sl_buf_json_string(sl_buf *b, const char *s, size_t len);
void sl_buf_reset(sl_buf *b); /* len = 0, keep memory */
/* `d` as the shortest text that reads back as the same double ("4.44",
 * "53.3634", "1234567.5"; "NaN", "inf", "-inf"), for messages and logs:
 * never "%g"'s 6 digits nor "%.17g"'s noise. Written to `buf` (at least
 * SL_NUM_TEXT_MAX bytes), which is returned. */
#define SL_NUM_TEXT_MAX 32
const char *sl_num_text(double d, char *buf, size_t n);
void sl_buf_free(sl_buf *b);

#endif
