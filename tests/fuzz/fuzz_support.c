/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the fuzz targets (fuzz_support.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "fuzz_support.h"

void fuzz_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fuzz invariant broken: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

int fuzz_value_equal(const sl_value *a, const sl_value *b) {
  if (a->type != b->type)
    return 0;
  switch (a->type) {
  case SL_TYPE_NULL: return 1;
  case SL_TYPE_BOOL: return a->as.b == b->as.b;
  case SL_TYPE_INT: return a->as.i == b->as.i;
  case SL_TYPE_DOUBLE: return memcmp(&a->as.d, &b->as.d, sizeof a->as.d) == 0;
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES:
    return a->as.str.len == b->as.str.len &&
           (a->as.str.len == 0 || memcmp(a->as.str.ptr, b->as.str.ptr, a->as.str.len) == 0);
  case SL_TYPE_RECORD: return fuzz_record_equal(a->as.rec, b->as.rec);
  case SL_TYPE_ARRAY: {
    size_t n = sl_array_len(a->as.arr);
    if (n != sl_array_len(b->as.arr))
      return 0;
    for (size_t i = 0; i < n; i++)
      if (!fuzz_value_equal(sl_array_at(a->as.arr, i), sl_array_at(b->as.arr, i)))
        return 0;
    return 1;
  }
  }
  return 0;
}

int fuzz_record_equal(const sl_record *a, const sl_record *b) {
  size_t n = sl_record_count(a);
  if (n != sl_record_count(b))
    return 0;
  for (size_t i = 0; i < n; i++) {
    /* Same order first: a lookup per field would make the check quadratic
     * and hide the decoder's own speed on records with many fields. */
    sl_name name = sl_record_name_at(a, i);
    const sl_value *w =
        sl_record_name_at(b, i) == name ? sl_record_value_at(b, i) : sl_record_get(b, name);
    if (!w || !fuzz_value_equal(sl_record_value_at(a, i), w))
      return 0;
  }
  return 1;
}

size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **rest, size_t *rest_len) {
  const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
  if (!nul) {
    *rest = NULL;
    *rest_len = 0;
    return size;
  }
  *rest = nul + 1;
  *rest_len = size - (size_t)(nul + 1 - data);
  return (size_t)(nul - data);
}

char *fuzz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    fuzz_fail("out of memory copying %zu bytes", size);
  if (size)
    memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

void fuzz_quiet_logs(void) { sl_log_configure(SL_LOG_TEXT, SL_LOG_ERROR); }

/* For the targets that need no setup of their own. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  return 0;
}
