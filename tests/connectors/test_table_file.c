/* SPDX-License-Identifier: Apache-2.0 */
/* File tables: a load publishes one new version; a bad line, a line without
 * the key or too many keys fail with path:line and leave the published
 * version as it was; open() fails on a missing file; close(NULL). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "tables.h"

static char dir[256], file[320];

static int setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sluice_tablefile_XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(file, sizeof file, "%s/devices.jsonl", dir);
  return 0;
}

static int teardown(void) {
  unlink(file);
  return rmdir(dir);
}

static void write_devices(const char *text) {
  FILE *fp = fopen(file, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs(text, fp);
  fclose(fp);
}

static const char *site_of(sl_table *t, const char *key) {
  static char buf[64];
  sl_table_snap *s = sl_table_acquire(t);
  const sl_record *r = sl_table_snap_get(s, key, strlen(key));
  const sl_value *v = r ? sl_record_get_cstr(r, "site") : NULL;
  snprintf(buf, sizeof buf, "%.*s", v ? (int)v->as.str.len : 4, v ? v->as.str.ptr : "none");
  sl_table_snap_release(s);
  return buf;
}

static void test_load_and_bad_versions(void) {
  sl_table *t = sl_table_new("devices", 3);
  sl_error err;
  sl_error_clear(&err);
  write_devices("{\"id\":\"m1\",\"site\":\"north\"}\n\n{\"id\":7,\"site\":\"south\"}\r\n");
  CU_ASSERT_EQUAL(sl_table_file_load(t, file, "id", "p", &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(site_of(t, "m1"), "north");
  CU_ASSERT_STRING_EQUAL(site_of(t, "7"), "south"); /* integer keys as text */

  write_devices("{\"id\":\"m1\",\"site\":\"west\"}\nnot json\n");
  CU_ASSERT_EQUAL(sl_table_file_load(t, file, "id", "p", &err), SL_ERR_INVALID);
  char want[400];
  snprintf(want, sizeof want, "%s:2: table 'devices': ", file);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
  CU_ASSERT_STRING_EQUAL(site_of(t, "m1"), "north"); /* the old version stays */

  write_devices("{\"id\":\"m1\",\"site\":\"west\"}\n{\"site\":\"nowhere\"}\n");
  CU_ASSERT_EQUAL(sl_table_file_load(t, file, "id", "p", &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":2: table 'devices': no key field 'id'"));

  write_devices("{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n{\"id\":\"d\"}\n");
  CU_ASSERT_EQUAL(sl_table_file_load(t, file, "id", "p", &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":4: table 'devices': "));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "max_entries = 3"));
  CU_ASSERT_STRING_EQUAL(site_of(t, "m1"), "north");

  write_devices("{\"id\":\"m1\",\"site\":\"west\"}\n");
  CU_ASSERT_EQUAL(sl_table_file_load(t, file, "id", "p", &err), SL_OK);
  CU_ASSERT_STRING_EQUAL(site_of(t, "m1"), "west");
  CU_ASSERT_STRING_EQUAL(site_of(t, "7"), "none"); /* gone with the new version */
  sl_table_free(t);
}

static void test_open_missing_file(void) {
  sl_table *t = sl_table_new("devices", 0);
  sl_config *c = sl_config_new("/nonexistent/p.lua", 2);
  sl_config_put_string(c, "path", "devices.jsonl");
  sl_config_put_string(c, "key", "id");
  sl_error err;
  sl_error_clear(&err);
  CU_ASSERT_PTR_NULL(sl_table_file_open(t, c, "p", &err));
  CU_ASSERT_EQUAL(err.code, SL_ERR_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "cannot open /nonexistent/devices.jsonl"));
  sl_config_destroy(c);
  sl_table_free(t);
  sl_table_file_close(NULL);
  sl_table_kafka_close(NULL);
  sl_tables_close(NULL);
}

int suite_connectors_table_file(void) {
  CU_pSuite s = CU_add_suite("connectors_table_file", setup, teardown);
  if (!s)
    return -1;
  CU_add_test(s, "load and bad versions", test_load_and_bad_versions);
  CU_add_test(s, "open a missing file", test_open_missing_file);
  return CU_get_error();
}
