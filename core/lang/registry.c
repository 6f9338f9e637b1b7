/* SPDX-License-Identifier: Apache-2.0 */
/* Name -> descriptor tables for operators, sources and sinks, and the
 * plugin loader with the directories it may load from. */
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/config.h"
#include "lang/builtin.h"
#include "lang/registry.h"

typedef struct op_entry {
  const sl_operator_desc *desc;
  char *origin;
} op_entry;

struct sl_registry {
  op_entry *ops;
  size_t nops, capops;
  const sl_source_desc *sources[16];
  size_t nsources;
  const sl_sink_desc *sinks[16];
  size_t nsinks;
  void *handles[32]; /* dlopen handles of plugins */
  size_t nhandles;
  char *plugin_dirs[16]; /* realpath()s of the directories plugins may load from */
  size_t ndirs;
};

int sl_registry_add_operator(sl_registry *reg, const sl_operator_desc *d, const char *origin,
                             sl_error *err) {
  if (!d)
    return sl_error_set(err, SL_ERR_INVALID, "%s: NULL operator descriptor", origin);
  if (d->abi_version != SL_OPERATOR_ABI_VERSION)
    return sl_error_set(err, SL_ERR_ABI,
                        "%s: operator built for ABI version %u, this sluice has ABI version %u; "
                        "rebuild it against this sluice's headers",
                        origin, d->abi_version, SL_OPERATOR_ABI_VERSION);
  if (d->struct_size < sizeof(sl_operator_desc))
    return sl_error_set(err, SL_ERR_ABI,
                        "%s: operator descriptor is %u bytes, this sluice expects %zu; rebuild "
                        "it against this sluice's headers",
                        origin, d->struct_size, sizeof(sl_operator_desc));
  if (!d->name || !d->init || !d->process)
    return sl_error_set(err, SL_ERR_INVALID, "%s: operator needs a name, init and process",
                        origin);
  if (sl_registry_operator(reg, d->name) || sl_registry_source(reg, d->name) ||
      sl_registry_sink(reg, d->name))
    return sl_error_set(err, SL_ERR_INVALID, "%s: an operator named '%s' is already registered",
                        origin, d->name);
  if (reg->nops == reg->capops) {
    size_t ncap = reg->capops ? reg->capops * 2 : 16;
    op_entry *n = realloc(reg->ops, ncap * sizeof *n);
    if (!n)
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    reg->ops = n;
    reg->capops = ncap;
  }
  char *o = strdup(origin);
  if (!o)
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  reg->ops[reg->nops].desc = d;
  reg->ops[reg->nops].origin = o;
  reg->nops++;
  return SL_OK;
}

int sl_registry_add_source(sl_registry *reg, const sl_source_desc *d) {
  if (reg->nsources == sizeof reg->sources / sizeof reg->sources[0])
    return SL_ERR_LIMIT;
  reg->sources[reg->nsources++] = d;
  return SL_OK;
}

int sl_registry_add_sink(sl_registry *reg, const sl_sink_desc *d) {
  if (reg->nsinks == sizeof reg->sinks / sizeof reg->sinks[0])
    return SL_ERR_LIMIT;
  reg->sinks[reg->nsinks++] = d;
  return SL_OK;
}

sl_registry *sl_registry_new_builtin(sl_error *err) {
  sl_registry *reg = calloc(1, sizeof *reg);
  if (!reg) {
    sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  for (const sl_operator_desc *const *d = sl_builtin_operators; *d; d++)
    if (sl_registry_add_operator(reg, *d, "built-in", err) != SL_OK)
      goto fail;
  for (const sl_source_desc *const *s = sl_builtin_sources; *s; s++)
    sl_registry_add_source(reg, *s);
  for (const sl_sink_desc *const *s = sl_builtin_sinks; *s; s++)
    sl_registry_add_sink(reg, *s);
  return reg;
fail:
  sl_registry_free(reg);
  return NULL;
}

void sl_registry_free(sl_registry *reg) {
  if (!reg)
    return;
  for (size_t i = 0; i < reg->nops; i++)
    free(reg->ops[i].origin);
  free(reg->ops);
  for (size_t i = 0; i < reg->nhandles; i++)
    dlclose(reg->handles[i]);
  for (size_t i = 0; i < reg->ndirs; i++)
    free(reg->plugin_dirs[i]);
  free(reg);
}

const sl_operator_desc *sl_registry_operator(const sl_registry *reg, const char *name) {
  for (size_t i = 0; i < reg->nops; i++)
    if (strcmp(reg->ops[i].desc->name, name) == 0)
      return reg->ops[i].desc;
  return NULL;
}

const sl_source_desc *sl_registry_source(const sl_registry *reg, const char *name) {
  for (size_t i = 0; i < reg->nsources; i++)
    if (strcmp(reg->sources[i]->name, name) == 0)
      return reg->sources[i];
  return NULL;
}

const sl_sink_desc *sl_registry_sink(const sl_registry *reg, const char *name) {
  for (size_t i = 0; i < reg->nsinks; i++)
    if (strcmp(reg->sinks[i]->name, name) == 0)
      return reg->sinks[i];
  return NULL;
}

const char *sl_registry_suggest(const sl_registry *reg, const char *name) {
  const char *names[128];
  size_t n = 0;
  for (size_t i = 0; i < reg->nops && n < 128; i++)
    names[n++] = reg->ops[i].desc->name;
  for (size_t i = 0; i < reg->nsources && n < 128; i++)
    names[n++] = reg->sources[i]->name;
  for (size_t i = 0; i < reg->nsinks && n < 128; i++)
    names[n++] = reg->sinks[i]->name;
  return sl_suggest(name, names, n);
}

size_t sl_registry_operator_count(const sl_registry *reg) { return reg->nops; }
const sl_operator_desc *sl_registry_operator_at(const sl_registry *reg, size_t i) {
  return reg->ops[i].desc;
}

int sl_registry_allow_plugin_dir(sl_registry *reg, const char *dir, sl_error *err) {
  char *real = realpath(dir, NULL);
  struct stat st;
  if (!real)
    return sl_error_set(err, errno == ENOENT ? SL_ERR_NOT_FOUND : SL_ERR_IO,
                        "plugin directory %s: %s", dir, strerror(errno));
  int rc = SL_OK;
  if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
    rc = sl_error_set(err, SL_ERR_INVALID, "plugin directory %s is not a directory", dir);
  else if (reg->ndirs == sizeof reg->plugin_dirs / sizeof reg->plugin_dirs[0])
    rc = sl_error_set(err, SL_ERR_LIMIT, "plugin directory %s: at most %zu are allowed", dir,
                      sizeof reg->plugin_dirs / sizeof reg->plugin_dirs[0]);
  if (rc != SL_OK) {
    free(real);
    return rc;
  }
  reg->plugin_dirs[reg->ndirs++] = real;
  return SL_OK;
}

int sl_registry_allow_plugin_path(sl_registry *reg, const char *list, sl_error *err) {
  while (list && *list) {
    const char *end = strchr(list, ':');
    size_t n = end ? (size_t)(end - list) : strlen(list);
    if (n > 0) { /* "a::b" and a trailing ':' add nothing, as in PATH */
      char dir[4096];
      if (n >= sizeof dir)
        return sl_error_set(err, SL_ERR_INVALID, "plugin directory too long: %.64s...", list);
      memcpy(dir, list, n);
      dir[n] = '\0';
      int rc = sl_registry_allow_plugin_dir(reg, dir, err);
      if (rc != SL_OK)
        return rc;
    }
    list = end ? end + 1 : NULL;
  }
  return SL_OK;
}

/* `real` is a resolved path: its directory must be one the operator allowed
 * (exactly: not a subdirectory, and symlinks already followed). */
static int check_plugin_dir(const sl_registry *reg, const char *path, const char *real,
                            sl_error *err) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", real);
  const char *dir = dirname(copy);
  char allowed[1024] = "";
  for (size_t i = 0; i < reg->ndirs; i++) {
    if (strcmp(reg->plugin_dirs[i], dir) == 0)
      return SL_OK;
    size_t len = strlen(allowed);
    snprintf(allowed + len, sizeof allowed - len, "%s%s", i ? ", " : "", reg->plugin_dirs[i]);
  }
  return sl_error_set(err, SL_ERR_INVALID,
                      "plugin %s refused: %s is not an allowed plugin directory (allowed: %s); "
                      "if you trust the plugins in it, start sluice with --plugin-dir %s or add "
                      "it to SLUICE_PLUGIN_PATH",
                      path, dir, reg->ndirs ? allowed : "none", dir);
}

int sl_plugin_load(sl_registry *reg, const char *path, sl_error *err) {
  if (reg->nhandles == sizeof reg->handles / sizeof reg->handles[0])
    return sl_error_set(err, SL_ERR_LIMIT, "%s: too many plugins loaded", path);
  char *real = realpath(path, NULL);
  if (!real)
    return sl_error_set(err, errno == ENOENT ? SL_ERR_NOT_FOUND : SL_ERR_IO,
                        "cannot load plugin %s: %s", path, strerror(errno));
  int allowed = check_plugin_dir(reg, path, real, err);
  void *h = allowed == SL_OK ? dlopen(real, RTLD_NOW | RTLD_LOCAL) : NULL;
  free(real);
  if (allowed != SL_OK)
    return allowed;
  if (!h)
    return sl_error_set(err, SL_ERR_NOT_FOUND, "cannot load plugin: %s", dlerror());
  sl_plugin_entry_fn entry = (sl_plugin_entry_fn)dlsym(h, SL_PLUGIN_ENTRY_SYMBOL);
  if (!entry) {
    dlclose(h);
    return sl_error_set(err, SL_ERR_INVALID,
                        "%s: not a sluice plugin (no symbol '%s'; define it with "
                        "SL_PLUGIN_DEFINE)",
                        path, SL_PLUGIN_ENTRY_SYMBOL);
  }
  const sl_plugin *p = entry();
  int rc;
  if (!p) {
    rc = sl_error_set(err, SL_ERR_INVALID, "%s: %s() returned NULL", path, SL_PLUGIN_ENTRY_SYMBOL);
    goto out_close;
  }
  if (p->abi_version != SL_OPERATOR_ABI_VERSION) {
    rc = sl_error_set(err, SL_ERR_ABI,
                      "%s: plugin built for ABI version %u, this sluice has ABI version %u; "
                      "rebuild it with `pkg-config --cflags sluice`",
                      path, p->abi_version, SL_OPERATOR_ABI_VERSION);
    goto out_close;
  }
  if (p->struct_size < sizeof(sl_plugin)) {
    rc = sl_error_set(err, SL_ERR_ABI, "%s: plugin struct is %u bytes, expected %zu", path,
                      p->struct_size, sizeof(sl_plugin));
    goto out_close;
  }
  size_t before = reg->nops;
  for (const sl_operator_desc *const *d = p->operators; d && *d; d++) {
    rc = sl_registry_add_operator(reg, *d, path, err);
    if (rc != SL_OK) {
      /* Unregister what this plugin added: its descriptors die with dlclose. */
      for (size_t i = before; i < reg->nops; i++)
        free(reg->ops[i].origin);
      reg->nops = before;
      goto out_close;
    }
  }
  reg->handles[reg->nhandles++] = h;
  return SL_OK;
out_close:
  dlclose(h);
  return rc;
}
