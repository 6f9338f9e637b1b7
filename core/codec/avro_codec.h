/* SPDX-License-Identifier: Apache-2.0 */
/* Avro record codec: binary Avro datums <-> sl_record through a compiled schema plan
 * (internal, never installed). */
#ifndef SLUICE_AVRO_CODEC_H
#define SLUICE_AVRO_CODEC_H

#include <stddef.h>

#include "base/buf.h"
#include "codec/decode_limits.h"
#include "sluice/record.h"

typedef struct sl_avro_schema sl_avro_schema;  /* a compiled decode/encode plan */
/* Parse an Avro schema (JSON text) using Avro-C (avro_schema_from_json_length) for validation,
 * and jansson to read logicalType annotations (Avro-C 1.11 ignores them); compile a flat plan.
 * Supported: null boolean int long float double bytes string record enum array map fixed
 * union (incl. ["null", T]), nested records; logical types timestamp-millis and
 * timestamp-micros (decoded to SL_TYPE_INT *milliseconds*, micros divided down — sluice's time
 * unit is ms; encode multiplies back), date, decimal as bytes. Top-level must be a record. */
sl_avro_schema *sl_avro_schema_parse(const char *json, size_t len, sl_error *err);
sl_avro_schema *sl_avro_schema_load(const char *path, sl_error *err);   /* reads the file */
/* Resolution for schema evolution: a plan that reads data written with `writer` into the
 * shape of `reader` (Avro spec resolution rules: fields matched by name (and aliases if easy),
 * writer-only fields skipped, reader-only fields take their default or error if none, int->long->
 * float->double and string<->bytes promotion, union branch matching, enum symbols). */
sl_avro_schema *sl_avro_schema_resolve(const sl_avro_schema *writer, const sl_avro_schema *reader, sl_error *err);
void sl_avro_schema_free(sl_avro_schema *s);
const char *sl_avro_schema_json(const sl_avro_schema *s);   /* canonical-ish JSON text kept */
/* Decode one datum of binary Avro (no container, no wire-format header) into a record from `a`.
 * Errors: SL_ERR_PARSE "truncated record: needed 8 bytes for field 'temperature' at byte 12",
 * "union branch 5 out of range for field 'x'", bad varint, negative length, trailing bytes
 * ("3 bytes left after the record"). Never reads past len (fuzz-safe). */
int sl_avro_decode(const sl_avro_schema *s, const void *buf, size_t len, sl_arena *a, sl_record **out, sl_error *err);
/* sl_avro_decode with limits (decode_limits.h; `opts` may be NULL for the defaults): a map of
 * more than opts->max_fields entries, or more values that take no wire bytes (array<null>
 * items, empty records) than 256 + the datum's length (at most 65536), fail with SL_ERR_LIMIT, and
 * opts->reason names the dead-letter reason of any failure. */
int sl_avro_decode_opts(const sl_avro_schema *s, const void *buf, size_t len,
                        sl_decode_opts *opts, sl_arena *a, sl_record **out, sl_error *err);
/* sl_avro_decode_opts for the bytes of a record a source read: the result carries `meta`'s
 * key, position, timestamp, headers and raw bytes (borrowed, see sl_record_init_meta), so
 * `buf` lies within meta's raw bytes (after a wire-format header, say). NULL `meta`: none. */
int sl_avro_decode_meta(const sl_avro_schema *s, const void *buf, size_t len, const sl_record *meta,
                        sl_decode_opts *opts, sl_arena *a, sl_record **out, sl_error *err);
/* sl_avro_decode_meta of the raw bytes of each record ins[i] (as meta) into outs[i], in
 * order, up to the first that fails or has no raw bytes: returns how many were decoded.
 * When that is less than n and ins[return]'s raw bytes are set, err and opts->reason are
 * those of its failure; else they are untouched. For callers with a batch: one call per
 * batch where one per record cost ~70 instructions in layers and prologues. */
size_t sl_avro_decode_records(const sl_avro_schema *s, sl_record *const *ins, size_t n,
                              sl_decode_opts *opts, sl_arena *a, sl_record **outs, sl_error *err);
/* Encode a record to binary Avro. Missing field with a union containing null -> null; missing
 * required field -> SL_ERR_TYPE "field 'x' is required by the schema"; int<->double conversion
 * where lossless-ish (int into double ok; double into long only if integral), string for enum. */
int sl_avro_encode(const sl_avro_schema *s, const sl_record *r, sl_buf *out, sl_error *err);

/* Notes beyond the contract above (see docs/formats.md):
 *  - a map decodes to a nested record whose field names are the interned map keys (so
 *    every distinct key lives for the process: use maps for bounded key sets);
 *  - an enum decodes to its symbol as a string; fixed and decimal decode to bytes;
 *  - a missing field that has a schema default is encoded with that default;
 *  - a plan made by sl_avro_schema_resolve only decodes; sl_avro_encode refuses it. */

#endif
