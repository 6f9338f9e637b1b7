/* SPDX-License-Identifier: Apache-2.0 */
/* Every Lua state sluice makes inside a fuzz target is confined, through the
 * linker's --wrap (tests/fuzz/CMakeLists.txt):
 *  - luaL_newstate: a memory cap (an allocation past it fails as Lua's
 *    "not enough memory", not as libFuzzer's out-of-memory) and an
 *    instruction budget per input (a `while true do end` is an error, not a
 *    timeout): the fuzzer looks for bugs in sluice's C, not for Lua programs
 *    that run forever;
 *  - luaL_openlibs: no io, no debug, no os but time/clock/date, no C modules,
 *    text chunks only: a mutated pipeline file must not run commands or
 *    write files on the fuzzing machine (until the pipeline sandbox of issue 14
 *    lands, nothing else stops it);
 *  - sl_plugin_load: refused (no shared objects are loaded).
 * The targets that do not use Lua get the same wraps, which stay unused. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>

#include "fuzz_support.h"
#include "lang/registry.h"

#define FUZZ_LUA_MEMORY (64u << 20) /* bytes, all states together */
#define FUZZ_LUA_STEPS 20000000L    /* VM instructions per input */
#define FUZZ_LUA_HOOK_EVERY 1000    /* instructions between two hook calls */

lua_State *__real_luaL_newstate(void);
void __real_luaL_openlibs(lua_State *L);
lua_State *__wrap_luaL_newstate(void);
void __wrap_luaL_openlibs(lua_State *L);
int __wrap_sl_plugin_load(sl_registry *reg, const char *path, sl_error *err);

static size_t lua_memory; /* bytes held by every Lua state of the process */
static long lua_steps;    /* instructions run since fuzz_lua_new_input() */

void fuzz_lua_new_input(void) { lua_steps = 0; }

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    lua_memory -= old;
    return NULL;
  }
  if (nsize > old && nsize - old > FUZZ_LUA_MEMORY - lua_memory)
    return NULL;
  void *p = realloc(ptr, nsize);
  if (p)
    lua_memory = lua_memory - old + nsize;
  return p;
}

static void budget_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_steps += FUZZ_LUA_HOOK_EVERY;
  if (lua_steps > FUZZ_LUA_STEPS)
    luaL_error(L, "fuzz: instruction budget of %d exceeded", (int)FUZZ_LUA_STEPS);
}

lua_State *__wrap_luaL_newstate(void) {
  lua_State *L = lua_newstate(capped_alloc, NULL);
  if (L)
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, FUZZ_LUA_HOOK_EVERY);
  return L;
}

static const char confine[] =
    "io = nil; debug = nil; dofile = nil; loadfile = nil\n"
    "local time, clock, date = os.time, os.clock, os.date\n"
    "os = {time = time, clock = clock, date = date}\n"
    "package.loadlib = nil; package.cpath = ''; package.path = ''\n"
    "table.remove(package.searchers, 4); table.remove(package.searchers, 3)\n"
    "local text_load = load\n"
    "load = function(chunk, name, _, env) return text_load(chunk, name, 't', env) end\n";

void __wrap_luaL_openlibs(lua_State *L) {
  __real_luaL_openlibs(L);
  if (luaL_dostring(L, confine) != LUA_OK)
    fuzz_fail("confining the Lua libraries failed: %s", lua_tostring(L, -1));
}

int __wrap_sl_plugin_load(sl_registry *reg, const char *path, sl_error *err) {
  (void)reg;
  return sl_error_set(err, SL_ERR_INVALID, "%s: plugins are not loaded by the fuzz targets", path);
}
