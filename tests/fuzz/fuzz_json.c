/* SPDX-License-Identifier: Apache-2.0 */
/* JSON records (core/codec/json_decode.c, core/codec/json_encode.c): decode any bytes;
 * what decodes must encode, and decode again to an equal record:
 * decode(encode(decode(x))) == decode(x). The decoder guesses keys from the previous
 * object's order on the thread (here, the previous input's): decoding x after "{}", which
 * leaves no guesses, must give the same record or the same error. */
#include <stdio.h>
#include <string.h>

#include "codec/json_codec.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r = NULL, *again = NULL;
  sl_buf out = SL_BUF_INIT;
  sl_error err;
  sl_error_clear(&err);
  if (!a)
    fuzz_fail("out of memory");
  int rc = sl_json_decode((const char *)data, size, a, &r, &err);
  sl_record *cold = NULL;
  sl_error cerr;
  sl_error_clear(&cerr);
  if (sl_json_decode("{}", 2, a, &cold, NULL) != SL_OK)
    fuzz_fail("{} does not decode");
  int crc = sl_json_decode((const char *)data, size, a, &cold, &cerr);
  if (crc != rc || (rc != SL_OK && strcmp(err.message, cerr.message) != 0) ||
      (rc == SL_OK && !fuzz_record_equal(r, cold)))
    fuzz_fail("decoded after other input (rc %d: %s) and cold (rc %d: %s) differ", rc,
              rc == SL_OK ? "" : err.message, crc, crc == SL_OK ? "" : cerr.message);
  if (rc == SL_OK) {
    if (sl_json_encode(r, &out, &err) != SL_OK)
      fuzz_fail("a decoded record does not encode: %s", err.message);
    if (sl_json_decode(out.data, out.len, a, &again, &err) != SL_OK)
      fuzz_fail("the encoding of a decoded record does not decode: %s: %.*s", err.message,
                (int)out.len, out.data);
    if (!fuzz_record_equal(r, again))
      fuzz_fail("decode(encode(decode(x))) differs from decode(x): %.*s", (int)out.len, out.data);
  }
  sl_buf_free(&out);
  sl_arena_destroy(a);
  return 0;
}
