/* SPDX-License-Identifier: Apache-2.0 */
/* The restricted Lua of pipeline files (SPEC section 9): every way out of the
 * sandbox is refused with "FILE:LINE: X is not available in pipeline files",
 * what remains works, `require` stays beside the pipeline, and the file's own
 * evaluation ends past its instruction and memory budgets. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lua_fixture.h"

static char dir[256];
static char path[400];

static int setup(void) { return lf_dir_make(dir, sizeof dir, "sluice_luasandbox"); }
static int teardown(void) { return lf_dir_remove(dir); }

/* Load `text` as p.lua and return its errors joined by newlines (static). */
static const char *errors_of(const char *text) {
  static char all[8192];
  lf_loaded l = lf_load(dir, text);
  snprintf(path, sizeof path, "%s", l.path);
  all[0] = '\0';
  for (size_t i = 0; i < l.g->nerrors; i++) {
    size_t n = strlen(all);
    snprintf(all + n, sizeof all - n, "%s\n", l.g->errors[i]);
  }
  lf_unload(&l);
  return all;
}

#define HDR "local sl = require \"sluice\"\n"
#define PIPE "local p = sl.pipeline {}\np:stdin_source {}:stdout_sink {}\n"

/* Issue 14 item 8: a pipeline file (and every per-record function) could run
 * os.execute, io.popen, package.loadlib, debug.*... Each is refused by name
 * at the line that uses it, and the file fails `sluice check`. */
static void test_os_execute_not_available_in_pipeline_files(void) {
  static const char *const calls[][2] = {
      {"os.execute(\"touch /tmp/sluice-pwned\")", "os.execute"},
      {"os.getenv(\"HOME\")", "os.getenv"},
      {"os.exit(1)", "os.exit"},
      {"os.remove(\"x\")", "os.remove"},
      {"io.popen(\"id\")", "io.popen"},
      {"io.open(\"/etc/passwd\")", "io.open"},
      {"io.write(\"x\")", "io.write"},
      {"debug.sethook()", "debug.sethook"},
      {"debug.getregistry()", "debug.getregistry"},
      {"package.loadlib(\"libc.so.6\", \"system\")", "package.loadlib"},
      {"local x = package.path", "package.path"},
      {"dofile(\"x.lua\")", "dofile"},
      {"loadfile(\"x.lua\")", "loadfile"},
      {"coroutine.wrap(print)", "coroutine.wrap"},
      {"require \"io\"", "io"},
      {"require \"debug\"", "debug"},
      {"require(\"os\").execute(\"id\")", "os.execute"},
  };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    char text[512], want[600];
    snprintf(text, sizeof text, HDR PIPE "\n%s\n", calls[i][0]);
    const char *errs = errors_of(text);
    snprintf(want, sizeof want, "%s:5: %s is not available in pipeline files\n", path, calls[i][1]);
    CU_ASSERT_STRING_EQUAL(errs, want);
  }
  /* Inside a function too: the same stubs are what a per-record function sees. */
  const char *errs = errors_of(HDR PIPE "local function f() return os.execute end\nf()\n");
  char want[600];
  snprintf(want, sizeof want, "%s:4: os.execute is not available in pipeline files\n", path);
  CU_ASSERT_STRING_EQUAL(errs, want);
}

static void test_allowed_libraries_work(void) {
  const char *errs = errors_of(
      HDR PIPE "assert(os.time() > 0 and os.clock() >= 0 and #os.date(\"%Y\") == 4)\n"
               "assert(os.time { year = 2026, month = 1, day = 1, hour = 0 } > 0)\n"
               "assert(string.format(\"%03d\", 7) == \"007\" and (\"ab\"):upper() == \"AB\")\n"
               "assert(table.concat({ 1, 2 }, \",\") == \"1,2\" and math.floor(2.5) == 2)\n"
               "assert(utf8.char(228) == \"\\xc3\\xa4\" and select(\"#\", 1, 2) == 2)\n"
               "assert(load(\"return 1 + 1\")() == 2)\n"
               "assert(load(\"return x\", \"chunk\", \"t\", { x = 5 })() == 5)\n"
               "assert(pcall(error, \"e\") == false and tostring(nil) == \"nil\")\n"
               "assert(require(\"string\") == string and require(\"sluice\") == sl)\n");
  CU_ASSERT_STRING_EQUAL(errs, "");
}

/* Binary chunks skip the compiler's checks and can crash the VM. */
static void test_binary_load_refused(void) {
  const char *errs =
      errors_of(HDR PIPE "local f, msg = load(string.dump(function() return 1 end))\n"
                         "assert(f == nil, \"binary chunk loaded\")\n"
                         "assert(msg:find(\"attempt to load a binary chunk\"), msg)\n"
                         "local g = load(string.dump(function() return 1 end), \"b\", \"b\")\n"
                         "assert(g == nil, \"binary chunk loaded with mode b\")\n");
  CU_ASSERT_STRING_EQUAL(errs, "");
}

static void test_require_stays_beside_the_pipeline(void) {
  char sub[400];
  snprintf(sub, sizeof sub, "%s/lib", dir);
  mkdir(sub, 0755);
  lf_write(dir, "lib/util.lua",
           "count = (count or 0) + 1\nreturn { twice = function(x) return 2 * x end }\n");
  const char *errs = errors_of(HDR PIPE "local u = require \"lib.util\"\n"
                                        "assert(u.twice(21) == 42 and require(\"lib.util\") == u)\n"
                                        "assert(count == 1, \"module ran twice\")\n");
  CU_ASSERT_STRING_EQUAL(errs, "");

  char want[800];
  errs = errors_of(HDR PIPE "require \"../secret\"\n");
  snprintf(want, sizeof want,
           "%s:4: require \"../secret\": modules are Lua files beside the pipeline file, named "
           "with letters, digits, '_' and '.' for subdirectories\n",
           path);
  CU_ASSERT_STRING_EQUAL(errs, want);
  errs = errors_of(HDR PIPE "require \"/etc/passwd\"\n");
  CU_ASSERT_PTR_NOT_NULL(strstr(errs, ":4: require \"/etc/passwd\": modules are Lua files"));
  errs = errors_of(HDR PIPE "require \"absent\"\n");
  snprintf(want, sizeof want,
           "%s:4: module 'absent' not found: no file '%s/absent.lua' (require loads only Lua "
           "files beside the pipeline file)\n",
           path, dir);
  CU_ASSERT_STRING_EQUAL(errs, want);
  /* A module is text only, and its errors name its own file and line. */
  lf_write(dir, "bad.lua", "local x = 1\nos.execute(\"id\")\n");
  errs = errors_of(HDR PIPE "require \"bad\"\n");
  snprintf(want, sizeof want, "%s/bad.lua:2: os.execute is not available in pipeline files\n", dir);
  CU_ASSERT_STRING_EQUAL(errs, want);
}

/* Issue 14 item 8: `sluice check` of `while true do end` never ended. */
static void test_pipeline_file_endless_loop_ends(void) {
  char want[600];
  const char *errs = errors_of(HDR "while true do end\n");
  snprintf(want, sizeof want,
           "%s:2: the pipeline file ran more than 100000000 Lua instructions (an endless "
           "loop?)\n",
           path);
  CU_ASSERT_PTR_NOT_NULL(strstr(errs, want));
  /* pcall cannot swallow the budget: every instruction past it raises again. */
  errs = errors_of(HDR "while true do pcall(function() while true do end end) end\n");
  CU_ASSERT_PTR_NOT_NULL(strstr(errs, "ran more than 100000000 Lua instructions"));
}

static void test_pipeline_file_memory_bomb_ends(void) {
  char want[600];
  const char *errs = errors_of(HDR PIPE "local s = string.rep(\"x\", 1e9)\n");
  snprintf(want, sizeof want, "%s:4: the pipeline file needs more than 256 MB of Lua memory\n",
           path);
  CU_ASSERT_STRING_EQUAL(errs, want);
  errs = errors_of(HDR PIPE "local t = {}\nfor i = 1, 1e9 do t[i] = (\"x\"):rep(4096) .. i end\n");
  snprintf(want, sizeof want, "%s:5: the pipeline file needs more than 256 MB of Lua memory\n",
           path);
  CU_ASSERT_STRING_EQUAL(errs, want);
}

int suite_core_lua_sandbox(void) {
  CU_pSuite s = CU_add_suite("core/lua_sandbox", setup, teardown);
  if (!s ||
      !CU_add_test(s, "os.execute not available in pipeline files",
                   test_os_execute_not_available_in_pipeline_files) ||
      !CU_add_test(s, "allowed libraries work", test_allowed_libraries_work) ||
      !CU_add_test(s, "binary load refused", test_binary_load_refused) ||
      !CU_add_test(s, "require stays beside the pipeline",
                   test_require_stays_beside_the_pipeline) ||
      !CU_add_test(s, "pipeline file endless loop ends", test_pipeline_file_endless_loop_ends) ||
      !CU_add_test(s, "pipeline file memory bomb ends", test_pipeline_file_memory_bomb_ends))
    return -1;
  return 0;
}
