/* SPDX-License-Identifier: Apache-2.0 */
/* simulator in bench mode (rate = 0): every record handed out carries the
 * bytes of reading i, the key of its machine (ids formatted once at open),
 * its partition and per-partition offsets, and all are read exactly once. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "base/record_internal.h"
#include "codec/avro_codec.h"
#include "lang/connector.h"

extern const sl_source_desc sl_simulator_source;
extern const char sl_simulator_schema[];

static sl_connector_env env = {
    .pipeline = "pl", .state = "memory", .node_name = "simulator#1", .source_id = 2};

static void run_bench(long long machines, long long records, int partitions) {
  sl_config *c = sl_config_new("t.lua", 1);
  sl_config_put_number(c, "machines", (double)machines);
  sl_config_put_number(c, "records", (double)records);
  sl_config_put_number(c, "rate", 0);
  sl_config_put_number(c, "partitions", partitions);
  sl_config_put_string(c, "format", "avro");
  sl_config_put_bool(c, "faults", 0);
  void *st = NULL;
  sl_error err = {0};
  CU_ASSERT_EQUAL_FATAL(sl_simulator_source.open(&env, c, &st, &err), SL_OK);
  sl_avro_schema *schema =
      sl_avro_schema_parse(sl_simulator_schema, strlen(sl_simulator_schema), &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
  sl_arena *a = sl_arena_new(0);
  sl_batch b;
  sl_batch_init(&b, a);
  int64_t next_offset[8] = {0};
  long long seen = 0, bad = 0;
  int eof = 0;
  while (!eof) {
    sl_batch_clear(&b);
    sl_arena_reset(a);
    CU_ASSERT_EQUAL_FATAL(sl_simulator_source.poll(st, &b, 97, 0, &eof, &err), SL_OK);
    for (size_t i = 0; i < sl_batch_count(&b); i++, seen++) {
      const sl_record *r = sl_batch_at(&b, i);
      long long m = seen % machines;
      char want[32];
      snprintf(want, sizeof want, "m%04lld", m + 1);
      size_t klen = 0, rlen = 0;
      const char *key = sl_record_key(r, &klen);
      const void *raw = sl_record_raw(r, &rlen);
      sl_record *d = NULL;
      int32_t part = sl_record_partition(r);
      bad += !key || klen != strlen(want) || memcmp(key, want, klen) != 0;
      bad += part != (int32_t)(m % partitions) || sl_record_source_id(r) != 2;
      bad += part >= 0 && part < 8 && sl_record_offset(r) != next_offset[part]++;
      bad += !raw || sl_avro_decode(schema, raw, rlen, a, &d, &err) != SL_OK;
      const sl_value *id = d ? sl_record_get_cstr(d, "machine_id") : NULL;
      bad += !id || id->as.str.len != klen || memcmp(id->as.str.ptr, want, klen) != 0;
      /* The record's time is the reading's own `ts`; no fields, no headers. */
      const sl_value *ts = d ? sl_record_get_cstr(d, "ts") : NULL;
      bad += !ts || ts->type != SL_TYPE_INT || sl_record_timestamp(r) != ts->as.i;
      bad += sl_record_count(r) != 0 || sl_record_header_count(r) != 0;
      bad += !sl_record_source_name(r) || strcmp(sl_record_source_name(r), "simulator") != 0;
      bad += sl_record_arena(r) != a;
    }
    /* Records of one batch are distinct: a field set on one (a map or enrich
     * writing in place) reaches no other. */
    if (sl_batch_count(&b) >= 2) {
      sl_record *r0 = sl_batch_at(&b, 0), *r1 = sl_batch_at(&b, 1);
      CU_ASSERT_EQUAL(sl_record_set(r0, sl_name_cstr("x"), sl_value_int(1)), SL_OK);
      CU_ASSERT_EQUAL(sl_record_count(r0), 1);
      CU_ASSERT_EQUAL(sl_record_count(r1), 0);
      CU_ASSERT_PTR_NULL(sl_record_get_cstr(r1, "x"));
    }
  }
  CU_ASSERT_EQUAL(seen, records);
  CU_ASSERT_EQUAL(bad, 0);
  sl_batch_release(&b);
  sl_arena_destroy(a);
  sl_avro_schema_free(schema);
  sl_simulator_source.close(st);
  sl_config_destroy(c);
}

static void test_bench_keys_and_positions(void) {
  run_bench(12, 1000, 4);
  run_bench(12345, 30000, 3); /* five-digit ids next to four-digit ones */
  run_bench(1, 10, 1);
}

int suite_connectors_simulator(void) {
  CU_pSuite s = CU_add_suite("connectors_simulator", NULL, NULL);
  if (!s)
    return -1;
  CU_add_test(s, "bench mode: keys, bytes and positions of every record",
              test_bench_keys_and_positions);
  return 0;
}
