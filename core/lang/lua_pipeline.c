/* SPDX-License-Identifier: Apache-2.0 */
/* The `sluice` Lua module: sl.pipeline, sl.param, sl.plugin, and the stream
 * methods. Each method call appends a node to the graph description with the
 * caller's line; problems are collected (not raised) so that `sluice check`
 * reports every error of a file at once. No C allocation is held across a
 * call that can raise. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lua_internal.h"
#include "lang/table_decl.h"

#define MT_PIPELINE "sluice.pipeline"
#define MT_STREAM "sluice.stream"
#define MT_WINDOWED "sluice.windowed"

#define MT_CONFIG_BOX "sluice.configbox"

/* Raises before anything is allocated when a function run per record calls
 * into the module: the graph it would change is gone by then. */
static sl_lua *loader(lua_State *L) {
  sl_lua *lua = lua_touserdata(L, lua_upvalueindex(1));
  if (!lua->graph)
    luaL_error(L, "the sluice module works only while the pipeline file loads, not in "
                  "functions run on records");
  return lua;
}

/* Lua 5.4 gives every call of a method chain the line where the chain
 * starts; the method lookup (`:name`) carries the right line, so __index
 * captures it as upvalue 3 of the method closure. */
static int method_line(lua_State *L);

static int caller_line(lua_State *L) {
  lua_Debug ar;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
    return ar.currentline;
  return 0;
}

static int method_line(lua_State *L) {
  if (lua_isinteger(L, lua_upvalueindex(3)))
    return (int)lua_tointeger(L, lua_upvalueindex(3));
  return caller_line(L);
}

static void free_fn(sl_lua_fn *fn) {
  if (!fn)
    return;
  luaL_unref(fn->L, LUA_REGISTRYINDEX, fn->ref);
  free(fn);
}

/* Push a stream object for node `id` (-1: a broken stream after an error,
 * whose methods quietly return broken streams so later errors still show). */
static void push_stream(lua_State *L, int id, const char *mt) {
  lua_createtable(L, 0, 1);
  lua_pushinteger(L, id);
  lua_setfield(L, -2, "__node");
  luaL_setmetatable(L, mt);
}

static int stream_id(lua_State *L, int idx) {
  if (!lua_istable(L, idx))
    return -2;
  lua_getfield(L, idx, "__node");
  int id = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -2;
  lua_pop(L, 1);
  return id;
}

/* Options tables nest a few levels (kafka = {...}); these bounds keep a
 * hostile or mistaken file from overflowing the C or Lua stack, looping on
 * a table that contains itself, or multiplying a shared table 2^depth times. */
#define OPTION_MAX_DEPTH 32
#define OPTION_MAX_VALUES 100000

/* The walk of one options table into an sl_config. Lives on the C stack:
 * nothing in it needs freeing if a Lua error unwinds. */
typedef struct opt_walk {
  sl_lua *lua;
  lua_State *L;
  int line;
  int depth;                              /* tables entered below the root */
  int stopped;                            /* a bound was hit: copy nothing more */
  size_t values;                          /* values copied so far */
  const void *path[OPTION_MAX_DEPTH + 1]; /* the tables being copied, root first */
  char name[256];                         /* dotted name of the current option */
} opt_walk;

static int is_string_array(lua_State *L, int idx, size_t *n) {
  size_t len = lua_rawlen(L, idx), count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    count++;
    int ok = lua_type(L, -1) == LUA_TSTRING && lua_isinteger(L, -2);
    lua_pop(L, 1);
    if (!ok) {
      lua_pop(L, 1);
      return 0;
    }
  }
  *n = len;
  return count == len && len > 0;
}

static void fill_config(opt_walk *w, sl_config *c, int idx, const char *positional);

/* Copy `n` strings of the array at `idx` (checked by is_string_array). */
static void put_string_list(opt_walk *w, sl_config *c, const char *key, int idx, size_t n) {
  lua_State *L = w->L;
  if ((w->values += n) > OPTION_MAX_VALUES) {
    sl_graph_error(w->lua->graph, w->line, "options hold more than %d values", OPTION_MAX_VALUES);
    w->stopped = 1;
    return;
  }
  const char **items = calloc(n, sizeof *items);
  for (size_t i = 0; items && i < n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    items[i] = lua_tostring(L, -1); /* kept alive by the table */
    lua_pop(L, 1);
  }
  if (items)
    sl_config_put_list(c, key, items, n);
  free(items);
}

/* A nested options table at the top of the stack, copied into a child of
 * `c` (which owns it from the start, so an error later frees it too). */
static void put_table(opt_walk *w, sl_config *c, const char *key) {
  lua_State *L = w->L;
  int top = lua_gettop(L);
  const void *t = lua_topointer(L, top);
  for (int i = 0; i <= w->depth; i++)
    if (w->path[i] == t) {
      sl_graph_error(w->lua->graph, w->line,
                     "option '%s' contains itself: a table that refers to itself cannot be an "
                     "option value",
                     w->name);
      w->stopped = 1;
      return;
    }
  if (w->depth >= OPTION_MAX_DEPTH || !lua_checkstack(L, 4)) {
    sl_graph_error(w->lua->graph, w->line, "option '%s': options nest deeper than %d levels",
                   w->name, OPTION_MAX_DEPTH);
    w->stopped = 1;
    return;
  }
  sl_config *sub = sl_config_new(w->lua->graph->file, w->line);
  if (!sub || sl_config_put_table(c, key, sub) != SL_OK)
    return;
  w->path[++w->depth] = t;
  fill_config(w, sub, top, NULL);
  w->depth--;
}

/* Store the value at the top of the stack under `key`; pops it. */
static void put_value(opt_walk *w, sl_config *c, const char *key) {
  lua_State *L = w->L;
  size_t namelen = strlen(w->name);
  snprintf(w->name + namelen, sizeof w->name - namelen, "%s%s", namelen ? "." : "", key);
  int t = lua_type(L, -1);
  if (++w->values > OPTION_MAX_VALUES && !w->stopped) {
    sl_graph_error(w->lua->graph, w->line, "options hold more than %d values", OPTION_MAX_VALUES);
    w->stopped = 1;
  }
  if (w->stopped)
    t = LUA_TNONE;
  switch (t) {
  case LUA_TNONE: break;
  case LUA_TSTRING: sl_config_put_string(c, key, lua_tostring(L, -1)); break;
  case LUA_TNUMBER: sl_config_put_number(c, key, lua_tonumber(L, -1)); break;
  case LUA_TBOOLEAN: sl_config_put_bool(c, key, lua_toboolean(L, -1)); break;
  case LUA_TFUNCTION: {
    /* The reference first: luaL_ref may raise, and then nothing is held. */
    lua_pushvalue(L, -1);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    sl_lua_fn *fn = malloc(sizeof *fn);
    if (!fn) {
      luaL_unref(L, LUA_REGISTRYINDEX, ref);
      break;
    }
    fn->L = L;
    fn->ref = ref;
    sl_config_put_function(c, key, fn, free_fn);
    break;
  }
  case LUA_TTABLE: {
    size_t n;
    if (is_string_array(L, lua_gettop(L), &n))
      put_string_list(w, c, key, lua_gettop(L), n);
    else
      put_table(w, c, key);
    break;
  }
  default:
    sl_graph_error(w->lua->graph, w->line, "option '%s': a %s cannot be an option value", w->name,
                   lua_typename(L, t));
  }
  w->name[namelen] = '\0';
  lua_pop(L, 1);
}

/* Copy the Lua table at `idx` into `c`. The list part goes to `positional`
 * (e.g. select{"a","b"}). */
static void fill_config(opt_walk *w, sl_config *c, int idx, const char *positional) {
  lua_State *L = w->L;
  idx = lua_absindex(L, idx);
  size_t alen = lua_rawlen(L, idx);
  if (w->stopped)
    return;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      char key[128];
      snprintf(key, sizeof key, "%s", lua_tostring(L, -2));
      put_value(w, c, key);
    } else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 &&
               (size_t)lua_tointeger(L, -2) <= alen) {
      lua_pop(L, 1); /* the list part is handled below, in order */
    } else {
      sl_graph_error(w->lua->graph, w->line, "options must have string keys");
      lua_pop(L, 1);
    }
    if (w->stopped) {
      lua_pop(L, 1); /* the key lua_next would have taken */
      return;
    }
  }
  if (!alen || w->stopped)
    return;
  size_t n;
  if (!positional) {
    sl_graph_error(w->lua->graph, w->line, "unexpected list of values in options");
  } else if (alen == 1) { /* `filter{"x > 1"}` means the same as `filter "x > 1"` */
    lua_rawgeti(L, idx, 1);
    put_value(w, c, positional);
  } else if (is_string_array(L, idx, &n)) {
    put_string_list(w, c, positional, idx, n);
  } else {
    sl_graph_error(w->lua->graph, w->line, "unexpected list of values in options");
  }
}

static int config_box_gc(lua_State *L) {
  sl_config **box = luaL_checkudata(L, 1, MT_CONFIG_BOX);
  sl_config_destroy(*box);
  *box = NULL;
  return 0;
}

/* Copy the Lua table at `idx` (or a lone value for `positional`) into a new
 * sl_config. While it is built the config sits in a Lua userdata whose __gc
 * frees it: a Lua error (out of memory in luaL_ref) then cannot leak it. */
static sl_config *table_to_config(sl_lua *lua, lua_State *L, int idx, const char *positional,
                                  int line) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 4, NULL); /* raises before anything is allocated */
  sl_config **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, MT_CONFIG_BOX);
  sl_config *c = *box = sl_config_new(lua->graph->file, line);
  if (c) {
    opt_walk w = {.lua = lua, .L = L, .line = line};
    w.path[0] = lua_topointer(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE) {
      fill_config(&w, c, idx, positional);
    } else {
      lua_pushvalue(L, idx);
      put_value(&w, c, positional);
    }
  }
  *box = NULL;
  lua_pop(L, 1);
  return c;
}

/* The `id = "..."` option of a node (sluice's, not the node type's): copied
 * to `id` (size 128, "" when absent). Leaves the raw value on the stack. */
static void take_id(sl_lua *lua, lua_State *L, int idx, int line, char *id) {
  id[0] = '\0';
  lua_pushliteral(L, "id");
  lua_rawget(L, idx);
  int t = lua_type(L, -1);
  if (t == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (n == 0 || n >= 128 || strlen(s) != n)
      sl_graph_error(lua->graph, line, "id must be a name of 1 to 100 characters");
    else
      memcpy(id, s, n + 1);
  } else if (t != LUA_TNIL) {
    sl_graph_error(lua->graph, line, "id must be a string such as id = \"stats\", not a %s",
                   lua_typename(L, t));
  }
}

/* Options for a method call: a table, or a lone string/function for the
 * positional option, or nothing. The node's `id` goes to `id` (size 128;
 * NULL: not a node, `id` stays an ordinary option). */
static sl_config *call_config(sl_lua *lua, lua_State *L, int idx, const char *what,
                              const char *positional, int line, char *id) {
  int t = lua_type(L, idx);
  if (id)
    id[0] = '\0';
  if (t == LUA_TTABLE && id) {
    /* Hidden from the conversion, so that no node type's config map needs
     * to list it, and put back after. */
    idx = lua_absindex(L, idx);
    take_id(lua, L, idx, line, id);
    lua_pushliteral(L, "id");
    lua_pushnil(L);
    lua_rawset(L, idx);
    sl_config *c = table_to_config(lua, L, idx, positional, line);
    lua_pushliteral(L, "id");
    lua_insert(L, -2);
    lua_rawset(L, idx);
    return c;
  }
  if (t == LUA_TTABLE ||
      (positional && (t == LUA_TSTRING || t == LUA_TFUNCTION || t == LUA_TNUMBER)))
    return table_to_config(lua, L, idx, positional, line);
  if (t != LUA_TNONE && t != LUA_TNIL)
    sl_graph_error(lua->graph, line, "%s expects a table of options, not a %s", what,
                   lua_typename(L, t));
  return sl_config_new(lua->graph->file, line);
}

/* ---- stream methods ------------------------------------------------------ */

static int add_and_push(lua_State *L, sl_lua *lua, sl_node_kind kind, const char *type,
                        sl_config *cfg, int parent, int line, const char *node_id) {
  int id = sl_graph_add_node(lua->graph, kind, type, cfg, parent, line);
  if (id >= 0 && node_id[0])
    sl_graph_set_node_id(lua->graph, id, node_id);
  push_stream(L, id, MT_STREAM);
  return 1;
}

static const char *positional_of(sl_lua *lua, const char *type, sl_node_kind *kind) {
  const sl_operator_desc *op = sl_registry_operator(lua->reg, type);
  if (op) {
    *kind = SL_NODE_OPERATOR;
    return op->positional;
  }
  const sl_sink_desc *sk = sl_registry_sink(lua->reg, type);
  if (sk) {
    *kind = SL_NODE_SINK;
    return sk->positional;
  }
  const sl_source_desc *src = sl_registry_source(lua->reg, type);
  if (src) {
    *kind = SL_NODE_SOURCE;
    return src->positional;
  }
  return NULL;
}

/* stream:NAME{...} for an operator or sink; upvalue 2 is the name. */
static int stream_method(lua_State *L) {
  sl_lua *lua = loader(L);
  const char *type = lua_tostring(L, lua_upvalueindex(2));
  int line = method_line(L);
  int parent = stream_id(L, 1);
  if (parent == -2)
    return luaL_error(L, "%s must be called with ':' on a stream (stream:%s{...})", type, type);
  sl_node_kind kind;
  const char *positional = positional_of(lua, type, &kind);
  if (kind == SL_NODE_SOURCE) {
    sl_graph_error(lua->graph, line, "%s is a source: call it on the pipeline (p:%s{...})", type,
                   type);
    push_stream(L, -1, MT_STREAM);
    return 1;
  }
  char node_id[128];
  sl_config *cfg = call_config(lua, L, 2, type, positional, line, node_id);
  if (parent < 0) {
    sl_config_destroy(cfg);
    push_stream(L, -1, MT_STREAM);
    return 1;
  }
  return add_and_push(L, lua, kind, type, cfg, parent, line, node_id);
}

/* stream:apply(NAME, {config}) */
static int stream_apply(lua_State *L) {
  sl_lua *lua = loader(L);
  int line = method_line(L);
  int parent = stream_id(L, 1);
  const char *name = luaL_checkstring(L, 2);
  if (!sl_registry_operator(lua->reg, name)) {
    const char *s = sl_registry_suggest(lua->reg, name);
    if (s)
      sl_graph_error(lua->graph, line, "unknown operator '%s' (did you mean '%s'?)", name, s);
    else
      sl_graph_error(lua->graph, line,
                     "unknown operator '%s' (load its plugin first with sl.plugin(PATH))", name);
    push_stream(L, -1, MT_STREAM);
    return 1;
  }
  sl_node_kind kind;
  const char *positional = positional_of(lua, name, &kind);
  char node_id[128];
  sl_config *cfg = call_config(lua, L, 3, name, positional, line, node_id);
  if (parent < 0) {
    sl_config_destroy(cfg);
    push_stream(L, -1, MT_STREAM);
    return 1;
  }
  return add_and_push(L, lua, SL_NODE_OPERATOR, name, cfg, parent, line, node_id);
}

/* stream:window{...} opens a window node that :aggregate{} completes. */
static int stream_window(lua_State *L) {
  sl_lua *lua = loader(L);
  int line = method_line(L);
  int parent = stream_id(L, 1);
  char node_id[128];
  sl_config *cfg = call_config(lua, L, 2, "window", NULL, line, node_id);
  if (parent < 0) {
    sl_config_destroy(cfg);
    push_stream(L, -1, MT_WINDOWED);
    return 1;
  }
  int id = sl_graph_add_node(lua->graph, SL_NODE_OPERATOR, "window", cfg, parent, line);
  if (id >= 0)
    lua->graph->nodes[id].open = 1;
  if (id >= 0 && node_id[0])
    sl_graph_set_node_id(lua->graph, id, node_id);
  push_stream(L, id, MT_WINDOWED);
  return 1;
}

static int windowed_aggregate(lua_State *L) {
  sl_lua *lua = loader(L);
  int line = method_line(L);
  int id = stream_id(L, 1);
  if (lua_type(L, 2) != LUA_TTABLE) {
    sl_graph_error(lua->graph, line,
                   "aggregate expects a table such as { n = \"count()\", avg_t = \"avg(t)\" }");
    push_stream(L, -1, MT_STREAM);
    return 1;
  }
  if (id < 0) {
    push_stream(L, -1, MT_STREAM);
    return 1;
  }
  sl_node_desc *n = &lua->graph->nodes[id];
  if (!n->open) {
    sl_graph_error(lua->graph, line, "this window already has an aggregate");
    push_stream(L, -1, MT_STREAM);
    return 1;
  }
  sl_config_put_table(n->config, "aggregate", table_to_config(lua, L, 2, NULL, line));
  n->open = 0;
  push_stream(L, id, MT_STREAM);
  return 1;
}

static int broken_method(lua_State *L) {
  push_stream(L, -1, MT_STREAM);
  return 1;
}

static int windowed_index(lua_State *L) {
  sl_lua *lua = loader(L);
  const char *name = luaL_checkstring(L, 2);
  if (strcmp(name, "aggregate") == 0) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2);
    lua_pushinteger(L, caller_line(L));
    lua_pushcclosure(L, windowed_aggregate, 3);
    return 1;
  }
  sl_graph_error(lua->graph, caller_line(L),
                 "a window must be followed by :aggregate{...}, not :%s", name);
  int id = stream_id(L, 1);
  if (id >= 0)
    lua->graph->nodes[id].open = 2; /* reported here, not again by validation */
  /* A callable that yields a broken stream: the chain goes on quietly, so
   * no Lua error ("attempt to call a nil value") hides later problems. */
  lua_pushcfunction(L, broken_method);
  return 1;
}

static int stream_index(lua_State *L) {
  sl_lua *lua = loader(L);
  const char *name = luaL_checkstring(L, 2);
  lua_CFunction fn = NULL;
  if (strcmp(name, "window") == 0) {
    fn = stream_window;
  } else if (strcmp(name, "apply") == 0) {
    fn = stream_apply;
  } else if (strcmp(name, "aggregate") == 0) {
    sl_graph_error(lua->graph, caller_line(L),
                   "aggregate needs a window first: stream:window{tumbling = \"10s\", key = "
                   "\"id\"}:aggregate{...}");
    fn = broken_method;
  } else if (sl_registry_operator(lua->reg, name) || sl_registry_sink(lua->reg, name) ||
             sl_registry_source(lua->reg, name)) {
    fn = stream_method;
  } else if (stream_id(L, 1) >= 0) {
    const char *s = sl_registry_suggest(lua->reg, name);
    if (s)
      sl_graph_error(lua->graph, caller_line(L), "unknown operator '%s' (did you mean '%s'?)",
                     name, s);
    else
      sl_graph_error(lua->graph, caller_line(L), "unknown operator '%s'", name);
    fn = broken_method;
  } else {
    fn = broken_method;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 2);
  lua_pushinteger(L, caller_line(L));
  lua_pushcclosure(L, fn, 3);
  return 1;
}

/* ---- pipeline methods ---------------------------------------------------- */

static int pipeline_source(lua_State *L) {
  sl_lua *lua = loader(L);
  const char *type = lua_tostring(L, lua_upvalueindex(2));
  int line = method_line(L);
  sl_node_kind kind;
  const char *positional = positional_of(lua, type, &kind);
  char node_id[128];
  sl_config *cfg = call_config(lua, L, 2, type, positional, line, node_id);
  return add_and_push(L, lua, SL_NODE_SOURCE, type, cfg, -1, line, node_id);
}

static int pipeline_dead_letter(lua_State *L) {
  sl_lua *lua = loader(L);
  int line = method_line(L);
  char node_id[128];
  sl_config *cfg = call_config(lua, L, 2, "dead_letter", NULL, line, node_id);
  for (size_t i = 0; i < lua->graph->count; i++)
    if (strcmp(lua->graph->nodes[i].type, "dead_letter") == 0) {
      sl_graph_error(lua->graph, line, "only one dead_letter sink per pipeline (first at line %d)",
                     lua->graph->nodes[i].line);
      sl_config_destroy(cfg);
      return 0;
    }
  int id = sl_graph_add_node(lua->graph, SL_NODE_SINK, "dead_letter", cfg, -1, line);
  if (id >= 0 && node_id[0])
    sl_graph_set_node_id(lua->graph, id, node_id);
  return 0;
}

/* p:table{...}: a lookup table for enrich; a pipeline-level declaration, not
 * a node (see core/lang/table_decl.c). */
static int pipeline_table(lua_State *L) {
  sl_lua *lua = loader(L);
  int line = method_line(L);
  sl_graph_add_table(lua->graph, call_config(lua, L, 2, "table", NULL, line, NULL));
  return 0;
}

static int pipeline_index(lua_State *L) {
  sl_lua *lua = loader(L);
  const char *name = luaL_checkstring(L, 2);
  lua_CFunction fn;
  if (strcmp(name, "dead_letter") == 0) {
    fn = pipeline_dead_letter;
  } else if (strcmp(name, "table") == 0) {
    fn = pipeline_table;
  } else if (sl_registry_source(lua->reg, name)) {
    fn = pipeline_source;
  } else {
    const char *s = sl_registry_suggest(lua->reg, name);
    if (sl_registry_operator(lua->reg, name) || sl_registry_sink(lua->reg, name))
      sl_graph_error(lua->graph, caller_line(L),
                     "%s works on a stream, not on the pipeline: start with a source such as "
                     "p:kafka_source{...}",
                     name);
    else if (s)
      sl_graph_error(lua->graph, caller_line(L), "unknown source '%s' (did you mean '%s'?)", name,
                     s);
    else
      sl_graph_error(lua->graph, caller_line(L), "unknown source '%s'", name);
    fn = broken_method;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 2);
  lua_pushinteger(L, caller_line(L));
  lua_pushcclosure(L, fn, 3);
  return 1;
}

/* ---- module functions ---------------------------------------------------- */

static const sl_config_entry pipeline_map[] = {
    {"name", SL_CFG_STRING, 0, "the file name", "pipeline name: consumer group, state namespace"},
    {"state", SL_CFG_STRING, 0, "memory", "\"memory\" or \"redis\""},
    {"checkpoint", SL_CFG_DURATION, 0, "1s", "checkpoint interval"},
    {"kafka", SL_CFG_TABLE, 0, NULL, "librdkafka properties"},
    {"redis", SL_CFG_STRING, 0, "SLUICE_REDIS_URL", "Redis URL"},
    {"units", SL_CFG_TABLE, 0, NULL, "units of fields for the dashboard, e.g. { avg_temp = \"°C\" }"},
    {"lua", SL_CFG_TABLE, 0, NULL, "limits of Lua functions run per record"},
    {NULL, 0, 0, NULL, NULL},
};
static const sl_operator_desc pipeline_desc = {.name = "pipeline", .config = pipeline_map};

static const sl_config_entry lua_limits_map[] = {
    {"instructions", SL_CFG_INT, 0, "1000000", "Lua instructions per record"},
    {"memory_mb", SL_CFG_INT, 0, "64", "MB of Lua memory of the pipeline's Lua state"},
    {NULL, 0, 0, NULL, NULL},
};
static const sl_operator_desc lua_limits_desc = {.name = "lua", .config = lua_limits_map};

static void pipeline_problem(void *ud, const sl_config *c, const char *msg) {
  sl_graph_error(ud, sl_config_line(c), "%s", msg);
}

static int sl_pipeline_fn(lua_State *L) {
  sl_lua *lua = loader(L);
  sl_graph_desc *g = lua->graph;
  int line = caller_line(L);
  if (g->pipeline) {
    sl_graph_error(g, line, "sl.pipeline called twice (first at line %d)", g->pipeline_line);
  } else {
    g->pipeline = call_config(lua, L, 1, "sl.pipeline", NULL, line, NULL);
    g->pipeline_line = line;
    if (g->pipeline) {
      sl_config_validate(g->pipeline, &pipeline_desc, pipeline_problem, g);
      const sl_config *limits = sl_config_table(g->pipeline, "lua");
      char msg[256];
      if (limits && sl_config_validate(limits, &lua_limits_desc, pipeline_problem, g) == 0 &&
          sl_lua_guard_configure(&lua->guard, limits, msg, sizeof msg) != 0)
        sl_graph_error(g, line, "%s", msg);
      const char *name = sl_config_string(g->pipeline, "name", NULL);
      if (name) {
        free(g->name);
        g->name = strdup(name);
      }
      const char *state = sl_config_string(g->pipeline, "state", "memory");
      if (strcmp(state, "memory") != 0 && strcmp(state, "redis") != 0)
        sl_graph_error(g, line, "state must be \"memory\" or \"redis\", not \"%s\"", state);
      free(g->state);
      g->state = strdup(state);
      g->checkpoint_ms = sl_config_duration_ms(g->pipeline, "checkpoint", 1000);
      if (g->checkpoint_ms <= 0)
        sl_graph_error(g, line, "checkpoint must be a positive duration");
    }
  }
  lua_newtable(L);
  luaL_setmetatable(L, MT_PIPELINE);
  return 1;
}

/* Registry table of the names sl.param was asked for, to refuse a --set
 * nobody reads. */
#define PARAMS_READ "sluice.params_read"

/* sl.param("a.b", default): the --set value converted to the default's type. */
static int sl_param_fn(lua_State *L) {
  sl_lua *lua = loader(L);
  const char *key = luaL_checkstring(L, 1);
  size_t klen = strlen(key);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, PARAMS_READ);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, key);
  lua_pop(L, 1);
  for (size_t i = lua->nparams; i-- > 0;) { /* the last --set wins */
    const char *p = lua->params[i];
    if (strncmp(p, key, klen) != 0 || p[klen] != '=')
      continue;
    const char *v = p + klen + 1;
    switch (lua_type(L, 2)) {
    case LUA_TNUMBER:
      if (!lua_stringtonumber(L, v))
        return luaL_error(L, "--set %s=%s: expected a number", key, v);
      return 1;
    case LUA_TBOOLEAN:
      if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
        return luaL_error(L, "--set %s=%s: expected true or false", key, v);
      lua_pushboolean(L, strcmp(v, "true") == 0);
      return 1;
    default:
      lua_pushstring(L, v);
      return 1;
    }
  }
  if (lua_isnoneornil(L, 2))
    return luaL_error(L, "sl.param(\"%s\") has no default and no --set %s=VALUE was given", key,
                      key);
  lua_settop(L, 2);
  return 1;
}

int sl_lua_check_params(const sl_lua *lua, sl_error *err) {
  lua_State *L = lua->L;
  int rc = SL_OK;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, PARAMS_READ);
  int read = lua_gettop(L);
  for (size_t i = 0; i < lua->nparams && rc == SL_OK; i++) {
    const char *p = lua->params[i], *eq = strchr(p, '=');
    int klen = (int)(eq ? (size_t)(eq - p) : strlen(p));
    lua_pushlstring(L, p, (size_t)klen);
    int known = lua_rawget(L, read) != LUA_TNIL;
    lua_pop(L, 1);
    if (known)
      continue;
    sl_buf names = SL_BUF_INIT; /* in Lua's table order: a handful of names */
    lua_pushnil(L);
    while (lua_next(L, read)) {
      lua_pop(L, 1);
      sl_buf_printf(&names, "%s%s", names.len ? ", " : "", lua_tostring(L, -1));
    }
    rc = sl_error_set(err, SL_ERR_INVALID,
                      "--set %.*s: the pipeline never reads '%.*s' with sl.param (%s%s)", klen, p,
                      klen, p, names.len ? "it reads: " : "it reads no parameter",
                      names.len ? names.data : "");
    sl_buf_free(&names);
  }
  lua_settop(L, read - 1);
  return rc;
}

static int sl_plugin_fn(lua_State *L) {
  sl_lua *lua = loader(L);
  const char *path = luaL_checkstring(L, 1);
  char full[4096];
  if (path[0] != '/' && lua->dir)
    snprintf(full, sizeof full, "%s/%s", lua->dir, path);
  else
    snprintf(full, sizeof full, "%s", path);
  sl_error err;
  sl_error_clear(&err);
  if (sl_plugin_load(lua->reg, full, &err) != SL_OK)
    sl_graph_error(lua->graph, caller_line(L), "%s", err.message);
  return 0;
}

static void set_metatable(lua_State *L, sl_lua *lua, const char *name, lua_CFunction index) {
  luaL_newmetatable(L, name);
  lua_pushlightuserdata(L, lua);
  lua_pushcclosure(L, index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

static int open_sluice(lua_State *L) {
  sl_lua *lua = lua_touserdata(L, lua_upvalueindex(1));
  static const luaL_Reg fns[] = {{"pipeline", sl_pipeline_fn},
                                 {"param", sl_param_fn},
                                 {"plugin", sl_plugin_fn},
                                 {NULL, NULL}};
  luaL_newlibtable(L, fns);
  lua_pushlightuserdata(L, lua);
  luaL_setfuncs(L, fns, 1);
  lua_pushstring(L, SLUICE_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}

void sl_lua_open_module(sl_lua *lua) {
  lua_State *L = lua->L;
  luaL_newmetatable(L, MT_CONFIG_BOX);
  lua_pushcfunction(L, config_box_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  set_metatable(L, lua, MT_PIPELINE, pipeline_index);
  set_metatable(L, lua, MT_STREAM, stream_index);
  set_metatable(L, lua, MT_WINDOWED, windowed_index);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushlightuserdata(L, lua);
  lua_pushcclosure(L, open_sluice, 1);
  lua_setfield(L, -2, "sluice");
  lua_pop(L, 1);
}
