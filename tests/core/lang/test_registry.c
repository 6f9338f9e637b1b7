/* SPDX-License-Identifier: Apache-2.0 */
/* The registry and the plugin loader, against real shared objects built by
 * tests/plugins: a good plugin, a wrong ABI version, a missing entry symbol,
 * and a pipeline that loads a plugin and runs its operator end to end. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/graph_validate.h"
#include "engine/runtime.h"
#include "harness.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"

#define PLUGIN(name) SLUICE_TEST_PLUGIN_DIR "/" name ".so"

/* A registry that may load the test plugins (plugins load only from allowed
 * directories, SPEC section 9). */
static sl_registry *plugin_registry(void) {
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
  CU_ASSERT_EQUAL_FATAL(sl_registry_allow_plugin_dir(reg, SLUICE_TEST_PLUGIN_DIR, &err), SL_OK);
  return reg;
}

static void test_builtins_registered(void) {
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
  static const char *const ops[] = {"filter", "map", "select", "decode", "encode"};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    CU_ASSERT_PTR_NOT_NULL(sl_registry_operator(reg, ops[i]));
  CU_ASSERT_PTR_NOT_NULL(sl_registry_source(reg, "file_source"));
  CU_ASSERT_PTR_NOT_NULL(sl_registry_sink(reg, "file_sink"));
  CU_ASSERT_STRING_EQUAL(sl_registry_suggest(reg, "fliter"), "filter");
  sl_registry_free(reg);
  sl_registry_free(NULL);
}

static void test_descriptor_checks(void) {
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  sl_operator_desc d = *sl_registry_operator(reg, "filter");
  d.name = "other";
  d.abi_version = 99;
  CU_ASSERT_EQUAL(sl_registry_add_operator(reg, &d, "test", &err), SL_ERR_ABI);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "ABI version 99"));
  d.abi_version = SL_OPERATOR_ABI_VERSION;
  d.struct_size = 8;
  CU_ASSERT_EQUAL(sl_registry_add_operator(reg, &d, "test", &err), SL_ERR_ABI);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "8 bytes"));
  d.struct_size = sizeof d;
  d.name = "filter";
  CU_ASSERT_EQUAL(sl_registry_add_operator(reg, &d, "test", &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "already registered"));
  sl_registry_free(reg);
}

static void test_good_plugin(void) {
  sl_error err;
  sl_registry *reg = plugin_registry();
  CU_ASSERT_EQUAL_FATAL(sl_plugin_load(reg, PLUGIN("scale_plugin"), &err), SL_OK);
  const sl_operator_desc *d = sl_registry_operator(reg, "scale");
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);

  sl_config *cfg = sl_config_new("t.lua", 1);
  sl_config_put_string(cfg, "field", "x");
  sl_config_put_number(cfg, "factor", 3);
  th_op t;
  CU_ASSERT_EQUAL_FATAL(th_op_init(&t, d, cfg), SL_OK);
  sl_record *in[] = {th_rec(&t, "x", sl_value_int(2), NULL),
                     th_rec(&t, "x", th_str(&t, "no"), NULL),
                     th_rec(&t, "x", sl_value_double(0.5), NULL)};
  CU_ASSERT_EQUAL(th_process(&t, in, 3), SL_OK);
  CU_ASSERT_EQUAL(t.out_count, 2);
  CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, 0, "x")->as.d, 6.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(th_out_field(&t, 1, "x")->as.d, 1.5, 1e-12);
  CU_ASSERT_EQUAL(t.dead_count, 1);
  CU_ASSERT_DOUBLE_EQUAL(th_counter(&t, "scale_records_total"), 2, 0);
  th_op_free(&t);
  sl_config_destroy(cfg);
  /* A second load registers the same names again: refused, nothing half-registered. */
  size_t before = sl_registry_operator_count(reg);
  CU_ASSERT_EQUAL(sl_plugin_load(reg, PLUGIN("scale_plugin"), &err), SL_ERR_INVALID);
  CU_ASSERT_EQUAL(sl_registry_operator_count(reg), before);
  sl_registry_free(reg);
}

static void test_wrong_abi_plugin(void) {
  sl_error err;
  sl_registry *reg = plugin_registry();
  CU_ASSERT_EQUAL(sl_plugin_load(reg, PLUGIN("wrong_abi_plugin"), &err), SL_ERR_ABI);
  char want[64];
  snprintf(want, sizeof want, "ABI version %u", SL_OPERATOR_ABI_VERSION + 41);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
  snprintf(want, sizeof want, "this sluice has ABI version %u", SL_OPERATOR_ABI_VERSION);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
  sl_registry_free(reg);
}

static void test_missing_symbol_and_file(void) {
  sl_error err;
  sl_registry *reg = plugin_registry();
  CU_ASSERT_EQUAL(sl_plugin_load(reg, PLUGIN("no_entry_plugin"), &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "sluice_plugin_entry"));
  CU_ASSERT_EQUAL(sl_plugin_load(reg, "/nonexistent/plugin.so", &err), SL_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/plugin.so"));
  sl_registry_free(reg);
}

static void write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs(text, fp);
  fclose(fp);
}

/* sl.plugin + apply() and stream:NAME{} through the whole runtime. */
static void test_plugin_pipeline_end_to_end(void) {
  char dir[] = "/tmp/sluice-plugin-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  char in[256], out[256], pl[256], text[2048];
  snprintf(in, sizeof in, "%s/in.jsonl", dir);
  snprintf(out, sizeof out, "%s/out.jsonl", dir);
  snprintf(pl, sizeof pl, "%s/p.lua", dir);
  write_file(in, "{\"x\":1}\n{\"x\":2.5}\n{\"x\":\"bad\"}\n");
  snprintf(text, sizeof text,
           "local sl = require \"sluice\"\n"
           "sl.plugin(\"%s\")\n"
           "local p = sl.pipeline { name = \"plug\" }\n"
           "p:file_source { path = \"in.jsonl\" }\n"
           "  :apply(\"scale\", { field = \"x\", factor = 10 })\n"
           "  :scale { field = \"x\", factor = 0.5 }\n"
           "  :file_sink { path = \"out.jsonl\" }\n",
           PLUGIN("scale_plugin"));
  write_file(pl, text);
  sl_error err;
  sl_registry *reg = plugin_registry();
  sl_lua *lua = NULL;
  sl_graph_desc *g = sl_lua_load_pipeline(pl, NULL, 0, reg, &lua, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  sl_graph_validate(g, reg, NULL);
  CU_ASSERT_EQUAL(g->nerrors, 0);
  for (size_t i = 0; i < g->nerrors; i++)
    fprintf(stderr, "%s\n", g->errors[i]);
  sl_runtime *rt = sl_runtime_new(g, reg, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
  CU_ASSERT_EQUAL(sl_runtime_run(rt, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_runtime_records_in(rt), 3);
  CU_ASSERT_EQUAL(sl_runtime_dead_letters(rt), 1);
  sl_runtime_free(rt);
  sl_graph_desc_free(g);
  sl_lua_close(lua);
  sl_registry_free(reg);

  FILE *fp = fopen(out, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  char line[256];
  CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, fp));
  CU_ASSERT_STRING_EQUAL(line, "{\"x\":5.0}\n");
  CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, fp));
  CU_ASSERT_STRING_EQUAL(line, "{\"x\":12.5}\n");
  CU_ASSERT_PTR_NULL(fgets(line, sizeof line, fp));
  fclose(fp);
  unlink(in);
  unlink(out);
  unlink(pl);
  rmdir(dir);
}

/* Load DIR/p.lua whose line 2 is sl.plugin(PLUGIN) and line 4 `line4`. */
static sl_graph_desc *load_plugin_pipeline(sl_registry *reg, const char *dir, const char *plugin,
                                           const char *line4, sl_lua **lua, char *pl, size_t n) {
  char text[1024];
  snprintf(pl, n, "%s/p.lua", dir);
  snprintf(text, sizeof text,
           "local sl = require \"sluice\"\n"
           "sl.plugin(\"%s\")\n"
           "local p = sl.pipeline { name = \"plug\" }\n"
           "%s\n",
           plugin, line4);
  write_file(pl, text);
  sl_error err;
  sl_graph_desc *g = sl_lua_load_pipeline(pl, NULL, 0, reg, lua, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  return g;
}

static void test_plugin_errors_in_pipeline(void) {
  char dir[] = "/tmp/sluice-plugin-XXXXXX", pl[256];
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  sl_registry *reg = plugin_registry();
  sl_lua *lua = NULL;
  sl_graph_desc *g = load_plugin_pipeline(
      reg, dir, PLUGIN("wrong_abi_plugin"),
      "p:stdin_source {}:apply(\"scale\", { field = \"x\" }):stdout_sink {}", &lua, pl, sizeof pl);
  CU_ASSERT_EQUAL_FATAL(g->nerrors, 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(g->errors[0], "p.lua:2: "));
  CU_ASSERT_PTR_NOT_NULL(strstr(g->errors[0], "ABI version"));
  CU_ASSERT_PTR_NOT_NULL(strstr(g->errors[1], "p.lua:4: unknown operator 'scale'"));
  sl_graph_desc_free(g);
  sl_lua_close(lua);
  sl_registry_free(reg);
  unlink(pl);
  rmdir(dir);
}

/* Issue 14 item 8: sl.plugin of any path loaded any shared object. Now only
 * files directly in an allowed directory load, symlinks followed. */
static void test_plugin_outside_allowed_dirs_refused(void) {
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  CU_ASSERT_EQUAL(sl_plugin_load(reg, PLUGIN("scale_plugin"), &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is not an allowed plugin directory (allowed: none)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "--plugin-dir " SLUICE_TEST_PLUGIN_DIR));
  CU_ASSERT_PTR_NULL(sl_registry_operator(reg, "scale"));

  /* Another allowed directory does not help, nor a symlink into it. */
  char dir[] = "/tmp/sluice-plugdir-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  char link[300];
  snprintf(link, sizeof link, "%s/scale.so", dir);
  CU_ASSERT_EQUAL_FATAL(symlink(PLUGIN("scale_plugin"), link), 0);
  char list[400];
  snprintf(list, sizeof list, ":%s::", dir); /* empty entries are skipped, as in PATH */
  CU_ASSERT_EQUAL(sl_registry_allow_plugin_path(reg, list, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_plugin_load(reg, link, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, dir)); /* the allowed list is named */
  CU_ASSERT_PTR_NULL(sl_registry_operator(reg, "scale"));

  /* Allowing the plugin's own directory, through a colon list, does. */
  snprintf(list, sizeof list, "%s:%s", dir, SLUICE_TEST_PLUGIN_DIR);
  CU_ASSERT_EQUAL(sl_registry_allow_plugin_path(reg, list, &err), SL_OK);
  CU_ASSERT_EQUAL(sl_plugin_load(reg, link, &err), SL_OK);
  CU_ASSERT_PTR_NOT_NULL(sl_registry_operator(reg, "scale"));

  CU_ASSERT_EQUAL(sl_registry_allow_plugin_dir(reg, "/nonexistent/plugins", &err),
                  SL_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/plugins"));
  CU_ASSERT_EQUAL(sl_registry_allow_plugin_dir(reg, PLUGIN("scale_plugin"), &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is not a directory"));
  sl_registry_free(reg);
  unlink(link);
  rmdir(dir);
}

/* The same refusal from a pipeline file: FILE:LINE and what to do. */
static void test_plugin_refused_in_pipeline(void) {
  char dir[] = "/tmp/sluice-plugin-XXXXXX", pl[256];
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  sl_error err;
  sl_registry *reg = sl_registry_new_builtin(&err);
  sl_lua *lua = NULL;
  sl_graph_desc *g = load_plugin_pipeline(reg, dir, PLUGIN("scale_plugin"),
                                          "p:stdin_source {}:stdout_sink {}", &lua, pl, sizeof pl);
  CU_ASSERT_EQUAL_FATAL(g->nerrors, 1);
  char want[1024];
  snprintf(want, sizeof want,
           "%s:2: plugin %s refused: %s is not an allowed plugin directory (allowed: none); if "
           "you trust the plugins in it, start sluice with --plugin-dir %s or add it to "
           "SLUICE_PLUGIN_PATH",
           pl, PLUGIN("scale_plugin"), SLUICE_TEST_PLUGIN_DIR, SLUICE_TEST_PLUGIN_DIR);
  CU_ASSERT_STRING_EQUAL(g->errors[0], want);
  sl_graph_desc_free(g);
  sl_lua_close(lua);
  sl_registry_free(reg);
  unlink(pl);
  rmdir(dir);
}

int suite_core_registry(void) {
  CU_pSuite s = CU_add_suite("core/registry", NULL, NULL);
  if (!s || !CU_add_test(s, "built-ins registered", test_builtins_registered) ||
      !CU_add_test(s, "descriptor version and size checks", test_descriptor_checks) ||
      !CU_add_test(s, "good plugin", test_good_plugin) ||
      !CU_add_test(s, "wrong ABI plugin refused", test_wrong_abi_plugin) ||
      !CU_add_test(s, "missing entry symbol and missing file", test_missing_symbol_and_file) ||
      !CU_add_test(s, "plugin pipeline end to end", test_plugin_pipeline_end_to_end) ||
      !CU_add_test(s, "plugin errors in a pipeline", test_plugin_errors_in_pipeline) ||
      !CU_add_test(s, "plugin outside allowed dirs refused",
                   test_plugin_outside_allowed_dirs_refused) ||
      !CU_add_test(s, "plugin refused in a pipeline", test_plugin_refused_in_pipeline))
    return -1;
  return 0;
}
