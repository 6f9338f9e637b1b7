/* SPDX-License-Identifier: Apache-2.0 */
/* Interning of names that come from data (internal, never installed): see core/base/name.c. */
#ifndef SLUICE_NAME_INTERNAL_H
#define SLUICE_NAME_INTERNAL_H

#include <stddef.h>

#include "sluice/record.h"

/* Names the decoders may create for the life of the process (JSON keys, Avro map keys). */
#define SL_NAME_DATA_MAX 65536
/* ...and the memory they may take, 16 MiB (a JSON key can be as long as the message). */
#define SL_NAME_DATA_BYTES (16u << 20)

/* The interned name of s[0..len) in *out: SL_OK (found, or created within the budget of
 * SL_NAME_DATA_MAX names and SL_NAME_DATA_BYTES from data), SL_ERR_LIMIT (new, and the
 * budget is spent: nothing is created) or SL_ERR_NOMEM. */
int sl_name_intern_data(const char *s, size_t len, sl_name *out);
/* Names created so far by sl_name_intern_data (for tests and metrics). */
size_t sl_name_data_count(void);
/* Tests: change the budget (SL_NAME_DATA_MAX by default). */
void sl_name_set_data_max(size_t max);

#endif
