/* SPDX-License-Identifier: Apache-2.0 */
/* `p:table{}` declarations: pipeline-level like `p:dead_letter{}`, but not
 * nodes of the graph (a table is neither a source nor a sink: it is read in
 * full by every worker, beside the graph). Kept in sl_graph_desc.tables. */
#ifndef SLUICE_TABLE_DECL_H
#define SLUICE_TABLE_DECL_H

#include "lang/graph.h"

/* Add a declaration (takes `cfg`, also on failure). */
void sl_graph_add_table(sl_graph_desc *g, sl_config *cfg);
/* Free the declarations (called by sl_graph_desc_free). */
void sl_table_decls_free(sl_graph_desc *g);
/* Check every declaration (options, unique ids, path xor topic) and that
 * every `enrich` names a declared table; appends file:line errors to g. */
void sl_table_decls_validate(sl_graph_desc *g);
/* The config map of p:table{}, for docs and tests. */
extern const sl_config_entry sl_table_config[];

#endif
