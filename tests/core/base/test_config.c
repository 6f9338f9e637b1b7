/* SPDX-License-Identifier: Apache-2.0 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/config.h"

static const sl_config_entry demo_map[] = {
    {"tumbling", SL_CFG_DURATION, 0, NULL, "window size"},
    {"key", SL_CFG_STRING_LIST, SL_CFG_REQUIRED, NULL, "key field(s)"},
    {"limit", SL_CFG_INT, 0, "10", "a limit"},
    {"on", SL_CFG_BOOL, 0, "false", "a switch"},
    {NULL, 0, 0, NULL, NULL},
};
static const sl_operator_desc demo = {.abi_version = SL_OPERATOR_ABI_VERSION,
                                      .struct_size = sizeof(sl_operator_desc),
                                      .name = "demo",
                                      .config = demo_map};

static char problems[8][600];
static int nproblems;
static void collect(void *ud, const sl_config *c, const char *msg) {
  (void)ud;
  if (nproblems < 8) /* as the Lua loader reports them: FILE:LINE: message */
    snprintf(problems[nproblems++], sizeof problems[0], "%s:%d: %s", sl_config_file(c),
             sl_config_line(c), msg);
}

static void test_durations(void) {
  static const struct {
    const char *text;
    int64_t ms;
    int ok;
  } cases[] = {{"250ms", 250, 1}, {"10s", 10000, 1}, {"5m", 300000, 1}, {"1h", 3600000, 1},
               {"1d", 86400000, 1}, {"42", 42, 1},   {"", 0, 0},         {"10x", 0, 0},
               {"s", 0, 0},         {"-1s", 0, 0},   {"99999999999999999999s", 0, 0},
               /* issue 19: fractional durations, millisecond resolution */
               {"1.5s", 1500, 1}, {"0.5m", 30000, 1}, {"2.25h", 8100000, 1}, {"1.50s", 1500, 1},
               {"0.001s", 1, 1},  {"1.", 0, 0},       {"1.s", 0, 0},       {".5s", 0, 0},
               {"1.5.5s", 0, 0},  {"1.0000000001d", 0, 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t ms = -1;
    sl_error err;
    int rc = sl_parse_duration(cases[i].text, &ms, &err);
    CU_ASSERT_EQUAL(rc == SL_OK, cases[i].ok);
    if (cases[i].ok) {
      CU_ASSERT_EQUAL(ms, cases[i].ms);
    } else {
      CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "bad duration"));
    }
  }
  /* Below a millisecond: said so, not "bad duration". */
  static const char *const sub_ms[] = {"1.5ms", "0.0005s", "1.5"};
  for (size_t i = 0; i < sizeof sub_ms / sizeof sub_ms[0]; i++) {
    int64_t ms = -1;
    sl_error err;
    CU_ASSERT_EQUAL(sl_parse_duration(sub_ms[i], &ms, &err), SL_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is finer than a millisecond"));
  }
}

/* Issue 19: numbers in messages and logs in their shortest round-trip form, not "%g"'s six
 * digits (53.3634 for 53.36339) nor "%.17g"'s noise (53.363399999999999). */
static void test_num_text_shortest_round_trip(void) {
  static const struct {
    double d;
    const char *want;
  } cases[] = {{4.44, "4.44"},       {53.3634, "53.3634"}, {53.36339, "53.36339"},
               {0.1, "0.1"},         {1234567.5, "1234567.5"}, {1e300, "1e+300"},
               {-2.5e-7, "-2.5e-07"}, {90, "90"},          {NAN, "NaN"},
               {-NAN, "NaN"},        {INFINITY, "inf"},    {0.1 + 0.2, "0.30000000000000004"},
               {1e16, "10000000000000000"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[SL_NUM_TEXT_MAX];
    CU_ASSERT_STRING_EQUAL(sl_num_text(cases[i].d, buf, sizeof buf), cases[i].want);
  }
  /* In a message: an integer option given 1234567.5 (was "not 1.23457e+06"). */
  sl_config *c = sl_config_new("p.lua", 9);
  sl_config_put_string(c, "key", "m");
  sl_config_put_number(c, "limit", 1234567.5);
  nproblems = 0;
  CU_ASSERT_EQUAL(sl_config_validate(c, &demo, collect, NULL), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(problems[0], "2^63-1, not 1234567.5"));
  sl_config_destroy(c);
}

static void test_accessors(void) {
  sl_config *c = sl_config_new("p.lua", 7);
  const char *keys[] = {"site", "line"};
  sl_config_put_list(c, "key", keys, 2);
  sl_config_put_string(c, "tumbling", "10s");
  sl_config_put_number(c, "limit", 5);
  sl_config_put_bool(c, "on", 1);
  sl_config *child = sl_config_new("p.lua", 7);
  sl_config_put_string(child, "security.protocol", "SASL_SSL");
  sl_config_put_table(c, "kafka", child);
  CU_ASSERT_EQUAL(sl_config_duration_ms(c, "tumbling", 0), 10000);
  CU_ASSERT_EQUAL(sl_config_int(c, "limit", 0), 5);
  CU_ASSERT_EQUAL(sl_config_bool(c, "on", 0), 1);
  CU_ASSERT_EQUAL(sl_config_list_len(c, "key"), 2);
  CU_ASSERT_STRING_EQUAL(sl_config_list_string(c, "key", 1), "line");
  CU_ASSERT_STRING_EQUAL(sl_config_string(sl_config_table(c, "kafka"), "security.protocol", ""),
                         "SASL_SSL");
  CU_ASSERT_STRING_EQUAL(sl_config_string(c, "missing", "dflt"), "dflt");
  CU_ASSERT_EQUAL(sl_config_count(c), 5);
  CU_ASSERT_STRING_EQUAL(sl_config_key_at(c, 0), "kafka"); /* sorted */
  CU_ASSERT_EQUAL(sl_config_line(c), 7);
  sl_config_destroy(c);
  sl_config_destroy(NULL);
}

static void test_validate(void) {
  sl_config *c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "tumblin", "10s");
  sl_config_put_string(c, "limit", "x");
  sl_config_put_number(c, "on", 1);
  nproblems = 0;
  int n = sl_config_validate(c, &demo, collect, NULL);
  CU_ASSERT_EQUAL(n, 4);
  int seen_unknown = 0, seen_missing = 0, seen_int = 0, seen_bool = 0;
  for (int i = 0; i < nproblems; i++) {
    seen_unknown |= strstr(problems[i], "unknown option 'tumblin' (did you mean 'tumbling'?)") != NULL;
    seen_missing |= strstr(problems[i], "missing required option 'key'") != NULL;
    seen_int |= strstr(problems[i], "'limit' must be an integer") != NULL;
    seen_bool |= strstr(problems[i], "'on' must be true or false") != NULL;
  }
  CU_ASSERT(seen_unknown && seen_missing && seen_int && seen_bool);
  sl_config_destroy(c);

  c = sl_config_new("p.lua", 3);
  sl_config_put_string(c, "key", "m");
  sl_config_put_string(c, "tumbling", "10 seconds");
  nproblems = 0;
  CU_ASSERT_EQUAL(sl_config_validate(c, &demo, collect, NULL), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(problems[0], "bad duration '10 seconds'"));
  sl_config_destroy(c);
}

/* Issue 14 item 7: `checkpoint = 1e300`, an INT option of 1e19 and NaN/inf durations were
 * cast from double to int64 (undefined behaviour; UBSan: "outside the range of
 * representable values"). Each is now a FILE:LINE problem, and the accessors return defined
 * values for the same numbers (this suite runs under UBSan in build-asan). */
static void test_bug_out_of_range_numbers(void) {
  static const struct {
    const char *key;
    double num;
    const char *want;
  } cases[] = {
      {"tumbling", 1e300, "p.lua:9: option 'tumbling': a duration given as a number is "
                          "milliseconds, between 0 and 2^63-1, not 1e+300"},
      {"tumbling", NAN, "not NaN"},
      {"tumbling", -NAN, "not NaN"},
      {"tumbling", INFINITY, "not inf"},
      {"tumbling", -INFINITY, "not -inf"},
      {"tumbling", 9223372036854775808.0, "between 0 and 2^63-1"},
      {"limit", 1e19, "p.lua:9: option 'limit' must be an integer between -2^63 and 2^63-1, not "
                      "1e+19"},
      {"limit", -1e19, "not -1e+19"},
      {"limit", NAN, "'limit' must be an integer between -2^63 and 2^63-1, not NaN"},
      {"limit", INFINITY, "'limit' must be an integer"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_config *c = sl_config_new("p.lua", 9);
    sl_config_put_string(c, "key", "m");
    sl_config_put_number(c, cases[i].key, cases[i].num);
    nproblems = 0;
    CU_ASSERT_EQUAL(sl_config_validate(c, &demo, collect, NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(problems[0], cases[i].want));
    /* Read anyway (free keys are not validated): defined values, no UB. */
    int64_t v = strcmp(cases[i].key, "limit") == 0 ? sl_config_int(c, "limit", 10)
                                                   : sl_config_duration_ms(c, "tumbling", 10);
    int64_t want = cases[i].num != cases[i].num ? 10 : cases[i].num > 0 ? INT64_MAX : INT64_MIN;
    CU_ASSERT_EQUAL(v, want);
    sl_config_destroy(c);
  }
  /* The largest values that fit still pass. */
  sl_config *c = sl_config_new("p.lua", 9);
  sl_config_put_string(c, "key", "m");
  sl_config_put_number(c, "limit", -9223372036854775808.0);
  sl_config_put_number(c, "tumbling", 9223372036854774784.0);
  nproblems = 0;
  CU_ASSERT_EQUAL(sl_config_validate(c, &demo, collect, NULL), 0);
  CU_ASSERT_EQUAL(sl_config_int(c, "limit", 0), INT64_MIN);
  CU_ASSERT_EQUAL(sl_config_duration_ms(c, "tumbling", 0), 9223372036854774784LL);
  sl_config_destroy(c);
}

static void test_suggest(void) {
  const char *names[] = {"avg", "count", "percentile", "stddev_pop"};
  CU_ASSERT_STRING_EQUAL(sl_suggest("cout", names, 4), "count");
  CU_ASSERT_STRING_EQUAL(sl_suggest("percent", names, 4), "percentile");
  CU_ASSERT_PTR_NULL(sl_suggest("zzzzzz", names, 4));
  CU_ASSERT_EQUAL(sl_edit_distance("kitten", "sitting"), 3);
}

int suite_core_config(void) {
  CU_pSuite s = CU_add_suite("core/config", NULL, NULL);
  if (!s || !CU_add_test(s, "durations", test_durations) ||
      !CU_add_test(s, "numbers in messages: shortest round trip", test_num_text_shortest_round_trip) ||
      !CU_add_test(s, "accessors", test_accessors) || !CU_add_test(s, "validate", test_validate) ||
      !CU_add_test(s, "suggestions", test_suggest) ||
      !CU_add_test(s, "bug: out-of-range numbers cast to int64", test_bug_out_of_range_numbers))
    return -1;
  return 0;
}
