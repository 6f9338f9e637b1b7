/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway file (core/gateway/gateway_lua.c): what sl.gateway{}, g:topic{} and
 * g:mqtt{} declare, defaults, --set, and every mistake reported as
 * "FILE:LINE: message", all of them in one run. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/gateway.h"

static char dir[256];
static char path[320];

static int setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sluice_gwlua_XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static sl_gw_conf *load_params(const char *text, const char *const *params, size_t n) {
  snprintf(path, sizeof path, "%s/gw.lua", dir);
  FILE *fp = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs(text, fp);
  fclose(fp);
  sl_error err;
  sl_error_clear(&err);
  sl_gw_conf *c = sl_gw_conf_load(path, params, n, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  return c;
}

static sl_gw_conf *load(const char *text) { return load_params(text, NULL, 0); }

/* The error at `i` is "DIR/gw.lua:LINE: <contains>". */
static void expect_error(const sl_gw_conf *c, size_t i, int line, const char *contains) {
  char prefix[400];
  snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
  CU_ASSERT_FATAL(i < c->nerrors);
  if (strncmp(c->errors[i], prefix, strlen(prefix)) != 0 || !strstr(c->errors[i], contains)) {
    fprintf(stderr, "\nerror %zu is '%s', expected '%s...%s'\n", i, c->errors[i], prefix, contains);
    CU_FAIL("unexpected error text");
  }
}

static void test_declaration_and_defaults(void) {
  sl_gw_conf *c = load("local sl = require 'sluice'\n"
                       "local g = sl.gateway { devices = 'devices.txt' }\n"
                       "g:topic { name = 'telemetry', format = 'avro', schema = 's.avsc',\n"
                       "          key = 'machine_id' }\n"
                       "g:topic { name = 'events' }\n"
                       "g:mqtt { broker = 'mqtt://broker:1884', subscribe = 'plant/+/x/+',\n"
                       "         topic = 'events' }\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 0);
  CU_ASSERT_STRING_EQUAL(c->name, "gw"); /* the file name */
  CU_ASSERT_STRING_EQUAL(c->listen, "0.0.0.0:8090");
  char want[400];
  snprintf(want, sizeof want, "%s/devices.txt", dir); /* relative to the file */
  CU_ASSERT_STRING_EQUAL(c->devices, want);
  CU_ASSERT_EQUAL(c->max_inflight, 10000);
  CU_ASSERT_EQUAL(c->max_pending_bytes, 64 << 20);
  CU_ASSERT_EQUAL(c->timeout_ms, 10000);
  CU_ASSERT_EQUAL_FATAL(c->ntopics, 2);
  CU_ASSERT_STRING_EQUAL(c->topics[0].format, "avro");
  CU_ASSERT_STRING_EQUAL(c->topics[0].key, "machine_id");
  CU_ASSERT_EQUAL(c->topics[0].line, 3);
  CU_ASSERT_STRING_EQUAL(c->topics[1].format, "json");
  CU_ASSERT_STRING_EQUAL(c->topics[1].key, "device_id");
  CU_ASSERT_PTR_EQUAL(sl_gw_conf_topic(c, "events", 6), &c->topics[1]);
  CU_ASSERT_PTR_NULL(sl_gw_conf_topic(c, "event", 5));
  CU_ASSERT_EQUAL_FATAL(c->nmqtt, 1);
  CU_ASSERT_STRING_EQUAL(c->mqtt[0].host, "broker");
  CU_ASSERT_EQUAL(c->mqtt[0].port, 1884);
  CU_ASSERT_EQUAL(c->mqtt[0].device_level, 2); /* the first '+' */
  CU_ASSERT_STRING_EQUAL(c->mqtt[0].client_id, "sluice-gw-1");
  CU_ASSERT_PTR_NULL(c->mqtt[0].dead_letter);
  sl_gw_conf_free(c);
}

static void test_options_and_params(void) {
  const char *params[] = {"port=9999", "inflight=50"};
  sl_gw_conf *c = load_params(
      "local sl = require 'sluice'\n"
      "local g = sl.gateway { name = 'gw-a', listen = '127.0.0.1:' .. sl.param('port', 1),\n"
      "  devices = '/etc/d.txt', max_inflight = sl.param('inflight', 1), timeout = '2s',\n"
      "  dead_letter = 'dlq', kafka = { ['linger.ms'] = 1 } }\n"
      "g:topic { name = 't' }\n"
      "g:mqtt { broker = 'mqtt://h', subscribe = 'a/b/+', topic = 't', device = 3,\n"
      "         client_id = 'fixed' }\n",
      params, 2);
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 0);
  CU_ASSERT_STRING_EQUAL(c->name, "gw-a");
  CU_ASSERT_STRING_EQUAL(c->listen, "127.0.0.1:9999");
  CU_ASSERT_STRING_EQUAL(c->devices, "/etc/d.txt");
  CU_ASSERT_EQUAL(c->max_inflight, 50);
  CU_ASSERT_EQUAL(c->timeout_ms, 2000);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c->kafka);
  CU_ASSERT_EQUAL(sl_config_int(c->kafka, "linger.ms", 0), 1);
  CU_ASSERT_EQUAL(c->mqtt[0].port, 1883);
  CU_ASSERT_EQUAL(c->mqtt[0].device_level, 3);
  CU_ASSERT_EQUAL(c->mqtt[0].keepalive, 30); /* the minimum */
  CU_ASSERT_STRING_EQUAL(c->mqtt[0].client_id, "fixed");
  CU_ASSERT_STRING_EQUAL(c->mqtt[0].dead_letter, "dlq"); /* the gateway's */
  sl_gw_conf_free(c);
}

/* A shared subscription's "$share/GROUP/" is not part of the topics the
 * messages arrive on: the device level counts without it. */
static void test_shared_subscription(void) {
  sl_gw_conf *c = load("local sl = require 'sluice'\n"
                       "local g = sl.gateway { listen = 'off' }\n"
                       "g:topic { name = 't' }\n"
                       "g:mqtt { broker = 'mqtt://h', subscribe = '$share/gw/plant/+/t', topic = 't' }\n"
                       "g:mqtt { broker = 'mqtt://h', subscribe = '$share/gw/a/b/+', topic = 't',\n"
                       "         device = 3 }\n"
                       "g:mqtt { broker = 'mqtt://h', subscribe = '$share/+/t', topic = 't',\n"
                       "         device = 3 }\n"
                       "g:mqtt { broker = 'mqtt://h', subscribe = '$share//x/+', topic = 't' }\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 2);
  CU_ASSERT_EQUAL(c->mqtt[0].device_level, 2);
  CU_ASSERT_EQUAL(c->mqtt[1].device_level, 3);
  expect_error(c, 0, 7, "device = 3 must name a '+' level of 't'");
  expect_error(c, 1, 9, "a shared subscription is '$share/GROUP/FILTER'");
  size_t n = 0;
  const char *lvl = sl_gw_topic_level("plant/m7/t", c->mqtt[0].device_level, &n);
  CU_ASSERT(lvl && n == 2 && strncmp(lvl, "m7", 2) == 0);
  sl_gw_conf_free(c);
  CU_ASSERT_STRING_EQUAL(sl_gw_filter_topics("a/+/b"), "a/+/b");
  CU_ASSERT_STRING_EQUAL(sl_gw_filter_topics("$share/g/a/+"), "a/+");
  CU_ASSERT_PTR_NULL(sl_gw_filter_topics("$share/g"));
  CU_ASSERT_PTR_NULL(sl_gw_filter_topics("$share/g/"));
}

static void test_every_error_with_its_line(void) {
  sl_gw_conf *c = load("local sl = require 'sluice'\n"
                       "local g = sl.gateway { nme = 'x', devices = 'd', max_inflight = 0, "
                       "max_body = 4096, max_pending_bytes = 4095 }\n"
                       "g:topic { name = 'a', format = 'avro' }\n"
                       "g:topic { name = 'b', format = 'xml' }\n"
                       "g:topic { name = 'b' }\n"
                       "g:topic { format = 'json' }\n"
                       "g:mqtt { broker = 'tcp://h:1', subscribe = 'a/b', topic = 'a' }\n"
                       "g:mqtt { broker = 'mqtt://h', subscribe = 'a/+', topic = 'a', dev = 2 }\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 10);
  expect_error(c, 0, 2, "gateway: unknown option 'nme' (did you mean 'name'?)");
  expect_error(c, 1, 2, "max_inflight must be between 1 and 1000000");
  expect_error(c, 2, 2, "max_pending_bytes must be at least max_body (4096 bytes)");
  expect_error(c, 3, 3, "topic 'a': format \"avro\" needs schema");
  expect_error(c, 4, 4, "topic 'b': format must be \"avro\" or \"json\", not \"xml\"");
  expect_error(c, 5, 5, "topic 'b' declared twice (first at line 4)");
  expect_error(c, 6, 6, "topic: missing required option 'name'");
  expect_error(c, 7, 7, "broker must be \"mqtt://host:port\", not \"tcp://h:1\"");
  expect_error(c, 8, 7, "device = 0 must name a '+' level of 'a/b'");
  expect_error(c, 9, 8, "mqtt: unknown option 'dev'");
  sl_gw_conf_free(c);
}

static void test_whole_file_checks(void) {
  sl_gw_conf *c = load("local sl = require 'sluice'\nlocal x = 1\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 1);
  expect_error(c, 0, 1, "no sl.gateway{...} in this file");
  sl_gw_conf_free(c);

  c = load("local sl = require 'sluice'\n"
           "local g = sl.gateway {}\n"
           "g:mqtt { broker = 'mqtt://h', subscribe = '+/t', topic = 'nope' }\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 3);
  expect_error(c, 0, 2, "declares no topic");
  expect_error(c, 1, 2, "HTTP ingest needs devices");
  expect_error(c, 2, 3, "mqtt: topic 'nope' is not declared");
  sl_gw_conf_free(c);

  c = load("local sl = require 'sluice'\n"
           "local g = sl.gateway { listen = 'off', timeout = '11m' }\n"
           "g:topic { name = 't' }\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 1);
  expect_error(c, 0, 2, "timeout must be between 100ms and 10m");
  sl_gw_conf_free(c);

  /* A message blocks its MQTT client up to twice the timeout (then its
   * dead letter): the broker must not drop the silent client meanwhile. */
  c = load("local sl = require 'sluice'\n"
           "local g = sl.gateway { listen = 'off', timeout = '60s' }\n"
           "g:topic { name = 't' }\n"
           "g:mqtt { broker = 'mqtt://h', subscribe = 'a/+', topic = 't' }\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 0);
  CU_ASSERT_EQUAL(c->mqtt[0].keepalive, 130);
  CU_ASSERT(1.5 * c->mqtt[0].keepalive > 2 * 60);
  sl_gw_conf_free(c);
  CU_ASSERT_EQUAL(sl_gw_keepalive(10000), 30);
  CU_ASSERT_EQUAL(sl_gw_keepalive(600000), 1210);

  c = load("local sl = require 'sluice'\n" /* MQTT only: no devices file needed */
           "local g = sl.gateway { listen = 'off' }\n"
           "g:topic { name = 't' }\n");
  CU_ASSERT_EQUAL(c->nerrors, 0);
  sl_gw_conf_free(c);
}

static void test_lua_errors(void) {
  sl_gw_conf *c = load("local sl = require 'sluice'\n"
                       "local g = sl.gateway { devices = 'd' }\n"
                       "g:topic 'telemetry'\n"
                       "sl.gateway { devices = 'd' }\n"
                       "g:nope {}\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 3);
  expect_error(c, 0, 3, "g:topic expects a table of options, not a string");
  expect_error(c, 1, 4, "sl.gateway called twice");
  expect_error(c, 2, 5, "nope"); /* Lua's own "attempt to call a nil value (method 'nope')" */
  sl_gw_conf_free(c);

  c = load("local sl = require 'sluice'\nsl.pipeline { name = 'x' }\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 1);
  expect_error(c, 0, 2, "sl.pipeline belongs in a pipeline file");
  sl_gw_conf_free(c);
}

static void test_missing_file_and_open(void) {
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_PTR_NULL(sl_gw_conf_load("/nonexistent/gw.lua", NULL, 0, &err));
  CU_ASSERT_EQUAL(err.code, SL_ERR_NOT_FOUND);
  sl_gw_conf_free(NULL);

  /* A schema file that does not exist: the topic's line in the message. */
  sl_gw_conf *c = load("local sl = require 'sluice'\n"
                       "local g = sl.gateway { devices = 'd' }\n"
                       "g:topic { name = 't', format = 'avro', schema = 'missing.avsc' }\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 0);
  CU_ASSERT_NOT_EQUAL(sl_gw_conf_open(c, &err), SL_OK);
  char prefix[400];
  snprintf(prefix, sizeof prefix, "%s:3: topic 't': ", path);
  CU_ASSERT_EQUAL(strncmp(err.message, prefix, strlen(prefix)), 0);
  sl_gw_conf_free(c);
}

/* coap = {...}: addresses kept, the PSK file resolved against the file;
 * each mistake with the line of sl.gateway. */
static void test_coap_section(void) {
  sl_gw_conf *c =
      load("local sl = require 'sluice'\n"
           "local g = sl.gateway { devices = 'd.txt',\n"
           "  coap = { listen = '0.0.0.0:5683', dtls = '[::]:5684', psk = 'psk.txt' } }\n"
           "g:topic { name = 'events' }\n");
  CU_ASSERT_EQUAL_FATAL(c->nerrors, 0);
  CU_ASSERT_STRING_EQUAL(c->coap.listen, "0.0.0.0:5683");
  CU_ASSERT_STRING_EQUAL(c->coap.dtls, "[::]:5684");
  char want[400];
  snprintf(want, sizeof want, "%s/psk.txt", dir);
  CU_ASSERT_STRING_EQUAL(c->coap.psk, want);
  CU_ASSERT_EQUAL(c->coap.line, 2);
  sl_gw_conf_free(c);

  c = load("local sl = require 'sluice'\n"
           "local g = sl.gateway { listen = 'off' }\n"
           "g:topic { name = 'events' }\n");
  CU_ASSERT_EQUAL(c->nerrors, 0);
  CU_ASSERT_EQUAL(c->coap.line, 0); /* no CoAP unless asked for */
  sl_gw_conf_free(c);

  /* Mistakes: the sl.gateway options after "local g = sl.gateway { ", and
   * the errors expected on line 2, in order. */
  const struct {
    const char *options, *errors[2];
  } bad[] = {
      /* validation stops at the unknown key */
      {"devices = 'd.txt', coap = { listen = '5683', dtls = '127.0.0.1:5684', lisen = 'x' }",
       {"lisen", NULL}},
      {"devices = 'd.txt', coap = { listen = '5683', dtls = '127.0.0.1:5684' }",
       {"coap: listen: invalid listen address '5683'", "coap: dtls needs psk"}},
      {"listen = 'off', coap = { psk = 'p.txt' }", {"coap needs listen", "psk is for coaps://"}},
      {"listen = 'off', coap = { listen = '127.0.0.1:5683' }",
       {"coap: listen (keys in the query) needs devices", NULL}},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char text[512];
    snprintf(text, sizeof text,
             "local sl = require 'sluice'\nlocal g = sl.gateway { %s }\n"
             "g:topic { name = 'events' }\n",
             bad[i].options);
    c = load(text);
    CU_ASSERT_EQUAL(c->nerrors, bad[i].errors[1] ? 2u : 1u);
    for (size_t e = 0; e < 2 && bad[i].errors[e] && e < c->nerrors; e++)
      expect_error(c, e, 2, bad[i].errors[e]);
    sl_gw_conf_free(c);
  }
}

int suite_core_gateway_lua(void) {
  CU_pSuite s = CU_add_suite("core_gateway_lua", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "declaration and defaults", test_declaration_and_defaults);
  CU_add_test(s, "options and --set", test_options_and_params);
  CU_add_test(s, "shared subscriptions: levels without $share/GROUP/", test_shared_subscription);
  CU_add_test(s, "every error with its line", test_every_error_with_its_line);
  CU_add_test(s, "whole-file checks", test_whole_file_checks);
  CU_add_test(s, "Lua errors", test_lua_errors);
  CU_add_test(s, "missing file, schema not found", test_missing_file_and_open);
  CU_add_test(s, "coap section", test_coap_section);
  return 0;
}
