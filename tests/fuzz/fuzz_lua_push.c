/* SPDX-License-Identifier: Apache-2.0 */
/* Records into and out of Lua functions (core/lang/lua_bridge.c), as a Lua
 * `filter`/`map` sees every Kafka record: the first byte picks the function,
 * the rest is a JSON record (as a source decodes it). The record is pushed
 * as a table, the function runs, and its result is converted back. */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "codec/json_codec.h"
#include "fuzz_support.h"
#include "lang/lua_internal.h"
#include "lang/lua_sandbox.h"

static const char *const functions[] = {
    /* identity: push, then convert the same table back */
    "return function(r) return r end",
    /* walk every nested table, as user code reading fields does */
    "return function(r)\n"
    "  local n = 0\n"
    "  local function walk(t, d)\n"
    "    for k, v in pairs(t) do\n"
    "      n = n + 1\n"
    "      if type(v) == 'table' and d < 200 then walk(v, d + 1) end\n"
    "    end\n"
    "  end\n"
    "  walk(r, 0)\n"
    "  return n\n"
    "end",
    /* a map adding and replacing fields */
    "return function(r)\n"
    "  r.extra = {1, 2.5, 'three', {x = 'y'}, true}\n"
    "  r.temperature = (tonumber(r.temperature) or 0) * 2\n"
    "  return r\n"
    "end",
    /* a filter */
    "return function(r) return r.temperature ~= nil and r.machine_id ~= nil end",
};
#define NFUNCTIONS (sizeof functions / sizeof functions[0])

static lua_State *L;
static sl_lua_guard guard; /* the limits a pipeline's per-record functions run under */
static sl_lua_fn fns[NFUNCTIONS];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  /* The state a pipeline's functions get: the sandbox and its per-record limits. */
  if (!(L = sl_lua_sandbox_new(&guard)))
    fuzz_fail("no Lua state");
  lua_pushcfunction(L, sl_lua_sandbox_open);
  lua_pushliteral(L, ".");
  if (lua_pcall(L, 1, 0, 0) != LUA_OK)
    fuzz_fail("sandbox: %s", lua_tostring(L, -1));
  for (size_t i = 0; i < NFUNCTIONS; i++) {
    if (luaL_dostring(L, functions[i]) != LUA_OK)
      fuzz_fail("function %zu: %s", i, lua_tostring(L, -1));
    fns[i].L = L;
    fns[i].ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  sl_arena *a = sl_arena_new(0);
  if (!a)
    fuzz_fail("out of memory");
  sl_record *r = NULL;
  sl_error err;
  sl_error_clear(&err);
  fuzz_lua_new_input();
  if (sl_json_decode((const char *)data + 1, size - 1, a, &r, &err) == SL_OK) {
    sl_value out;
    int top = lua_gettop(L);
    (void)sl_lua_call(&fns[data[0] % NFUNCTIONS], r, a, &out, &err);
    if (lua_gettop(L) != top)
      fuzz_fail("sl_lua_call left %d values on the Lua stack", lua_gettop(L) - top);
  }
  lua_gc(L, LUA_GCCOLLECT);
  sl_arena_destroy(a);
  return 0;
}
