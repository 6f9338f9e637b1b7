/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

/* Exit codes of SPEC.md section 2. */
enum { SL_EXIT_OK = 0, SL_EXIT_INVALID = 1, SL_EXIT_USAGE = 2, SL_EXIT_RUNTIME = 3 };

/* The `sluice` command line; returns the process exit code. */
int sl_cli_main(int argc, char **argv);
/* `sluice test` (cli_test.c): argv as given to sl_cli_main. */
int sl_test_main(int argc, char **argv);

#endif
