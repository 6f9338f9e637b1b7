/* SPDX-License-Identifier: Apache-2.0 */
/* The registry of operators, sources and sinks by method name. Built-ins and
 * plugins register through the same sl_registry_add_operator(). */
#ifndef SLUICE_REGISTRY_H
#define SLUICE_REGISTRY_H

#include "lang/connector.h"
#include "sluice/operator.h"

typedef struct sl_registry sl_registry;

/* A registry holding every built-in operator, source and sink. */
sl_registry *sl_registry_new_builtin(sl_error *err);
void sl_registry_free(sl_registry *reg); /* NULL is a no-op; unloads plugins */

/* Check the descriptor's ABI version and size, then register it. `origin`
 * ("built-in" or a plugin path) is copied. */
int sl_registry_add_operator(sl_registry *reg, const sl_operator_desc *d, const char *origin,
                             sl_error *err);
int sl_registry_add_source(sl_registry *reg, const sl_source_desc *d);
int sl_registry_add_sink(sl_registry *reg, const sl_sink_desc *d);

const sl_operator_desc *sl_registry_operator(const sl_registry *reg, const char *name);
const sl_source_desc *sl_registry_source(const sl_registry *reg, const char *name);
const sl_sink_desc *sl_registry_sink(const sl_registry *reg, const char *name);
/* Closest registered method name to `name`, for "did you mean". */
const char *sl_registry_suggest(const sl_registry *reg, const char *name);
size_t sl_registry_operator_count(const sl_registry *reg);
const sl_operator_desc *sl_registry_operator_at(const sl_registry *reg, size_t i);

/* Allow plugins to load from `dir` (resolved with realpath; must exist).
 * Without any allowed directory no plugin loads. */
int sl_registry_allow_plugin_dir(sl_registry *reg, const char *dir, sl_error *err);
/* The same for each directory of a colon-separated list (SLUICE_PLUGIN_PATH);
 * empty entries are skipped. */
int sl_registry_allow_plugin_path(sl_registry *reg, const char *list, sl_error *err);

/* Load a plugin shared object and register its operators. Refused unless
 * the file (symlinks followed) sits directly in an allowed directory. */
int sl_plugin_load(sl_registry *reg, const char *path, sl_error *err);

#endif
