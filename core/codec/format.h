/* SPDX-License-Identifier: Apache-2.0 */
/* Record formats chosen by `format = ...` options (decode, encode, sources
 * and sinks): JSON, Avro with a schema file, or raw bytes. Schemas are loaded
 * once when the format is opened, never per record. */
#ifndef SLUICE_FORMAT_H
#define SLUICE_FORMAT_H

#include "base/buf.h"
#include "codec/decode_limits.h"
#include "schema_registry.h"
#include "sluice/operator.h"

typedef struct sl_format sl_format;

/* From options `format` (default `def`) and `schema` (a path relative to the
 * pipeline file). With format = "avro", `registry = URL` selects the
 * Confluent wire format (magic byte 0, 4-byte big-endian schema id, datum):
 *  - decoding fetches each writer schema by id (once per id) and, when
 *    `schema` is given, resolves it against that reader schema;
 *  - encoding needs `schema` and a subject (option `subject`, else
 *    `default_subject`); the schema is registered under it by
 *    sl_format_register(), or by the first encode (never at open, so that
 *    `sluice check` registers nothing).
 * `registry_timeout` (duration, default 5s) bounds each registry request. */
sl_format *sl_format_open_subject(const sl_config *cfg, const char *def,
                                  const char *default_subject, sl_error *err);
/* sl_format_open_subject without a default subject. */
sl_format *sl_format_open(const sl_config *cfg, const char *def, sl_error *err);
void sl_format_free(sl_format *f); /* NULL is a no-op */
const char *sl_format_name(const sl_format *f);
/* The registry client (owned by `f`), or NULL without `registry`. */
sl_registry_client *sl_format_registry(const sl_format *f);
/* Register the schema under the subject now (sinks call it at open to fail
 * fast). No-op without a registry subject or when already registered. A
 * failure is remembered for SL_REGISTRY_RETRY_MS: encodes meanwhile fail
 * with it, without a request. */
int sl_format_register(const sl_format *f, sl_error *err);
/* The id the schema was registered under, -1 when not (yet) registered. */
int32_t sl_format_schema_id(const sl_format *f);
/* Bytes -> record in `a`. The record keeps `buf` as its raw bytes. Not
 * thread-safe with a registry (it fills the plan cache). Limits: option
 * `max_fields` (fields of one record, object or map, default
 * SL_DECODE_MAX_FIELDS) and those of decode_limits.h; with a registry,
 * `registry_lookups_per_minute` and `registry_max_ids`
 * (sl_registry_client_set_limits). On failure *reason (when not NULL) gets
 * the dead-letter reason: "decode" for malformed input, else an SL_REASON_*
 * of decode_limits.h naming the limit. */
int sl_format_decode(const sl_format *f, const void *buf, size_t len, sl_arena *a, sl_record **out,
                     const char **reason, sl_error *err);
/* sl_format_decode of the raw bytes of each record ins[i], a record a source read, into
 * outs[i], in order, up to the first that fails: returns how many were decoded. Each result
 * also carries its input's key, position, timestamp, headers and raw bytes, all borrowed
 * from the input, which lives in the same batch (sl_record_init_meta). When the return is
 * k < n, ins[k] failed: *reason and err say why ("record has no bytes to decode" when its
 * raw bytes are not set). The decode operator's entry: one call per batch (and one more
 * per failure), where a call per record and copying the metadata member by member cost
 * ~170 instructions more per record. */
size_t sl_format_decode_records(const sl_format *f, sl_record *const *ins, size_t n, sl_arena *a,
                                sl_record **outs, const char **reason, sl_error *err);
/* Record -> bytes appended to `out`. */
int sl_format_encode(const sl_format *f, const sl_record *r, sl_buf *out, sl_error *err);

/* Resolve `path` relative to the directory of the pipeline file `file`. */
void sl_path_relative_to(const char *file, const char *path, char *out, size_t n);

#endif
