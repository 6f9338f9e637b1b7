/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's sl_host table (what operators may ask of it). */
#ifndef SLUICE_HOST_H
#define SLUICE_HOST_H

#include "sluice/operator.h"

/* The host table used for every operator the runtime runs. */
extern const sl_host sl_runtime_host;

/* May operator `op`, given `host` at init, modify the records it receives in
 * place? 1 when it runs in the runtime and no other branch of the graph sees
 * its input (sl_graph_sole_path); 0 otherwise (copy first). Built-in
 * operators only: plugins keep the rule of never mutating their input. */
int sl_host_input_exclusive(const sl_host *host, const sl_operator *op);

/* host->emit of rs[0..n) in order, in one step under the runtime (one call
 * and one copy instead of a call per record). */
int sl_host_emit_all(const sl_host *host, sl_emitter *out, sl_record *const *rs, size_t n);

/* For `sluice check`: init the operator with `cfg` against a host that
 * accepts nothing at run time, then destroy it; reports init errors. */
int sl_host_check_operator(const sl_operator_desc *d, const sl_config *cfg, const char *label,
                           sl_error *err);

#endif
