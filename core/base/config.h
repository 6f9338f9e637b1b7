/* SPDX-License-Identifier: Apache-2.0 */
/* Building and validating sl_config trees (the C copy of a Lua options table).
 * The Lua loader builds them; tests build them by hand. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include "sluice/operator.h"

typedef enum sl_config_kind {
  SL_CV_STRING,
  SL_CV_NUMBER,
  SL_CV_BOOL,
  SL_CV_LIST, /* list of strings */
  SL_CV_TABLE,
  SL_CV_FUNCTION,
} sl_config_kind;

/* `file` is copied. */
sl_config *sl_config_new(const char *file, int line);
void sl_config_destroy(sl_config *c); /* NULL is a no-op; frees children and functions */

/* Each put copies `key` and string values; replaces an existing key. */
int sl_config_put_string(sl_config *c, const char *key, const char *val);
int sl_config_put_number(sl_config *c, const char *key, double val);
int sl_config_put_bool(sl_config *c, const char *key, int val);
int sl_config_put_list(sl_config *c, const char *key, const char *const *items, size_t n);
/* Takes ownership of `child` (also on failure). */
int sl_config_put_table(sl_config *c, const char *key, sl_config *child);
/* Takes ownership of `fn`; `free_fn` releases it with the config. */
int sl_config_put_function(sl_config *c, const char *key, sl_lua_fn *fn,
                           void (*free_fn)(sl_lua_fn *));

/* Kind of a key's value; -1 when absent. */
int sl_config_kind_of(const sl_config *c, const char *key);
/* Number of a key as double (for numbers), with is_int telling integrality. */
int sl_config_number(const sl_config *c, const char *key, double *out);

/* Called once per problem found by sl_config_validate. */
typedef void (*sl_config_problem_fn)(void *ud, const sl_config *c, const char *message);

/* Check `c` against the descriptor's config map: unknown keys (with a
 * suggestion), missing required keys, wrong types, bad durations. Expression
 * syntax is checked by the caller. Returns the number of problems. */
int sl_config_validate(const sl_config *c, const sl_operator_desc *d, sl_config_problem_fn fn,
                       void *ud);

/* Levenshtein distance, used for "did you mean" suggestions everywhere. */
size_t sl_edit_distance(const char *a, const char *b);
/* The candidate closest to `word` (distance <= 2 or a shared prefix), or NULL. */
const char *sl_suggest(const char *word, const char *const *candidates, size_t n);

#endif
