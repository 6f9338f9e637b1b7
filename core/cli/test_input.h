/* SPDX-License-Identifier: Apache-2.0 */
/* The source of a `sluice test` case (test_input.c), below the case runner
 * (test_case.c): the runner reads the poll count, the source never calls
 * the runner. */
#ifndef SLUICE_TEST_INPUT_H
#define SLUICE_TEST_INPUT_H

#include "lang/connector.h"

/* The case source. Options: `path` (the input file; none: no
 * records), `format` (how the runtime decodes the lines: "json" or "raw"),
 * `name` (source name of the records), `avro_schema` (encode each input
 * object with this schema, for a decode{format = "avro"} downstream),
 * `line_offsets` (offsets are line numbers, as a file_source's). */
extern const sl_source_desc sl_test_input_source;
/* Polls of the case source since the last reset: each poll is the next
 * watermark advance, and the outputs of one advance form a group. One case
 * runs at a time (sl_test_case_run resets the count before it starts). */
long sl_test_input_polls(void);
void sl_test_input_reset_polls(void);

#endif
