/* SPDX-License-Identifier: Apache-2.0 */
/* Pipeline files in a temporary directory, loaded the way `sluice check`
 * loads them (core/cli/cli.c load()), for the Lua bridge and sandbox suites, and
 * built into a runtime for the runtime suites. */
#ifndef SLUICE_TEST_LUA_FIXTURE_H
#define SLUICE_TEST_LUA_FIXTURE_H

#include <stddef.h>

#include "engine/runtime.h"
#include "lang/graph.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"

typedef struct lf_loaded {
  sl_registry *reg;
  sl_lua *lua;
  sl_graph_desc *g;
  sl_runtime *rt; /* lf_runtime() only */
  char path[400]; /* of the pipeline file */
} lf_loaded;

/* mkdtemp under /tmp with `prefix`; 0 or -1 (a CUnit suite setup's result). */
int lf_dir_make(char *dir, size_t n, const char *prefix);
int lf_dir_remove(const char *dir);
/* Write `text` to DIR/NAME (CUnit-asserted). */
void lf_write(const char *dir, const char *name, const char *text);
/* Write `text` to DIR/p.lua and load it (not validated). Free with lf_unload(). */
lf_loaded lf_load(const char *dir, const char *text);
/* The same with `reg` (taken over: freed by lf_unload), for a test that
 * registered sources or sinks of its own; NULL: the built-in registry. */
lf_loaded lf_load_reg(const char *dir, const char *text, sl_registry *reg);
/* Write `text` to DIR/NAME, load it with the --set pairs `sets` (n of them)
 * and validate it the way `sluice check` does (errors in l.g->errors). */
lf_loaded lf_check(const char *dir, const char *name, const char *text, const char *const *sets,
                   size_t n);
/* lf_load_reg, then the runtime of the pipeline with `opts` (may be NULL;
 * CUnit-asserted): the way `sluice run` builds it, ready for sl_runtime_run. */
lf_loaded lf_runtime(const char *dir, const char *text, sl_registry *reg,
                     const sl_runtime_options *opts);
/* 1 when `g` has exactly the error "PATH:LINE: msg"; else 0, after printing
 * what it has (a failed assertion then shows the difference). */
int lf_has_error(const sl_graph_desc *g, const char *path, int line, const char *msg);
/* Frees the runtime (if any), graph, Lua state and registry. */
void lf_unload(lf_loaded *l);

#endif
