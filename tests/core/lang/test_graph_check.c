/* SPDX-License-Identifier: Apache-2.0 */
/* `sluice check` refuses what `run` would refuse, offline, with file:line
 * and every problem of a node (core/lang/graph_check.c and the connectors'
 * check hooks), plus the loader's rough edges of issue 19. Each test is
 * named after the bug it pins. */
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

static int setup(void) { return lf_dir_make(dir, sizeof dir, "sluice_graphcheck"); }
static int teardown(void) { return lf_dir_remove(dir); }

/* Write `text` to NAME in the temp dir, load and validate it like `check`. */
static loaded load_as(const char *name, const char *text, const char *const *sets, size_t n) {
  loaded l = lf_check(dir, name, text, sets, n);
  snprintf(path, sizeof path, "%s", l.path);
  return l;
}

static loaded load(const char *text) { return load_as("p.lua", text, NULL, 0); }
static void unload(loaded *l) { lf_unload(l); }

/* 1 when `list` holds "PATH:LINE: <start of message>..." */
static int has(char **list, size_t n, int line, const char *start) {
  char want[1200];
  snprintf(want, sizeof want, "%s:%d: %s", path, line, start);
  for (size_t i = 0; i < n; i++)
    if (strncmp(list[i], want, strlen(want)) == 0)
      return 1;
  fprintf(stderr, "\nmissing: %s\nhave:\n", want);
  for (size_t i = 0; i < n; i++)
    fprintf(stderr, "  %s\n", list[i]);
  return 0;
}
#define HAS_ERROR(l, line, s) has((l).g->errors, (l).g->nerrors, line, s)
#define HAS_WARNING(l, line, s) has((l).g->warnings, (l).g->nwarnings, line, s)

#define HDR "local sl = require \"sluice\"\n"
#define MEM "local p = sl.pipeline { name = \"p\" }\n" /* line 2 */

static void test_check_webhook_scheme_and_every_problem(void) {
  loaded l = load(HDR MEM "p:kafka_source \"t\":webhook { url = \"ftp://h/x\", retries = 500,\n"
                          "  headers = { [\"X-A\"] = \"a\\nb\" } }\n");
  CU_ASSERT(HAS_ERROR(l, 3, "webhook: url 'ftp://h/x' is not an http:// or https:// URL"));
  CU_ASSERT(HAS_ERROR(l, 3, "webhook: retries must be between 0 and 100"));
  CU_ASSERT(HAS_ERROR(l, 3, "webhook: header 'X-A' needs a one-line string value"));
  CU_ASSERT_EQUAL(l.g->nerrors, 3);
  unload(&l);
  l = load(HDR MEM "p:kafka_source \"t\":webhook \"https://hooks.example/x\"\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  unload(&l);
}

static void test_check_kafka_properties_through_librdkafka(void) {
  loaded l = load(HDR "local p = sl.pipeline { name = \"p\", kafka = {\n"
                      "  [\"linger.ms\"] = \"soon\", [\"no.such.property\"] = 1,\n"
                      "  [\"compression.type\"] = \"zstd\", [\"acks\"] = \"all\" } }\n"
                      "p:kafka_source \"t\"\n");
  CU_ASSERT(HAS_ERROR(l, 2,
                      "kafka property 'linger.ms' from the pipeline's kafka table: Invalid "
                      "value"));
  CU_ASSERT(HAS_ERROR(l, 2,
                      "kafka property 'no.such.property' from the pipeline's kafka table: "
                      "No such configuration property"));
  CU_ASSERT_EQUAL(l.g->nerrors, 2);
  unload(&l);
  /* SLUICE_KAFKA_* variables reach the clients too: run refused them at open. */
  setenv("SLUICE_KAFKA_LINGER_MS", "soon", 1);
  l = load(HDR MEM "p:kafka_source \"t\"\n");
  unsetenv("SLUICE_KAFKA_LINGER_MS");
  CU_ASSERT(HAS_ERROR(l, 2,
                      "kafka property 'linger.ms' from SLUICE_KAFKA_LINGER_MS: Invalid "
                      "value"));
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  unload(&l);
}

static void test_check_redis_url_syntax(void) {
  loaded l = load(HDR "local p = sl.pipeline { name = \"p\", state = \"redis\",\n"
                      "  redis = \"http://localhost:6379\" }\n"
                      "p:kafka_source \"t\"\n");
  CU_ASSERT(HAS_ERROR(l, 2, "redis: Redis URL must start with redis://"));
  unload(&l);
  l = load(HDR "local p = sl.pipeline { name = \"p\", redis = \"redis://h:99999\" }\n"
               "p:kafka_source \"t\":cache { name = \"c\", key = \"k\" }\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  unload(&l);
  /* Memory state, no cache: the URL is never used, not checked. */
  l = load(HDR MEM "p:kafka_source \"t\"\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  unload(&l);
}

static void test_check_key_template_and_sink_format(void) {
  loaded l = load(HDR MEM "local s = p:kafka_source \"t\"\n"
                          "s:kafka_sink { topic = \"o\", key = \"{site}-{machine_id\" }\n"
                          "s:kafka_sink { topic = \"o2\", key = \"{}\", format = \"xml\" }\n"
                          "s:kafka_sink { topic = \"o3\", format = \"avro\" }\n"
                          "s:cache { name = \"a:b\", key = \"k\" }\n");
  CU_ASSERT(HAS_ERROR(l, 4, "kafka_sink 'o': key template '{site}-{machine_id': missing '}'"));
  CU_ASSERT(HAS_ERROR(l, 5, "kafka_sink 'o2': format = 'xml' is not supported"));
  CU_ASSERT(HAS_ERROR(l, 5, "kafka_sink 'o2': key template '{}': empty {}"));
  CU_ASSERT(HAS_ERROR(l, 6, "kafka_sink 'o3': format = \"avro\" needs schema = \"file.avsc\""));
  CU_ASSERT(HAS_ERROR(l, 7, "cache: 'name' and 'key' are required; the name may not contain"));
  CU_ASSERT_EQUAL(l.g->nerrors, 5);
  unload(&l);
}

static void test_check_missing_input_file_is_a_warning(void) {
  loaded l = load(HDR MEM "p:file_source \"absent.jsonl\":stdout_sink {}\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  CU_ASSERT(HAS_WARNING(l, 3, "warning: file_source: cannot open '"));
  unload(&l);
}

static void test_check_output_directory_missing_is_a_warning(void) {
  loaded l =
      load(HDR MEM "p:kafka_source \"t\":file_sink { path = \"/nonexistent-dir/o.jsonl\" }\n"
                   "p:dead_letter { path = \"/nonexistent-dir/dl.jsonl\" }\n"
                   "p:kafka_source \"u\":file_sink { path = \"here.jsonl\", format = \"xml\" }\n");
  CU_ASSERT(HAS_WARNING(l, 3,
                        "warning: cannot write '/nonexistent-dir/o.jsonl' here: directory "
                        "'/nonexistent-dir': No such file or directory (run needs it)"));
  CU_ASSERT(HAS_WARNING(l, 4, "warning: cannot write '/nonexistent-dir/dl.jsonl' here"));
  CU_ASSERT(HAS_ERROR(l, 5, "unknown format 'xml'"));
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  CU_ASSERT_EQUAL(l.g->nwarnings, 2);
  unload(&l);
}

static void test_check_file_source_with_redis_state_refused(void) {
  loaded l = load(HDR "local p = sl.pipeline { name = \"p\", state = \"redis\" }\n"
                      "p:file_source \"p.lua\":stdout_sink {}\n");
  CU_ASSERT(HAS_ERROR(l, 3, "file_source cannot resume from a checkpoint: with state = \"redis\""));
  unload(&l);
}

static void test_pipeline_name_goes_into_redis_keys(void) {
  loaded l = load(HDR "local p = sl.pipeline { name = \"a b/c{}\" }\np:kafka_source \"t\"\n");
  CU_ASSERT(HAS_ERROR(l, 2,
                      "pipeline name 'a b/c{}' is not valid: it names the consumer group "
                      "and the Redis keys, so use 1 to 100 of A-Z a-z 0-9 . _ -"));
  unload(&l);
  l = load_as("my pipeline.lua", HDR "local p = sl.pipeline {}\np:kafka_source \"t\"\n", NULL, 0);
  CU_ASSERT(HAS_ERROR(l, 2, "pipeline name 'my pipeline' (taken from the file name) is not valid"));
  unload(&l);
  char long_name[140];
  memset(long_name, 'x', 101);
  long_name[101] = '\0';
  char text[400];
  snprintf(text, sizeof text, HDR "local p = sl.pipeline { name = \"%s\" }\np:kafka_source \"t\"\n",
           long_name);
  l = load(text);
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  unload(&l);
  l = load(HDR "local p = sl.pipeline { name = \"Plant-7.line_2\" }\np:kafka_source \"t\"\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  unload(&l);
}

static void test_window_not_followed_by_aggregate_no_lua_error(void) {
  loaded l = load(HDR MEM "p:kafka_source \"t\":window { tumbling = \"10s\", key = \"k\" }\n"
                          "  :stdout_sink {}\n"
                          "p:kafka_source \"u\":filter \"x > \"\n");
  CU_ASSERT(HAS_ERROR(l, 4, "a window must be followed by :aggregate{...}, not :stdout_sink"));
  /* The chain goes on: the later error is still found, and the window is
   * reported once, without "attempt to call a nil value". */
  CU_ASSERT(HAS_ERROR(l, 5, "filter: expr 'x > '"));
  CU_ASSERT_EQUAL(l.g->nerrors, 2);
  unload(&l);
}

static void test_syntax_error_without_false_no_pipeline(void) {
  loaded l = load(HDR "local x = = 3\nlocal p = sl.pipeline {}\np:kafka_source \"t\"\n");
  CU_ASSERT(HAS_ERROR(l, 2, "unexpected symbol near '='"));
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  unload(&l);
  /* A runtime error after sl.pipeline: no false "the pipeline has no source". */
  l = load(HDR MEM "error(\"boom\")\np:kafka_source \"t\"\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  unload(&l);
}

static void test_param_without_default_names_the_param(void) {
  static const char src[] = HDR MEM "local t = sl.param(\"alert.threshold\")\n"
                                    "p:kafka_source \"t\":filter(\"x > \" .. t)\n";
  loaded l = load(src);
  CU_ASSERT(HAS_ERROR(l, 3,
                      "sl.param(\"alert.threshold\") has no default and no --set "
                      "alert.threshold=VALUE was given"));
  CU_ASSERT_EQUAL(l.g->nerrors, 1);
  unload(&l);
  static const char *const sets[] = {"alert.threshold=90"};
  l = load_as("p.lua", src, sets, 1);
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  unload(&l);
}

static void test_set_of_unread_name_is_an_error(void) {
  static const char src[] = HDR MEM "local t = sl.param(\"alert.t\", 5)\n"
                                    "p:kafka_source \"t\":filter(\"x > \" .. t)\n";
  static const char *const typo[] = {"alert.t=7", "alrt.t=9"};
  loaded l = load_as("p.lua", src, typo, 2);
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_lua_check_params(l.lua, &err), SL_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(err.message,
                         "--set alrt.t: the pipeline never reads 'alrt.t' with sl.param (it "
                         "reads: alert.t)");
  unload(&l);
  l = load_as("p.lua", src, typo, 1);
  CU_ASSERT_EQUAL(sl_lua_check_params(l.lua, &err), SL_OK);
  unload(&l);
}

static void write_schema(void) {
  char p[400];
  snprintf(p, sizeof p, "%s/r.avsc", dir);
  FILE *fp = fopen(p, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
        "{\"name\":\"machine_id\",\"type\":\"string\"},{\"name\":\"temperature\",\"type\":"
        "\"double\"},{\"name\":\"loc\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"L\","
        "\"fields\":[{\"name\":\"site\",\"type\":\"string\"}]}]},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"values\":\"string\"}}]}",
        fp);
  fclose(fp);
}

#define DECODE "local r = p:kafka_source \"t\":decode { format = \"avro\", schema = \"r.avsc\" }\n"

static void test_filter_typo_against_avro_schema(void) {
  write_schema();
  loaded l = load(HDR MEM DECODE "r:filter \"temprature > 90 and loc.sit = 'a'\"\n" /* 4 */
                                 "r:map { f = \"temperature * 2\" }\n"              /* 5 */
                                 "  :window { tumbling = \"10s\", key = \"machin_id\" }\n"
                                 "  :aggregate { m = \"max(f)\", n = \"count()\" }\n"
                                 "  :filter \"m > 1 and temperature > 2\"\n"); /* 8 */
  const char *fields = ": the records here (schema r.avsc of the decode at line 3) have "
                       "machine_id, temperature, loc, tags";
  char want[600];
  snprintf(want, sizeof want,
           "filter: unknown field 'temprature' in expr (did you mean "
           "'temperature'?)%s",
           fields);
  CU_ASSERT(HAS_ERROR(l, 4, want));
  /* Every unknown field of the node, nested records included. */
  CU_ASSERT(HAS_ERROR(l, 4, "filter: unknown field 'loc.sit' in expr"));
  CU_ASSERT(HAS_ERROR(l, 6,
                      "window: unknown field 'machin_id' in key (did you mean "
                      "'machine_id'?)"));
  CU_ASSERT(HAS_ERROR(l, 8,
                      "filter: unknown field 'temperature' in expr: the records here "
                      "(results of the window at line 6) have machin_id, m, n, "
                      "window_start, window_end"));
  CU_ASSERT_EQUAL(l.g->nerrors, 4);
  unload(&l);
  /* Known fields, a map's outputs, paths below a map-typed field: no error. */
  l = load(HDR MEM DECODE "r:filter \"temperature > 90 and loc.site = 'a' and tags.x = 'y'\"\n"
                          "  :map { f = \"temperature * 2\" }:filter \"f > 1\"\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  unload(&l);
}

static void test_no_doubled_window_prefix(void) {
  loaded l =
      load(HDR MEM "local s = p:kafka_source \"t\"\n"
                   "s:window { hopping = \"10s\", key = \"k\" }:aggregate { n = \"count()\" }\n"
                   "s:encode { format = \"xml\" }\n");
  CU_ASSERT(HAS_ERROR(l, 4, "window: hopping windows need `every` (e.g. every = \"10s\")"));
  CU_ASSERT(HAS_ERROR(l, 5, "encode: unknown format 'xml'"));
  for (size_t i = 0; i < l.g->nerrors; i++)
    CU_ASSERT_PTR_NULL(strstr(l.g->errors[i], "window: window:"));
  unload(&l);
}

/* Issue 19: a window's own checks stopped at the first ("hopping windows need
 * `every`" hid an unknown aggregate), and an option problem hid both. */
static void test_window_reports_every_problem(void) {
  loaded l = load(HDR MEM "p:kafka_source \"t\"\n"
                          "  :window { hopping = \"10s\", key = \"k..x\", delay = \"-5s\" }\n"
                          "  :aggregate { n = \"count()\", m = \"mean(x)\", window_end = \"max(x)\" }\n");
  CU_ASSERT(HAS_ERROR(l, 4, "option 'delay': bad duration '-5s'"));
  CU_ASSERT(HAS_ERROR(l, 4, "window: hopping windows need `every` (e.g. every = \"10s\")"));
  CU_ASSERT(HAS_ERROR(l, 4, "window: 'k..x' is not a field path"));
  CU_ASSERT(HAS_ERROR(l, 4, "window: unknown aggregate 'mean' (did you mean 'avg'?)"));
  CU_ASSERT(HAS_ERROR(l, 4, "window: aggregate output 'window_end' clashes with a key or window field"));
  CU_ASSERT_EQUAL(l.g->nerrors, 5);
  unload(&l);
}

/* check printed the declared nodes, run counted the alert stores it adds. */
static void test_check_and_run_count_nodes_the_same(void) {
  loaded l =
      load(HDR "local p = sl.pipeline { name = \"p\", state = \"redis\" }\n"
               "p:kafka_source \"t\":alert { name = \"hot\", when = \"x > 1\" }:stdout_sink {}\n");
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  CU_ASSERT_EQUAL(sl_graph_declared_count(l.g), 3);
  sl_graph_attach_alert_stores(l.g); /* what run does before starting */
  CU_ASSERT_EQUAL(l.g->count, 4);
  CU_ASSERT_EQUAL(sl_graph_declared_count(l.g), 3);
  unload(&l);
}

static void test_embedded_broker_with_redis_state_warns(void) {
  static const char src[] = HDR "local p = sl.pipeline { name = \"p\", state = \"redis\" }\n"
                                "p:kafka_source \"t\"\n";
  char *saved = getenv("SLUICE_KAFKA_BROKERS") ? strdup(getenv("SLUICE_KAFKA_BROKERS")) : NULL;
  char *saved2 = getenv("SLUICE_KAFKA_BOOTSTRAP_SERVERS")
                     ? strdup(getenv("SLUICE_KAFKA_BOOTSTRAP_SERVERS"))
                     : NULL;
  unsetenv("SLUICE_KAFKA_BOOTSTRAP_SERVERS");
  unsetenv("SLUICE_KAFKA_BROKERS");
  loaded l = load(src);
  CU_ASSERT_EQUAL(l.g->nerrors, 0);
  CU_ASSERT(HAS_WARNING(l, 2,
                        "warning: state = \"redis\" with the embedded Kafka broker: a "
                        "restart cannot resume"));
  unload(&l);
  setenv("SLUICE_KAFKA_BROKERS", "127.0.0.1:9092", 1);
  l = load(src);
  CU_ASSERT_EQUAL(l.g->nwarnings, 0);
  unload(&l);
  if (saved)
    setenv("SLUICE_KAFKA_BROKERS", saved, 1);
  else
    unsetenv("SLUICE_KAFKA_BROKERS");
  if (saved2)
    setenv("SLUICE_KAFKA_BOOTSTRAP_SERVERS", saved2, 1);
  free(saved);
  free(saved2);
}

static void test_check_source_options_run_refuses(void) {
  loaded l = load(HDR MEM "p:kafka_source { topic = \"t\", start = \"middle\" }\n"
                          "p:stdin_source { format = \"avro\" }\n");
  CU_ASSERT(HAS_ERROR(l, 3,
                      "kafka_source 't': start = 'middle' (expected \"earliest\" or "
                      "\"latest\")"));
  CU_ASSERT(HAS_ERROR(l, 4, "stdin_source reads JSON Lines or raw lines"));
  CU_ASSERT_EQUAL(l.g->nerrors, 2);
  unload(&l);
}

/* An unknown option hid the bad expression of the same node. */
static void test_all_problems_of_an_operator(void) {
  loaded l = load(
      HDR MEM "p:kafka_source \"t\":alert { name = \"a\", when = \"x >\", sevrity = \"high\" }\n");
  CU_ASSERT(HAS_ERROR(l, 3, "alert: unknown option 'sevrity' (did you mean 'severity'?)"));
  CU_ASSERT(HAS_ERROR(l, 3, "alert: when 'x >': expected an expression"));
  CU_ASSERT_EQUAL(l.g->nerrors, 2);
  unload(&l);
}

int suite_core_graph_check(void) {
  CU_pSuite s = CU_add_suite("core_graph_check", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "a window reports every problem", test_window_reports_every_problem);
  CU_add_test(s, "webhook scheme, every problem", test_check_webhook_scheme_and_every_problem);
  CU_add_test(s, "kafka properties via librdkafka", test_check_kafka_properties_through_librdkafka);
  CU_add_test(s, "Redis URL syntax", test_check_redis_url_syntax);
  CU_add_test(s, "key template and sink format", test_check_key_template_and_sink_format);
  CU_add_test(s, "missing input file: warning", test_check_missing_input_file_is_a_warning);
  CU_add_test(s, "file_source + redis state refused",
              test_check_file_source_with_redis_state_refused);
  CU_add_test(s, "pipeline name validated", test_pipeline_name_goes_into_redis_keys);
  CU_add_test(s, "window without aggregate", test_window_not_followed_by_aggregate_no_lua_error);
  CU_add_test(s, "syntax error, no false lines", test_syntax_error_without_false_no_pipeline);
  CU_add_test(s, "sl.param without default", test_param_without_default_names_the_param);
  CU_add_test(s, "--set of an unread name", test_set_of_unread_name_is_an_error);
  CU_add_test(s, "field typo against the Avro schema", test_filter_typo_against_avro_schema);
  CU_add_test(s, "field typo against the Avro schema", test_filter_typo_against_avro_schema);
  CU_add_test(s, "no doubled window: prefix", test_no_doubled_window_prefix);
  CU_add_test(s, "check and run count nodes the same", test_check_and_run_count_nodes_the_same);
  CU_add_test(s, "embedded broker + redis state warns",
              test_embedded_broker_with_redis_state_warns);
  CU_add_test(s, "source options run refuses", test_check_source_options_run_refuses);
  CU_add_test(s, "all problems of an operator", test_all_problems_of_an_operator);
  CU_add_test(s, "output directory missing: warning",
              test_check_output_directory_missing_is_a_warning);
  return 0;
}
