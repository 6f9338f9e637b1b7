/* SPDX-License-Identifier: Apache-2.0 */
/* What the fuzz targets of tests/fuzz/ share (README.md). Each target defines
 * LLVMFuzzerTestOneInput (and maybe LLVMFuzzerInitialize); libFuzzer, or
 * replay_main.c without clang, calls them. */
#ifndef SLUICE_FUZZ_SUPPORT_H
#define SLUICE_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Stop the run with a message on stderr and abort() (libFuzzer saves the
 * input): for an invariant the code under test broke, e.g. a round trip. */
void fuzz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Deep equality of two values / records (doubles bitwise, names by pointer). */
int fuzz_value_equal(const sl_value *a, const sl_value *b);
int fuzz_record_equal(const sl_record *a, const sl_record *b);

/* Split `data` at its first NUL byte: the part before it, and after it in
 * `*rest` and `*rest_len` (NULL and 0 without a NUL). */
size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **rest, size_t *rest_len);

/* A NUL-terminated heap copy of `size` bytes (the caller frees it). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Quiet sluice's logging below errors: what LLVMFuzzerInitialize does when
 * a target defines none (fuzz_support.c); targets that define one call it. */
void fuzz_quiet_logs(void);

/* fuzz_lua.c: reset the instruction budget of the Lua states (per input). */
void fuzz_lua_new_input(void);

#endif
