/* SPDX-License-Identifier: Apache-2.0 */
/* Dead letters (dead_letter.c): failed records, with their reason, queued
 * during a traversal and written to the dead-letter sink after it. */
#ifndef SLUICE_DEAD_LETTER_H
#define SLUICE_DEAD_LETTER_H

#include "engine/runtime_node.h"

/* Build the dead-letter record for `r` and queue it. */
int sl_runtime_dead_letter(sl_runtime *rt, sl_node *from, const sl_record *r, const char *reason,
                           const char *message);
/* Write queued dead letters to the dead-letter sink. */
int sl_runtime_flush_dead_letters(sl_runtime *rt, sl_error *err);
#endif
