/* SPDX-License-Identifier: Apache-2.0 */
/* The sluice executable: everything but argument dispatch lives in the
 * library so that tests run the shipped code. */
#include "cli/cli.h"

int main(int argc, char **argv) { return sl_cli_main(argc, argv); }
