/* SPDX-License-Identifier: Apache-2.0 */
/* libpq is loaded by the first postgres_sink, not linked: linking it put
 * 3.4 MiB of libraries (libpq, Kerberos, OpenLDAP, GnuTLS...) into the
 * resident memory of every sluice process (bench/README.md, "Memory").
 * This runner links sluice_core exactly as the sluice binary does, so its
 * own dynamic section shows whether libpq is linked in again (the linker
 * runs with --as-needed: one direct PQ* call that bypasses
 * postgres_libpq.h is enough). */
#include <CUnit/CUnit.h>
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "base/config.h"
#include "postgres.h"
#define SL_LIBPQ_NO_MACROS /* SL_LIBPQ_FUNCTIONS names the members below */
#include "postgres_libpq.h"

/* Whether the executable's DT_NEEDED entries name a library starting with
 * `prefix`. ld.so has relocated DT_STRTAB to an address by now. */
static int exe_needs(const char *prefix) {
  const char *strtab = NULL;
  for (const ElfW(Dyn) *d = _DYNAMIC; d->d_tag != DT_NULL; d++)
    if (d->d_tag == DT_STRTAB)
      strtab = (const char *)d->d_un.d_ptr;
  CU_ASSERT_PTR_NOT_NULL_FATAL(strtab);
  for (const ElfW(Dyn) *d = _DYNAMIC; d->d_tag != DT_NULL; d++)
    if (d->d_tag == DT_NEEDED && !strncmp(strtab + d->d_un.d_val, prefix, strlen(prefix)))
      return 1;
  return 0;
}

static void test_not_linked(void) {
  /* The check itself: the runner does need libraries sluice links. */
  CU_ASSERT_TRUE(exe_needs("librdkafka.so"));
  CU_ASSERT_FALSE(exe_needs("libpq.so"));
  CU_ASSERT_FALSE(exe_needs("libldap"));
  CU_ASSERT_FALSE(exe_needs("libgssapi"));
}

static void test_loaded_on_first_use(void) {
  sl_error err = {0};
  CU_ASSERT_EQUAL_FATAL(sl_libpq_load(&err), SL_OK);
  /* Every function postgres_sink calls resolved. */
#define CHECK_RESOLVED(f) CU_ASSERT_PTR_NOT_NULL(sl_libpq.f);
  SL_LIBPQ_FUNCTIONS(CHECK_RESOLVED)
#undef CHECK_RESOLVED
  void *h = dlopen(SL_LIBPQ_SONAME, RTLD_NOW | RTLD_NOLOAD);
  CU_ASSERT_PTR_NOT_NULL(h);
  if (h)
    dlclose(h);
  /* A second load is the same outcome, and the calls go to libpq. */
  CU_ASSERT_EQUAL(sl_libpq_load(&err), SL_OK);
  char *why = NULL;
  PQconninfoOption *o = sl_libpq.PQconninfoParse("host=db.example port=6543 dbname=stats", &why);
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  const char *port = NULL;
  for (PQconninfoOption *p = o; p->keyword; p++)
    if (!strcmp(p->keyword, "port"))
      port = p->val;
  CU_ASSERT_STRING_EQUAL(port ? port : "", "6543");
  sl_libpq.PQconninfoFree(o);
}

/* The sink's option check loads libpq itself: `sluice check` and open need
 * no earlier call. */
static void test_check_options_loads(void) {
  sl_config *c = sl_config_new("pg.lua", 2);
  sl_config_put_string(c, "url", "postgresql://u@h:70000/db");
  sl_config_put_string(c, "table", "stats");
  sl_error err = {0};
  CU_ASSERT_EQUAL(pg_check_options(c, &err), SL_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "port '70000'"));
  sl_config_destroy(c);
}

int suite_connectors_postgres_libpq(void) {
  CU_pSuite s = CU_add_suite("connectors_postgres_libpq", NULL, NULL);
  if (!s || !CU_add_test(s, "libpq is not linked", test_not_linked) ||
      !CU_add_test(s, "the option check loads it", test_check_options_loads) ||
      !CU_add_test(s, "loaded on first use", test_loaded_on_first_use))
    return -1;
  return 0;
}
