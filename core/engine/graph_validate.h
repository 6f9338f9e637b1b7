/* SPDX-License-Identifier: Apache-2.0 */
/* Validation of a graph description (engine/graph_validate.c). */
#ifndef SLUICE_GRAPH_VALIDATE_H
#define SLUICE_GRAPH_VALIDATE_H

#include "lang/graph.h"

/* Validate every node against the registry (unknown types, options,
 * expressions, operator init) and run the checks of lang/; appends to
 * g->errors and g->warnings. */
void sl_graph_validate(sl_graph_desc *g, const sl_registry *reg, const char *source_text);

#endif
