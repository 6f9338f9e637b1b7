/* SPDX-License-Identifier: Apache-2.0 */
/* enrich in a running pipeline, where it adds the fields to the records it
 * receives in place when no other branch sees them: a record shared by two
 * branches must reach the other branch unchanged, and a record on a branch
 * of its own is enriched all the same. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/graph_validate.h"
#include "engine/runtime.h"
#include "lua_fixture.h"

static char dir[200];

/* The whole of DIR/NAME (malloc'd, "" when missing). */
static char *read_file(const char *name) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *fp = fopen(path, "r");
  char *buf = calloc(1, 65536);
  if (fp && buf) {
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = '\0';
  }
  if (fp)
    fclose(fp);
  return buf;
}

static size_t count(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

static int node_of(const sl_graph_desc *g, const char *type, int nth) {
  for (size_t i = 0; i < g->count; i++)
    if (strcmp(g->nodes[i].type, type) == 0 && nth-- == 0)
      return (int)i;
  return -1;
}

/* The number of errors of `g` (printed). */
static size_t valid(sl_graph_desc *g, sl_registry *reg) {
  sl_graph_validate(g, reg, NULL);
  for (size_t i = 0; i < g->nerrors; i++)
    fprintf(stderr, "%s\n", g->errors[i]);
  return g->nerrors;
}

/* Runs the loaded pipeline to its end, then unloads it. */
static void run(lf_loaded *l) {
  sl_error err;
  sl_error_clear(&err);
  sl_runtime *rt = sl_runtime_new(l->g, l->reg, NULL, &err);
  if (!rt)
    fprintf(stderr, "%s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL(rt);
  if (rt) {
    CU_ASSERT_EQUAL(sl_runtime_run(rt, &err), SL_OK);
    sl_runtime_free(rt);
  }
  lf_unload(l);
}

static void test_shared_record_unchanged_for_other_branch(void) {
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-enrich-rt"), 0);
  lf_write(dir, "plant.jsonl",
           "{\"machine_id\":\"m1\",\"site\":\"north\"}\n"
           "{\"machine_id\":\"m2\",\"site\":\"south\"}\n");
  const char *in = "{\"machine_id\":\"m1\",\"temperature\":70}\n"
                   "{\"machine_id\":\"m2\",\"temperature\":71}\n"
                   "{\"machine_id\":\"m3\",\"temperature\":72}\n";
  lf_write(dir, "a.jsonl", in);
  lf_write(dir, "b.jsonl", in);
  char text[2048];
  /* The enrich branch is declared first, so it runs first on the shared
   * batch: written in place, the plain branch would see `site`. */
  snprintf(
      text, sizeof text,
      "local sl = require \"sluice\"\n"
      "local p = sl.pipeline { name = \"enrich-shared\" }\n"
      "p:table { id = \"enrich-rt-plant\", path = \"plant.jsonl\", key = \"machine_id\" }\n"
      "local r = p:file_source { path = \"%s/a.jsonl\" }\n"
      "r:enrich { table = \"enrich-rt-plant\", key = \"machine_id\", fields = { \"site\" } }\n"
      "  :file_sink { path = \"%s/enriched.jsonl\" }\n"
      "r:file_sink { path = \"%s/plain.jsonl\" }\n"
      "p:file_source { path = \"%s/b.jsonl\" }:filter \"temperature > 0\"\n"
      "  :enrich { table = \"enrich-rt-plant\", key = \"machine_id\", fields = { \"site\" } }\n"
      "  :file_sink { path = \"%s/chain.jsonl\" }\n",
      dir, dir, dir, dir, dir);
  lf_loaded l = lf_load(dir, text);
  CU_ASSERT_EQUAL_FATAL(valid(l.g, l.reg), 0);
  CU_ASSERT_FALSE(sl_graph_sole_path(l.g, node_of(l.g, "enrich", 0))); /* below the fork */
  CU_ASSERT_TRUE(sl_graph_sole_path(l.g, node_of(l.g, "enrich", 1)));  /* a chain of its own */
  run(&l);

  char *enriched = read_file("enriched.jsonl"), *plain = read_file("plain.jsonl"),
       *chain = read_file("chain.jsonl");
  CU_ASSERT_EQUAL(count(enriched, "\"machine_id\""), 3);
  CU_ASSERT_EQUAL(count(enriched, "\"site\":\"north\""), 1);
  CU_ASSERT_EQUAL(count(enriched, "\"site\":\"south\""), 1);
  CU_ASSERT_EQUAL(count(enriched, "\"site\":null"), 1); /* m3: no entry */
  CU_ASSERT_EQUAL(count(plain, "\"machine_id\""), 3);
  CU_ASSERT_EQUAL(count(plain, "site"), 0); /* the other branch's records are untouched */
  CU_ASSERT_EQUAL(count(chain, "\"site\":\"north\""), 1);
  CU_ASSERT_EQUAL(count(chain, "\"site\":\"south\""), 1);
  CU_ASSERT_EQUAL(count(chain, "\"temperature\":72"), 1);
  free(enriched);
  free(plain);
  free(chain);
  lf_dir_remove(dir);
}

/* Avro-decoded readings (records with a shape) through two enrich chains
 * in place: one adds three table columns, which entries of one shape list
 * in a row (copied in one block) and entries of another shape list apart
 * and without max_temp (copied one by one, a null for the missing one),
 * with a missing key in between; the other sets `site`, which the readings
 * already have, so it must replace it, never append a second. */
extern const char sl_simulator_schema[];

static void test_avro_readings_enriched_in_place(void) {
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-enrich-avro"), 0);
  lf_write(dir, "reading.avsc", sl_simulator_schema);
  lf_write(dir, "plant.jsonl",
           "{\"machine_id\":\"m0001\",\"site\":\"north\",\"line\":\"L1\",\"name\":\"Press "
           "1\",\"max_temp\":90}\n"
           "{\"machine_id\":\"m0002\",\"site\":\"south\",\"line\":\"L2\",\"name\":\"Lathe "
           "2\",\"max_temp\":85}\n"
           "{\"name\":\"Drill 3\",\"line\":\"L3\",\"site\":\"west\",\"machine_id\":\"m0003\"}\n"
           "{\"name\":\"Mill 4\",\"line\":\"L4\",\"site\":\"east\",\"machine_id\":\"m0004\"}\n");
  char text[2048];
  snprintf(
      text, sizeof text,
      "local sl = require \"sluice\"\n"
      "local p = sl.pipeline { name = \"enrich-avro\" }\n"
      "p:table { id = \"enrich-rt-avro\", path = \"plant.jsonl\", key = \"machine_id\" }\n"
      "p:simulator { machines = 5, records = 10, rate = 0, format = \"avro\", faults = false }\n"
      "  :decode { format = \"avro\", schema = \"reading.avsc\" }\n"
      "  :enrich { table = \"enrich-rt-avro\", key = \"machine_id\",\n"
      "            fields = { \"line\", \"name\", \"max_temp\" } }\n"
      "  :file_sink { path = \"%s/columns.jsonl\" }\n"
      "p:simulator { machines = 5, records = 10, rate = 0, format = \"avro\", faults = false }\n"
      "  :decode { format = \"avro\", schema = \"reading.avsc\" }\n"
      "  :enrich { table = \"enrich-rt-avro\", key = \"machine_id\", fields = { \"site\", \"line\" "
      "} }\n"
      "  :file_sink { path = \"%s/site.jsonl\" }\n",
      dir, dir);
  lf_loaded l = lf_load(dir, text);
  CU_ASSERT_EQUAL_FATAL(valid(l.g, l.reg), 0);
  CU_ASSERT_TRUE(sl_graph_sole_path(l.g, node_of(l.g, "enrich", 0))); /* in place */
  run(&l);

  /* m0001, m0002 (one shape: the second is copied by the fast path in one
   * block), m0003, m0004 (another shape: the second copied field by field),
   * m0005 (no entry), twice over. */
  char *columns = read_file("columns.jsonl"), *site = read_file("site.jsonl");
  CU_ASSERT_EQUAL(count(columns, "\"machine_id\""), 10);
  CU_ASSERT_EQUAL(count(columns, "\"line\""), 10); /* never twice in one record */
  CU_ASSERT_EQUAL(count(columns, "\"max_temp\""), 10);
  CU_ASSERT_EQUAL(count(columns, "\"line\":\"L1\",\"name\":\"Press 1\",\"max_temp\":90"), 2);
  CU_ASSERT_EQUAL(count(columns, "\"line\":\"L2\",\"name\":\"Lathe 2\",\"max_temp\":85"), 2);
  CU_ASSERT_EQUAL(count(columns, "\"line\":null,\"name\":null,\"max_temp\":null"), 2);
  CU_ASSERT_EQUAL(count(columns, "\"line\":\"L3\",\"name\":\"Drill 3\",\"max_temp\":null"), 2);
  CU_ASSERT_EQUAL(count(columns, "\"line\":\"L4\",\"name\":\"Mill 4\",\"max_temp\":null"), 2);
  CU_ASSERT_EQUAL(count(columns, "\"site\":\"plant-"), 10); /* the readings' own, untouched */
  CU_ASSERT_EQUAL(count(site, "\"site\""), 10);             /* replaced, not appended */
  CU_ASSERT_EQUAL(count(site, "plant-"), 0);
  CU_ASSERT_EQUAL(count(site, "\"site\":\"north\""), 2);
  CU_ASSERT_EQUAL(count(site, "\"site\":\"south\""), 2);
  CU_ASSERT_EQUAL(count(site, "\"site\":\"west\""), 2);
  CU_ASSERT_EQUAL(count(site, "\"site\":\"east\""), 2);
  CU_ASSERT_EQUAL(count(site, "\"site\":null"), 2);
  CU_ASSERT_EQUAL(count(site, "\"line\""), 10);
  free(columns);
  free(site);
  lf_dir_remove(dir);
}

/* JSON records have no shape: in place, enrich copies the entry's columns
 * for a record whose names are those of the last record shown to lack
 * ours, and a record of as many fields but other names (one of them ours)
 * must have it replaced, not appended a second time. */
static void test_json_records_by_layout(void) {
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-enrich-json"), 0);
  lf_write(dir, "plant.jsonl",
           "{\"machine_id\":\"m1\",\"site\":\"north\"}\n"
           "{\"machine_id\":\"m2\",\"site\":\"south\"}\n");
  lf_write(dir, "in.jsonl",
           "{\"machine_id\":\"m1\",\"temperature\":70}\n"
           "{\"machine_id\":\"m2\",\"temperature\":71}\n"
           "{\"machine_id\":\"m1\",\"site\":\"stale\"}\n"
           "{\"temperature\":72,\"machine_id\":\"m2\"}\n"
           "{\"machine_id\":\"m2\",\"temperature\":73}\n");
  char text[1024];
  snprintf(text, sizeof text,
           "local sl = require \"sluice\"\n"
           "local p = sl.pipeline { name = \"enrich-json\" }\n"
           "p:table { id = \"enrich-rt-json\", path = \"plant.jsonl\", key = \"machine_id\" }\n"
           "p:file_source { path = \"%s/in.jsonl\" }\n"
           "  :enrich { table = \"enrich-rt-json\", key = \"machine_id\", fields = { \"site\" } }\n"
           "  :file_sink { path = \"%s/out.jsonl\" }\n",
           dir, dir);
  lf_loaded l = lf_load(dir, text);
  CU_ASSERT_EQUAL_FATAL(valid(l.g, l.reg), 0);
  CU_ASSERT_TRUE(sl_graph_sole_path(l.g, node_of(l.g, "enrich", 0))); /* in place */
  run(&l);
  char *out = read_file("out.jsonl");
  CU_ASSERT_EQUAL(count(out, "\"machine_id\""), 5);
  CU_ASSERT_EQUAL(count(out, "\"site\""), 5); /* one each */
  CU_ASSERT_EQUAL(count(out, "\"site\":\"north\""), 2);
  CU_ASSERT_EQUAL(count(out, "\"site\":\"south\""), 3);
  CU_ASSERT_EQUAL(count(out, "stale"), 0);
  free(out);
  lf_dir_remove(dir);
}

int suite_operators_enrich_runtime(void) {
  CU_pSuite s = CU_add_suite("operators_enrich_runtime", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "a record shared by two branches is not enriched in place",
              test_shared_record_unchanged_for_other_branch);
  CU_add_test(s, "Avro readings enriched in place", test_avro_readings_enriched_in_place);
  CU_add_test(s, "JSON records enriched in place by layout", test_json_records_by_layout);
  return CU_get_error();
}
