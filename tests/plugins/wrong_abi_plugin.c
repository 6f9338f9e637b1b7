/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin claiming a future ABI version: the loader must refuse it. */
#include "sluice/operator.h"

static const sl_plugin plugin = {
    .abi_version = SL_OPERATOR_ABI_VERSION + 41,
    .struct_size = sizeof(sl_plugin),
    .name = "future",
    .version = "9.9",
    .operators = 0,
};
SL_PLUGIN_DEFINE(plugin)
