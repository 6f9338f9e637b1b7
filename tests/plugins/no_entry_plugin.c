/* SPDX-License-Identifier: Apache-2.0 */
/* A shared object without the sluice entry symbol. */
int not_a_sluice_plugin(void);
int not_a_sluice_plugin(void) { return 42; }
