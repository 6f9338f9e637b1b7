/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include "base/exit_code.h" /* SL_EXIT_* */

/* The `sluice` command line; returns the process exit code. */
int sl_cli_main(int argc, char **argv);
/* `sluice test` (cli_test.c): argv as given to sl_cli_main. */
int sl_test_main(int argc, char **argv);

#endif
