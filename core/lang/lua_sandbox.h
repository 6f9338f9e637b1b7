/* SPDX-License-Identifier: Apache-2.0 */
/* The restricted Lua of pipeline files (SPEC section 9) and its limits. */
#ifndef SLUICE_LUA_SANDBOX_H
#define SLUICE_LUA_SANDBOX_H

#include <lua.h>
#include <stddef.h>

#include "base/config.h"

/* Containers a record may nest when it goes to or comes from Lua: the same
 * bound as the JSON and Avro decoders (SL_JSON_MAX_DEPTH), so whatever they
 * accept a Lua function accepts too. */
#define SL_LUA_MAX_DEPTH 64

/* Evaluating the pipeline file itself (sluice check, run, graph). */
#define SL_LUA_LOAD_INSTRUCTIONS 100000000L
#define SL_LUA_LOAD_MEMORY_MB 256
/* Defaults for the Lua functions run per record (sl.pipeline{ lua = {...} }). */
#define SL_LUA_RUN_INSTRUCTIONS 1000000L
#define SL_LUA_RUN_MEMORY_MB 64

/* The limits of one Lua state, reached from the state through its allocator's
 * user data (lua_getallocf), so a sl_lua_fn needs nothing but its lua_State. */
typedef struct sl_lua_guard {
  lua_State *L;       /* the guarded state; its only thread (no coroutines) */
  size_t used;        /* bytes Lua holds now */
  size_t cap;         /* growth past this many bytes is refused */
  long budget;        /* instructions per Lua call (or for the whole file) */
  long run_budget;    /* per-record budget, set from the pipeline's options */
  size_t run_cap;     /* per-record memory cap in bytes */
  int exhausted;      /* the instruction budget ran out in this call */
  int refused;        /* the memory cap refused an allocation in this call */
  int too_deep;       /* a record nested past SL_LUA_MAX_DEPTH in this call */
  int where_in_alloc; /* the allocator may read the running line (Lua 5.4.0-5.4.4) */
  char where[128];    /* "file:line" of the Lua code running when a limit hit */
} sl_lua_guard;

/* A new state whose allocator counts into `g` (which must outlive it), with
 * the load limits set. NULL when out of memory. */
lua_State *sl_lua_sandbox_new(sl_lua_guard *g);
/* lua_CFunction, run under lua_pcall: opens the allowed libraries, the stubs
 * that name what is not available, and `require` of Lua files in the
 * directory given as argument 1 (a string). */
int sl_lua_sandbox_open(lua_State *L);
/* Start a Lua call: clear the flags, set the cap and a fresh instruction budget. */
void sl_lua_guard_arm(sl_lua_guard *g, size_t cap, long budget);
sl_lua_guard *sl_lua_guard_of(lua_State *L);
/* Read sl.pipeline{ lua = { instructions = N, memory_mb = N } } into the
 * run limits. Returns 0, or -1 with a message in `msg`. */
int sl_lua_guard_configure(sl_lua_guard *g, const sl_config *lua_opts, char *msg, size_t n);

#endif
