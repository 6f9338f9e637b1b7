/* SPDX-License-Identifier: Apache-2.0 */
/* The sluice command line; the work happens in core/cli.c. */
#include <stdio.h>

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("sluice %s\n", SLUICE_VERSION);
  return 0;
}
