/* SPDX-License-Identifier: Apache-2.0 */
/* The lists of built-in operators, sources and sinks (core/lang/builtin.c). */
#ifndef SLUICE_BUILTIN_H
#define SLUICE_BUILTIN_H

#include "lang/connector.h"

extern const sl_operator_desc *const sl_builtin_operators[]; /* NULL-terminated */
extern const sl_source_desc *const sl_builtin_sources[];
extern const sl_sink_desc *const sl_builtin_sinks[];

#endif
