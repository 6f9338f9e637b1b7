/* SPDX-License-Identifier: Apache-2.0 */
/* libpq loaded on first use (why: postgres_libpq.h). */
#define SL_LIBPQ_NO_MACROS
#include "postgres_libpq.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

sl_libpq_api sl_libpq;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512]; /* empty when loaded */

static void load(void) {
  /* RTLD_LOCAL: libpq's symbols stay out of the global namespace, where a
   * plugin could otherwise bind to them by accident. */
  void *h = dlopen(SL_LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(failure, sizeof failure, "%s (install the libpq5 package)", dlerror());
    return;
  }
  sl_libpq_api api;
#define SL_LIBPQ_RESOLVE(f)                                                                        \
  *(void **)&api.f = dlsym(h, #f);                                                                 \
  if (!api.f) {                                                                                    \
    snprintf(failure, sizeof failure, "%s has no %s (too old a libpq)", SL_LIBPQ_SONAME, #f);      \
    dlclose(h);                                                                                    \
    return;                                                                                        \
  }
  SL_LIBPQ_FUNCTIONS(SL_LIBPQ_RESOLVE)
#undef SL_LIBPQ_RESOLVE
  sl_libpq = api; /* never unloaded: connections may outlive any one sink */
}

int sl_libpq_load(sl_error *err) {
  pthread_once(&once, load);
  if (failure[0])
    return sl_error_set(err, SL_ERR_UNAVAILABLE, "cannot load libpq: %s", failure);
  return SL_OK;
}
