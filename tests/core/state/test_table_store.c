/* SPDX-License-Identifier: Apache-2.0 */
/* The table store: updates replace, tombstones delete (also in the middle of
 * a probe run), max_entries refuses new keys only, a publish is atomic for
 * readers and a snapshot outlives the table's later versions, the registry. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "state/table_store.h"

static sl_arena *arena;

static sl_record *rec(const char *site, int64_t limit) {
  sl_record *r = sl_record_new(arena, 2);
  sl_record_set(r, sl_name_cstr("site"), sl_value_string(site, strlen(site)));
  sl_record_set(r, sl_name_cstr("max_temp"), sl_value_int(limit));
  return r;
}

static int64_t limit_of(const sl_table_snap *s, const char *key) {
  const sl_record *r = sl_table_snap_get(s, key, strlen(key));
  return r ? sl_record_get_cstr(r, "max_temp")->as.i : -1;
}

static int setup(void) {
  arena = sl_arena_new(0);
  return arena ? 0 : 1;
}

static int teardown(void) {
  sl_arena_destroy(arena);
  return 0;
}

static void test_updates_and_tombstones(void) {
  sl_table *t = sl_table_new("devices", 0);
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_table_put(t, "m1", 2, rec("north", 80), &err), SL_OK);
  CU_ASSERT_EQUAL(sl_table_put(t, "m2", 2, rec("south", 60), &err), SL_OK);
  CU_ASSERT_EQUAL(sl_table_put(t, "m1", 2, rec("north", 75), &err), SL_OK); /* update */
  sl_table_snap *before = sl_table_acquire(t);
  CU_ASSERT_EQUAL(sl_table_snap_count(before), 0); /* nothing visible before a publish */
  CU_ASSERT_PTR_NULL(sl_table_snap_get(before, "m1", 2));
  CU_ASSERT_EQUAL(sl_table_publish(t, &err), SL_OK);
  sl_table_snap *s = sl_table_acquire(t);
  CU_ASSERT_EQUAL(sl_table_snap_count(s), 2);
  CU_ASSERT_EQUAL(sl_table_snap_version(s), 1);
  CU_ASSERT_EQUAL(limit_of(s, "m1"), 75);
  CU_ASSERT_EQUAL(limit_of(s, "m2"), 60);
  CU_ASSERT(sl_table_snap_bytes(s) > 0);
  CU_ASSERT_EQUAL(sl_table_delete(t, "m1", 2), 1); /* tombstone */
  CU_ASSERT_EQUAL(sl_table_delete(t, "m9", 2), 0);
  CU_ASSERT_EQUAL(sl_table_publish(t, &err), SL_OK);
  sl_table_snap *s2 = sl_table_acquire(t);
  CU_ASSERT_EQUAL(limit_of(s2, "m1"), -1);
  CU_ASSERT_EQUAL(limit_of(s2, "m2"), 60);
  /* the older snapshot still sees its own version */
  CU_ASSERT_EQUAL(limit_of(s, "m1"), 75);
  sl_table_snap_release(before);
  sl_table_snap_release(s);
  sl_table_free(t); /* s2 outlives the table */
  CU_ASSERT_EQUAL(limit_of(s2, "m2"), 60);
  sl_table_snap_release(s2);
}

/* Many keys deleted in every order: the backward shift keeps every other key
 * reachable (a lost key would be a silent null enrichment). */
static void test_many_deletes_keep_probe_runs(void) {
  sl_table *t = sl_table_new("big", 0);
  sl_error err;
  char k[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "dev-%d", i);
    CU_ASSERT_EQUAL_FATAL(sl_table_put(t, k, strlen(k), rec("x", i), &err), SL_OK);
  }
  for (int i = 0; i < 5000; i += 3) {
    snprintf(k, sizeof k, "dev-%d", i);
    CU_ASSERT_EQUAL(sl_table_delete(t, k, strlen(k)), 1);
  }
  sl_table_publish(t, &err);
  sl_table_snap *s = sl_table_acquire(t);
  int wrong = 0;
  for (int i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "dev-%d", i);
    wrong += limit_of(s, k) != (i % 3 == 0 ? -1 : i);
  }
  CU_ASSERT_EQUAL(wrong, 0);
  CU_ASSERT_EQUAL(sl_table_snap_count(s), 5000 - 1667);
  sl_table_snap_release(s);
  sl_table_free(t);
}

static void test_max_entries(void) {
  sl_table *t = sl_table_new("small", 2);
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_EQUAL(sl_table_put(t, "a", 1, rec("x", 1), &err), SL_OK);
  CU_ASSERT_EQUAL(sl_table_put(t, "b", 1, rec("x", 2), &err), SL_OK);
  CU_ASSERT_EQUAL(sl_table_put(t, "c", 1, rec("x", 3), &err), SL_ERR_LIMIT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "max_entries = 2"));
  CU_ASSERT_EQUAL(sl_table_put(t, "a", 1, rec("x", 9), &err), SL_OK); /* updates still work */
  sl_table_delete(t, "b", 1);
  CU_ASSERT_EQUAL(sl_table_put(t, "c", 1, rec("x", 3), &err), SL_OK); /* room again */
  CU_ASSERT_EQUAL(sl_table_writer_count(t), 2);
  sl_table_free(t);
}

static void test_clear_and_republish_is_one_swap(void) {
  sl_table *t = sl_table_new("swap", 0);
  sl_error err;
  sl_table_put(t, "a", 1, rec("old", 1), &err);
  sl_table_put(t, "b", 1, rec("old", 2), &err);
  sl_table_publish(t, &err);
  sl_table_snap *old = sl_table_acquire(t);
  sl_table_clear(t); /* a reload builds the new version from scratch */
  sl_table_put(t, "a", 1, rec("new", 10), &err);
  sl_table_snap *mid = sl_table_acquire(t);
  CU_ASSERT_EQUAL(limit_of(mid, "b"), 2); /* a half-built reload is invisible */
  sl_table_publish(t, &err);
  sl_table_snap *now = sl_table_acquire(t);
  CU_ASSERT_EQUAL(limit_of(now, "a"), 10);
  CU_ASSERT_EQUAL(limit_of(now, "b"), -1);
  CU_ASSERT_EQUAL(limit_of(old, "a"), 1);
  CU_ASSERT_EQUAL(sl_table_snap_version(now), 2);
  sl_table_snap_release(old);
  sl_table_snap_release(mid);
  sl_table_snap_release(now);
  sl_table_free(t);
}

/* Keys of every length the short-key hash and compare treat apart (0 to 40
 * bytes, overlapping word loads from 4 to 16), each with one neighbour per
 * byte position that differs in that byte only: every key finds its own
 * entry (a load at a wrong offset would miss it, or read out of bounds under
 * ASan) and no neighbour finds one. */
static void test_keys_of_every_length(void) {
  sl_table *t = sl_table_new("lengths", 0);
  sl_error err;
  sl_error_clear(&err);
  char key[41];
  for (int len = 0; len <= 40; len++) {
    for (int i = 0; i < len; i++)
      key[i] = (char)('a' + (i * 7 + len) % 26);
    CU_ASSERT_EQUAL(sl_table_put(t, key, (size_t)len, rec("k", len), &err), SL_OK);
  }
  CU_ASSERT_EQUAL_FATAL(sl_table_publish(t, &err), SL_OK);
  sl_table_snap *s = sl_table_acquire(t);
  CU_ASSERT_EQUAL(sl_table_snap_count(s), 41);
  for (int len = 0; len <= 40; len++) {
    for (int i = 0; i < len; i++)
      key[i] = (char)('a' + (i * 7 + len) % 26);
    const sl_record *r = sl_table_snap_get(s, key, (size_t)len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(sl_record_get_cstr(r, "max_temp")->as.i, len);
    for (int i = 0; i < len; i++) {
      char was = key[i];
      key[i] = '#';
      CU_ASSERT_PTR_NULL(sl_table_snap_get(s, key, (size_t)len));
      key[i] = was;
    }
  }
  sl_table_snap_release(s);
  sl_table_free(t);
}

static void test_key_of(void) {
  char buf[32];
  const char *k;
  size_t n;
  sl_value v = sl_value_int(42);
  CU_ASSERT_TRUE(sl_table_key_of(&v, buf, sizeof buf, &k, &n));
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_NSTRING_EQUAL(k, "42", 2);
  v = sl_value_double(42.0);
  CU_ASSERT_TRUE(sl_table_key_of(&v, buf, sizeof buf, &k, &n));
  CU_ASSERT_NSTRING_EQUAL(k, "42", 2);
  v = sl_value_double(4.5);
  CU_ASSERT_FALSE(sl_table_key_of(&v, buf, sizeof buf, &k, &n));
  v = sl_value_null();
  CU_ASSERT_FALSE(sl_table_key_of(&v, buf, sizeof buf, &k, &n));
  v = sl_value_string("m1", 2);
  CU_ASSERT_TRUE(sl_table_key_of(&v, buf, sizeof buf, &k, &n));
  CU_ASSERT_PTR_EQUAL(k, v.as.str.ptr);
}

static void test_registry(void) {
  sl_table *a = sl_table_new("reg-a", 0), *dup = sl_table_new("reg-a", 0);
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_PTR_NULL(sl_table_find("reg-a"));
  CU_ASSERT_EQUAL(sl_table_register(a, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_table_register(dup, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_EQUAL(sl_table_find("reg-a"), a);
  sl_table_unregister(dup); /* not registered: no effect */
  CU_ASSERT_PTR_EQUAL(sl_table_find("reg-a"), a);
  sl_table_unregister(a);
  CU_ASSERT_PTR_NULL(sl_table_find("reg-a"));
  sl_table_free(a);
  sl_table_free(dup);
  sl_table_free(NULL);
  sl_table_snap_release(NULL);
}

int suite_core_table_store(void) {
  CU_pSuite s = CU_add_suite("core_table_store", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "updates and tombstones", test_updates_and_tombstones);
  CU_add_test(s, "many deletes keep probe runs", test_many_deletes_keep_probe_runs);
  CU_add_test(s, "max_entries", test_max_entries);
  CU_add_test(s, "clear and republish is one swap", test_clear_and_republish_is_one_swap);
  CU_add_test(s, "key of a value", test_key_of);
  CU_add_test(s, "keys of every length", test_keys_of_every_length);
  CU_add_test(s, "registry", test_registry);
  return CU_get_error();
}
