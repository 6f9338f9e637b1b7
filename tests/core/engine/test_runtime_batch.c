/* SPDX-License-Identifier: Apache-2.0 */
/* Batches through a running pipeline (source -> decode -> filter -> sink):
 * records leave in input order across batches, the records that fail in the
 * middle of a batch (a malformed one at decode, one the filter cannot
 * evaluate) are dead-lettered in order with their reasons while the records
 * around them go on, and the offsets committed per partition (state =
 * "memory") end at the last record of each, never moving backwards, while
 * partitions come and go between commits and one is numbered past the
 * runtime's table of partition positions. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/record_internal.h"
#include "engine/runtime.h"
#include "lang/connector.h"
#include "lang/registry.h"
#include "lua_fixture.h"

typedef struct item {
  int32_t partition;
  int64_t offset;
  const char *json;
} item;

/* Four polls. Ids are the order of arrival; t decides the filter. */
static const item batch1[] = {
    {0, 10, "{\"id\":1,\"t\":20}"},      {1, 20, "{\"id\":2,\"t\":500}"}, /* dropped */
    {2, 30, "{\"id\":3,\"t\":\"hot\"}"},                                  /* filter: eval error */
    {0, 11, "{\"id\":4,\"t\":0}"},       {300, 5, "{\"id\":5,\"t\":100}"},
};
static const item batch2[] = {
    {2, 31, "{\"id\":6,"}, /* decode error */
    {1, 21, "{\"id\":7,\"t\":99.5}"},
};
static const item batch3[] = {
    {3, 0, "{\"id\":8,\"t\":9007199254740993}"}, /* dropped: past 2^53, above 100 */
    {0, 12, "{\"id\":9,\"t\":-0.5}"},            /* dropped */
    {2, 33, "{\"id\":10,\"t\":50}"},
    {2, 32, "{\"id\":11}"}, /* an older offset: the commit stays at 34; no t: dropped */
    {300, 6, "{\"id\":12,\"t\":\"x\"}"}, /* filter: eval error */
    {1, 22, "{\"id\":13,\"t\":1}"},
};
static const item batch4[] = {
    {1, 23, "{\"id\":14,\"t\":2}"},
};
static const struct {
  const item *items;
  size_t n;
} batches[] = {{batch1, 5}, {batch2, 2}, {batch3, 6}, {batch4, 1}};
#define NBATCHES (sizeof batches / sizeof batches[0])

static int64_t committed[301]; /* by partition, -1: never */
static size_t backwards;

static int script_open(const sl_connector_env *env, const sl_config *cfg, void **state,
                       sl_error *err) {
  (void)env, (void)cfg, (void)err;
  size_t *next = calloc(1, sizeof *next);
  *state = next;
  return next ? SL_OK : SL_ERR_NOMEM;
}

static int script_poll(void *state, sl_batch *out, size_t max, int timeout_ms, int *eof,
                       sl_error *err) {
  (void)max, (void)timeout_ms;
  size_t *next = state;
  if (*next > 0) {
    /* Past the pipeline's checkpoint interval (1 ms), so the runtime commits
     * between two batches and drops the partitions that caught up. */
    struct timespec ts = {0, 3 * 1000000L};
    nanosleep(&ts, NULL);
  }
  if (*next < NBATCHES) {
    for (size_t i = 0; i < batches[*next].n; i++) {
      const item *it = &batches[*next].items[i];
      sl_record *r = sl_record_new(sl_batch_arena(out), 0);
      if (!r)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      sl_record_set_raw(r, it->json, strlen(it->json));
      sl_record_set_position(r, 0, "script", it->partition, it->offset);
      if (sl_batch_push(out, r) != SL_OK)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    (*next)++;
  }
  *eof = *next == NBATCHES;
  return SL_OK;
}

static int script_commit(void *state, const sl_offset *offsets, size_t n, sl_error *err) {
  (void)state, (void)err;
  for (size_t i = 0; i < n; i++) {
    int32_t p = offsets[i].partition;
    if (p < 0 || p > 300)
      continue;
    backwards += offsets[i].next_offset < committed[p];
    committed[p] = offsets[i].next_offset;
  }
  return SL_OK;
}

static void script_close(void *state) { free(state); }

static const sl_config_entry script_config[] = {{NULL, 0, 0, NULL, NULL}};
static const sl_source_desc script_source = {
    .name = "script_source",
    .summary = "test source: four scripted batches over five partitions",
    .config = script_config,
    .open = script_open,
    .poll = script_poll,
    .commit = script_commit,
    .close = script_close,
};

static json_t *load_lines(const char *dir, const char *name) {
  char path[300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  json_t *arr = json_array();
  FILE *fp = fopen(path, "r");
  char line[4096];
  while (fp && fgets(line, sizeof line, fp)) {
    json_t *o = json_loads(line, 0, NULL);
    if (o)
      json_array_append_new(arr, o);
  }
  if (fp)
    fclose(fp);
  return arr;
}

static void test_order_dead_letters_and_offsets(void) {
  char dir[64];
  CU_ASSERT_EQUAL_FATAL(lf_dir_make(dir, sizeof dir, "sluice-batch"), 0);
  for (size_t p = 0; p <= 300; p++)
    committed[p] = -1;
  backwards = 0;
  sl_error err;
  sl_error_clear(&err);
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
  CU_ASSERT_EQUAL(sl_registry_add_source(reg, &script_source), SL_OK);
  lf_loaded l = lf_runtime(dir,
                           "local sl = require \"sluice\"\n"
                           "local p = sl.pipeline { name = \"batches\", state = \"memory\",\n"
                           "                        checkpoint = \"1ms\" }\n"
                           "p:script_source {}:decode { format = \"json\" }\n"
                           "  :filter \"t between 0 and 100\"\n"
                           "  :file_sink { path = \"out.jsonl\" }\n"
                           "p:dead_letter { path = \"dl.jsonl\" }\n",
                           reg, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(l.rt);
  int rc = sl_runtime_run(l.rt, &err);
  if (rc != SL_OK)
    fprintf(stderr, "run: %s\n", err.message);
  CU_ASSERT_EQUAL(rc, SL_OK);
  lf_unload(&l);

  static const int want_out[] = {1, 4, 5, 7, 10, 13, 14};
  json_t *out = load_lines(dir, "out.jsonl");
  CU_ASSERT_EQUAL(json_array_size(out), sizeof want_out / sizeof want_out[0]);
  for (size_t i = 0; i < json_array_size(out) && i < sizeof want_out / sizeof want_out[0]; i++)
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(out, i), "id")), want_out[i]);
  json_decref(out);

  static const struct {
    const char *reason, *raw, *error;
  } want_dl[] = {{"eval", "{\"id\":3,\"t\":\"hot\"}", "cannot compare string and int"},
                 {"decode", "{\"id\":6,", NULL},
                 {"eval", "{\"id\":12,\"t\":\"x\"}", "cannot compare string and int"}};
  json_t *dl = load_lines(dir, "dl.jsonl");
  CU_ASSERT_EQUAL(json_array_size(dl), 3);
  for (size_t i = 0; i < json_array_size(dl) && i < 3; i++) {
    json_t *o = json_array_get(dl, i);
    const char *reason = json_string_value(json_object_get(o, "reason"));
    const char *raw = json_string_value(json_object_get(o, "raw"));
    const char *error = json_string_value(json_object_get(o, "error"));
    CU_ASSERT_STRING_EQUAL(reason ? reason : "", want_dl[i].reason);
    CU_ASSERT_STRING_EQUAL(raw ? raw : "", want_dl[i].raw);
    if (want_dl[i].error)
      CU_ASSERT_PTR_NOT_NULL(error ? strstr(error, want_dl[i].error) : NULL);
  }
  json_decref(dl);

  CU_ASSERT_EQUAL(backwards, 0);
  CU_ASSERT_EQUAL(committed[0], 13);
  CU_ASSERT_EQUAL(committed[1], 24);
  CU_ASSERT_EQUAL(committed[2], 34);
  CU_ASSERT_EQUAL(committed[3], 1);
  CU_ASSERT_EQUAL(committed[300], 7);
  lf_dir_remove(dir);
}

int suite_core_runtime_batch(void) {
  CU_pSuite s = CU_add_suite("core_runtime_batch", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "order, dead letters mid-batch, committed offsets per partition",
              test_order_dead_letters_and_offsets);
  return 0;
}
