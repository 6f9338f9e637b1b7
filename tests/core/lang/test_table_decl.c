/* SPDX-License-Identifier: Apache-2.0 */
/* p:table{} declarations and enrich references as `sluice check` reports
 * them: FILE:LINE errors for bad options, duplicate ids, path xor topic,
 * undeclared tables, `fields` that is not a list of names, fields with as. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lang/graph.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"
#include "lua_fixture.h"

static char dir[64], path[400];
static lf_loaded current; /* the graph check() returned, freed by release() */

static int setup(void) { return lf_dir_make(dir, sizeof dir, "sluice_tabledecl"); }
static int teardown(void) { return lf_dir_remove(dir); }

/* Load and validate `text`; returns the graph (free with release()). */
static sl_graph_desc *check(const char *text, sl_registry **reg, sl_lua **lua) {
  current = lf_check(dir, "p.lua", text, NULL, 0);
  snprintf(path, sizeof path, "%s", current.path);
  *reg = current.reg;
  *lua = current.lua;
  return current.g;
}

static void release(sl_graph_desc *g, sl_registry *reg, sl_lua *lua) {
  (void)reg, (void)lua;
  CU_ASSERT_PTR_EQUAL(g, current.g);
  lf_unload(&current);
}

static int has_error(const sl_graph_desc *g, int line, const char *msg) {
  return lf_has_error(g, path, line, msg);
}

#define HDR "local sl = require \"sluice\"\nlocal p = sl.pipeline {}\n"

static void test_valid_declarations(void) {
  sl_registry *reg;
  sl_lua *lua;
  sl_graph_desc *g = check(
      HDR
      "p:table { id = \"devices\", path = \"devices.jsonl\", key = \"machine_id\" }\n"
      "p:table { id = \"limits\", topic = \"limits\", key = \"id\", format = \"json\" }\n"
      "p:file_source { path = \"in\" }\n"
      "  :enrich { table = \"devices\", key = \"machine_id\", fields = {\"site\", \"line\"} }\n"
      "  :enrich { table = \"limits\", key = \"machine_id\", as = \"limit\", required = true }\n"
      "  :stdout_sink {}\n",
      &reg, &lua);
  CU_ASSERT_EQUAL(g->nerrors, 0);
  CU_ASSERT_EQUAL(g->ntables, 2);
  CU_ASSERT_EQUAL(g->count, 4); /* tables are not nodes */
  CU_ASSERT_STRING_EQUAL(sl_config_string(g->tables[1], "topic", ""), "limits");
  CU_ASSERT_EQUAL(sl_config_line(g->tables[1]), 4);
  release(g, reg, lua);
}

static void test_declaration_errors(void) {
  sl_registry *reg;
  sl_lua *lua;
  sl_graph_desc *g =
      check(HDR "p:table { id = \"a\", path = \"a.jsonl\", key = \"k\", max_entrie = 3 }\n"  /* 3 */
                "p:table { id = \"b\", path = \"b.jsonl\", topic = \"b\", key = \"k\" }\n"   /* 4 */
                "p:table { id = \"c\", key = \"k\" }\n"                                      /* 5 */
                "p:table { id = \"b\", topic = \"b2\", key = \"k\", format = \"xml\" }\n"    /* 6 */
                "p:table { path = \"d.jsonl\" }\n"                                           /* 7 */
                "p:table { id = \"e\", path = \"e.jsonl\", key = \"k\", max_entries = 0 }\n" /* 8 */
                "p:file_source { path = \"in\" }:stdout_sink {}\n",
            &reg, &lua);
  CU_ASSERT(has_error(g, 3, "table: unknown option 'max_entrie' (did you mean 'max_entries'?)"));
  CU_ASSERT(has_error(g, 4, "table 'b' needs exactly one of path = FILE or topic = NAME"));
  CU_ASSERT(has_error(g, 5, "table 'c' needs exactly one of path = FILE or topic = NAME"));
  CU_ASSERT(has_error(g, 6, "table: id 'b' is declared twice"));
  CU_ASSERT(has_error(g, 6, "table 'b': format must be \"json\" or \"avro\", not \"xml\""));
  CU_ASSERT(has_error(g, 8, "table 'e': max_entries must be at least 1"));
  int missing = 0;
  for (size_t i = 0; i < g->nerrors; i++)
    missing += strstr(g->errors[i], "p.lua:7: table: missing required option") != NULL;
  CU_ASSERT_EQUAL(missing, 2); /* id and key */
  release(g, reg, lua);
}

static void test_enrich_errors(void) {
  sl_registry *reg;
  sl_lua *lua;
  sl_graph_desc *g = check(
      HDR "p:table { id = \"devices\", path = \"d.jsonl\", key = \"machine_id\" }\n"
          "p:file_source { path = \"in\" }\n"
          "  :enrich { table = \"devicez\", key = \"machine_id\" }\n"                       /* 5 */
          "  :enrich { table = \"devices\", key = \"machine_id\", fields = { 1, 2 } }\n"    /* 6 */
          "  :enrich { table = \"devices\", key = \"id\", fields = {\"a\"}, as = \"x\" }\n" /* 7 */
          "  :enrich { table = \"devices\" }\n"                                             /* 8 */
          "  :stdout_sink {}\n",
      &reg, &lua);
  CU_ASSERT(has_error(g, 5,
                      "enrich: no table 'devicez': declare it with p:table{ id = "
                      "\"devicez\", path = ... | topic = ..., key = ... }"));
  CU_ASSERT(has_error(g, 6, "option 'fields' must be a string or a list of strings, not a table"));
  CU_ASSERT(has_error(g, 7, "enrich: enrich takes fields = {...} or as = \"name\", not both"));
  int missing_key = 0;
  for (size_t i = 0; i < g->nerrors; i++)
    missing_key += strstr(g->errors[i], "p.lua:8: enrich: missing required option 'key'") != NULL;
  CU_ASSERT_EQUAL(missing_key, 1);
  release(g, reg, lua);
}

int suite_core_table_decl(void) {
  CU_pSuite s = CU_add_suite("core_table_decl", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "valid declarations", test_valid_declarations);
  CU_add_test(s, "declaration errors", test_declaration_errors);
  CU_add_test(s, "enrich errors", test_enrich_errors);
  return CU_get_error();
}
