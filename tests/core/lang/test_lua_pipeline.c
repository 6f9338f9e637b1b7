/* SPDX-License-Identifier: Apache-2.0 */
/* The Lua pipeline loader: graph nodes (types, parents, lines, options) and
 * every error as "FILE:LINE: message", loaded and validated like `sluice
 * check` does (core/cli/cli.c load()). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lang/graph.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "lua_fixture.h"

static char dir[64];
static char path[400];

typedef lf_loaded loaded;

static int setup(void) { return lf_dir_make(dir, sizeof dir, "sluice_luapipe"); }
static int teardown(void) { return lf_dir_remove(dir); }
static void write_file(const char *name, const char *text) { lf_write(dir, name, text); }

/* Write `text` to NAME in the temp dir, load and validate it. */
static loaded load_named(const char *name, const char *text, const char *const *params, size_t n) {
  loaded l = lf_check(dir, name, text, params, n);
  snprintf(path, sizeof path, "%s", l.path);
  return l;
}

static loaded load(const char *text) { return load_named("p.lua", text, NULL, 0); }
static void unload(loaded *l) { lf_unload(l); }

/* 1 when the graph has exactly the error "PATH:LINE: msg". */
static int has_error(const sl_graph_desc *g, int line, const char *msg) {
  return lf_has_error(g, path, line, msg);
}

#define HDR "local sl = require \"sluice\"\n"

static void test_minimal_graph_and_defaults(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"
                      "local s = p:file_source { path = \"in.jsonl\" }\n"
                      "s:filter \"t > 1\"\n"
                      "  :file_sink { path = \"out.jsonl\", truncate = true }\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  CU_ASSERT_STRING_EQUAL(l.g->name, "p"); /* file base name */
  CU_ASSERT_STRING_EQUAL(l.g->state, "memory");
  CU_ASSERT_EQUAL(l.g->checkpoint_ms, 1000);
  CU_ASSERT_EQUAL(l.g->pipeline_line, 2);
  CU_ASSERT_EQUAL_FATAL(l.g->count, 3);
  sl_node_desc *n = l.g->nodes;
  CU_ASSERT_STRING_EQUAL(n[0].type, "file_source");
  CU_ASSERT_EQUAL(n[0].kind, SL_NODE_SOURCE);
  CU_ASSERT_EQUAL(n[0].parent, -1);
  CU_ASSERT_EQUAL(n[0].line, 3);
  CU_ASSERT_STRING_EQUAL(sl_config_string(n[0].config, "path", ""), "in.jsonl");
  CU_ASSERT_STRING_EQUAL(n[1].type, "filter");
  CU_ASSERT_EQUAL(n[1].kind, SL_NODE_OPERATOR);
  CU_ASSERT_EQUAL(n[1].parent, 0);
  CU_ASSERT_EQUAL(n[1].line, 4);
  CU_ASSERT_STRING_EQUAL(sl_config_string(n[1].config, "expr", ""), "t > 1");
  CU_ASSERT_STRING_EQUAL(n[2].type, "file_sink");
  CU_ASSERT_EQUAL(n[2].kind, SL_NODE_SINK);
  CU_ASSERT_EQUAL(n[2].parent, 1);
  CU_ASSERT_EQUAL(n[2].line, 5); /* chained call on a later line */
  CU_ASSERT_EQUAL(sl_config_bool(n[2].config, "truncate", 0), 1);
  CU_ASSERT_STRING_EQUAL(n[2].label, "file_sink:out.jsonl");
  unload(&l);
}

static void test_pipeline_options(void) {
  loaded l = load(HDR "local p = sl.pipeline { name = \"line-7\", state = \"redis\",\n"
                      "  checkpoint = \"250ms\", redis = \"redis://h:1\",\n"
                      "  kafka = { [\"bootstrap.servers\"] = \"b:9092\", [\"acks\"] = \"all\" } }\n"
                      "p:kafka_source \"telemetry\"\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  CU_ASSERT_STRING_EQUAL(l.g->name, "line-7");
  CU_ASSERT_STRING_EQUAL(l.g->state, "redis");
  CU_ASSERT_EQUAL(l.g->checkpoint_ms, 250);
  CU_ASSERT_STRING_EQUAL(sl_config_string(l.g->pipeline, "redis", ""), "redis://h:1");
  const sl_config *k = sl_config_table(l.g->pipeline, "kafka");
  CU_ASSERT_PTR_NOT_NULL_FATAL(k);
  CU_ASSERT_STRING_EQUAL(sl_config_string(k, "bootstrap.servers", ""), "b:9092");
  CU_ASSERT_STRING_EQUAL(sl_config_string(k, "acks", ""), "all");
  CU_ASSERT_EQUAL_FATAL(l.g->count, 1);
  CU_ASSERT_STRING_EQUAL(sl_config_string(l.g->nodes[0].config, "topic", ""), "telemetry");
  unload(&l);
}

static void test_pipeline_option_errors(void) {
  loaded l = load(HDR "local p = sl.pipeline { nmae = \"x\", state = \"disk\", checkpoint = \"5 parsecs\" }\n"
                      "p:file_source \"in.jsonl\"\n");
  CU_ASSERT(has_error(l.g, 2, "pipeline: unknown option 'nmae' (did you mean 'name'?)"));
  CU_ASSERT(has_error(l.g, 2, "state must be \"memory\" or \"redis\", not \"disk\""));
  CU_ASSERT(has_error(l.g, 2, "option 'checkpoint': bad duration '5 parsecs' (use a number with ms, "
                              "s, m, h or d, e.g. \"10s\")"));
  CU_ASSERT_EQUAL(l.g->nerrors, 3);
  unload(&l);
}

static void test_pipeline_twice_none_no_source(void) {
  loaded l = load(HDR "sl.pipeline {}\nsl.pipeline {}\n");
  CU_ASSERT(has_error(l.g, 3, "sl.pipeline called twice (first at line 2)"));
  CU_ASSERT(has_error(l.g, 2, "the pipeline has no source: add one such as p:file_source{path = "
                              "\"in.jsonl\"}"));
  CU_ASSERT_EQUAL(l.g->nerrors, 2);
  unload(&l);
  l = load(HDR "local x = 1\n");
  CU_ASSERT(has_error(l.g, 1, "no pipeline declared: start with local p = sl.pipeline { name = "
                              "\"...\" } (and local sl = require \"sluice\")"));
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  unload(&l);
}

static const char param_src[] = HDR "local p = sl.pipeline {}\n"
                                    "local t = sl.param(\"alert.t\", 5)\n"
                                    "local on = sl.param(\"on\", false)\n"
                                    "local s = sl.param(\"name\", \"def\")\n"
                                    "local a = sl.param(\"absent\", 1.5)\n"
                                    "p:file_source \"in\"\n"
                                    "  :map { t = tostring(t) .. \" + 0\", on = tostring(on),\n"
                                    "         s = \"'\" .. s .. \"'\", a = tostring(a),\n"
                                    "         ty = \"'\" .. math.type(t) .. \"'\" }\n";

static void test_params(void) {
  loaded l = load(param_src);
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  CU_ASSERT_EQUAL_FATAL(l.g->count, 2);
  const sl_config *c = l.g->nodes[1].config;
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "t", ""), "5 + 0");
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "on", ""), "false");
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "s", ""), "'def'");
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "a", ""), "1.5");
  unload(&l);

  static const char *const sets[] = {"alert.t=7", "on=true", "name=x=y", "alert.t=90",
                                     "alert=1"};
  l = load_named("p.lua", param_src, sets, 5);
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  c = l.g->nodes[1].config;
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "t", ""), "90 + 0"); /* last --set wins */
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "ty", ""), "'integer'");
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "on", ""), "true");
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "s", ""), "'x=y'");
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "a", ""), "1.5");
  unload(&l);

  static const char *const badnum[] = {"alert.t=abc"};
  l = load_named("p.lua", param_src, badnum, 1);
  CU_ASSERT(has_error(l.g, 3, "--set alert.t=abc: expected a number"));
  unload(&l);
  static const char *const badbool[] = {"on=yes"};
  l = load_named("p.lua", param_src, badbool, 1);
  CU_ASSERT(has_error(l.g, 4, "--set on=yes: expected true or false"));
  unload(&l);
}

static void test_branching_and_forms(void) {
  loaded l = load(HDR "local p = sl.pipeline { name = \"b\" }\n"
                      "local s = p:file_source { path = \"in\" }\n"
                      "local hot = s:filter { expr = \"t > 90\" }\n"
                      "local cold = s:filter { \"t < 0\" }\n"
                      "s:filter(function(r) return r.ok end)\n"
                      "hot:select { \"id\", \"t\" }:stdout_sink {}\n"
                      "cold:map { f = \"t * 9 / 5 + 32\", g = \"'x'\" }\n"
                      "s:map(function(r) return r end)\n"
                      "s:apply(\"select\", { fields = { \"id\" } })\n"
                      "p:dead_letter { path = \"dl.jsonl\" }\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  CU_ASSERT_EQUAL_FATAL(l.g->count, 10);
  int kids[16];
  size_t nk = sl_graph_children(l.g, 0, kids, 16);
  CU_ASSERT_EQUAL_FATAL(nk, 5);
  CU_ASSERT_EQUAL(kids[0], 1);
  CU_ASSERT_EQUAL(kids[1], 2);
  sl_node_desc *n = l.g->nodes;
  CU_ASSERT_STRING_EQUAL(sl_config_string(n[1].config, "expr", ""), "t > 90");
  CU_ASSERT_STRING_EQUAL(sl_config_string(n[2].config, "expr", ""), "t < 0");
  CU_ASSERT_EQUAL(sl_config_kind_of(n[3].config, "expr"), SL_CV_FUNCTION);
  CU_ASSERT_PTR_NOT_NULL(sl_config_function(n[3].config, "expr"));
  CU_ASSERT_STRING_EQUAL(n[4].type, "select");
  CU_ASSERT_EQUAL(n[4].parent, 1);
  CU_ASSERT_EQUAL_FATAL(sl_config_list_len(n[4].config, "fields"), 2);
  CU_ASSERT_STRING_EQUAL(sl_config_list_string(n[4].config, "fields", 1), "t");
  CU_ASSERT_STRING_EQUAL(n[5].type, "stdout_sink");
  CU_ASSERT_EQUAL(n[5].parent, 4);
  CU_ASSERT_STRING_EQUAL(n[6].type, "map");
  CU_ASSERT_EQUAL(n[6].parent, 2);
  CU_ASSERT_STRING_EQUAL(sl_config_string(n[6].config, "f", ""), "t * 9 / 5 + 32");
  CU_ASSERT_STRING_EQUAL(sl_config_string(n[6].config, "g", ""), "'x'");
  CU_ASSERT_EQUAL(sl_config_kind_of(n[7].config, "fn"), SL_CV_FUNCTION);
  CU_ASSERT_STRING_EQUAL(n[8].type, "select");
  CU_ASSERT_EQUAL(n[8].line, 10);
  CU_ASSERT_STRING_EQUAL(sl_config_list_string(n[8].config, "fields", 0), "id");
  CU_ASSERT_STRING_EQUAL(n[9].type, "dead_letter");
  CU_ASSERT_EQUAL(n[9].parent, -1);
  CU_ASSERT_EQUAL(n[9].kind, SL_NODE_SINK);
  CU_ASSERT_EQUAL(n[5].line, 7);
  CU_ASSERT_EQUAL(n[9].line, 11);
  unload(&l);
}

static void test_method_errors(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"                      /* 2 */
                      "local s = p:file_source { path = \"in\" }\n"     /* 3 */
                      "s:fitler \"a > 1\"\n"                            /* 4 */
                      "p:file_sorce { path = \"x\" }\n"                 /* 5 */
                      "p:filter \"a > 1\"\n"                            /* 6 */
                      "s:file_source { path = \"x\" }\n"                /* 7 */
                      "s:apply(\"nope\", {})\n"                         /* 8 */
                      "s:apply(\"fitler\", {})\n"                       /* 9 */
                      "s:window { tumbling = \"10s\" }\n"               /* 10 */
                      "s:aggregate { n = \"count()\" }\n"               /* 11 */
                      "p:dead_letter { }\n"                             /* 12 */
                      "p:dead_letter { path = \"a\", topic = \"b\" }\n" /* 13 */
                      "s:file_sink { }\n"                               /* 14 */
                      "s:file_sink { path = 3 }\n"                      /* 15 */
                      "s:filter { expr = \"a > 1\", exrp = 2 }\n"       /* 16 */
                      "s:file_sink { path = \"o\", truncate = \"yes\" }\n" /* 17 */
                      "s:map { fn = function(r) return r end, y = \"1\" }\n"); /* 18 */
  CU_ASSERT(has_error(l.g, 4, "unknown operator 'fitler' (did you mean 'filter'?)"));
  CU_ASSERT(has_error(l.g, 5, "unknown source 'file_sorce' (did you mean 'file_source'?)"));
  CU_ASSERT(has_error(l.g, 6, "filter works on a stream, not on the pipeline: start with a source "
                              "such as p:kafka_source{...}"));
  CU_ASSERT(has_error(l.g, 7, "file_source is a source: call it on the pipeline (p:file_source{...})"));
  CU_ASSERT(has_error(l.g, 8, "unknown operator 'nope' (load its plugin first with sl.plugin(PATH))"));
  CU_ASSERT(has_error(l.g, 9, "unknown operator 'fitler' (did you mean 'filter'?)"));
  CU_ASSERT(has_error(l.g, 10, "window must be followed by :aggregate{...}"));
  CU_ASSERT(has_error(l.g, 11, "aggregate needs a window first: stream:window{tumbling = \"10s\", "
                               "key = \"id\"}:aggregate{...}"));
  CU_ASSERT(has_error(l.g, 12, "dead_letter needs exactly one of path = FILE or topic = NAME"));
  CU_ASSERT(has_error(l.g, 13, "only one dead_letter sink per pipeline (first at line 12)"));
  CU_ASSERT(has_error(l.g, 14, "file_sink: missing required option 'path' (file to append JSON "
                               "Lines to)"));
  CU_ASSERT(has_error(l.g, 15, "option 'path' must be a string, not a number"));
  CU_ASSERT(has_error(l.g, 16, "filter: unknown option 'exrp' (did you mean 'expr'?)"));
  CU_ASSERT(has_error(l.g, 17, "option 'truncate' must be true or false, not a string"));
  CU_ASSERT(has_error(l.g, 18, "map: map takes either field = expression pairs or one function, "
                               "not both"));
  CU_ASSERT_EQUAL(l.g->nerrors, 15);
  unload(&l);
}

static void test_dead_letter_both_forms(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\np:file_source \"in\"\n"
                      "p:dead_letter { path = \"a\", topic = \"b\" }\n");
  CU_ASSERT(has_error(l.g, 4, "dead_letter needs exactly one of path = FILE or topic = NAME"));
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  unload(&l);
  l = load(HDR "local p = sl.pipeline {}\np:file_source \"in\"\np:dead_letter { topic = \"dlq\" }\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  CU_ASSERT_STRING_EQUAL(sl_config_string(l.g->nodes[1].config, "topic", ""), "dlq");
  unload(&l);
}

static void test_window_then_aggregate_attaches(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"
                      "p:file_source \"in\"\n"
                      "  :window { tumbling = \"10s\", key = \"id\" }\n"
                      "  :aggregate { n = \"count()\" }\n");
  CU_ASSERT_EQUAL_FATAL(l.g->count, 2);
  CU_ASSERT_STRING_EQUAL(l.g->nodes[1].type, "window");
  CU_ASSERT_EQUAL(l.g->nodes[1].open, 0);
  CU_ASSERT_EQUAL(l.g->nodes[1].line, 4);
  const sl_config *agg = sl_config_table(l.g->nodes[1].config, "aggregate");
  CU_ASSERT_PTR_NOT_NULL_FATAL(agg);
  CU_ASSERT_STRING_EQUAL(sl_config_string(agg, "n", ""), "count()");
  unload(&l);
}

static void test_expression_errors_line_and_column(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\n"
                      "p:file_source { path = \"in\" }:filter \"a >\"\n" /* 3 */
                      "p:file_source { path = \"in\" }\n"              /* 4 */
                      "  :map { y = \"1\" }\n"                         /* 5 */
                      "  :filter \"a >> 2\"\n"                         /* 6 */
                      "  :map { x = \"sqr(a)\" }\n");                  /* 7 */
  CU_ASSERT(has_error(l.g, 3, "filter: expr 'a >': expected an expression, found end of expression "
                              "(column 42)"));
  CU_ASSERT(has_error(l.g, 6, "filter: expr 'a >> 2': expected an expression, found '>' (column 15)"));
  CU_ASSERT(has_error(l.g, 7, "map: x 'sqr(a)': unknown function 'sqr' (did you mean 'sqrt'?) (column 15)"));
  CU_ASSERT_EQUAL(l.g->nerrors, 3);
  unload(&l);
}

static void test_lua_syntax_and_runtime_errors(void) {
  loaded l = load(HDR "local p = sl.pipeline {}\nlocal x = = 3\n");
  CU_ASSERT(has_error(l.g, 3, "unexpected symbol near '='"));
  unload(&l);
  l = load(HDR "local p = sl.pipeline {}\np:file_source \"in\"\n\nerror(\"boom\")\n");
  CU_ASSERT(has_error(l.g, 5, "boom"));
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  unload(&l);
}

static void test_missing_file(void) {
  sl_error err;
  sl_error_clear(&err);
  sl_registry *reg = sl_registry_new_builtin(&err);
  sl_lua *lua = (sl_lua *)1;
  sl_graph_desc *g = sl_lua_load_pipeline("/nonexistent/x.lua", NULL, 0, reg, &lua, &err);
  CU_ASSERT_PTR_NULL(g);
  CU_ASSERT_PTR_NULL(lua);
  CU_ASSERT_EQUAL(err.code, SL_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/x.lua"));
  sl_registry_free(reg);
}

static void test_require_helper_next_to_file(void) {
  write_file("helper_mod.lua", "local M = {}\nfunction M.expr(t) return \"t > \" .. t end\n"
                               "return M\n");
  loaded l = load(HDR "local h = require \"helper_mod\"\n"
                      "local p = sl.pipeline {}\n"
                      "p:file_source \"in\":filter(h.expr(42))\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  CU_ASSERT_EQUAL_FATAL(l.g->count, 2);
  CU_ASSERT_STRING_EQUAL(sl_config_string(l.g->nodes[1].config, "expr", ""), "t > 42");
  unload(&l);
}

/* Issue 14 item 2: table_to_config/put_value recursed without a bound
 * (the Lua stack overflowed at ~20 levels) and never ended on a table that
 * contains itself. Each now ends in one FILE:LINE error. */
static void test_options_table_nested_too_deep(void) {
  loaded l = load(HDR "local t = {}\nlocal o = t\n"
                      "for i = 1, 40 do o.a = {} o = o.a end\n"
                      "local p = sl.pipeline { kafka = t }\n"
                      "p:stdin_source {}:stdout_sink {}\n");
  /* (then `check` also says the kafka property 'a' is not a string) */
  CU_ASSERT_FATAL(l.g->nerrors >= 1);
  char want[600];
  snprintf(want, sizeof want, "%s:5: option 'kafka.a.a.a", path);
  CU_ASSERT_EQUAL(strncmp(l.g->errors[0], want, strlen(want)), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(l.g->errors[0], "': options nest deeper than 32 levels"));
  unload(&l);
  /* 32 levels are fine. */
  l = load(HDR "local t = {}\nlocal o = t\n"
               "for i = 1, 31 do o.a = {} o = o.a end\n"
               "local p = sl.pipeline { kafka = t }\n"
               "p:stdin_source {}:stdout_sink {}\n");
  for (size_t i = 0; i < l.g->nerrors; i++)
    CU_ASSERT_PTR_NULL(strstr(l.g->errors[i], "nest deeper"));
  unload(&l);
}

static void test_options_table_contains_itself(void) {
  loaded l = load(HDR "local t = { acks = \"all\" }\nt.self = t\n"
                      "local p = sl.pipeline { kafka = t }\n"
                      "local u = { x = { y = {} } }\nu.x.y.back = u.x\n"
                      "p:stdin_source {}:filter { \"x > 1\", extra = u }:stdout_sink {}\n");
  CU_ASSERT(has_error(l.g, 4,
                      "option 'kafka.self' contains itself: a table that refers to itself cannot "
                      "be an option value"));
  CU_ASSERT(has_error(l.g, 7,
                      "option 'extra.x.y.back' contains itself: a table that refers to itself "
                      "cannot be an option value"));
  unload(&l);
}

/* One table shared at every level of 30 is 2^30 values once copied. */
static void test_options_table_shared_exponentially(void) {
  loaded l = load(HDR "local t = { x = 1 }\nfor i = 1, 30 do t = { a = t, b = t } end\n"
                      "local p = sl.pipeline { kafka = t }\n"
                      "p:stdin_source {}:stdout_sink {}\n");
  CU_ASSERT(has_error(l.g, 4, "options hold more than 100000 values"));
  unload(&l);
  l = load(HDR "local fields = {}\nfor i = 1, 200000 do fields[i] = \"f\" .. i end\n"
               "local p = sl.pipeline {}\n"
               "p:stdin_source {}:select(fields):stdout_sink {}\n");
  CU_ASSERT(has_error(l.g, 5, "options hold more than 100000 values"));
  unload(&l);
}

int suite_core_lua_pipeline(void) {
  CU_pSuite s = CU_add_suite("core_lua_pipeline", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "minimal graph and defaults", test_minimal_graph_and_defaults);
  CU_add_test(s, "sl.pipeline options", test_pipeline_options);
  CU_add_test(s, "sl.pipeline option errors", test_pipeline_option_errors);
  CU_add_test(s, "pipeline twice, none, no source", test_pipeline_twice_none_no_source);
  CU_add_test(s, "sl.param and --set", test_params);
  CU_add_test(s, "branching, filter/map/select forms, apply", test_branching_and_forms);
  CU_add_test(s, "method errors", test_method_errors);
  CU_add_test(s, "dead_letter path/topic", test_dead_letter_both_forms);
  CU_add_test(s, "window:aggregate attaches", test_window_then_aggregate_attaches);
  CU_add_test(s, "expression errors: line and column", test_expression_errors_line_and_column);
  CU_add_test(s, "Lua syntax and runtime errors", test_lua_syntax_and_runtime_errors);
  CU_add_test(s, "missing pipeline file", test_missing_file);
  CU_add_test(s, "require a helper next to the file", test_require_helper_next_to_file);
  CU_add_test(s, "options table nested too deep", test_options_table_nested_too_deep);
  CU_add_test(s, "options table contains itself", test_options_table_contains_itself);
  CU_add_test(s, "options table shared exponentially", test_options_table_shared_exponentially);
  return CU_get_error();
}
