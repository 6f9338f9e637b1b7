/* SPDX-License-Identifier: Apache-2.0 */
/* The pipeline language: runs a pipeline file in Lua and returns the graph it
 * declares. Lua only declares: after loading, nothing of the graph refers to
 * Lua except explicit Lua-function options (sl_lua_fn). */
#ifndef SLUICE_LUA_PIPELINE_H
#define SLUICE_LUA_PIPELINE_H

#include "lang/graph.h"

typedef struct sl_lua sl_lua; /* a Lua state plus the loader's context */

/* Run `path` with `--set` overrides ("a.b=v", `nparams` of them). Returns the
 * graph (errors, if any, are in graph->errors: the caller prints them) or
 * NULL with `err` set when the file cannot be run at all. `*lua_out`
 * receives the Lua state, kept alive for Lua-function options; free it with
 * sl_lua_close() after the graph's configs. `reg` receives plugins. */
sl_graph_desc *sl_lua_load_pipeline(const char *path, const char *const *params, size_t nparams,
                                    sl_registry *reg, sl_lua **lua_out, sl_error *err);
void sl_lua_close(sl_lua *lua); /* NULL is a no-op */
/* After a load without errors: SL_ERR_INVALID when a `--set` names a
 * parameter the pipeline never read with sl.param (a typo would otherwise
 * be silently ignored); the message lists the names it does read. */
int sl_lua_check_params(const sl_lua *lua, sl_error *err);

/* Call a Lua-function option (lua_bridge.c): the record is passed as a table;
 * the result (bool, number, string, nil or a table -> record) lands in `a`. */
int sl_lua_call(const sl_lua_fn *fn, const sl_record *r, sl_arena *a, sl_value *out,
                sl_error *err);

#endif
