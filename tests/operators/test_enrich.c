/* SPDX-License-Identifier: Apache-2.0 */
/* enrich through the operator harness: named fields, nesting with `as`, every
 * field, misses as nulls or `lookup` dead letters, integer keys, a batch that
 * sees one table version, bad configs, an undeclared table. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "harness.h"
#include "state/table_store.h"

extern const sl_operator_desc sl_op_enrich;

static sl_table *devices;

static int put(const char *id, const char *site, double max_temp) {
  sl_arena *a = sl_arena_new(0);
  sl_record *r = sl_record_new(a, 3);
  sl_record_set(r, sl_name_cstr("machine_id"), sl_value_string(id, strlen(id)));
  sl_record_set(r, sl_name_cstr("site"), sl_value_string(site, strlen(site)));
  sl_record_set(r, sl_name_cstr("max_temp"), sl_value_double(max_temp));
  sl_error err;
  int rc = sl_table_put(devices, id, strlen(id), r, &err);
  sl_arena_destroy(a);
  return rc;
}

static int setup(void) {
  sl_error err;
  devices = sl_table_new("enrich-devices", 0);
  if (!devices || sl_table_register(devices, &err) != SL_OK)
    return 1;
  if (put("m1", "north", 80) != SL_OK || put("7", "south", 60) != SL_OK)
    return 1;
  return sl_table_publish(devices, &err) == SL_OK ? 0 : 1;
}

static int teardown(void) {
  sl_table_unregister(devices);
  sl_table_free(devices);
  return 0;
}

static sl_config *cfg(const char *table, int with_fields) {
  sl_config *c = sl_config_new("p.lua", 4);
  sl_config_put_string(c, "table", table);
  sl_config_put_string(c, "key", "machine_id");
  if (with_fields) {
    const char *f[] = {"site", "max_temp"};
    sl_config_put_list(c, "fields", f, 2);
  }
  return c;
}

static void test_fields_and_missing_key(void) {
  sl_config *c = cfg("enrich-devices", 1);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_enrich, c), SL_OK);
  sl_record *in[] = {
      th_rec(&t, "machine_id", th_str(&t, "m1"), "temperature", sl_value_int(85), "site",
             th_str(&t, "stale"), NULL), /* an enriched field replaces the record's own */
      th_rec(&t, "machine_id", th_str(&t, "m9"), "temperature", sl_value_int(20), NULL),
      th_rec(&t, "temperature", sl_value_int(20), NULL), /* no key field */
      th_rec(&t, "machine_id", sl_value_int(7), NULL),   /* integer key, text entry key */
  };
  CU_ASSERT_EQUAL(th_process(&t, in, 4), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 4);
  CU_ASSERT_NSTRING_EQUAL(th_out_field(&t, 0, "site")->as.str.ptr, "north", 5);
  CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, 0, "max_temp")->as.d, 80, 1e-9);
  CU_ASSERT_EQUAL(th_out_field(&t, 0, "temperature")->as.i, 85);
  CU_ASSERT_EQUAL(sl_record_count(t.out[0]), 4);             /* site replaced, max_temp added */
  CU_ASSERT_PTR_NOT_NULL(th_out_field(&t, 0, "machine_id")); /* the key is kept */
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "site")->type, SL_TYPE_NULL);
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "max_temp")->type, SL_TYPE_NULL);
  CU_ASSERT_EQUAL(th_out_field(&t, 2, "site")->type, SL_TYPE_NULL);
  CU_ASSERT_NSTRING_EQUAL(th_out_field(&t, 3, "site")->as.str.ptr, "south", 5);
  CU_ASSERT_EQUAL(t.dead_count, 0);
  CU_ASSERT_DOUBLE_EQUAL(th_counter(&t, "sluice_enrich_misses_total"), 2, 1e-9);
  /* the input is not mutated */
  CU_ASSERT_NSTRING_EQUAL(sl_record_get_cstr(in[0], "site")->as.str.ptr, "stale", 5);
  CU_ASSERT_PTR_NULL(sl_record_get_cstr(in[0], "max_temp"));
  th_op_free(&t);
  sl_config_destroy(c);
}

/* enrich remembers the names of the last record that had none of the fields
 * it adds, to skip that check for records laid out alike: a record with as
 * many fields but another name (one it adds) must not be taken for one, or
 * `site` would be appended a second time instead of replaced. */
static void test_layout_change_after_a_remembered_one(void) {
  sl_config *c = cfg("enrich-devices", 1);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_enrich, c), SL_OK);
  sl_record *in[] = {
      th_rec(&t, "machine_id", th_str(&t, "m1"), "temperature", sl_value_int(85), NULL),
      th_rec(&t, "machine_id", th_str(&t, "m1"), "temperature", sl_value_int(86), NULL),
      th_rec(&t, "machine_id", th_str(&t, "m1"), "site", th_str(&t, "stale"), NULL),
      th_rec(&t, "temperature", sl_value_int(87), "machine_id", th_str(&t, "m1"), NULL),
  };
  CU_ASSERT_EQUAL(th_process(&t, in, 4), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 4);
  const uint32_t fields[] = {4, 4, 3, 4}; /* its own + site, max_temp (site replaced) */
  for (size_t i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL(sl_record_count(t.out[i]), fields[i]);
    CU_ASSERT_NSTRING_EQUAL(th_out_field(&t, i, "site")->as.str.ptr, "north", 5);
  }
  CU_ASSERT_PTR_EQUAL(sl_record_name_at(t.out[2], 1), sl_name_cstr("site")); /* replaced */
  CU_ASSERT_PTR_NULL(th_out_field(&t, 2, "temperature"));
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_as_and_all_fields(void) {
  sl_config *c = cfg("enrich-devices", 0);
  sl_config_put_string(c, "as", "device");
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_enrich, c), SL_OK);
  sl_record *in[] = {th_rec(&t, "machine_id", th_str(&t, "m1"), NULL),
                     th_rec(&t, "machine_id", th_str(&t, "nope"), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 2), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 2);
  const sl_value *d = th_out_field(&t, 0, "device");
  CU_ASSERT_EQUAL_FATAL(d->type, SL_TYPE_RECORD);
  CU_ASSERT_NSTRING_EQUAL(sl_record_get_cstr(d->as.rec, "site")->as.str.ptr, "north", 5);
  CU_ASSERT_EQUAL(th_out_field(&t, 1, "device")->type, SL_TYPE_NULL);
  th_op_free(&t);
  sl_config_destroy(c);

  c = cfg("enrich-devices", 0); /* neither fields nor as: every field of the entry */
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_enrich, c), SL_OK);
  sl_record *one[] = {th_rec(&t, "machine_id", th_str(&t, "m1"), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, one, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 1);
  CU_ASSERT_EQUAL(sl_record_count(t.out[0]), 3);
  CU_ASSERT_NSTRING_EQUAL(th_out_field(&t, 0, "site")->as.str.ptr, "north", 5);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_required_dead_letters_lookup(void) {
  sl_config *c = cfg("enrich-devices", 1);
  sl_config_put_bool(c, "required", 1);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_enrich, c), SL_OK);
  sl_record *in[] = {th_rec(&t, "machine_id", th_str(&t, "m9"), NULL),
                     th_rec(&t, "machine_id", th_str(&t, "m1"), NULL),
                     th_rec(&t, "other", sl_value_int(1), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 3), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 1);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 2);
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "lookup");
  CU_ASSERT_STRING_EQUAL(t.dead[0].message, "no entry for key 'm9' in table 'enrich-devices'");
  CU_ASSERT_STRING_EQUAL(t.dead[1].reason, "lookup");
  CU_ASSERT_PTR_NOT_NULL(strstr(t.dead[1].message, "missing or null"));
  th_op_free(&t);
  sl_config_destroy(c);
}

/* The table changes between batches: the next batch sees the new version,
 * and records already emitted keep the values they were given. */
static void test_table_change_between_batches(void) {
  sl_config *c = cfg("enrich-devices", 1);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_enrich, c), SL_OK);
  sl_record *in[] = {th_rec(&t, "machine_id", th_str(&t, "m1"), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 1), SL_OK);
  sl_error err;
  CU_ASSERT_EQUAL(put("m1", "north", 95), SL_OK); /* the threshold changes */
  sl_table_publish(devices, &err);
  CU_ASSERT_EQUAL(th_process(&t, in, 1), SL_OK);
  sl_table_delete(devices, "m1", 2); /* a tombstone */
  sl_table_publish(devices, &err);
  CU_ASSERT_EQUAL(th_process(&t, in, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(t.out_count, 3);
  CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, 0, "max_temp")->as.d, 80, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, 1, "max_temp")->as.d, 95, 1e-9);
  CU_ASSERT_EQUAL(th_out_field(&t, 2, "max_temp")->type, SL_TYPE_NULL);
  th_op_free(&t);
  sl_config_destroy(c);
  CU_ASSERT_EQUAL(put("m1", "north", 80), SL_OK); /* restore for the other tests */
  sl_table_publish(devices, &err);
}

/* The loader publishes a new version in the middle of a batch (here from
 * the dead-letter callback of the batch's first record), replacing one
 * entry and deleting another: the rest of the batch still sees the version
 * the batch started with, and the records it emitted, which borrow the old
 * entries' strings, stay readable until the next batch (ASan checks that
 * nothing they point to was freed). The next batch sees the new version. */
static sl_record *kept[8];
static size_t nkept;

static int keep_emit(sl_emitter *out, sl_record *r) {
  (void)out;
  if (nkept < sizeof kept / sizeof kept[0])
    kept[nkept++] = r; /* the record itself, not a copy: its values are borrowed */
  return SL_OK;
}

static int publish_on_dead_letter(sl_emitter *out, const sl_record *r, const char *reason,
                                  const char *message) {
  (void)out, (void)r, (void)reason, (void)message;
  sl_error err;
  CU_ASSERT_EQUAL(put("m1", "moved", 99), SL_OK);
  CU_ASSERT_EQUAL(sl_table_delete(devices, "7", 1), 1);
  CU_ASSERT_EQUAL(sl_table_publish(devices, &err), SL_OK);
  return SL_OK;
}

static void test_table_change_mid_batch(void) {
  sl_config *c = cfg("enrich-devices", 1);
  sl_config_put_bool(c, "required", 1);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_enrich, c), SL_OK);
  int (*dead_letter)(sl_emitter *, const sl_record *, const char *, const char *) =
      t.host.dead_letter;
  t.host.emit = keep_emit;
  t.host.dead_letter = publish_on_dead_letter;
  nkept = 0;
  sl_record *in[] = {th_rec(&t, "machine_id", th_str(&t, "m9"), NULL), /* the publish */
                     th_rec(&t, "machine_id", th_str(&t, "m1"), NULL),
                     th_rec(&t, "machine_id", sl_value_int(7), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 3), SL_OK);
  CU_ASSERT_EQUAL_FATAL(nkept, 2);
  const sl_value *site = sl_record_get_cstr(kept[0], "site");
  CU_ASSERT_EQUAL_FATAL(site->type, SL_TYPE_STRING);
  CU_ASSERT_NSTRING_EQUAL(site->as.str.ptr, "north", 5); /* the old entry, still alive */
  site = sl_record_get_cstr(kept[1], "site");
  CU_ASSERT_EQUAL_FATAL(site->type, SL_TYPE_STRING); /* deleted mid-batch: not for this one */
  CU_ASSERT_NSTRING_EQUAL(site->as.str.ptr, "south", 5);
  CU_ASSERT_DOUBLE_EQUAL(sl_record_get_cstr(kept[0], "max_temp")->as.d, 80, 1e-9);

  t.host.dead_letter = dead_letter; /* the harness's: captured */
  nkept = 0;
  CU_ASSERT_EQUAL(th_process(&t, in + 1, 2), SL_OK); /* the next batch: the new version */
  CU_ASSERT_EQUAL_FATAL(nkept, 1);
  CU_ASSERT_NSTRING_EQUAL(sl_record_get_cstr(kept[0], "site")->as.str.ptr, "moved", 5);
  CU_ASSERT_EQUAL_FATAL(t.dead_count, 1); /* 7 is gone now */
  CU_ASSERT_STRING_EQUAL(t.dead[0].reason, "lookup");
  th_op_free(&t);
  sl_config_destroy(c);
  sl_error err; /* restore for the other tests */
  CU_ASSERT_EQUAL(put("m1", "north", 80), SL_OK);
  CU_ASSERT_EQUAL(put("7", "south", 60), SL_OK);
  sl_table_publish(devices, &err);
}

static void test_empty_batch(void) {
  sl_config *c = cfg("enrich-devices", 1);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_enrich, c), SL_OK);
  CU_ASSERT_EQUAL(th_process(&t, NULL, 0), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 0);
  CU_ASSERT_EQUAL(t.dead_count, 0);
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_bad_configs(void) {
  sl_config *c = cfg("enrich-devices", 1);
  sl_config_put_string(c, "as", "device");
  th_op t;
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_enrich, c), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "not both"));
  th_op_free(&t);
  sl_config_destroy(c);
  c = cfg("enrich-devices", 0);
  const char *empty[] = {""};
  sl_config_put_list(c, "fields", empty, 1);
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_enrich, c), SL_ERR_INVALID);
  th_op_free(&t);
  sl_config_destroy(c);
  c = cfg("enrich-devices", 0);
  const char *twice[] = {"site", "max_temp", "site"};
  sl_config_put_list(c, "fields", twice, 3);
  CU_ASSERT_EQUAL(th_op_init(&t, &sl_op_enrich, c), SL_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(t.err.message, "enrich: field 'site' is listed twice");
  th_op_free(&t);
  sl_config_destroy(c);
}

/* `sluice check` inits operators without opening tables: init succeeds, and
 * a batch against a table that was never opened stops with a clear error. */
static void test_table_not_open(void) {
  sl_config *c = cfg("no-such-table", 1);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, &sl_op_enrich, c), SL_OK);
  sl_record *in[] = {th_rec(&t, "machine_id", th_str(&t, "m1"), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 1), SL_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NOT_NULL(strstr(t.err.message, "table 'no-such-table' is not open"));
  th_op_free(&t);
  sl_config_destroy(c);
}

static void test_destroy_null(void) {
  sl_op_enrich.destroy(NULL);
  CU_PASS("destroy(NULL) returned");
}

int suite_operators_enrich(void) {
  CU_pSuite s = CU_add_suite("operators_enrich", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "fields and missing key", test_fields_and_missing_key);
  CU_add_test(s, "as and all fields", test_as_and_all_fields);
  CU_add_test(s, "a layout change after a remembered one",
              test_layout_change_after_a_remembered_one);
  CU_add_test(s, "required dead-letters lookup", test_required_dead_letters_lookup);
  CU_add_test(s, "table change between batches", test_table_change_between_batches);
  CU_add_test(s, "table change in the middle of a batch", test_table_change_mid_batch);
  CU_add_test(s, "empty batch", test_empty_batch);
  CU_add_test(s, "bad configs", test_bad_configs);
  CU_add_test(s, "table not open", test_table_not_open);
  CU_add_test(s, "destroy(NULL)", test_destroy_null);
  return CU_get_error();
}
