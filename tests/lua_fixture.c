/* SPDX-License-Identifier: Apache-2.0 */
/* See lua_fixture.h. */
#include "lua_fixture.h"
#include "engine/graph_validate.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lf_dir_make(char *dir, size_t n, const char *prefix) {
  snprintf(dir, n, "/tmp/%s_XXXXXX", prefix);
  return mkdtemp(dir) ? 0 : -1;
}

int lf_dir_remove(const char *dir) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

void lf_write(const char *dir, const char *name, const char *text) {
  char p[400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *fp = fopen(p, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
  fputs(text, fp);
  fclose(fp);
}

static lf_loaded load_file(const char *dir, const char *name, const char *text,
                           const char *const *sets, size_t n, sl_registry *reg) {
  lf_loaded l = {0};
  lf_write(dir, name, text);
  snprintf(l.path, sizeof l.path, "%s/%s", dir, name);
  sl_error err;
  sl_error_clear(&err);
  l.reg = reg ? reg : sl_registry_new_builtin(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(l.reg);
  l.g = sl_lua_load_pipeline(l.path, sets, n, l.reg, &l.lua, &err);
  if (!l.g)
    fprintf(stderr, "%s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL_FATAL(l.g);
  return l;
}

lf_loaded lf_load_reg(const char *dir, const char *text, sl_registry *reg) {
  return load_file(dir, "p.lua", text, NULL, 0, reg);
}

lf_loaded lf_load(const char *dir, const char *text) { return lf_load_reg(dir, text, NULL); }

lf_loaded lf_check(const char *dir, const char *name, const char *text, const char *const *sets,
                   size_t n) {
  lf_loaded l = load_file(dir, name, text, sets, n, NULL);
  sl_graph_validate(l.g, l.reg, text);
  return l;
}

lf_loaded lf_runtime(const char *dir, const char *text, sl_registry *reg,
                     const sl_runtime_options *opts) {
  lf_loaded l = lf_load_reg(dir, text, reg);
  sl_error err;
  sl_error_clear(&err);
  l.rt = sl_runtime_new(l.g, l.reg, opts, &err);
  if (!l.rt)
    fprintf(stderr, "%s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL_FATAL(l.rt);
  return l;
}

void lf_unload(lf_loaded *l) {
  sl_runtime_free(l->rt);
  sl_graph_desc_free(l->g);
  sl_lua_close(l->lua);
  sl_registry_free(l->reg);
}

int lf_has_error(const sl_graph_desc *g, const char *path, int line, const char *msg) {
  char want[1200];
  snprintf(want, sizeof want, "%s:%d: %s", path, line, msg);
  for (size_t i = 0; i < g->nerrors; i++)
    if (strcmp(g->errors[i], want) == 0)
      return 1;
  fprintf(stderr, "\nmissing error: %s\nhave:\n", want);
  for (size_t i = 0; i < g->nerrors; i++)
    fprintf(stderr, "  %s\n", g->errors[i]);
  return 0;
}
