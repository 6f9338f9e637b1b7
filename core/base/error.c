/* SPDX-License-Identifier: Apache-2.0 */
/* Status names and the sl_error helpers. */
#include <stdio.h>
#include <string.h>

#include "sluice/error.h"

const char *sl_strerror(int status) {
  switch (status) {
  case SL_OK: return "ok";
  case SL_ERR_NOMEM: return "out of memory";
  case SL_ERR_INVALID: return "invalid argument or configuration";
  case SL_ERR_NOT_FOUND: return "not found";
  case SL_ERR_IO: return "input/output error";
  case SL_ERR_PARSE: return "parse error";
  case SL_ERR_TYPE: return "type error";
  case SL_ERR_ABI: return "ABI version mismatch";
  case SL_ERR_UNAVAILABLE: return "dependency unavailable";
  case SL_ERR_LIMIT: return "limit exceeded";
  case SL_ERR_FENCED: return "fenced by a newer owner";
  case SL_ERR_INTERNAL: return "internal error";
  default: return "unknown error";
  }
}

int sl_error_vset(sl_error *err, int code, const char *fmt, va_list ap) {
  if (!err)
    return code;
  err->code = code;
  err->retriable = code == SL_ERR_UNAVAILABLE;
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  return code;
}

int sl_error_set(sl_error *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl_error_vset(err, code, fmt, ap);
  va_end(ap);
  return code;
}

void sl_error_clear(sl_error *err) {
  if (!err)
    return;
  memset(err, 0, sizeof *err);
}
