/* SPDX-License-Identifier: Apache-2.0 */
/* End to end through the `sluice` binary (SLUICE_BIN): generated readings
 * with malformed lines, nulls and strings go through expression and Lua
 * branches to file sinks and a dead-letter file; the expected outputs are
 * computed here in plain C and compared value by value (jansson). Also the
 * exit codes, `graph`, `version`, log formats and --set. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 5000

static char dir[256];
static const char *bin;

typedef enum { ROW_OK, ROW_NULL, ROW_STRING, ROW_MALFORMED } kind;
static struct {
  kind k;
  int id, t;
} rows[N + 1]; /* by line number */

static int setup(void) {
  bin = getenv("SLUICE_BIN");
  snprintf(dir, sizeof dir, "/tmp/sluice_e2e_XXXXXX");
  return bin && mkdtemp(dir) ? 0 : -1;
}

static int teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text) {
  char p[400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *fp = fopen(p, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs(text, fp);
  fclose(fp);
}

static char *read_file(const char *name) {
  char p[400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *fp = fopen(p, "rb");
  if (!fp)
    return NULL;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, fp);
  s[got] = '\0';
  fclose(fp);
  return s;
}

/* Run `sluice ARGS` in dir, stdout/stderr to out.txt/err.txt; the exit code. */
static int run(const char *args) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s > out.txt 2> err.txt", dir, bin, args);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint32_t rng = 12345;
static uint32_t next_rand(void) {
  rng = rng * 1103515245u + 12345u;
  return (rng >> 8) & 0xffffff;
}

static void generate(void) {
  FILE *fp;
  char p[400];
  snprintf(p, sizeof p, "%s/in.jsonl", dir);
  fp = fopen(p, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  for (int i = 1; i <= N; i++) {
    uint32_t r = next_rand() % 100;
    rows[i].id = i;
    rows[i].t = (int)(next_rand() % 201) - 50;
    rows[i].k = r < 3 ? ROW_MALFORMED : r < 6 ? ROW_STRING : r < 11 ? ROW_NULL : ROW_OK;
    switch (rows[i].k) {
    case ROW_MALFORMED: fprintf(fp, "{\"id\":%d,\"t\":\n", i); break;
    case ROW_STRING: fprintf(fp, "{\"id\":%d,\"t\":\"hot\",\"dev\":\"d%d\"}\n", i, i % 7); break;
    case ROW_NULL: fprintf(fp, "{\"id\":%d,\"t\":null,\"dev\":\"d%d\"}\n", i, i % 7); break;
    case ROW_OK: fprintf(fp, "{\"id\":%d,\"t\":%d,\"dev\":\"d%d\"}\n", i, rows[i].t, i % 7); break;
    }
  }
  fclose(fp);
}

static const char pipeline[] =
    "local sl = require \"sluice\"\n"
    "local p = sl.pipeline { name = \"e2e\" }\n"
    "local thr = sl.param(\"thr\", 50)\n"
    "local s = p:file_source { path = \"in.jsonl\" }\n"
    "s:filter(\"t + 1 > \" .. thr)\n"
    "  :map { t2 = \"t * 2\", dev = \"upper(dev)\" }\n"
    "  :select { \"id\", \"t2\", \"dev\" }\n"
    "  :file_sink { path = \"out.jsonl\", truncate = true }\n"
    "s:filter(function(r) return r.id % 3 == 0 end)\n"
    "  :map(function(r) return { id = r.id, half = r.id // 2 } end)\n"
    "  :file_sink { path = \"lua.jsonl\", truncate = true }\n"
    "p:dead_letter { path = \"dl.jsonl\" }\n";

/* Parse JSON Lines into an array of objects. */
static json_t *parse_lines(const char *text) {
  json_t *arr = json_array();
  const char *p = text;
  while (p && *p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    json_error_t e;
    json_t *o = json_loadb(p, len, 0, &e);
    if (!o) {
      json_decref(arr);
      return NULL;
    }
    json_array_append_new(arr, o);
    p = nl ? nl + 1 : NULL;
  }
  return arr;
}

static json_t *load_lines(const char *name) {
  char *text = read_file(name);
  json_t *arr = text ? parse_lines(text) : NULL;
  free(text);
  return arr;
}

static void check_outputs(int thr) {
  char *text = read_file("out.jsonl");
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  json_t *out = parse_lines(text);
  free(text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  size_t k = 0, bad = 0;
  for (int i = 1; i <= N; i++) {
    if (rows[i].k != ROW_OK || !(rows[i].t + 1 > thr))
      continue;
    json_t *o = json_array_get(out, k++);
    char dev[8];
    snprintf(dev, sizeof dev, "D%d", i % 7);
    if (!o || json_object_size(o) != 3 || json_integer_value(json_object_get(o, "id")) != i ||
        json_integer_value(json_object_get(o, "t2")) != 2 * rows[i].t ||
        !json_is_integer(json_object_get(o, "t2")) ||
        strcmp(json_string_value(json_object_get(o, "dev")) ? json_string_value(json_object_get(o, "dev")) : "", dev) != 0)
      bad++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(k > 100);
  CU_ASSERT_EQUAL(json_array_size(out), k);
  json_decref(out);

  text = read_file("lua.jsonl");
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  json_t *lua = parse_lines(text);
  free(text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(lua);
  k = 0, bad = 0;
  for (int i = 1; i <= N; i++) {
    if (rows[i].k == ROW_MALFORMED || i % 3 != 0)
      continue;
    json_t *o = json_array_get(lua, k++);
    if (!o || json_object_size(o) != 2 || json_integer_value(json_object_get(o, "id")) != i ||
        json_integer_value(json_object_get(o, "half")) != i / 2)
      bad++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(json_array_size(lua), k);
  json_decref(lua);
}

static void check_dead_letters(void) {
  char *text = read_file("dl.jsonl");
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  json_t *dl = parse_lines(text);
  free(text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dl);
  static char seen[N + 1];
  memset(seen, 0, sizeof seen);
  size_t bad = 0, expected = 0;
  for (size_t j = 0; j < json_array_size(dl); j++) {
    json_t *o = json_array_get(dl, j);
    json_int_t line = json_integer_value(json_object_get(json_object_get(o, "source"), "offset"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    const char *raw = json_string_value(json_object_get(o, "raw"));
    const char *node = json_string_value(json_object_get(o, "node"));
    if (line < 1 || line > N || !reason || !raw || !node || seen[line]) {
      bad++;
      continue;
    }
    seen[line] = 1;
    char want[128];
    if (rows[line].k == ROW_MALFORMED) {
      snprintf(want, sizeof want, "{\"id\":%d,\"t\":", (int)line);
      /* decoded in place by the source: the source rejected it */
      bad += strcmp(reason, "decode") != 0 || strcmp(raw, want) != 0 ||
             strcmp(node, "file_source:in.jsonl") != 0;
    } else if (rows[line].k == ROW_STRING) {
      snprintf(want, sizeof want, "{\"id\":%d,\"t\":\"hot\",\"dev\":\"d%d\"}", (int)line,
               (int)line % 7);
      bad += strcmp(reason, "eval") != 0 || strcmp(raw, want) != 0 ||
             strncmp(node, "filter:", 7) != 0 || /* filter:<hash of its expression> */ !strstr(json_string_value(json_object_get(o, "error")), "cannot add string");
    } else {
      bad++;
    }
  }
  for (int i = 1; i <= N; i++)
    expected += rows[i].k == ROW_MALFORMED || rows[i].k == ROW_STRING;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(json_array_size(dl), expected);
  CU_ASSERT(expected > 100);
  json_decref(dl);
}

/* Regression: file_source without `format` must decode JSON (its documented
 * default), not hand raw bytes to the operators. */
static void test_file_source_default_format_decodes_json(void) {
  generate();
  write_file("p.lua", pipeline);
  CU_ASSERT_EQUAL_FATAL(run("run p.lua"), 0);
  check_outputs(50);
  check_dead_letters();
}

/* A record a connector rejects names that connector, not the pipeline's
 * first node (regression: connector dead letters were attributed to node 0;
 * here node 0 is the dead-letter sink itself). */
static void test_connector_dead_letter_names_its_node(void) {
  write_file("long.jsonl", "{\"id\":1}\n{\"id\":2,\"padding\":\"xxxxxxxxxxxxxxxx\"}\n");
  write_file("long.lua", "local sl = require \"sluice\"\n"
                         "local p = sl.pipeline { name = \"dlnode\" }\n"
                         "p:dead_letter { path = \"long_dl.jsonl\" }\n"
                         "p:file_source { path = \"long.jsonl\", max_line_bytes = 16 }\n"
                         "  :file_sink { path = \"long_out.jsonl\", truncate = true }\n");
  CU_ASSERT_EQUAL_FATAL(run("run long.lua"), 0);
  json_t *dl = load_lines("long_dl.jsonl");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dl);
  CU_ASSERT_EQUAL_FATAL(json_array_size(dl), 1);
  json_t *o = json_array_get(dl, 0);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "reason")), "decode");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "node")), "file_source:long.jsonl");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(o, "source"), "offset")), 2);
  json_decref(dl);
}

/* Event time at the source, end to end (issue 12): readings of m1 (hot,
 * 400 s) and m2 (60 s, then silent), one a second, arriving out of order
 * by up to 1 s across window boundaries (0, 2, 1, 4, 3, ...), plus two
 * readings without a valid time. The JSON source assigns time = "ts" with
 * delay = "2s": `for` fires once, `absent` fires for m2, windows without
 * their own time take the source's delay, so no reading is late. A raw
 * source with the same options reads its time at the :decode{} (the Kafka
 * path) and counts the same. */
#define EVT_BASE 1700000000000LL
static void write_event_readings(void) {
  char *text = malloc(64 * 1024);
  size_t len = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  for (int i = 0; i < 400; i++) {
    int s = i == 0 ? 0 : i % 2 ? i + 1 : i - 1; /* 0, 2, 1, 4, 3, ... */
    if (s > 399)
      s = 399;
    len += (size_t)snprintf(text + len, 64 * 1024 - len,
                            "{\"machine_id\":\"m1\",\"ts\":%lld,\"temperature\":95}\n",
                            EVT_BASE + s * 1000LL);
    if (s <= 60)
      len += (size_t)snprintf(text + len, 64 * 1024 - len,
                              "{\"machine_id\":\"m2\",\"ts\":%lld,\"temperature\":20}\n",
                              EVT_BASE + s * 1000LL);
  }
  snprintf(text + len, 64 * 1024 - len,
           "{\"machine_id\":\"m3\",\"ts\":\"yesterday\",\"temperature\":20}\n"
           "{\"machine_id\":\"m3\",\"temperature\":20}\n");
  write_file("evt.jsonl", text);
  free(text);
}

/* Windows in `name`: the number of results and the sum of `n`. */
static void window_totals(const char *name, size_t *results, long long *readings) {
  json_t *w = load_lines(name);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  *results = json_array_size(w);
  *readings = 0;
  for (size_t i = 0; i < *results; i++)
    *readings += json_integer_value(json_object_get(json_array_get(w, i), "n"));
  json_decref(w);
}

static void test_source_event_time_alerts_and_windows(void) {
  write_event_readings();
  write_file("evt.lua",
             "local sl = require \"sluice\"\n"
             "local p = sl.pipeline { name = \"evt\" }\n"
             "local r = p:file_source { path = \"evt.jsonl\", time = \"ts\",\n"
             "                          delay = \"2s\" }\n"
             "r:alert { name = \"hot\", when = \"temperature > 90\", [\"for\"] = \"30s\",\n"
             "          key = \"machine_id\" }\n"
             "  :file_sink { path = \"hot.jsonl\", truncate = true }\n"
             "r:alert { name = \"dead\", absent = \"60s\", key = \"machine_id\" }\n"
             "  :file_sink { path = \"dead.jsonl\", truncate = true }\n"
             "r:window { tumbling = \"10s\", key = \"machine_id\" }\n"
             "  :aggregate { n = \"count()\" }\n"
             "  :file_sink { path = \"win.jsonl\", truncate = true }\n"
             "p:file_source { path = \"evt.jsonl\", format = \"raw\", time = \"ts\",\n"
             "                delay = \"2s\" }\n"
             "  :decode { format = \"json\" }\n"
             "  :window { tumbling = \"10s\", key = \"machine_id\" }\n"
             "  :aggregate { n = \"count()\" }\n"
             "  :file_sink { path = \"win_raw.jsonl\", truncate = true }\n"
             "p:dead_letter { path = \"evt_dl.jsonl\" }\n");
  CU_ASSERT_EQUAL_FATAL(run("run evt.lua"), 0);

  json_t *hot = load_lines("hot.jsonl"), *dead = load_lines("dead.jsonl");
  CU_ASSERT_PTR_NOT_NULL_FATAL(hot);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dead);
  CU_ASSERT_EQUAL(json_array_size(hot), 1); /* fired once, never resolved */
  json_t *h = json_array_get(hot, 0);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(h, "state")), "firing");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(h, "ts")), EVT_BASE + 30000);
  CU_ASSERT_EQUAL(json_array_size(dead), 1); /* m2 silent since 60 s */
  json_t *d = json_array_get(dead, 0);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(d, "key"),
                                                           "machine_id")), "m2");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "ts")), EVT_BASE + 120000);
  json_decref(hot);
  json_decref(dead);

  size_t results;
  long long readings;
  window_totals("win.jsonl", &results, &readings);
  CU_ASSERT_EQUAL(results, 40 + 7); /* m1: 40 windows; m2: 6 full and one of 1 */
  CU_ASSERT_EQUAL(readings, 400 + 61);
  window_totals("win_raw.jsonl", &results, &readings);
  CU_ASSERT_EQUAL(results, 40 + 7);
  CU_ASSERT_EQUAL(readings, 400 + 61);

  /* only the two readings without a valid time, once per source, named by it */
  json_t *dl = load_lines("evt_dl.jsonl");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dl);
  CU_ASSERT_EQUAL(json_array_size(dl), 4);
  int by_node[2] = {0, 0};
  for (size_t i = 0; i < json_array_size(dl); i++) {
    json_t *o = json_array_get(dl, i);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "reason")), "time");
    const char *node = json_string_value(json_object_get(o, "node"));
    by_node[0] += node && strcmp(node, "file_source:evt.jsonl") == 0;
    by_node[1] += node && strcmp(node, "file_source:evt.jsonl~2") == 0;
  }
  CU_ASSERT_EQUAL(by_node[0], 2);
  CU_ASSERT_EQUAL(by_node[1], 2);
  json_decref(dl);
}

static void test_set_changes_threshold(void) {
  CU_ASSERT_EQUAL_FATAL(run("run p.lua --set thr=120"), 0);
  check_outputs(120);
}

static void test_log_formats(void) {
  CU_ASSERT_EQUAL_FATAL(run("run p.lua"), 0);
  char *err = read_file("err.txt");
  CU_ASSERT_PTR_NOT_NULL_FATAL(err);
  int lines = 0, ok = 0;
  for (char *l = strtok(err, "\n"); l; l = strtok(NULL, "\n")) {
    lines++;
    json_error_t e;
    json_t *o = json_loads(l, 0, &e);
    ok += o && json_is_object(o) && json_is_string(json_object_get(o, "level")) &&
          json_is_string(json_object_get(o, "msg"));
    json_decref(o);
  }
  free(err);
  CU_ASSERT(lines >= 2);
  CU_ASSERT_EQUAL(ok, lines);
  CU_ASSERT_EQUAL_FATAL(run("run p.lua --log-format text"), 0);
  err = read_file("err.txt");
  CU_ASSERT_PTR_NOT_NULL_FATAL(err);
  json_error_t e;
  json_t *o = json_loadb(err, strcspn(err, "\n"), 0, &e);
  CU_ASSERT_PTR_NULL(o);
  json_decref(o);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "info"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "pipeline 'e2e' finished: 5000 records in"));
  free(err);
}

static void test_graph_is_dot(void) {
  CU_ASSERT_EQUAL_FATAL(run("graph p.lua"), 0);
  char *out = read_file("out.txt");
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  CU_ASSERT_EQUAL(strncmp(out, "digraph \"e2e\" {\n", 16), 0);
  size_t len = strlen(out);
  CU_ASSERT(len > 3 && strcmp(out + len - 2, "}\n") == 0);
  for (int i = 0; i < 9; i++) {
    char node[16];
    snprintf(node, sizeof node, "  n%d [", i);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, node));
  }
  CU_ASSERT_PTR_NULL(strstr(out, "  n9 ["));
  static const char *const types[] = {"file_source", "filter", "map", "select", "file_sink",
                                      "dead_letter"};
  for (size_t i = 0; i < 6; i++)
    CU_ASSERT_PTR_NOT_NULL(strstr(out, types[i]));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "n0 -> n1;"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "n0 -> n5;"));
  int braces = 0;
  for (const char *c = out; *c; c++)
    braces += *c == '{' ? 1 : *c == '}' ? -1 : 0;
  CU_ASSERT_EQUAL(braces, 0);
  free(out);
}

static void test_version(void) {
  CU_ASSERT_EQUAL(run("version"), 0);
  char *out = read_file("out.txt");
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  CU_ASSERT_EQUAL(strncmp(out, "sluice ", 7), 0);
#ifdef SLUICE_VERSION
  CU_ASSERT_EQUAL(strncmp(out + 7, SLUICE_VERSION, strlen(SLUICE_VERSION)), 0);
#endif
  free(out);
}

static void test_exit_codes(void) {
  write_file("broken.lua", "local sl = require \"sluice\"\n"
                           "local p = sl.pipeline {}\n"
                           "p:file_source { path = \"in.jsonl\" }:filter \"t >\"\n"
                           "p:fitler {}\n");
  CU_ASSERT_EQUAL(run("check broken.lua"), 1);
  char *err = read_file("err.txt");
  CU_ASSERT_PTR_NOT_NULL_FATAL(err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "broken.lua:3: filter: expr 't >': "));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "broken.lua:4: unknown source 'fitler'"));
  CU_ASSERT(strstr(err, "broken.lua:3:") < strstr(err, "broken.lua:4:")); /* file order */
  free(err);
  CU_ASSERT_EQUAL(run("check p.lua"), 0);
  CU_ASSERT_EQUAL(run("bogus"), 2);
  CU_ASSERT_EQUAL(run("run"), 2);
  CU_ASSERT_EQUAL(run("run p.lua --log-format xml"), 2);
  CU_ASSERT_EQUAL(run("run p.lua --set novalue"), 2);
  CU_ASSERT_EQUAL(run("check missing.lua"), 1);
  write_file("noinput.lua", "local sl = require \"sluice\"\n"
                            "local p = sl.pipeline {}\n"
                            "p:file_source { path = \"absent.jsonl\" }:stdout_sink {}\n");
  CU_ASSERT_EQUAL(run("run noinput.lua"), 1);
  err = read_file("err.txt");
  CU_ASSERT_PTR_NOT_NULL_FATAL(err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "absent.jsonl"));
  free(err);
}

/* Issue 14 item 8, as the issue states it: `sluice check` of a pipeline that
 * calls os.execute fails with exactly FILE:LINE: and runs nothing. */
static void test_check_refuses_os_execute(void) {
  write_file("exec.lua", "local sl = require \"sluice\"\n"
                         "local p = sl.pipeline {}\n"
                         "p:stdin_source {}:stdout_sink {}\n"
                         "os.execute(\"touch pwned\")\n");
  CU_ASSERT_EQUAL(run("check exec.lua"), 1);
  char *err = read_file("err.txt");
  CU_ASSERT_PTR_NOT_NULL_FATAL(err);
  CU_ASSERT_STRING_EQUAL(err, "exec.lua:4: os.execute is not available in pipeline files\n");
  free(err);
  char p[400];
  snprintf(p, sizeof p, "%s/pwned", dir);
  CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0);
  /* A plugin directory that does not exist is a usage error. */
  CU_ASSERT_EQUAL(run("check p.lua --plugin-dir /nonexistent/plugins"), 2);
  err = read_file("err.txt");
  CU_ASSERT_PTR_NOT_NULL_FATAL(err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "--plugin-dir: plugin directory /nonexistent/plugins: "));
  free(err);
}

int suite_e2e_file_pipelines(void) {
  CU_pSuite s = CU_add_suite("e2e_file_pipelines", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "file_source default format decodes JSON (5000 readings, both branches, dead "
                 "letters)", test_file_source_default_format_decodes_json);
  CU_add_test(s, "--set changes a threshold", test_set_changes_threshold);
  CU_add_test(s, "a connector's dead letter names that connector",
              test_connector_dead_letter_names_its_node);
  CU_add_test(s, "event time at the source: for, absent, windows, no valid time",
              test_source_event_time_alerts_and_windows);
  CU_add_test(s, "log formats", test_log_formats);
  CU_add_test(s, "graph is DOT with every node", test_graph_is_dot);
  CU_add_test(s, "version", test_version);
  CU_add_test(s, "exit codes", test_exit_codes);
  CU_add_test(s, "check refuses os.execute", test_check_refuses_os_execute);
  return CU_get_error();
}
