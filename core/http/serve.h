/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SLUICE_SERVE_H
#define SLUICE_SERVE_H

/* `sluice serve`: runs until SIGTERM/SIGINT; returns an exit code. */
int sl_serve_main(const char *listen, const char *tls_cert, const char *tls_key);

#endif
