/* SPDX-License-Identifier: Apache-2.0 */
/* Stable node ids (core/lang/graph_id.c): derived ids that survive unrelated
 * edits, collision suffixes, explicit ids and their errors. Pipelines are
 * loaded from real files and validated as `sluice check` does. */
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
static lf_loaded current; /* the graph load() returned, freed by drop() */

static int setup(void) { return lf_dir_make(dir, sizeof dir, "sluice_graphid"); }
static int teardown(void) { return lf_dir_remove(dir); }

/* Load and validate `body` after the usual header; alert stores attached
 * as `sluice run` does. Free with drop(). */
static sl_graph_desc *load(const char *body) {
  static const char hdr[] =
      "local sl = require \"sluice\"\nlocal p = sl.pipeline { name = \"ids\", state = \"redis\" }\n";
  char *text = malloc(sizeof hdr + strlen(body));
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  strcpy(text, hdr);
  strcat(text, body);
  current = lf_check(dir, "p.lua", text, NULL, 0);
  free(text);
  snprintf(path, sizeof path, "%s", current.path);
  sl_graph_attach_alert_stores(current.g);
  return current.g;
}

static void drop(sl_graph_desc *g) {
  CU_ASSERT_PTR_EQUAL(g, current.g);
  lf_unload(&current);
}

static int has_error(const sl_graph_desc *g, int line, const char *msg) {
  return lf_has_error(g, path, line, msg);
}

/* The ids of the graph, one per line, in declaration order. */
static void ids_of(const sl_graph_desc *g, char *out, size_t len) {
  out[0] = '\0';
  for (size_t i = 0; i < g->count; i++) {
    strncat(out, g->nodes[i].label, len - strlen(out) - 1);
    strncat(out, "\n", len - strlen(out) - 1);
  }
}

#define BASE                                                                                       \
  "local r = p:kafka_source { topic = \"telemetry\" }:decode { format = \"json\" }\n"            \
  "local s = r:window { tumbling = \"10s\", key = \"machine_id\" }\n"                             \
  "  :aggregate { n = \"count()\", t = \"avg(temperature)\" }\n"                                   \
  "s:kafka_sink { topic = \"machine-stats\" }\n"                                                  \
  "s:alert { name = \"overheat\", when = \"t > 90\" }:kafka_sink { topic = \"alerts\" }\n"        \
  "p:dead_letter { topic = \"dlq\" }\n"

static void test_derived_ids_name_the_node(void) {
  sl_graph_desc *g = load(BASE);
  CU_ASSERT_EQUAL(g->nerrors, 0);
  char ids[2048];
  ids_of(g, ids, sizeof ids);
  CU_ASSERT_STRING_EQUAL(ids, "kafka_source:telemetry\n"
                              "decode:json\n"
                              "window:tumbling-10s:machine_id\n"
                              "kafka_sink:machine-stats\n"
                              "alert:overheat\n"
                              "kafka_sink:alerts\n"
                              "dead_letter\n"
                              "alert_store:alert:overheat\n");
  CU_ASSERT_EQUAL(sl_graph_find_id(g, "alert:overheat"), 4);
  CU_ASSERT_EQUAL(sl_graph_find_id(g, "window#2"), -1);
  /* sluice graph and the API name nodes by their ids. */
  sl_buf dot = SL_BUF_INIT, json = SL_BUF_INIT;
  CU_ASSERT_EQUAL(sl_graph_dot(g, &dot), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(dot.data, "label=\"window:tumbling-10s:machine_id\\nwindow\\n"));
  CU_ASSERT_EQUAL(sl_graph_json(g, &json), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(json.data, "\"label\":\"kafka_sink:machine-stats\""));
  sl_buf_free(&dot);
  sl_buf_free(&json);
  drop(g);
}

/* The bug of issue 13: a filter added upstream renamed the window's state. */
static void test_adding_unrelated_nodes_keeps_every_other_id(void) {
  sl_graph_desc *a = load(BASE);
  char before[2048];
  ids_of(a, before, sizeof before);
  drop(a);
  sl_graph_desc *b = load(
      "local r = p:kafka_source { topic = \"telemetry\" }:decode { format = \"json\" }\n"
      "  :filter \"temperature between -40 and 150\"\n"
      "  :map { f = \"temperature * 1.8 + 32\" }\n"
      "r:file_sink { path = \"raw.jsonl\" }\n"
      "local s = r:window { tumbling = \"10000ms\", key = \"machine_id\" }\n"
      "  :aggregate { n = \"count()\", t = \"avg(temperature)\", m = \"max(f)\" }\n"
      "s:kafka_sink { topic = \"machine-stats\" }\n"
      "s:cache { name = \"machines\", key = \"machine_id\" }\n"
      "s:alert { name = \"overheat\", when = \"t > 90\" }:kafka_sink { topic = \"alerts\" }\n"
      "p:dead_letter { topic = \"dlq\" }\n");
  CU_ASSERT_EQUAL(b->nerrors, 0);
  /* Every id of the first version is still there, on a node of the same type. */
  char *save = NULL;
  for (char *id = strtok_r(before, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
    int k = sl_graph_find_id(b, id);
    CU_ASSERT(k >= 0);
    if (k >= 0)
      CU_ASSERT(strncmp(b->nodes[k].type, id, strlen(b->nodes[k].type)) == 0);
  }
  CU_ASSERT(sl_graph_find_id(b, "map:f") >= 0);
  CU_ASSERT(sl_graph_find_id(b, "cache:machines") >= 0);
  drop(b);
}

static void test_collisions_get_a_suffix_only_in_their_group(void) {
  sl_graph_desc *g = load("local a = p:kafka_source { topic = \"a\" }:decode { format = \"json\" }\n"
                          "local b = p:kafka_source { topic = \"b\" }:decode { format = \"json\" }\n"
                          "a:stdout_sink {}\n"
                          "b:stdout_sink {}\n");
  CU_ASSERT_EQUAL(g->nerrors, 0);
  char ids[2048];
  ids_of(g, ids, sizeof ids);
  CU_ASSERT_STRING_EQUAL(ids, "kafka_source:a\ndecode:json\nkafka_source:b\ndecode:json~2\n"
                              "stdout_sink\nstdout_sink~2\n");
  drop(g);
  /* A node of another kind added in front renames nobody. */
  g = load("local c = p:kafka_source { topic = \"c\" }:file_sink { path = \"c.jsonl\" }\n"
           "local a = p:kafka_source { topic = \"a\" }:decode { format = \"json\" }\n"
           "local b = p:kafka_source { topic = \"b\" }:decode { format = \"json\" }\n"
           "a:stdout_sink {}\n"
           "b:stdout_sink {}\n");
  CU_ASSERT_EQUAL(sl_graph_find_id(g, "decode:json"), 3);
  CU_ASSERT_EQUAL(sl_graph_find_id(g, "decode:json~2"), 5);
  drop(g);
}

static void test_explicit_ids(void) {
  sl_graph_desc *g = load("local r = p:kafka_source { id = \"in\", topic = \"t\" }\n"
                          "r:window { id = \"stats\", tumbling = \"1m\", key = \"k\" }\n"
                          "  :aggregate { n = \"count()\" }:stdout_sink { id = \"decode:json\" }\n"
                          "r:decode { format = \"json\" }:stdout_sink {}\n"
                          "local o = { id = \"enc\", format = \"json\" }\n"
                          "r:encode(o)\n"
                          "assert(o.id == \"enc\", \"the caller's table keeps its id\")\n");
  CU_ASSERT_EQUAL(g->nerrors, 0);
  char ids[2048];
  ids_of(g, ids, sizeof ids);
  /* A derived id never takes an explicit one: the decode gets a suffix. */
  CU_ASSERT_STRING_EQUAL(ids, "in\nstats\ndecode:json\ndecode:json~2\nstdout_sink\nenc\n");
  /* `id` is not passed on as an option of the node. */
  CU_ASSERT_FALSE(sl_config_has(g->nodes[1].config, "id"));
  CU_ASSERT_TRUE(sl_config_has(g->nodes[1].config, "aggregate"));
  drop(g);
}

static void test_duplicate_and_bad_ids(void) {
  sl_graph_desc *g = load("local r = p:kafka_source { topic = \"t\" }\n"
                          "r:window { id = \"w\", tumbling = \"1m\", key = \"k\" }:aggregate { n = \"count()\" }\n"
                          "r:filter { \"x > 1\", id = \"w\" }\n"
                          "r:map { id = \"bad id!\", y = \"x\" }\n"
                          "r:select { id = 7, \"x\" }\n"
                          "r:select { id = \"\", \"x\" }\n");
  char want[600];
  snprintf(want, sizeof want, "filter: duplicate id 'w' (also the id of the window at %s:4)", path);
  CU_ASSERT_TRUE(has_error(g, 5, want));
  CU_ASSERT_TRUE(has_error(g, 6, "map: id 'bad id!': character ' ' not allowed (use letters, "
                                 "digits and _-.:/#@~)"));
  CU_ASSERT_TRUE(has_error(g, 7, "id must be a string such as id = \"stats\", not a number"));
  CU_ASSERT_TRUE(has_error(g, 8, "id must be a name of 1 to 100 characters"));
  CU_ASSERT_EQUAL(g->nerrors, 4);
  for (size_t i = 0; g->nerrors != 4 && i < g->nerrors; i++)
    fprintf(stderr, "  %s\n", g->errors[i]);
  drop(g);
}

/* Options that change a derived id, and one that does not. */
static void test_what_changes_a_derived_id(void) {
  sl_graph_desc *g = load("local r = p:kafka_source { topic = \"t\" }\n"
                          "r:filter \"x  >\\n 1\":stdout_sink {}\n"
                          "r:filter \"x > 2\":stdout_sink {}\n"
                          "r:window { hopping = \"1h\", every = \"15m\", key = { \"a\", \"b\" } }\n"
                          "  :aggregate { n = \"count()\" }:stdout_sink {}\n"
                          "r:window { session = \"90s\", key = \"k\" }:aggregate { n = \"count()\" }:stdout_sink {}\n");
  CU_ASSERT_EQUAL_FATAL(g->nerrors, 0);
  char a[256], b[256];
  sl_graph_derive_id(g, 1, a, sizeof a);
  sl_graph_derive_id(g, 3, b, sizeof b);
  CU_ASSERT_STRING_NOT_EQUAL(a, b); /* another expression */
  CU_ASSERT_EQUAL(strlen(a), strlen("filter:") + 8);
  CU_ASSERT(sl_graph_find_id(g, "window:hopping-1h-15m:a,b") >= 0);
  CU_ASSERT(sl_graph_find_id(g, "window:session-90s:k") >= 0);
  drop(g);
  /* White space inside an expression does not count. */
  g = load("local r = p:kafka_source { topic = \"t\" }\nr:filter \"x > 1\":stdout_sink {}\n");
  sl_graph_derive_id(g, 1, b, sizeof b);
  CU_ASSERT_STRING_EQUAL(a, b);
  drop(g);
}

/* Twins of a stateful node: the second's state id hangs on a counter. */
static void test_stateful_twins_are_flagged(void) {
  sl_graph_desc *g = load("local r = p:kafka_source { topic = \"t\" }\n"
                          "r:window { tumbling = \"1m\", key = \"k\" }:aggregate { n = \"count()\" }\n"
                          "  :stdout_sink {}\n"
                          "r:filter \"x > 1\":window { tumbling = \"1m\", key = \"k\" }\n"
                          "  :aggregate { n = \"count()\" }:stdout_sink {}\n"
                          "r:window { id = \"w3\", tumbling = \"1m\", key = \"k\" }\n"
                          "  :aggregate { n = \"count()\" }:stdout_sink {}\n");
  CU_ASSERT_EQUAL_FATAL(g->nerrors, 0);
  int flagged = 0;
  for (size_t i = 0; i < g->count; i++)
    if (sl_graph_fragile_id(g, current.reg, i)) {
      flagged++;
      CU_ASSERT_STRING_EQUAL(g->nodes[i].label, "window:tumbling-1m:k~2");
    }
  CU_ASSERT_EQUAL(flagged, 1); /* not the stateless stdout_sink~2, not the explicit w3 */
  drop(g);
}

int suite_core_graph_id(void) {
  CU_pSuite s = CU_add_suite("core_graph_id", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "derived ids name the node", test_derived_ids_name_the_node);
  CU_add_test(s, "adding unrelated nodes keeps every other id",
              test_adding_unrelated_nodes_keeps_every_other_id);
  CU_add_test(s, "collisions get a suffix only in their group",
              test_collisions_get_a_suffix_only_in_their_group);
  CU_add_test(s, "explicit ids", test_explicit_ids);
  CU_add_test(s, "duplicate and bad ids", test_duplicate_and_bad_ids);
  CU_add_test(s, "what changes a derived id", test_what_changes_a_derived_id);
  CU_add_test(s, "stateful twins are flagged", test_stateful_twins_are_flagged);
  return 0;
}
