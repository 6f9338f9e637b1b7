/* SPDX-License-Identifier: Apache-2.0 */
/* A command in Redis's wire format (RESP), written by us instead of
 * redisAppendCommandArgv: hiredis formats every argument's "$<len>" header with
 * its own printf (sdscatfmt) and copies the command once more, which a
 * checkpoint of a sparse workload, with two arguments per changed window and
 * hundreds of thousands of them a second, paid for on every entry. */
#include <string.h>

#include "redis_internal.h"

static char *put_count(char *o, char tag, size_t n) {
  char tmp[24], *p = tmp + sizeof tmp;
  do {
    *--p = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  *o++ = tag;
  size_t len = (size_t)(tmp + sizeof tmp - p);
  memcpy(o, p, len);
  o += len;
  *o++ = '\r';
  *o++ = '\n';
  return o;
}

int sl_redis_format_argv(sl_buf *out, int argc, const char **argv, const size_t *argvlen) {
  size_t total = 24 + 3;
  for (int i = 0; i < argc; i++)
    total += 1 + 20 + 2 + argvlen[i] + 2;
  sl_buf_reset(out);
  if (sl_buf_reserve(out, total) != SL_OK)
    return SL_ERR_NOMEM;
  char *o = put_count(out->data, '*', (size_t)argc);
  for (int i = 0; i < argc; i++) {
    o = put_count(o, '$', argvlen[i]);
    if (argvlen[i])
      memcpy(o, argv[i], argvlen[i]);
    o += argvlen[i];
    *o++ = '\r';
    *o++ = '\n';
  }
  out->len = (size_t)(o - out->data);
  return SL_OK;
}
