/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the Lua bridge (pcall, values) and the `sluice` module. */
#ifndef SLUICE_LUA_INTERNAL_H
#define SLUICE_LUA_INTERNAL_H

#include <lua.h>

#include "lang/lua_pipeline.h"
#include "lang/lua_sandbox.h"

struct sl_lua {
  lua_State *L;
  sl_graph_desc *graph;  /* being built */
  sl_registry *reg;
  const char *const *params;
  size_t nparams;
  char *dir;             /* directory of the pipeline file, for relative paths */
  sl_lua_guard guard;    /* the state's limits; lives as long as L */
};

struct sl_lua_fn {
  lua_State *L;
  int ref; /* in LUA_REGISTRYINDEX */
};

/* Registers `require "sluice"` (lua_pipeline.c). */
void sl_lua_open_module(sl_lua *lua);
/* Push `r` as a Lua table (lua_bridge.c). Raises (so: under lua_pcall) when
 * the record nests deeper than SL_LUA_MAX_DEPTH or Lua runs out of memory. */
void sl_lua_push_record(lua_State *L, const sl_record *r);

#endif
