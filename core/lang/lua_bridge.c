/* SPDX-License-Identifier: Apache-2.0 */
/* The one place where C calls into Lua under lua_pcall: running a pipeline
 * file while the graph is built (in the sandbox of lua_sandbox.c, under the
 * load limits), and calling explicit Lua-function options (filter/map) per
 * record under the per-record limits. No Lua error unwinds past this file. */
#include <lauxlib.h>
#include <libgen.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_names.h"
#include "lang/lua_internal.h"

static int traceback_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  lua_pushstring(L, msg ? msg : "(error object is not a string)");
  return 1;
}

static void add_error(sl_graph_desc *g, const char *msg) {
  char *copy = strdup(msg);
  if (!copy)
    return;
  if (g->nerrors == g->caperrors) {
    size_t ncap = g->caperrors ? g->caperrors * 2 : 8;
    char **ne = realloc(g->errors, ncap * sizeof *ne);
    if (!ne) {
      free(copy);
      return;
    }
    g->errors = ne;
    g->caperrors = ncap;
  }
  g->errors[g->nerrors++] = copy;
}

/* Runs under lua_pcall: opening libraries allocates, and may raise. */
static int open_protected(lua_State *L) {
  sl_lua *lua = lua_touserdata(L, 1);
  lua_pushcfunction(L, sl_lua_sandbox_open);
  lua_pushstring(L, lua->dir);
  lua_call(L, 1, 0);
  sl_lua_open_module(lua);
  return 0;
}

/* The message of a failed pipeline file: Lua's own "file:line: message",
 * or which limit stopped it and where. */
static void load_failed(sl_lua *lua, sl_graph_desc *g, int status) {
  const sl_lua_guard *gd = &lua->guard;
  char msg[512];
  const char *where = gd->where[0] ? gd->where : g->file;
  if (gd->exhausted) {
    snprintf(msg, sizeof msg,
             "%s: the pipeline file ran more than %ld Lua instructions (an endless loop?)", where,
             (long)SL_LUA_LOAD_INSTRUCTIONS);
  } else if (status == LUA_ERRMEM && gd->refused) {
    snprintf(msg, sizeof msg, "%s: the pipeline file needs more than %d MB of Lua memory", where,
             SL_LUA_LOAD_MEMORY_MB);
  } else { /* Lua's message as is, however long */
    const char *m = lua_tostring(lua->L, -1);
    add_error(g, m ? m : "unknown Lua error");
    return;
  }
  add_error(g, msg);
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
  lua->L = sl_lua_sandbox_new(&lua->guard);
  if (!lua->L)
    goto out_nomem;
  lua_pushcfunction(lua->L, open_protected);
  lua_pushlightuserdata(lua->L, lua);
  if (lua_pcall(lua->L, 1, 0, 0) != LUA_OK)
    goto out_nomem;

  lua_pushcfunction(lua->L, traceback_handler);
  int status = luaL_loadfilex(lua->L, path, "t");
  if (status == LUA_ERRFILE) {
    sl_error_set(err, SL_ERR_NOT_FOUND, "%s", lua_tostring(lua->L, -1));
    goto out_fail;
  }
  if (status == LUA_OK)
    status = lua_pcall(lua->L, 0, 0, -2);
  if (status != LUA_OK) {
    g->aborted = 1; /* Lua messages already read "file:line: message" */
    load_failed(lua, g, status);
  }
  lua_settop(lua->L, 0);
  /* From here on Lua runs only per record, under the pipeline's limits. */
  sl_lua_guard_arm(&lua->guard, lua->guard.run_cap, lua->guard.run_budget);
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

/* Every container of a record pushed to Lua goes through here: past the
 * decoders' depth the record is refused (a dead letter, not a stack
 * overflow), and the Lua stack grows for what the level pushes. */
static void enter_level(lua_State *L, int depth) {
  if (depth > SL_LUA_MAX_DEPTH) {
    sl_lua_guard_of(L)->too_deep = 1;
    luaL_error(L, "record nests deeper than %d levels", SL_LUA_MAX_DEPTH);
  }
  luaL_checkstack(L, 3, "record too deep for the Lua stack");
}

static void push_record(lua_State *L, const sl_record *r, int depth);

static void push_value(lua_State *L, const sl_value *v, int depth) {
  switch (v->type) {
  case SL_TYPE_BOOL: lua_pushboolean(L, v->as.b); break;
  case SL_TYPE_INT: lua_pushinteger(L, v->as.i); break;
  case SL_TYPE_DOUBLE: lua_pushnumber(L, v->as.d); break;
  case SL_TYPE_STRING:
  case SL_TYPE_BYTES: lua_pushlstring(L, v->as.str.ptr, v->as.str.len); break;
  case SL_TYPE_RECORD: push_record(L, v->as.rec, depth + 1); break;
  case SL_TYPE_ARRAY: {
    enter_level(L, depth + 1);
    size_t n = sl_array_len(v->as.arr);
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
    for (size_t i = 0; i < n; i++) {
      push_value(L, sl_array_at(v->as.arr, i), depth + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  }
  default: lua_pushnil(L);
  }
}

static void push_record(lua_State *L, const sl_record *r, int depth) {
  enter_level(L, depth);
  size_t n = sl_record_count(r);
  lua_createtable(L, 0, n < INT32_MAX ? (int)n : 0);
  for (size_t i = 0; i < n; i++) {
    push_value(L, sl_record_value_at(r, i), depth);
    lua_setfield(L, -2, sl_record_name_at(r, i));
  }
}

void sl_lua_push_record(lua_State *L, const sl_record *r) { push_record(L, r, 1); }

/* Converting a function's result: `depth` counts containers like the push
 * does, `left` bounds the values (a table referring to one table twice, 64
 * levels deep, is 2^64 values). Runs outside pcall: nothing here raises. */
typedef struct conv {
  sl_arena *a;
  size_t left;
} conv;

#define RESULT_MAX_VALUES 1000000

static int to_value(lua_State *L, int idx, conv *cv, sl_value *out, int depth);

static int table_to_record(lua_State *L, int idx, conv *cv, sl_value *out, int depth) {
  if (depth > SL_LUA_MAX_DEPTH || !lua_checkstack(L, 3))
    return SL_ERR_LIMIT;
  sl_arena *a = cv->a;
  idx = lua_absindex(L, idx);
  size_t alen = lua_rawlen(L, idx);
  if (alen > 0) {
    sl_array *arr = sl_array_new(a, alen < cv->left ? alen : cv->left);
    if (!arr)
      return SL_ERR_NOMEM;
    for (size_t i = 1; i <= alen; i++) {
      sl_value item;
      lua_rawgeti(L, idx, (lua_Integer)i);
      int rc = to_value(L, -1, cv, &item, depth);
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
    int rc = to_value(L, -1, cv, &v, depth);
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

static int to_value(lua_State *L, int idx, conv *cv, sl_value *out, int depth) {
  if (cv->left == 0)
    return SL_ERR_LIMIT;
  cv->left--;
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
    char *copy = sl_arena_strndup(cv->a, s, len);
    if (!copy)
      return SL_ERR_NOMEM;
    *out = sl_value_string(copy, len);
    return SL_OK;
  }
  case LUA_TTABLE: return table_to_record(L, idx, cv, out, depth + 1);
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

/* Why a per-record call failed: a limit (SL_ERR_LIMIT, dead-lettered as
 * "lua_limit") or the function's own error. */
static int call_failed(lua_State *L, const sl_lua_fn *fn, const sl_lua_guard *g, int status,
                       sl_error *err) {
  char defined[160] = "Lua function";
  const char *where = g->where;
  if (!where[0]) { /* no running line: name the function by where it is defined */
    lua_Debug ar;
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn->ref);
    if (lua_getinfo(L, ">S", &ar))
      snprintf(defined, sizeof defined, "%s:%d", ar.short_src, ar.linedefined);
    where = defined;
  }
  if (g->too_deep)
    return sl_error_set(err, SL_ERR_LIMIT,
                        "the record nests deeper than %d levels, more than a Lua function takes",
                        SL_LUA_MAX_DEPTH);
  if (g->exhausted)
    return sl_error_set(err, SL_ERR_LIMIT,
                        "%s: the Lua function ran more than %ld instructions on this record "
                        "(raise the budget with sl.pipeline{ lua = { instructions = N } })",
                        where, g->run_budget);
  if (status == LUA_ERRMEM && g->refused)
    return sl_error_set(err, SL_ERR_LIMIT,
                        "%s: the Lua function needed more than %zu MB of Lua memory (raise the "
                        "cap with sl.pipeline{ lua = { memory_mb = N } })",
                        where, g->run_cap >> 20);
  const char *msg = lua_tostring(L, -1);
  return sl_error_set(err, SL_ERR_INVALID, "Lua function failed: %s",
                      msg ? msg : "(error object is not a string)");
}

int sl_lua_call(const sl_lua_fn *fn, const sl_record *r, sl_arena *a, sl_value *out,
                sl_error *err) {
  lua_State *L = fn->L;
  sl_lua_guard *g = sl_lua_guard_of(L);
  int top = lua_gettop(L);
  sl_lua_guard_arm(g, g->run_cap, g->run_budget);
  lua_pushcfunction(L, traceback_handler);
  lua_pushcfunction(L, call_protected);
  lua_pushlightuserdata(L, (void *)r);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn->ref);
  int status = lua_pcall(L, 2, 1, top + 1);
  int rc;
  if (status != LUA_OK) {
    rc = call_failed(L, fn, g, status, err);
  } else {
    conv cv = {a, RESULT_MAX_VALUES};
    rc = to_value(L, -1, &cv, out, 0);
    if (rc == SL_ERR_TYPE)
      sl_error_set(err, rc, "Lua function returned a value sluice cannot represent "
                            "(functions, userdata and non-string table keys are not values)");
    else if (rc == SL_ERR_LIMIT)
      sl_error_set(err, rc,
                   "the Lua function's result nests deeper than %d levels or holds more than %d "
                   "values (a table that contains itself?)",
                   SL_LUA_MAX_DEPTH, RESULT_MAX_VALUES);
    else if (rc != SL_OK)
      sl_error_set(err, rc, "cannot convert the Lua function's result: %s", sl_strerror(rc));
  }
  lua_settop(L, top);
  return rc;
}
