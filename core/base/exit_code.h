/* SPDX-License-Identifier: Apache-2.0 */
/* Exit codes of SPEC.md section 2, shared by every command's main function
 * (cli/, `sluice serve` in http/, `sluice gateway` in gateway/), so that
 * none of them has to include the command line to return one. */
#ifndef SLUICE_EXIT_CODE_H
#define SLUICE_EXIT_CODE_H

enum { SL_EXIT_OK = 0, SL_EXIT_INVALID = 1, SL_EXIT_USAGE = 2, SL_EXIT_RUNTIME = 3 };

#endif
