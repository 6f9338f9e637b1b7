/* SPDX-License-Identifier: Apache-2.0 */
/* Reading Avro object container files (file_source{format = "avro"}). */
#ifndef SLUICE_AVRO_FILE_H
#define SLUICE_AVRO_FILE_H

#include "sluice/record.h"

typedef struct sl_avro_file sl_avro_file;

/* Open `path`; the writer schema comes from the file's header. */
sl_avro_file *sl_avro_file_open(const char *path, sl_error *err);
void sl_avro_file_close(sl_avro_file *f); /* NULL is a no-op */
/* The next datum as a record in `a`, with its binary encoding as raw bytes.
 * Returns 1 with *out set, 0 at the end of the file, or a negative status:
 * SL_ERR_PARSE means this datum could not be used (*out then holds a record
 * with only raw bytes, for the dead letter) and reading may continue. */
int sl_avro_file_next(sl_avro_file *f, sl_arena *a, sl_record **out, sl_error *err);

#endif
