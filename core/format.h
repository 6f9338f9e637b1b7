/* SPDX-License-Identifier: Apache-2.0 */
/* Record formats chosen by `format = ...` options (decode, encode, sources
 * and sinks): JSON, Avro with a schema file, or raw bytes. Schemas are loaded
 * once when the format is opened, never per record. */
#ifndef SLUICE_FORMAT_H
#define SLUICE_FORMAT_H

#include "buf.h"
#include "sluice/operator.h"

typedef struct sl_format sl_format;

/* From options `format` (default `def`) and `schema` (a path relative to the
 * pipeline file). */
sl_format *sl_format_open(const sl_config *cfg, const char *def, sl_error *err);
void sl_format_free(sl_format *f); /* NULL is a no-op */
const char *sl_format_name(const sl_format *f);
/* Bytes -> record in `a`. The record keeps `buf` as its raw bytes. */
int sl_format_decode(const sl_format *f, const void *buf, size_t len, sl_arena *a, sl_record **out,
                     sl_error *err);
/* Record -> bytes appended to `out`. */
int sl_format_encode(const sl_format *f, const sl_record *r, sl_buf *out, sl_error *err);

/* Resolve `path` relative to the directory of the pipeline file `file`. */
void sl_path_relative_to(const char *file, const char *path, char *out, size_t n);

#endif
