/* SPDX-License-Identifier: Apache-2.0 */
/* The restricted Lua that pipeline files and their per-record functions run
 * in (SPEC section 9): base (without dofile/loadfile, `load` of text only),
 * string, table, math, utf8 and os.time/clock/date; `require` of Lua files
 * beside the pipeline; stubs that say what is not available rather than a
 * puzzling "attempt to index a nil value". And the limits: an allocator that
 * counts and refuses past a cap, and a count hook that ends a call past its
 * instruction budget. Everything that raises here runs under the bridge's
 * lua_pcall (lua_bridge.c). */
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lua_sandbox.h"

#define NOT_AVAILABLE "is not available in pipeline files"

/* Libraries that do not exist in a pipeline file, each replaced by a table
 * whose every field raises "LIB.NAME is not available in pipeline files". */
static const char *const forbidden_libs[] = {"io", "debug", "package", "coroutine", NULL};

static void note_where(sl_lua_guard *g) {
  lua_Debug ar;
  g->where[0] = '\0';
  if (!g->L)
    return;
  for (int level = 0; lua_getstack(g->L, level, &ar); level++)
    if (lua_getinfo(g->L, "Sl", &ar) && ar.currentline > 0) {
      snprintf(g->where, sizeof g->where, "%s:%d", ar.short_src, ar.currentline);
      return;
    }
}

/* Lua allocations, counted; growth past the cap is refused, which Lua turns
 * into an emergency collection and then a memory error. Lua requires that
 * shrinking never fails, so only growth is checked. */
static void *guard_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  sl_lua_guard *g = ud;
  size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
  if (nsize == 0) {
    free(ptr);
    g->used -= old;
    return NULL;
  }
  if (nsize > old && g->used - old + nsize > g->cap) {
    g->refused = 1;
    if (g->where_in_alloc)
      note_where(g);
    else
      g->where[0] = '\0';
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p)
    g->used = g->used - old + nsize;
  return p;
}

static void guard_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  sl_lua_guard *g = sl_lua_guard_of(L);
  if (!g->exhausted) {
    g->exhausted = 1;
    note_where(g);
  }
  /* From now on every instruction raises: a pcall in the script cannot
   * swallow the error and carry on. */
  lua_sethook(L, guard_hook, LUA_MASKCOUNT, 1);
  luaL_error(L, "Lua instruction budget exhausted");
}

/* Where a memory error happened is read from inside the allocator. Lua keeps
 * the running position valid wherever it may allocate (a memory error needs
 * it), but from 5.4.5 on the stack pointers are offsets while the stack itself
 * is reallocated; so only the library's release (not the headers') 5.4.0-4
 * is trusted. Elsewhere the message names the function instead of the line. */
static int where_in_alloc_is_safe(void) {
  const char *v = strstr(lua_ident, "Lua 5.4.");
  return v && v[8] >= '0' && v[8] <= '4' && (v[9] < '0' || v[9] > '9');
}

lua_State *sl_lua_sandbox_new(sl_lua_guard *g) {
  memset(g, 0, sizeof *g);
  g->where_in_alloc = where_in_alloc_is_safe();
  g->cap = (size_t)SL_LUA_LOAD_MEMORY_MB << 20;
  g->budget = SL_LUA_LOAD_INSTRUCTIONS;
  g->run_cap = (size_t)SL_LUA_RUN_MEMORY_MB << 20;
  g->run_budget = SL_LUA_RUN_INSTRUCTIONS;
  g->L = lua_newstate(guard_alloc, g);
  if (g->L)
    sl_lua_guard_arm(g, g->cap, g->budget);
  return g->L;
}

sl_lua_guard *sl_lua_guard_of(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return ud;
}

void sl_lua_guard_arm(sl_lua_guard *g, size_t cap, long budget) {
  g->exhausted = g->refused = g->too_deep = 0;
  g->cap = cap;
  g->budget = budget;
  lua_sethook(g->L, guard_hook, LUA_MASKCOUNT, (int)(budget > INT32_MAX ? INT32_MAX : budget));
}

int sl_lua_guard_configure(sl_lua_guard *g, const sl_config *lua_opts, char *msg, size_t n) {
  if (!lua_opts)
    return 0;
  double instr = sl_config_double(lua_opts, "instructions", (double)SL_LUA_RUN_INSTRUCTIONS);
  double mb = sl_config_double(lua_opts, "memory_mb", (double)SL_LUA_RUN_MEMORY_MB);
  if (!(instr >= 1000 && instr <= INT32_MAX) || instr != floor(instr)) {
    snprintf(msg, n, "lua.instructions must be an integer from 1000 to %d, not %g", INT32_MAX,
             instr);
    return -1;
  }
  if (!(mb >= 1 && mb <= 65536) || mb != floor(mb)) {
    snprintf(msg, n, "lua.memory_mb must be an integer from 1 to 65536, not %g", mb);
    return -1;
  }
  g->run_budget = (long)instr;
  g->run_cap = (size_t)mb << 20;
  return 0;
}

/* ---- stubs for what pipeline files cannot use ---------------------------- */

/* A global function that is not available; upvalue 1 is its name. */
static int forbidden_function(lua_State *L) {
  return luaL_error(L, "%s " NOT_AVAILABLE, lua_tostring(L, lua_upvalueindex(1)));
}

/* __index of a stub library; upvalue 1 is the library's name. */
static int forbidden_field(lua_State *L) {
  const char *lib = lua_tostring(L, lua_upvalueindex(1));
  if (lua_type(L, 2) == LUA_TSTRING)
    return luaL_error(L, "%s.%s " NOT_AVAILABLE, lib, lua_tostring(L, 2));
  return luaL_error(L, "%s " NOT_AVAILABLE, lib);
}

/* Push an empty table whose fields raise through forbidden_field. */
static void push_stub_table(lua_State *L, const char *lib, const luaL_Reg *keep) {
  lua_newtable(L);
  for (; keep && keep->name; keep++) {
    lua_pushcfunction(L, keep->func);
    lua_setfield(L, -2, keep->name);
  }
  lua_createtable(L, 0, 1);
  lua_pushstring(L, lib);
  lua_pushcclosure(L, forbidden_field, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
}

/* load(chunk [, chunkname [, mode [, env]]]) of text only: binary chunks skip
 * the compiler's checks and can crash the VM. Upvalue 1 is the real load. */
static int sandbox_load(lua_State *L) {
  int n = lua_gettop(L);
  if (n < 3) {
    lua_settop(L, 3);
    n = 3;
  }
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* ---- require ------------------------------------------------------------- */

/* Segments of letters, digits and '_' separated by '.', which map to
 * subdirectories: nothing can name a file outside the pipeline's directory. */
static int module_name_ok(const char *name) {
  int seg = 0;
  for (const char *p = name; *p; p++) {
    if (*p == '.') {
      if (seg == 0)
        return 0;
      seg = 0;
    } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '_') {
      seg++;
    } else {
      return 0;
    }
  }
  return seg > 0;
}

/* Push the loader for `name` (a preload function or a compiled file) and
 * the second argument it gets (":preload:" or the file's path). */
static void find_module(lua_State *L, const char *name) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  if (lua_getfield(L, -1, name) != LUA_TNIL) {
    lua_remove(L, -2);
    lua_pushliteral(L, ":preload:");
    return;
  }
  lua_pop(L, 2);
  for (const char *const *lib = forbidden_libs; *lib; lib++)
    if (strcmp(name, *lib) == 0)
      luaL_error(L, "%s " NOT_AVAILABLE, name);
  if (!module_name_ok(name))
    luaL_error(L,
               "require \"%s\": modules are Lua files beside the pipeline file, named with "
               "letters, digits, '_' and '.' for subdirectories",
               name);
  lua_pushstring(L, lua_tostring(L, lua_upvalueindex(1)));
  lua_pushliteral(L, "/");
  luaL_gsub(L, name, ".", "/");
  lua_pushliteral(L, ".lua");
  lua_concat(L, 4);
  const char *path = lua_tostring(L, -1);
  int status = luaL_loadfilex(L, path, "t");
  if (status == LUA_ERRFILE)
    luaL_error(L,
               "module '%s' not found: no file '%s' (require loads only Lua files beside the "
               "pipeline file)",
               name, path);
  if (status != LUA_OK)
    lua_error(L); /* a syntax error already reads "file:line: message" */
  lua_insert(L, -2);
}

/* require(name): "sluice", a library already opened, or NAME.lua in the
 * pipeline's directory (upvalue 1), cached like Lua's own require. */
static int sandbox_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE); /* 2 */
  if (lua_getfield(L, 2, name) != LUA_TNIL && lua_toboolean(L, -1))
    return 1;
  lua_pop(L, 1);
  find_module(L, name); /* 3: loader, 4: its data */
  lua_pushvalue(L, 1);
  lua_insert(L, -2);
  lua_call(L, 2, 1);
  if (!lua_isnil(L, -1))
    lua_setfield(L, 2, name);
  else
    lua_pop(L, 1);
  if (lua_getfield(L, 2, name) == LUA_TNIL) { /* a module that returned nothing */
    lua_pushboolean(L, 1);
    lua_copy(L, -1, -2);
    lua_setfield(L, 2, name);
  }
  return 1;
}

/* ---- opening ------------------------------------------------------------- */

static void open_restricted_os(lua_State *L) {
  lua_pushcfunction(L, luaopen_os);
  lua_call(L, 0, 1); /* the real os, kept only long enough to copy from */
  push_stub_table(L, "os", NULL);
  static const char *const keep[] = {"time", "clock", "date", NULL};
  for (const char *const *k = keep; *k; k++) {
    lua_getfield(L, -2, *k);
    lua_setfield(L, -2, *k);
  }
  lua_remove(L, -2);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "os"); /* require "os" gets this one too */
  lua_pop(L, 1);
  lua_setglobal(L, "os");
}

int sl_lua_sandbox_open(lua_State *L) {
  luaL_checkstring(L, 1);
  static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
                                  {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                                  {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL}};
  for (const luaL_Reg *lib = libs; lib->name; lib++) {
    luaL_requiref(L, lib->name, lib->func, 1);
    lua_pop(L, 1);
  }
  open_restricted_os(L);
  static const char *const gone[] = {"dofile", "loadfile", NULL};
  for (const char *const *f = gone; *f; f++) {
    lua_pushstring(L, *f);
    lua_pushcclosure(L, forbidden_function, 1);
    lua_setglobal(L, *f);
  }
  for (const char *const *lib = forbidden_libs; *lib; lib++) {
    push_stub_table(L, *lib, NULL);
    lua_setglobal(L, *lib);
  }
  lua_getglobal(L, "load");
  lua_pushcclosure(L, sandbox_load, 1);
  lua_setglobal(L, "load");
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, sandbox_require, 1);
  lua_setglobal(L, "require");
  return 0;
}
