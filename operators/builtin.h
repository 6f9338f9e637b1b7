/* SPDX-License-Identifier: Apache-2.0 */
/* Descriptors of the built-in operators (registered by the engine). */
#ifndef SLUICE_OPERATORS_BUILTIN_H
#define SLUICE_OPERATORS_BUILTIN_H

#include "sluice/operator.h"

extern const sl_operator_desc sl_op_window;

#endif
