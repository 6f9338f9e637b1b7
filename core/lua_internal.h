/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the Lua bridge (pcall, values) and the `sluice` module. */
#ifndef SLUICE_LUA_INTERNAL_H
#define SLUICE_LUA_INTERNAL_H

#include <lua.h>

#include "lua_pipeline.h"

struct sl_lua {
  lua_State *L;
  sl_graph_desc *graph;  /* being built */
  sl_registry *reg;
  const char *const *params;
  size_t nparams;
  char *dir;             /* directory of the pipeline file, for relative paths */
};

struct sl_lua_fn {
  lua_State *L;
  int ref; /* in LUA_REGISTRYINDEX */
};

/* Registers `require "sluice"` (lua_pipeline.c). */
void sl_lua_open_module(sl_lua *lua);
/* Push `r` as a Lua table (lua_bridge.c). */
void sl_lua_push_record(lua_State *L, const sl_record *r);

#endif
