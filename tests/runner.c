/* SPDX-License-Identifier: Apache-2.0 */
/* The one CUnit runner: `sluice_tests` runs every suite, `sluice_tests NAME`
 * one suite. Exits non-zero on any failure. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "suites_generated.h"

typedef struct {
  const char *name;
  int (*add)(void);
} suite_def;

static const suite_def suites[] = {SLUICE_SUITE_TABLE{NULL, NULL}};

int main(int argc, char **argv) {
  if (CU_initialize_registry() != CUE_SUCCESS)
    return 2;
  int found = 0;
  for (const suite_def *s = suites; s->name; s++) {
    if (argc > 1 && strcmp(argv[1], s->name) != 0)
      continue;
    found++;
    if (s->add() != 0) {
      fprintf(stderr, "cannot register suite %s: %s\n", s->name, CU_get_error_msg());
      CU_cleanup_registry();
      return 2;
    }
  }
  if (!found) {
    fprintf(stderr, "no suite named '%s'\n", argc > 1 ? argv[1] : "");
    CU_cleanup_registry();
    return 2;
  }
  CU_basic_set_mode(CU_BRM_NORMAL);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}
