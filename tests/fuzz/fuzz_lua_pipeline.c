/* SPDX-License-Identifier: Apache-2.0 */
/* Pipeline files (core/lang/lua_pipeline.c, core/lang/lua_bridge.c, core/lang/graph.c): the
 * input is the text of a pipeline file, loaded and validated as
 * `sluice check FILE` does (core/cli/cli.c). The file sits in a private
 * directory, so `require` finds nothing beside it. The Lua libraries are
 * confined and budgeted (fuzz_lua.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/graph_validate.h"
#include "fuzz_support.h"
#include "lang/graph.h"
#include "lang/lua_pipeline.h"
#include "lang/registry.h"

static char dir[64], path[4096], schemas[4096];

/* The directory is the process's own: gone when it exits. */
static void remove_dir(void) {
  unlink(path);
  unlink(schemas);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  snprintf(dir, sizeof dir, "/tmp/sluice-fuzz-lua-XXXXXX");
  if (!mkdtemp(dir))
    fuzz_fail("cannot make a temporary directory");
  snprintf(path, sizeof path, "%s/pipeline.lua", dir);
  /* The examples name schemas/machine_reading.avsc beside the pipeline. */
  snprintf(schemas, sizeof schemas, "%s/schemas", dir);
  if (symlink(SLUICE_SOURCE_DIR "/pipelines/schemas", schemas) != 0)
    fuzz_fail("cannot link %s", schemas);
  atexit(remove_dir);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
    fuzz_fail("cannot write %s", path);
  char *text = fuzz_strndup(data, size);
  sl_error err;
  sl_error_clear(&err);
  fuzz_lua_new_input();
  sl_registry *reg = sl_registry_new_builtin(&err);
  if (!reg)
    fuzz_fail("no registry: %s", err.message);
  sl_lua *lua = NULL;
  sl_graph_desc *g = sl_lua_load_pipeline(path, NULL, 0, reg, &lua, &err);
  if (g)
    sl_graph_validate(g, reg, text);
  sl_graph_desc_free(g); /* configs hold Lua refs: before the Lua state */
  sl_lua_close(lua);
  sl_registry_free(reg);
  free(text);
  return 0;
}
