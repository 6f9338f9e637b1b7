/* SPDX-License-Identifier: Apache-2.0 */
/* The Lua bridge per record: records as Lua tables and back, at the decoders'
 * depth limit and past it, and the per-record limits (instruction budget,
 * memory cap) that turn a runaway function into a dead letter ("lua_limit")
 * while the worker keeps going. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/json_codec.h"
#include "engine/graph_validate.h"
#include "engine/runtime.h"
#include "lang/lua_internal.h"
#include "lua_fixture.h"

static char dir[256];

static int setup(void) { return lf_dir_make(dir, sizeof dir, "sluice_luabridge"); }
static int teardown(void) { return lf_dir_remove(dir); }

static char *read_back(const char *name) {
  char p[400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *fp = fopen(p, "r");
  if (!fp)
    return NULL;
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  buf[n] = '\0';
  fclose(fp);
  return buf;
}

typedef struct loaded {
  lf_loaded f;
  sl_graph_desc *g; /* f.g */
  sl_arena *a;
} loaded;

#define HDR "local sl = require \"sluice\"\n"

/* A pipeline whose node 1 is an operator with a Lua function option. */
static loaded load(const char *text) {
  loaded l = {.f = lf_load(dir, text)};
  l.g = l.f.g;
  l.a = sl_arena_new(1 << 16);
  return l;
}

static void unload(loaded *l) {
  sl_arena_destroy(l->a);
  lf_unload(&l->f);
}

static const sl_lua_fn *fn_of(const loaded *l, size_t node, const char *key) {
  CU_ASSERT_FATAL(node < l->g->count);
  const sl_lua_fn *fn = sl_config_function(l->g->nodes[node].config, key);
  CU_ASSERT_PTR_NOT_NULL_FATAL(fn);
  return fn;
}

static sl_record *json(loaded *l, const char *text) {
  sl_record *r = NULL;
  sl_error err;
  CU_ASSERT_EQUAL_FATAL(sl_json_decode(text, strlen(text), l->a, &r, &err), SL_OK);
  return r;
}

/* {"temperature":1,"c":{"c":{...}}} with `levels` objects in all. */
static char *nested_json(int levels) {
  size_t cap = (size_t)levels * 24 + 64;
  char *s = malloc(cap), *p = s;
  p += sprintf(p, "{\"temperature\":1");
  for (int i = 1; i < levels; i++)
    p += sprintf(p, ",\"c\":{\"t\":%d", i);
  for (int i = 0; i < levels; i++)
    *p++ = '}';
  *p = '\0';
  return s;
}

static int depth_of(const sl_value *v) {
  if (v->type != SL_TYPE_RECORD)
    return 0;
  const sl_value *c = sl_record_get_cstr(v->as.rec, "c");
  return 1 + (c ? depth_of(c) : 0);
}

/* Issue 14 item 1: a 258-byte record nested 40 levels wrote past Lua's stack
 * in push_value (no luaL_checkstack). Now every depth the JSON decoder
 * accepts (64) reaches a Lua function and comes back intact. */
static void test_lua_stack_overflow_from_nested_record(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"
                      "p:stdin_source {}\n"
                      "  :filter(function(r) return r.temperature == 1 end)\n"
                      "  :map(function(r) return r end)\n"
                      "  :stdout_sink {}\n");
  CU_ASSERT_EQUAL_FATAL(l.g->nerrors, 0);
  /* The reproduction from the issue: 40 levels of "c" in 258 bytes. */
  char repro[300] = "{\"temperature\":1,\"c\":";
  for (int i = 0; i < 39; i++)
    strcat(repro, "{\"c\":");
  strcat(repro, "{}");
  for (int i = 0; i < 40; i++)
    strcat(repro, "}");
  CU_ASSERT_EQUAL(strlen(repro), 258);
  sl_value v;
  sl_error err;
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 1, "expr"), json(&l, repro), l.a, &v, &err), SL_OK);
  CU_ASSERT(v.type == SL_TYPE_BOOL && v.as.b);

  for (int levels = 1; levels <= SL_JSON_MAX_DEPTH; levels++) {
    char *text = nested_json(levels);
    sl_record *r = json(&l, text);
    free(text);
    int rc = sl_lua_call(fn_of(&l, 2, "fn"), r, l.a, &v, &err);
    CU_ASSERT_EQUAL(rc, SL_OK);
    if (rc != SL_OK)
      fprintf(stderr, "\n%d levels: %s\n", levels, err.message);
    else
      CU_ASSERT_EQUAL(depth_of(&v), levels);
  }
  unload(&l);
}

/* A record deeper than the decoders allow (built in C) is refused with a
 * limit error, which the filter dead-letters as "lua_limit"; the next
 * record goes through the same state fine. */
static void test_lua_record_too_deep_is_a_limit(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"
                      "p:stdin_source {}\n"
                      "  :filter(function(r) return true end)\n"
                      "  :stdout_sink {}\n");
  sl_record *r = sl_record_new(l.a, 1);
  for (int i = 1; i < 65; i++) {
    sl_record *outer = sl_record_new(l.a, 1);
    sl_record_set(outer, sl_name_cstr("c"), sl_value_record(r));
    r = outer;
  }
  sl_value v;
  sl_error err;
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 1, "expr"), r, l.a, &v, &err), SL_ERR_LIMIT);
  CU_ASSERT_STRING_EQUAL(err.message,
                         "the record nests deeper than 64 levels, more than a Lua function takes");
  /* An array level counts too. */
  sl_array *arr = sl_array_new(l.a, 1);
  sl_array_push(arr, sl_value_record(r));
  sl_record *top = sl_record_new(l.a, 1);
  sl_record_set(top, sl_name_cstr("a"), sl_value_array(arr));
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 1, "expr"), top, l.a, &v, &err), SL_ERR_LIMIT);
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 1, "expr"), json(&l, "{\"x\":1}"), l.a, &v, &err), SL_OK);
  unload(&l);
}

/* A result that contains itself, or shares one table 2^40 times, ends in a
 * limit error instead of a stack overflow or an endless copy. */
static void test_lua_result_that_contains_itself(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"
                      "p:stdin_source {}\n"
                      "  :map(function(r) local t = { x = 1 }; t.self = t; return t end)\n"
                      "  :map(function(r)\n"
                      "    local t = { x = 1 }\n"
                      "    for i = 1, 40 do t = { a = t, b = t } end\n"
                      "    return t end)\n"
                      "  :stdout_sink {}\n");
  sl_value v;
  sl_error err;
  sl_record *r = json(&l, "{\"x\":1}");
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 1, "fn"), r, l.a, &v, &err), SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nests deeper than 64 levels"));
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 2, "fn"), r, l.a, &v, &err), SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than 1000000 values"));
  unload(&l);
}

/* Issue 14 item 8: `while true do end` in a filter hung the worker. The
 * budget ends it, also when the function wraps the loop in pcall. */
static void test_lua_endless_loop_in_filter(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"
                      "p:stdin_source {}\n"
                      "  :filter(function(r)\n"
                      "    if r.x == 1 then while true do end end\n"
                      "    if r.x == 2 then\n"
                      "      while true do pcall(function() while true do end end) end\n"
                      "    end\n"
                      "    return true end)\n"
                      "  :stdout_sink {}\n");
  const char *path = l.f.path;
  const sl_lua_fn *fn = fn_of(&l, 1, "expr");
  sl_value v;
  sl_error err;
  CU_ASSERT_EQUAL(sl_lua_call(fn, json(&l, "{\"x\":1}"), l.a, &v, &err), SL_ERR_LIMIT);
  char want[600];
  snprintf(want, sizeof want,
           "%s:5: the Lua function ran more than 1000000 instructions on this record (raise the "
           "budget with sl.pipeline{ lua = { instructions = N } })",
           path);
  CU_ASSERT_STRING_EQUAL(err.message, want);
  CU_ASSERT_EQUAL(sl_lua_call(fn, json(&l, "{\"x\":2}"), l.a, &v, &err), SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "ran more than 1000000 instructions"));
  /* The next record gets a fresh budget. */
  CU_ASSERT_EQUAL(sl_lua_call(fn, json(&l, "{\"x\":3}"), l.a, &v, &err), SL_OK);
  CU_ASSERT(v.type == SL_TYPE_BOOL && v.as.b);
  unload(&l);
}

/* Issue 14 item 8: string.rep bombs exhausted the worker's memory. */
static void test_lua_memory_bomb_in_map(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"
                      "p:stdin_source {}\n"
                      "  :map(function(r)\n"
                      "    if r.n then return { s = string.rep(\"x\", r.n) } end\n"
                      "    local t = {}\n"
                      "    for i = 1, 100 do t[i] = string.rep(\"y\", 1000000 + i) end\n"
                      "    return { n = #t } end)\n"
                      "  :stdout_sink {}\n");
  const sl_lua_fn *fn = fn_of(&l, 1, "fn");
  sl_value v;
  sl_error err;
  CU_ASSERT_EQUAL(sl_lua_call(fn, json(&l, "{\"n\":1000000000}"), l.a, &v, &err), SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "p.lua:5: the Lua function needed more than 64 MB"));
  CU_ASSERT_EQUAL(sl_lua_call(fn, json(&l, "{}"), l.a, &v, &err), SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "p.lua:7: the Lua function needed more than 64 MB"));
  /* With a Lua whose allocator may not read the running line (5.4.5 and
   * later), the message names the function by where it is defined. */
  sl_lua_guard_of(fn->L)->where_in_alloc = 0;
  CU_ASSERT_EQUAL(sl_lua_call(fn, json(&l, "{}"), l.a, &v, &err), SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "p.lua:4: the Lua function needed more than 64 MB"));
  CU_ASSERT_EQUAL(sl_lua_call(fn, json(&l, "{\"n\":3}"), l.a, &v, &err), SL_OK);
  CU_ASSERT_EQUAL_FATAL(v.type, SL_TYPE_RECORD);
  CU_ASSERT_STRING_EQUAL(sl_record_get_cstr(v.as.rec, "s")->as.str.ptr, "xxx");
  unload(&l);
}

/* The knobs: sl.pipeline{ lua = { instructions = N, memory_mb = N } }. */
static void test_lua_limit_knobs(void) {
  loaded l = load(HDR "local p = sl.pipeline { lua = { instructions = 5000, memory_mb = 2 } }\n"
                      "p:stdin_source {}\n"
                      "  :filter(function(r) for i = 1, r.n do end return true end)\n"
                      "  :map(function(r) return { s = string.rep(\"x\", r.n) } end)\n"
                      "  :stdout_sink {}\n");
  CU_ASSERT_EQUAL_FATAL(l.g->nerrors, 0);
  sl_value v;
  sl_error err;
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 1, "expr"), json(&l, "{\"n\":100}"), l.a, &v, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 1, "expr"), json(&l, "{\"n\":10000}"), l.a, &v, &err),
                  SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than 5000 instructions"));
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 2, "fn"), json(&l, "{\"n\":100000}"), l.a, &v, &err),
                  SL_OK);
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 2, "fn"), json(&l, "{\"n\":3000000}"), l.a, &v, &err),
                  SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than 2 MB of Lua memory"));
  unload(&l);

  l = load(HDR "local p = sl.pipeline { lua = { memory_mb = 1.5 } }\n"
               "p:stdin_source {}:stdout_sink {}\n");
  CU_ASSERT_EQUAL_FATAL(l.g->nerrors, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(l.g->errors[0], "p.lua:2: "));
  CU_ASSERT_PTR_NOT_NULL(strstr(l.g->errors[0], "'memory_mb' must be an integer"));
  unload(&l);
  l = load(HDR "local p = sl.pipeline { lua = { instructionz = 1000 } }\n"
               "p:stdin_source {}:stdout_sink {}\n");
  CU_ASSERT_EQUAL_FATAL(l.g->nerrors, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(l.g->errors[0], "p.lua:2: "));
  CU_ASSERT_PTR_NOT_NULL(strstr(l.g->errors[0], "instructions"));
  unload(&l);
  l = load(HDR "local p = sl.pipeline { lua = { instructions = 10 } }\n"
               "p:stdin_source {}:stdout_sink {}\n");
  CU_ASSERT_EQUAL_FATAL(l.g->nerrors, 1);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(l.g->errors[0], "p.lua:2: lua.instructions must be an integer from 1000 to"));
  unload(&l);
}

/* A function run per record cannot declare more graph: the module raises
 * (it used to dereference the finished loader's graph, NULL by then). */
static void test_lua_module_unusable_per_record(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"
                      "local s = p:stdin_source {}\n"
                      "s:filter(function(r) s:filter \"x > 1\" return true end):stdout_sink {}\n");
  sl_value v;
  sl_error err;
  CU_ASSERT_EQUAL(sl_lua_call(fn_of(&l, 1, "expr"), json(&l, "{}"), l.a, &v, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "the sluice module works only while the pipeline "
                                             "file loads"));
  unload(&l);
}

/* Through the runtime: the runaway records become dead letters with reason
 * "lua_limit" and the records around them flow on. */
static void test_lua_limit_dead_letters_and_worker_keeps_running(void) {
  lf_write(dir, "in.jsonl",
           "{\"x\":1}\n{\"x\":2,\"loop\":true}\n{\"x\":3,\"bomb\":true}\n"
           "{\"x\":4}\n");
  loaded l =
      load(HDR "local p = sl.pipeline { name = \"limits\" }\n"
               "p:file_source { path = \"in.jsonl\" }\n"
               "  :filter(function(r) if r.loop then while true do end end return true end)\n"
               "  :map(function(r) if r.bomb then return { s = string.rep(\"x\", 1e9) } end\n"
               "                   return { x = r.x } end)\n"
               "  :file_sink { path = \"out.jsonl\", truncate = true }\n"
               "p:dead_letter { path = \"dlq.jsonl\" }\n");
  sl_error err;
  sl_graph_validate(l.g, l.f.reg, NULL);
  CU_ASSERT_EQUAL_FATAL(l.g->nerrors, 0);
  sl_runtime *rt = sl_runtime_new(l.g, l.f.reg, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  CU_ASSERT_EQUAL(sl_runtime_run(rt, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_runtime_records_in(rt), 4);
  CU_ASSERT_EQUAL(sl_runtime_dead_letters(rt), 2);
  sl_runtime_free(rt);
  CU_ASSERT_STRING_EQUAL(read_back("out.jsonl"), "{\"x\":1}\n{\"x\":4}\n");
  const char *dlq = read_back("dlq.jsonl");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dlq);
  const char *first = strstr(dlq, "\"reason\":\"lua_limit\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(first);
  CU_ASSERT_PTR_NOT_NULL(strstr(first + 1, "\"reason\":\"lua_limit\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(dlq, "instructions on this record"));
  CU_ASSERT_PTR_NOT_NULL(strstr(dlq, "MB of Lua memory"));
  unload(&l);
}

int suite_core_lua_bridge(void) {
  CU_pSuite s = CU_add_suite("core/lua_bridge", setup, teardown);
  if (!s ||
      !CU_add_test(s, "lua stack overflow from nested record",
                   test_lua_stack_overflow_from_nested_record) ||
      !CU_add_test(s, "record too deep is a limit", test_lua_record_too_deep_is_a_limit) ||
      !CU_add_test(s, "result that contains itself", test_lua_result_that_contains_itself) ||
      !CU_add_test(s, "endless loop in filter", test_lua_endless_loop_in_filter) ||
      !CU_add_test(s, "memory bomb in map", test_lua_memory_bomb_in_map) ||
      !CU_add_test(s, "limit knobs", test_lua_limit_knobs) ||
      !CU_add_test(s, "module unusable per record", test_lua_module_unusable_per_record) ||
      !CU_add_test(s, "lua_limit dead letters, worker keeps running",
                   test_lua_limit_dead_letters_and_worker_keeps_running))
    return -1;
  return 0;
}
