/* SPDX-License-Identifier: Apache-2.0 */
/* The state compatibility comparison (core/lang/state_compat.c) and state shapes
 * (core/lang/state_shape.c): what is kept, what is refused with which words,
 * what --allow-state-loss drops, and which options change a fingerprint. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/graph_validate.h"
#include "lang/lua_pipeline.h"
#include "lang/state_compat.h"

#define W10 "window=tumbling 10s\nkey=machine_id\naggregate.n=count()\naggregate.t=avg(temp)\n"

static sl_state_node node(const char *id, const char *type, const char *topic, const char *shape) {
  sl_state_node n = {(char *)id, (char *)type, (char *)topic, (char *)shape, 7};
  return n;
}

static sl_stored_node stored(const char *id, const char *type, const char *shape,
                             const char *state_topic) {
  sl_stored_node s = {id, type, type ? "telemetry" : NULL, shape, state_topic, state_topic ? 3 : 0};
  return s;
}

/* Compare one current node with one stored node. */
static sl_compat_report compare1(sl_state_node c, sl_stored_node s, const char *allow) {
  sl_compat_report rep;
  const char *const al[1] = {allow};
  CU_ASSERT_EQUAL_FATAL(sl_state_compare("p.lua", &c, 1, &s, 1, al, allow ? 1 : 0, &rep), SL_OK);
  return rep;
}

static void test_unchanged_is_kept_silently(void) {
  sl_compat_report rep = compare1(node("stats", "window", "telemetry", W10),
                                  stored("stats", "window", W10, "telemetry"), NULL);
  CU_ASSERT_EQUAL(rep.n, 0);
  CU_ASSERT_EQUAL(rep.refused, 0);
  sl_compat_report_free(&rep);
}

static void test_added_and_removed_aggregates_are_kept(void) {
  sl_compat_report rep = compare1(
      node("stats", "window", "telemetry", W10 "aggregate.x=max(vib)\n"),
      stored("stats", "window", "window=tumbling 10s\nkey=machine_id\naggregate.n=count()\n"
                                "aggregate.gone=min(temp)\n",
             "telemetry"),
      NULL);
  CU_ASSERT_EQUAL_FATAL(rep.n, 1);
  CU_ASSERT_EQUAL(rep.items[0].verdict, SL_COMPAT_NOTE);
  CU_ASSERT_EQUAL(rep.refused, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(rep.items[0].what, "aggregate 'gone' removed"));
  CU_ASSERT_PTR_NOT_NULL(strstr(rep.items[0].what, "aggregate 't' added"));
  CU_ASSERT_PTR_NOT_NULL(strstr(rep.items[0].what, "aggregate 'x' added"));
  sl_compat_report_free(&rep);
}

static void test_incompatible_shape_is_refused_with_advice(void) {
  sl_compat_report rep =
      compare1(node("stats", "window", "telemetry",
                    "window=tumbling 20s\nkey=machine_id\naggregate.n=count()\naggregate.t=max(temp)\n"),
               stored("stats", "window", W10, "telemetry"), NULL);
  CU_ASSERT_EQUAL_FATAL(rep.n, 1);
  CU_ASSERT_EQUAL(rep.refused, 1);
  CU_ASSERT_EQUAL(rep.items[0].verdict, SL_COMPAT_REFUSE);
  CU_ASSERT_STRING_EQUAL(rep.items[0].id, "stats");
  CU_ASSERT_STRING_EQUAL(rep.items[0].what,
                         "window changed from 'tumbling 10s' to 'tumbling 20s'; aggregate t changed "
                         "from 'avg(temp)' to 'max(temp)'");
  CU_ASSERT_PTR_NOT_NULL(strstr(rep.items[0].todo, "--allow-state-loss stats"));
  CU_ASSERT_PTR_NOT_NULL(strstr(rep.items[0].todo, "sluice state drop p.lua stats"));
  sl_compat_report_free(&rep);
  /* The same change with nothing stored loses nothing: a note, not a refusal. */
  rep = compare1(node("stats", "window", "telemetry", "window=tumbling 20s\nkey=machine_id\n"),
                 stored("stats", "window", W10, NULL), NULL);
  CU_ASSERT_EQUAL(rep.refused, 0);
  sl_compat_report_free(&rep);
}

static void test_allow_state_loss_drops_exactly_the_named_ids(void) {
  sl_state_node cur[2] = {node("a", "window", "telemetry", "window=tumbling 1m\nkey=k\n"),
                          node("b", "window", "telemetry", "window=tumbling 1m\nkey=j\n")};
  sl_stored_node st[3] = {stored("a", "window", "window=tumbling 2m\nkey=k\n", "telemetry"),
                          stored("b", "window", "window=tumbling 2m\nkey=j\n", "telemetry"),
                          stored("old", "alert", "key=\n", "telemetry")};
  const char *const allow[2] = {"a", "typo"};
  sl_compat_report rep;
  CU_ASSERT_EQUAL_FATAL(sl_state_compare("p.lua", cur, 2, st, 3, allow, 2, &rep), SL_OK);
  CU_ASSERT_EQUAL_FATAL(rep.n, 4);
  CU_ASSERT_EQUAL(rep.items[0].verdict, SL_COMPAT_DROP);
  CU_ASSERT_STRING_EQUAL(rep.items[0].todo, "");
  CU_ASSERT_EQUAL(rep.items[1].verdict, SL_COMPAT_REFUSE); /* b was not named */
  CU_ASSERT_EQUAL(rep.items[2].verdict, SL_COMPAT_REFUSE); /* nor the orphan */
  CU_ASSERT_STRING_EQUAL(rep.items[3].id, "typo");
  CU_ASSERT_EQUAL(rep.items[3].verdict, SL_COMPAT_NOTE);
  CU_ASSERT_EQUAL(rep.refused, 2);
  CU_ASSERT_EQUAL(rep.dropped, 1);
  sl_compat_report_free(&rep);
}

static void test_orphaned_state_names_a_candidate(void) {
  /* Written by a sluice before stable ids: positional id, no metadata. */
  sl_compat_report rep = compare1(node("window:tumbling-10s:machine_id", "window", "telemetry", W10),
                                  stored("window#2", NULL, NULL, "telemetry"), NULL);
  CU_ASSERT_EQUAL_FATAL(rep.n, 1);
  CU_ASSERT_EQUAL(rep.items[0].verdict, SL_COMPAT_REFUSE);
  CU_ASSERT_STRING_EQUAL(rep.items[0].what, "stored state of window 'window#2' (3 partitions) "
                                            "belongs to no node of the pipeline (written by a sluice "
                                            "before stable ids)");
  CU_ASSERT_STRING_EQUAL(rep.items[0].todo,
                         "if it is the window at p.lua:7 (now id 'window:tumbling-10s:machine_id'), "
                         "add id = \"window#2\" to it to keep this state; otherwise drop it: sluice "
                         "state drop p.lua window#2, or start with --allow-state-loss window#2");
  sl_compat_report_free(&rep);
  /* A derived id that moved because the window's size changed: no id can keep it. */
  rep = compare1(node("window:tumbling-20s:machine_id", "window", "telemetry",
                      "window=tumbling 20s\nkey=machine_id\naggregate.n=count()\naggregate.t=avg(temp)\n"),
                 stored("window:tumbling-10s:machine_id", "window", W10, "telemetry"), NULL);
  CU_ASSERT_EQUAL(rep.refused, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(rep.items[0].what, "window changed from 'tumbling 10s' to "
                                                   "'tumbling 20s'"));
  CU_ASSERT_PTR_NULL(strstr(rep.items[0].todo, "add id"));
  sl_compat_report_free(&rep);
  /* An id known only from metadata (nothing stored) is simply forgotten. */
  rep = compare1(node("x", "window", "telemetry", W10), stored("gone", "window", W10, NULL), NULL);
  CU_ASSERT_EQUAL(rep.n, 0);
  sl_compat_report_free(&rep);
}

static void test_kind_and_source_changes_are_refused(void) {
  sl_compat_report rep = compare1(node("w", "alert", "telemetry", "key=\n"),
                                  stored("w", "window", W10, "telemetry"), NULL);
  CU_ASSERT_EQUAL(rep.refused, 1);
  CU_ASSERT_STRING_EQUAL(rep.items[0].what, "kind changed from window to alert");
  sl_compat_report_free(&rep);
  rep = compare1(node("w", "window", "telemetry-v2", W10), stored("w", "window", W10, "telemetry"),
                 NULL);
  CU_ASSERT_EQUAL(rep.refused, 1);
  CU_ASSERT_STRING_EQUAL(rep.items[0].what, "its state is stored under source 'telemetry' but the "
                                            "window now reads 'telemetry-v2'");
  sl_compat_report_free(&rep);
}

/* Shapes and fingerprints come from the real loader. */
static char dir[256];

static int setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sluice_compat_XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* The fingerprints of the stateful nodes of a pipeline body, "," joined. */
static void fingerprints(const char *body, char *out, size_t len, size_t *nstateful) {
  char path[320];
  snprintf(path, sizeof path, "%s/f.lua", dir);
  FILE *fp = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fprintf(fp, "local sl = require \"sluice\"\nlocal p = sl.pipeline { state = \"redis\" }\n"
              "local r = p:kafka_source { topic = \"t\" }\n%s",
          body);
  fclose(fp);
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  sl_lua *lua = NULL;
  sl_graph_desc *g = sl_lua_load_pipeline(path, NULL, 0, reg, &lua, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  sl_graph_validate(g, reg, NULL);
  CU_ASSERT_EQUAL(g->nerrors, 0);
  sl_state_node *v = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_state_nodes(g, reg, &v, nstateful), SL_OK);
  out[0] = '\0';
  for (size_t i = 0; i < *nstateful; i++) {
    char f[17];
    sl_state_fingerprint(v[i].shape, f);
    strncat(out, f, len - strlen(out) - 1);
    strncat(out, ",", len - strlen(out) - 1);
    CU_ASSERT_STRING_EQUAL(v[i].topic, "t");
  }
  sl_state_nodes_free(v, *nstateful);
  sl_graph_desc_free(g);
  sl_lua_close(lua);
  sl_registry_free(reg);
}

static void test_what_changes_a_fingerprint(void) {
  char base[128], same[128], other[128];
  size_t n = 0;
  fingerprints("r:filter \"x > 1\":window { tumbling = \"10s\", key = \"k\", delay = \"1s\" }\n"
               "  :aggregate { n = \"count()\", a = \"avg(x)\" }\n"
               "  :alert { name = \"hot\", when = \"a > 1\" }:stdout_sink {}\n",
               base, sizeof base, &n);
  CU_ASSERT_EQUAL(n, 2); /* window and alert; filter and sink keep no state */
  /* Another filter, delay, alert condition, duration spelling, spec spacing: same shapes. */
  fingerprints("r:filter \"x > 2\":window { tumbling = \"10000ms\", key = \"k\", delay = \"5s\" }\n"
               "  :aggregate { n = \"count()\", a = \"avg( x )\" }\n"
               "  :alert { name = \"hot\", when = \"a > 3\" }:stdout_sink {}\n",
               same, sizeof same, &n);
  CU_ASSERT_STRING_EQUAL(base, same);
  fingerprints("r:filter \"x > 1\":window { tumbling = \"10s\", key = \"k\", delay = \"1s\" }\n"
               "  :aggregate { n = \"count()\", a = \"avg(y)\" }\n"
               "  :alert { name = \"hot\", when = \"a > 1\", key = \"k\" }:stdout_sink {}\n",
               other, sizeof other, &n);
  CU_ASSERT_NOT_EQUAL(strncmp(base, other, 16), 0);           /* aggregate argument */
  CU_ASSERT_NOT_EQUAL(strcmp(base + 17, other + 17), 0);      /* alert key */
}

int suite_core_state_compat(void) {
  CU_pSuite s = CU_add_suite("core_state_compat", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "unchanged is kept silently", test_unchanged_is_kept_silently);
  CU_add_test(s, "added and removed aggregates are kept", test_added_and_removed_aggregates_are_kept);
  CU_add_test(s, "incompatible shape is refused with advice",
              test_incompatible_shape_is_refused_with_advice);
  CU_add_test(s, "--allow-state-loss drops exactly the named ids",
              test_allow_state_loss_drops_exactly_the_named_ids);
  CU_add_test(s, "orphaned state names a candidate", test_orphaned_state_names_a_candidate);
  CU_add_test(s, "kind and source changes are refused", test_kind_and_source_changes_are_refused);
  CU_add_test(s, "what changes a fingerprint", test_what_changes_a_fingerprint);
  return 0;
}
