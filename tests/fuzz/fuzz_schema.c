/* SPDX-License-Identifier: Apache-2.0 */
/* Avro schemas (core/codec/avro_schema.c, core/codec/avro_resolve.c), as a schema
 * registry or a schema file hands them over. Input: a writer schema's JSON,
 * optionally followed by a NUL byte and a reader schema's JSON. Each schema
 * that parses decodes a few fixed datums; with both, the writer is resolved
 * against the reader and the resolved plan decodes them too. */
#include "codec/avro_codec.h"
#include "fuzz_support.h"

/* Small datums that reach several branches of most plans: all zeros (empty
 * strings, arrays, union branch 0), small positive varints, a truncation. */
static const uint8_t datums[][8] = {{0, 0, 0, 0, 0, 0, 0, 0},
                                    {2, 2, 2, 2, 2, 2, 2, 2},
                                    {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}};

static void decode_all(const sl_avro_schema *s) {
  for (size_t i = 0; i < sizeof datums / sizeof datums[0]; i++)
    for (size_t len = 0; len <= sizeof datums[i]; len += 4) {
      sl_arena *a = sl_arena_new(0);
      sl_record *r = NULL;
      sl_error err;
      sl_error_clear(&err);
      if (!a)
        fuzz_fail("out of memory");
      (void)sl_avro_decode(s, datums[i], len, a, &r, &err);
      sl_arena_destroy(a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *rest;
  size_t rest_len;
  size_t wlen = fuzz_split(data, size, &rest, &rest_len);
  sl_error err;
  sl_error_clear(&err);
  sl_avro_schema *w = sl_avro_schema_parse((const char *)data, wlen, &err);
  sl_avro_schema *r = NULL, *res = NULL;
  if (w) {
    (void)sl_avro_schema_json(w);
    decode_all(w);
  }
  if (rest && (r = sl_avro_schema_parse((const char *)rest, rest_len, &err))) {
    decode_all(r);
    if (w && (res = sl_avro_schema_resolve(w, r, &err)))
      decode_all(res);
  }
  sl_avro_schema_free(res);
  sl_avro_schema_free(r);
  sl_avro_schema_free(w);
  return 0;
}
