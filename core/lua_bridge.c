/* SPDX-License-Identifier: Apache-2.0 */
/* The one place where C calls into Lua under lua_pcall: running a pipeline
 * file while the graph is built, and calling explicit Lua-function options
 * (filter/map) per record. No Lua error unwinds past this file. */
#include <lauxlib.h>
#include <lualib.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec_names.h"
#include "lua_internal.h"

static int traceback_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  lua_pushstring(L, msg ? msg : "(error object is not a string)");
  return 1;
}

sl_graph_desc *sl_lua_load_pipeline(const char *path, const char *const *params, size_t nparams,
                                    sl_registry *reg, sl_lua **lua_out, sl_error *err) {
  *lua_out = NULL;
  sl_lua *lua = calloc(1, sizeof *lua);
  sl_graph_desc *g = calloc(1, sizeof *g);
  char *pathcopy = strdup(path);
  if (!lua || !g || !pathcopy)
    goto out_nomem;
  g->file = strdup(path);
  g->state = strdup("memory");
  g->checkpoint_ms = 1000;
  /* The default name is the file's base name without ".lua". */
  char *base = strdup(path);
  if (!g->file || !g->state || !base)
    goto out_nomem;
  char *b = basename(base);
  char *dot = strrchr(b, '.');
  if (dot && strcmp(dot, ".lua") == 0)
    *dot = '\0';
  g->name = strdup(b);
  free(base);
  lua->dir = strdup(dirname(pathcopy));
  free(pathcopy);
  pathcopy = NULL;
  if (!g->name || !lua->dir)
    goto out_nomem;
  lua->graph = g;
  lua->reg = reg;
  lua->params = params;
  lua->nparams = nparams;
  lua->L = luaL_newstate();
  if (!lua->L)
    goto out_nomem;
  luaL_openlibs(lua->L);
  sl_lua_open_module(lua);
  /* Let pipelines `require` Lua helper files that sit next to them. */
  lua_getglobal(lua->L, "package");
  lua_pushfstring(lua->L, "%s/?.lua;", lua->dir);
  lua_getfield(lua->L, -2, "path");
  lua_concat(lua->L, 2);
  lua_setfield(lua->L, -2, "path");
  lua_pop(lua->L, 1);

  lua_pushcfunction(lua->L, traceback_handler);
  int status = luaL_loadfile(lua->L, path);
  if (status == LUA_ERRFILE) {
    sl_error_set(err, SL_ERR_NOT_FOUND, "%s", lua_tostring(lua->L, -1));
    goto out_fail;
  }
  if (status == LUA_OK)
    status = lua_pcall(lua->L, 0, 0, -2);
  if (status != LUA_OK) {
    /* Lua messages already read "file:line: message". */
    g->aborted = 1;
    const char *msg = lua_tostring(lua->L, -1);
    char *copy = strdup(msg ? msg : "unknown Lua error");
    if (copy) {
      if (g->nerrors == g->caperrors) {
        size_t ncap = g->caperrors ? g->caperrors * 2 : 8;
        char **ne = realloc(g->errors, ncap * sizeof *ne);
        if (ne) {
          g->errors = ne;
          g->caperrors = ncap;
        }
      }
      if (g->nerrors < g->caperrors)
        g->errors[g->nerrors++] = copy;
      else
        free(copy);
    }
  }
  lua_settop(lua->L, 0);
  lua->graph = NULL;
  *lua_out = lua;
  return g;

out_nomem:
  sl_error_set(err, SL_ERR_NOMEM, "out of memory");
out_fail:
  free(pathcopy);
  sl_graph_desc_free(g);
  lua->graph = NULL;
  sl_lua_close(lua);
  return NULL;
}

void sl_lua_close(sl_lua *lua) {
  if (!lua)
    return;
  if (lua->L)
    lua_close(lua->L);
  free(lua->dir);
  free(lua);
}

static void push_value(lua_State *L, const sl_value *v) {
  switch (v->type) {
  case SL_TYPE_BOOL: lua_pushboolean(L, v->as.b); break;
  case SL_TYPE_INT: lua_pushinteger(L, v->as.i); break;
  case SL_TYPE_DOUBLE: lua_pushnumber(L, v->as.d); break;
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES: lua_pushlstring(L, v->as.str.ptr, v->as.str.len); break;
  case SL_TYPE_RECORD: sl_lua_push_record(L, v->as.rec); break;
  case SL_TYPE_ARRAY: {
    size_t n = sl_array_len(v->as.arr);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      push_value(L, sl_array_at(v->as.arr, i));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  }
  default: lua_pushnil(L);
  }
}

void sl_lua_push_record(lua_State *L, const sl_record *r) {
  size_t n = sl_record_count(r);
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    push_value(L, sl_record_value_at(r, i));
    lua_setfield(L, -2, sl_record_name_at(r, i));
  }
}

static int to_value(lua_State *L, int idx, sl_arena *a, sl_value *out, int depth);

static int table_to_record(lua_State *L, int idx, sl_arena *a, sl_value *out, int depth) {
  idx = lua_absindex(L, idx);
  size_t alen = lua_rawlen(L, idx);
  if (alen > 0) {
    sl_array *arr = sl_array_new(a, alen);
    if (!arr)
      return SL_ERR_NOMEM;
    for (size_t i = 1; i <= alen; i++) {
      sl_value item;
      lua_rawgeti(L, idx, (lua_Integer)i);
      int rc = to_value(L, -1, a, &item, depth + 1);
      lua_pop(L, 1);
      if (rc != SL_OK || (rc = sl_array_push(arr, item)) != SL_OK)
        return rc;
    }
    *out = sl_value_array(arr);
    return SL_OK;
  }
  sl_record *r = sl_record_new(a, 8);
  if (!r)
    return SL_ERR_NOMEM;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      return SL_ERR_TYPE;
    }
    size_t klen;
    const char *k = lua_tolstring(L, -2, &klen);
    sl_value v;
    int rc = to_value(L, -1, a, &v, depth + 1);
    lua_pop(L, 1);
    if (rc == SL_OK) {
      /* Per record for Lua functions: the per-thread cache keeps the global intern lock away. */
      sl_name name = sl_codec_name(k, klen);
      rc = name ? sl_record_set(r, name, v) : SL_ERR_NOMEM;
    }
    if (rc != SL_OK) {
      lua_pop(L, 1);
      return rc;
    }
  }
  *out = sl_value_record(r);
  return SL_OK;
}

static int to_value(lua_State *L, int idx, sl_arena *a, sl_value *out, int depth) {
  if (depth > 32)
    return SL_ERR_LIMIT;
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
  case LUA_TNONE: *out = sl_value_null(); return SL_OK;
  case LUA_TBOOLEAN: *out = sl_value_bool(lua_toboolean(L, idx)); return SL_OK;
  case LUA_TNUMBER:
    *out = lua_isinteger(L, idx) ? sl_value_int(lua_tointeger(L, idx))
                                 : sl_value_double(lua_tonumber(L, idx));
    return SL_OK;
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    char *copy = sl_arena_strndup(a, s, len);
    if (!copy)
      return SL_ERR_NOMEM;
    *out = sl_value_string(copy, len);
    return SL_OK;
  }
  case LUA_TTABLE: return table_to_record(L, idx, a, out, depth);
  default: return SL_ERR_TYPE;
  }
}

static int call_protected(lua_State *L) {
  /* Runs under pcall: building the argument table may raise on OOM. */
  const sl_record *r = lua_touserdata(L, 1);
  lua_pushvalue(L, 2); /* the function */
  sl_lua_push_record(L, r);
  lua_call(L, 1, 1);
  return 1;
}

int sl_lua_call(const sl_lua_fn *fn, const sl_record *r, sl_arena *a, sl_value *out,
                sl_error *err) {
  lua_State *L = fn->L;
  int top = lua_gettop(L);
  lua_pushcfunction(L, traceback_handler);
  lua_pushcfunction(L, call_protected);
  lua_pushlightuserdata(L, (void *)r);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn->ref);
  int rc = SL_OK;
  if (lua_pcall(L, 2, 1, top + 1) != LUA_OK) {
    rc = sl_error_set(err, SL_ERR_INVALID, "Lua function failed: %s", lua_tostring(L, -1));
  } else {
    rc = to_value(L, -1, a, out, 0);
    if (rc == SL_ERR_TYPE)
      sl_error_set(err, rc, "Lua function returned a value sluice cannot represent "
                            "(functions, userdata and non-string table keys are not values)");
    else if (rc != SL_OK)
      sl_error_set(err, rc, "cannot convert the Lua function's result: %s", sl_strerror(rc));
  }
  lua_settop(L, top);
  return rc;
}
