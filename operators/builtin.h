/* SPDX-License-Identifier: Apache-2.0 */
/* Descriptors of the built-in operators (registered by the engine). */
#ifndef SLUICE_OPERATORS_BUILTIN_H
#define SLUICE_OPERATORS_BUILTIN_H

#include "sluice/operator.h"

extern const sl_operator_desc sl_op_filter;
extern const sl_operator_desc sl_op_map;
extern const sl_operator_desc sl_op_select;
extern const sl_operator_desc sl_op_decode;
extern const sl_operator_desc sl_op_encode;
extern const sl_operator_desc sl_op_window;
extern const sl_operator_desc sl_op_alert;
extern const sl_operator_desc sl_op_enrich;

#endif
